"""The similarity kernel: arrays in, arrays out; no I/O, no logging, no state.

Shingle hashing, MinHash signatures, LSH band keys and candidate pairs, Jaccard
estimates, and sparse cosine similarities. Each function has a slow, obvious twin
in :mod:`storyclust._reference` that the tests compare it against.

Hash scheme (``"storyclust"``): tokens are hashed with 64-bit FNV-1a over their
UTF-8 bytes (:func:`storyclust.text.hash_strings`); a shingle of k tokens folds its
token hashes with FNV-style xor-multiply and a splitmix64 finaliser; permutation p
maps a shingle hash x to ``(a_p * x + b_p) mod 2**64 >> 32`` (multiply-shift
hashing, a_p odd), with a_p, b_p drawn from ``numpy.random.PCG64(seed)``. The
signature of a document with no shingles is all ``EMPTY_VALUE``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.integrate import quad

__all__ = [
    "EMPTY_VALUE",
    "band_candidates",
    "band_keys",
    "cosine_neighbors",
    "cosine_pairs",
    "jaccard_estimates",
    "lsh_params",
    "minhash_params",
    "minhash_signatures",
    "shingle_hashes",
]

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

EMPTY_VALUE = np.uint32(0xFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)
_OFFSET = np.uint64(0xCBF29CE484222325)
_SM_1 = np.uint64(0x9E3779B97F4A7C15)
_SM_2 = np.uint64(0xBF58476D1CE4E5B9)
_SM_3 = np.uint64(0x94D049BB133111EB)
# Rows of the (shingles x permutations) block hashed at once: bounds temporary memory.
_CHUNK_CELLS = 1 << 23


def _splitmix64(x: U64) -> U64:
    """Finalise 64-bit values so that nearby inputs spread over all bits."""
    with np.errstate(over="ignore"):
        z = x + _SM_1
        z = (z ^ (z >> np.uint64(30))) * _SM_2
        z = (z ^ (z >> np.uint64(27))) * _SM_3
        out: U64 = z ^ (z >> np.uint64(31))
        return out


def shingle_hashes(token_hashes: U64, offsets: I64, k: int) -> tuple[U64, I64]:
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
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    n_sh = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    sh_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(n_sh, out=sh_offsets[1:])
    total = int(sh_offsets[-1])
    doc_of = np.repeat(np.arange(len(lengths)), n_sh)
    starts = offsets[:-1][doc_of] + (np.arange(total) - sh_offsets[:-1][doc_of])
    widths = np.minimum(lengths[doc_of], k)
    h = np.full(total, _OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            m = widths > j
            if not m.any():
                break
            h[m] = (h[m] ^ token_hashes[starts[m] + j]) * _PRIME
    return _splitmix64(h), sh_offsets


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


def minhash_signatures(shingles: U64, offsets: I64, *, num_perm: int = 128, seed: int = 1) -> U32:
    """MinHash signatures of many documents.

    Parameters
    ----------
    shingles : ndarray of uint64, shape (n_shingles,)
        Shingle hashes of all documents, concatenated (see :func:`shingle_hashes`).
    offsets : ndarray of int64, shape (n_docs + 1,)
    num_perm : int, default 128
    seed : int, default 1

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
    offsets = np.asarray(offsets, dtype=np.int64)
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), EMPTY_VALUE, dtype=np.uint32)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    if len(nonempty) == 0:
        return out
    rows_per_chunk = max(1, _CHUNK_CELLS // num_perm)
    # Walk documents in chunks whose shingles fit the temporary budget.
    i = 0
    while i < len(nonempty):
        j = i + 1
        start = offsets[nonempty[i]]
        while j < len(nonempty) and offsets[nonempty[j] + 1] - start <= rows_per_chunk:
            j += 1
        docs = nonempty[i:j]
        lo, hi = int(offsets[docs[0]]), int(offsets[docs[-1] + 1])
        with np.errstate(over="ignore"):
            hv = (shingles[lo:hi, None] * a[None, :] + b[None, :]) >> np.uint64(32)
        seg = offsets[docs] - lo
        out[docs] = np.minimum.reduceat(hv, seg, axis=0).astype(np.uint32)
        i = j
    return out


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
) -> tuple[int, int]:
    """Choose (bands, rows) for LSH at a Jaccard `threshold`.

    Minimises the weighted sum of the false positive and false negative areas
    under the S-curve ``1 - (1 - s**r)**b`` over ``b * r <= num_perm``, as
    datasketch's ``MinHashLSH`` does.

    Returns
    -------
    (bands, rows) : tuple of int

    Examples
    --------
    >>> lsh_params(0.8, 128)
    (9, 13)
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = false_positive_weight * _false_positive(
                threshold, b, r
            ) + false_negative_weight * _false_negative(threshold, b, r)
            if err < best_err:
                best, best_err = (b, r), err
    return best


def band_keys(signatures: U32, bands: int, rows: int) -> U64:
    """Hash each band of `rows` signature values to one 64-bit key.

    Returns
    -------
    ndarray of uint64, shape (n_docs, bands)
        Keys of different bands never need comparing; equal keys in one band mean
        (up to 2**-64 collisions) equal band values.
    """
    n = signatures.shape[0]
    if bands * rows > signatures.shape[1]:
        raise ValueError(
            f"bands * rows must be <= num_perm ({signatures.shape[1]}); got {bands} * {rows}"
        )
    sig = signatures[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    h = np.full((n, bands), _OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(rows):
            h = (h ^ sig[:, :, j]) * _PRIME
    return _splitmix64(h)


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


def jaccard_estimates(signatures: U32, pairs: I64) -> F64:
    """MinHash estimate of the Jaccard similarity of each pair.

    A pair where either document has no shingles scores 0.

    Returns
    -------
    ndarray of float64, shape (n_pairs,)
    """
    if len(pairs) == 0:
        return np.zeros(0)
    a, b = signatures[pairs[:, 0]], signatures[pairs[:, 1]]
    est = (a == b).mean(axis=1)
    empty = (a[:, 0] == EMPTY_VALUE) & (a == EMPTY_VALUE).all(axis=1)
    empty |= (b[:, 0] == EMPTY_VALUE) & (b == EMPTY_VALUE).all(axis=1)
    est[empty] = 0.0
    out: F64 = est.astype(np.float64)
    return out


def cosine_pairs(x: sp.csr_matrix, pairs: I64, *, chunk: int = 1 << 16) -> F64:
    """Dot products of the rows of `x` for each pair (cosines when rows are L2-normalised).

    Returns
    -------
    ndarray of float64, shape (n_pairs,)
    """
    out = np.zeros(len(pairs))
    for s in range(0, len(pairs), chunk):
        p = pairs[s : s + chunk]
        out[s : s + chunk] = np.asarray(x[p[:, 0]].multiply(x[p[:, 1]]).sum(axis=1)).ravel()
    return np.clip(out, 0.0, 1.0)


def cosine_neighbors(
    x: sp.csr_matrix,
    *,
    threshold: float,
    max_neighbors: int = 50,
    block_rows: int = 2048,
) -> tuple[I64, F64]:
    """Pairs of rows whose cosine is >= `threshold`, each row keeping its top neighbours.

    Sparse products in row blocks, never a dense n x n matrix. A pair is kept if
    either row has the other among its `max_neighbors` best (ties broken by the
    lower column index).

    Parameters
    ----------
    x : scipy.sparse.csr_matrix, shape (n_docs, n_features)
        L2-normalised rows.
    threshold : float
        In (0, 1]. Rows sharing no feature are never compared, so a threshold of
        0 or below would silently miss pairs with cosine 0.
    max_neighbors : int, default 50
    block_rows : int, default 2048

    Returns
    -------
    pairs : ndarray of int64, shape (n_pairs, 2)
        Unique (i, j), i < j, sorted.
    sims : ndarray of float64, shape (n_pairs,)

    Raises
    ------
    ValueError
        If `threshold` is not in (0, 1].
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    x = sp.csr_matrix(x)
    n = x.shape[0]
    xt = x.T.tocsc()
    codes: list[I64] = []
    for s in range(0, n, block_rows):
        prod = (x[s : s + block_rows] @ xt).tocoo()
        rows = prod.row.astype(np.int64) + s
        cols = prod.col.astype(np.int64)
        vals = prod.data
        m = (vals >= threshold) & (rows != cols)
        rows, cols, vals = rows[m], cols[m], vals[m]
        order = np.lexsort((cols, -vals, rows))
        rows, cols = rows[order], cols[order]
        bounds = (
            np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            if len(rows)
            else np.zeros(0, dtype=np.int64)
        )
        rank = np.arange(len(rows)) - np.repeat(bounds, np.diff(np.r_[bounds, len(rows)]))
        keep = rank < max_neighbors
        lo, hi = np.minimum(rows[keep], cols[keep]), np.maximum(rows[keep], cols[keep])
        codes.append(lo * n + hi)
    if not codes:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    code = np.unique(np.concatenate(codes))
    pairs = np.stack([code // n, code % n], axis=1)
    return pairs, cosine_pairs(x, pairs)
