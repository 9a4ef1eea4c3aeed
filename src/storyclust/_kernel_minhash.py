"""Shingles, MinHash signatures, LSH bands and candidates, and Jaccard estimates.

The checked, threaded front of the compiled shingle, signature and band-key loops
in :mod:`storyclust._kernel_scan`, with the (bands, rows) optimiser
(:func:`lsh_params`) and the band buckets' candidate pairs (:func:`band_candidates`).
Part of :mod:`storyclust.similarity`, which is where callers import them from; the
hash scheme is described there.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.integrate import quad

from ._kernel_base import B1, F64, I64, U8, U32, U64, _as_offsets, _run, _thread_count
from ._kernel_scan import (
    EMPTY_VALUE,
    _band_key_range,
    _minhash_range,
    _shingle_range,
    _text_signature_range,
)

__all__ = [
    "band_candidates",
    "band_keys",
    "jaccard_estimates",
    "lsh_params",
    "minhash_params",
    "minhash_signatures",
    "shingle_hashes",
    "text_signatures",
]


def shingle_hashes(
    token_hashes: U64, offsets: I64, k: int, *, n_threads: int | None = None
) -> tuple[U64, I64]:
    """Hash the contiguous k-token shingles of many documents at once.

    Parameters
    ----------
    token_hashes : ndarray of uint64, shape (n_tokens,)
        Token hashes of all documents, concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document d owns ``token_hashes[offsets[d]:offsets[d + 1]]``.
    k : int
        Shingle size in tokens (>= 1). A document shorter than k gives one shingle
        of all its tokens; an empty one gives none.
    n_threads : int, optional
        Threads to use; by default all CPUs for long inputs, one for short ones.

    Returns
    -------
    hashes : ndarray of uint64, shape (n_shingles,)
    shingle_offsets : ndarray of int64, shape (n_docs + 1,)

    Examples
    --------
    >>> h, off = shingle_hashes(np.arange(4, dtype=np.uint64), np.array([0, 3, 4]), 2)
    >>> off.tolist()
    [0, 2, 3]
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    tokens = np.ascontiguousarray(token_hashes, dtype=np.uint64)
    off = _as_offsets(offsets, len(tokens))
    lengths = np.diff(off)
    n_sh = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    sh_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(n_sh, out=sh_offsets[1:])
    out = np.empty(int(sh_offsets[-1]), dtype=np.uint64)
    threads = _thread_count(n_threads, float(sh_offsets[-1]) * k)
    _run(_shingle_range, (tokens, off, sh_offsets, k, out), sh_offsets, threads)
    return out, sh_offsets


def minhash_params(num_perm: int, seed: int) -> tuple[U64, U64]:
    """Return the multiply-shift parameters (a, b) of `num_perm` permutations.

    ``a`` is odd; both come from ``numpy.random.Generator(PCG64(seed))``, the same
    on every machine.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    ab = rng.integers(
        0, np.iinfo(np.uint64).max, size=(2, num_perm), dtype=np.uint64, endpoint=True
    )
    return ab[0] | np.uint64(1), ab[1]


def minhash_signatures(
    shingles: U64,
    offsets: I64,
    *,
    num_perm: int = 128,
    seed: int = 1,
    n_threads: int | None = None,
) -> U32:
    """MinHash signatures of many documents.

    Parameters
    ----------
    shingles : ndarray of uint64, shape (n_shingles,)
        Shingle hashes of all documents, concatenated (see :func:`shingle_hashes`).
    offsets : ndarray of int64, shape (n_docs + 1,)
    num_perm : int, default 128
    seed : int, default 1
    n_threads : int, optional
        Threads to use; by default all CPUs for long inputs, one for short ones.
        The result is the same for any number.

    Returns
    -------
    ndarray of uint32, shape (n_docs, num_perm)
        Row d is the signature of document d; all ``EMPTY_VALUE`` if it has no shingles.

    Examples
    --------
    >>> sig = minhash_signatures(np.array([1, 2, 3], dtype=np.uint64), np.array([0, 3, 3]), num_perm=4)
    >>> sig.shape, bool((sig[1] == EMPTY_VALUE).all())
    ((2, 4), True)
    """
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    a, b = minhash_params(num_perm, seed)
    sh = np.ascontiguousarray(shingles, dtype=np.uint64)
    off = _as_offsets(offsets, len(sh))
    out = np.full((len(off) - 1, num_perm), EMPTY_VALUE, dtype=np.uint32)
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * num_perm)
    _run(_minhash_range, (sh, off, a, b, out), off, threads)
    return out


def text_signatures(
    data: U8,
    offsets: I64,
    *,
    k: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    tokenized: bool = False,
    n_threads: int | None = None,
) -> tuple[U32, B1]:
    """MinHash signatures straight from text bytes, one document at a time.

    The same result as :func:`hash_raw_text` (or :func:`hash_token_text` when
    `tokenized`), then :func:`shingle_hashes` and :func:`minhash_signatures`, but
    without the token and shingle arrays of the whole input: memory stays at the
    longest document per thread.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
        UTF-8 bytes of the documents, concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
    k : int, default 5
        Shingle size in tokens.
    num_perm : int, default 128
    seed : int, default 1
    tokenized : bool, default False
        True if each document is its tokens joined by single spaces.
    n_threads : int, optional
        Threads to use; the result is the same for any number.

    Returns
    -------
    signatures : ndarray of uint32, shape (n_docs, num_perm)
    ok : ndarray of bool, shape (n_docs,)
        False for raw documents the compiled tokeniser does not cover (their row is
        all ``EMPTY_VALUE``; see :func:`hash_raw_text`). Always True when `tokenized`.

    Examples
    --------
    >>> data = np.frombuffer(b"the quick brown fox jumps", dtype=np.uint8)
    >>> sig, ok = text_signatures(data, np.array([0, 25]), k=2, num_perm=8)
    >>> sig.shape, ok.tolist()
    ((1, 8), [True])
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    a, b = minhash_params(num_perm, seed)
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    out = np.full((n_docs, num_perm), EMPTY_VALUE, dtype=np.uint32)
    ok = np.ones(n_docs, dtype=np.bool_)
    # About one shingle per 6 bytes of text.
    threads = _thread_count(n_threads, float(off[-1] - off[0]) / 6 * num_perm)
    _run(_text_signature_range, (buf, off, not tokenized, k, a, b, out, ok), off, threads)
    return out, ok


def _false_positive(threshold: float, b: int, r: int) -> float:
    """Integral of the probability that a pair below `threshold` becomes a candidate."""
    return float(quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0])


def _false_negative(threshold: float, b: int, r: int) -> float:
    """Integral of the probability that a pair above `threshold` is missed."""
    return float(quad(lambda s: (1 - s ** float(r)) ** float(b), threshold, 1.0)[0])


def lsh_params(
    threshold: float,
    num_perm: int,
    *,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
    min_recall: float | None = None,
) -> tuple[int, int]:
    """Choose (bands, rows) for LSH at a Jaccard `threshold`.

    Minimises the weighted sum of the false positive and false negative areas
    under the S-curve ``1 - (1 - s**r)**b`` over ``b * r <= num_perm``, as
    datasketch's ``MinHashLSH`` does. That balance finds a pair at exactly the
    threshold with probability of about one half; `min_recall` keeps only the
    choices that find it with at least that probability (and so every pair above).

    Parameters
    ----------
    threshold : float
        Jaccard similarity in (0, 1].
    num_perm : int
        Signature length (>= 1).
    false_positive_weight, false_negative_weight : float, default 0.5
    min_recall : float, optional
        In (0, 1): the least probability that a pair at `threshold` becomes a candidate.

    Returns
    -------
    (bands, rows) : tuple of int

    Raises
    ------
    ValueError
        For a setting out of range, or a `min_recall` no choice reaches.

    Examples
    --------
    >>> lsh_params(0.8, 128)
    (9, 13)
    >>> lsh_params(0.8, 128, min_recall=0.99)
    (16, 6)
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    if min_recall is not None and not 0.0 < min_recall < 1.0:
        raise ValueError(f"min_recall must be in (0, 1); got {min_recall}")
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            if min_recall is not None and 1 - (1 - threshold**r) ** b < min_recall:
                continue
            err = false_positive_weight * _false_positive(
                threshold, b, r
            ) + false_negative_weight * _false_negative(threshold, b, r)
            if err < best_err:
                best, best_err = (b, r), err
    if best_err == math.inf:
        raise ValueError(
            f"min_recall {min_recall} cannot be reached at threshold {threshold} with "
            f"num_perm={num_perm}; lower min_recall or raise num_perm"
        )
    return best


def band_keys(signatures: U32, bands: int, rows: int, *, n_threads: int | None = None) -> U64:
    """Hash each band of `rows` signature values to one 64-bit key.

    Parameters
    ----------
    signatures : ndarray of uint32, shape (n_docs, num_perm)
    bands, rows : int
        ``bands * rows <= num_perm``; see :func:`lsh_params`.
    n_threads : int, optional
        Threads to use; the result is the same for any number.

    Returns
    -------
    ndarray of uint64, shape (n_docs, bands)
        Keys of different bands never need comparing; equal keys in one band mean
        (up to 2**-64 collisions) equal band values.
    """
    if np.ndim(signatures) != 2:
        raise ValueError(
            f"signatures must be 2-D (n_docs, num_perm); got shape {np.shape(signatures)}"
        )
    for name, v, low in (("bands", bands, 0), ("rows", rows, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {v!r}")
    n = signatures.shape[0]
    if bands * rows > signatures.shape[1]:
        raise ValueError(
            f"bands * rows must be <= num_perm ({signatures.shape[1]}); got {bands} * {rows}"
        )
    sig = np.ascontiguousarray(signatures, dtype=np.uint32)
    out = np.empty((n, bands), dtype=np.uint64)
    per_doc = np.arange(n + 1, dtype=np.int64)
    threads = _thread_count(n_threads, float(n) * bands * rows * 4)
    _run(_band_key_range, (sig, bands, rows, out), per_doc, threads)
    return out


def _pairs_in_groups(members: I64, group_starts: I64, group_sizes: I64) -> tuple[I64, I64]:
    """All (members[p], members[q]) with p < q inside each group of a sorted array."""
    per_elem = np.repeat(group_sizes, group_sizes)
    pos_in_group = np.arange(len(per_elem)) - np.repeat(group_starts, group_sizes)
    counts = per_elem - 1 - pos_in_group
    first = np.repeat(np.arange(len(per_elem)), counts)
    seg_start = np.repeat(np.cumsum(counts) - counts, counts)
    second = first + 1 + (np.arange(len(first)) - seg_start)
    # positions are relative to the concatenated groups; map back to members
    return members[first], members[second]


def band_candidates(
    keys: U64, *, max_bucket_size: int = 200, valid: npt.NDArray[np.bool_] | None = None
) -> I64:
    """Candidate pairs: documents sharing a key in at least one band.

    Parameters
    ----------
    keys : ndarray of uint64, shape (n_docs, bands)
    max_bucket_size : int, default 200
        A bucket with more documents (boilerplate, empty texts) gives only the
        chain of neighbours in index order instead of all its pairs, so work stays
        linear; near-duplicates in it stay connected.
    valid : ndarray of bool, shape (n_docs,), optional
        Documents that may take part (e.g. those with shingles).

    Returns
    -------
    ndarray of int64, shape (n_pairs, 2)
        Unique pairs (i, j) with i < j, sorted.
    """
    n, n_bands = keys.shape
    if valid is not None and np.shape(valid) != (n,):
        raise ValueError(
            f"valid must hold one flag a document, shape ({n},); got shape {np.shape(valid)}"
        )
    idx_all = (
        np.arange(n, dtype=np.int64) if valid is None else np.flatnonzero(valid).astype(np.int64)
    )
    found: list[I64] = []
    for band in range(n_bands):
        col = keys[idx_all, band]
        order = np.lexsort((idx_all, col))
        sk, members = col[order], idx_all[order]
        if len(sk) < 2:
            continue
        bounds = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True])
        starts, sizes = bounds[:-1], np.diff(bounds)
        small = (sizes >= 2) & (sizes <= max_bucket_size)
        if small.any():
            keep = np.repeat(small, sizes)
            sub_sizes = sizes[small]
            sub_starts = np.zeros(len(sub_sizes), dtype=np.int64)
            np.cumsum(sub_sizes[:-1], out=sub_starts[1:])
            i, j = _pairs_in_groups(members[keep], sub_starts, sub_sizes)
            found.append(i * n + j)
        for s, z in zip(starts[sizes > max_bucket_size], sizes[sizes > max_bucket_size]):
            m = members[s : s + z]
            found.append(m[:-1] * n + m[1:])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    code = np.unique(np.concatenate(found))
    return np.stack([code // n, code % n], axis=1)


def jaccard_estimates(signatures: U32, pairs: I64, *, chunk: int = 1 << 14) -> F64:
    """MinHash estimate of the Jaccard similarity of each pair.

    A pair where either document has no shingles scores 0.

    Returns
    -------
    ndarray of float64, shape (n_pairs,)
    """
    out: F64 = np.zeros(len(pairs))
    # In chunks: the two gathered signature rows of every pair at once would be
    # 1 KB a pair (820 MB for the 800,000 pairs of a million articles).
    for s in range(0, len(pairs), chunk):
        p = pairs[s : s + chunk]
        a, b = signatures[p[:, 0]], signatures[p[:, 1]]
        est = (a == b).mean(axis=1)
        empty = (a[:, 0] == EMPTY_VALUE) & (a == EMPTY_VALUE).all(axis=1)
        empty |= (b[:, 0] == EMPTY_VALUE) & (b == EMPTY_VALUE).all(axis=1)
        est[empty] = 0.0
        out[s : s + chunk] = est
    return out
