"""Public MinHash entry points: shingles, signatures, and datasketch interoperability.

:func:`shingles` shows what the kernel hashes; :func:`signatures` turns a batch of
texts into a signature matrix (the fast ``"storyclust"`` scheme, or
``"datasketch"``, bit-identical to datasketch's own ``MinHash``);
:func:`to_datasketch` wraps one row as a ``datasketch.LeanMinHash`` so it can go
into a datasketch ``MinHashLSH`` (and its Redis or Cassandra storage).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import similarity
from .errors import InputTypeError, SettingsError
from .text import tokenize, word_shingles

if TYPE_CHECKING:
    from datasketch import LeanMinHash

__all__ = ["SCHEMES", "shingles", "signatures", "to_datasketch"]

U32 = npt.NDArray[np.uint32]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

SCHEMES = ("storyclust", "datasketch")
# Documents encoded and hashed at once: bounds the temporary bytes (about 4 KB a news text).
_BATCH = 8192
_FMIX_1 = np.uint32(0x85EBCA6B)
_FMIX_2 = np.uint32(0xC2B2AE35)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """`value` as an int in [low, high], or a SettingsError that says so."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SettingsError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise SettingsError(f"{name} must be {bound}; got {v}")
    return v


def shingles(text: str, k: int = 5) -> list[str]:
    """The word k-shingles of `text`: exactly what :func:`signatures` hashes.

    Tokens come from :func:`storyclust.tokenize` (normalised, case-folded words of
    any script); each shingle is k consecutive tokens joined by one space.

    Parameters
    ----------
    text : str
    k : int, default 5
        Tokens per shingle. A text with fewer than k tokens gives one shingle of
        all its tokens; an empty text gives none.

    Returns
    -------
    list of str
        In text order, repeats kept (a signature treats them as one).

    Raises
    ------
    InputTypeError
        If `text` is not a str.
    SettingsError
        If `k` is not an int >= 1.

    Examples
    --------
    >>> shingles("Quake hits Tokyo: 7.1 magnitude", k=4)
    ['quake hits tokyo 7', 'hits tokyo 7 1', 'tokyo 7 1 magnitude']
    >>> shingles("Breaking news", k=5)
    ['breaking news']
    >>> shingles("")
    []
    """
    if not isinstance(text, str):
        raise InputTypeError(f"text must be a str; got {type(text).__name__}")
    return word_shingles(tokenize(text), _check_int("k", k, 1))


def signatures(
    texts: Iterable[str],
    num_perm: int = 128,
    seed: int = 1,
    scheme: str = "storyclust",
    k: int = 5,
    *,
    n_threads: int | None = None,
) -> U32:
    """MinHash signatures of the word k-shingles of many texts.

    Parameters
    ----------
    texts : iterable of str
        A list (or any iterable) of texts; not a bare str.
    num_perm : int, default 128
        Permutations, the length of each signature.
    seed : int, default 1
        Seed of the permutations (>= 0; at most 2**32 - 1 for ``"datasketch"``).
    scheme : {"storyclust", "datasketch"}, default "storyclust"
        ``"storyclust"``: the fast scheme of the kernel (FNV-1a token hashes,
        multiply-shift permutations; see :mod:`storyclust.similarity`), the one
        :func:`storyclust.cluster` uses. Its values differ from datasketch's.

        ``"datasketch"``: row i equals the ``hashvalues`` of
        ``datasketch.MinHash(num_perm=num_perm, seed=seed)`` updated with each
        ``s.encode("utf-8")`` for s in ``shingles(texts[i], k)`` (the default
        scheme of datasketch 2.x: SHA-1 32-bit hashes, ``"affine32"``
        permutations). Much slower, as SHA-1 runs per shingle.
    k : int, default 5
        Tokens per shingle (see :func:`shingles`).
    n_threads : int, optional
        Threads for the ``"storyclust"`` scheme: by default all CPUs for long
        inputs. The result is the same for any number.

    Returns
    -------
    ndarray of uint32, shape (n_texts, num_perm)
        A text without shingles (empty, or only punctuation) has a row of
        ``0xFFFFFFFF`` in both schemes, as an empty datasketch ``MinHash`` does.

    Raises
    ------
    InputTypeError
        If `texts` is a str or bytes, not iterable, or holds a non-str.
    SettingsError
        If a setting is out of range or `scheme` is unknown.

    Examples
    --------
    >>> sig = signatures(["Quake hits Tokyo", "Quake hits Tokyo", ""], num_perm=16)
    >>> sig.shape, sig.dtype.name, bool((sig[0] == sig[1]).all()), int(sig[2, 0])
    ((3, 16), 'uint32', True, 4294967295)
    >>> from datasketch import MinHash
    >>> m = MinHash(num_perm=16, seed=1)
    >>> for s in shingles("Quake hits Tokyo"):
    ...     m.update(s.encode("utf-8"))
    >>> bool((signatures(["Quake hits Tokyo"], 16, scheme="datasketch")[0] == m.hashvalues).all())
    True
    """
    if isinstance(texts, (str, bytes)):
        raise InputTypeError(
            f"texts must be a list of str, not a single {type(texts).__name__}; "
            "wrap it in a list: signatures([text])"
        )
    try:
        items = list(texts)
    except TypeError:
        raise InputTypeError(
            f"texts must be an iterable of str; got {type(texts).__name__}"
        ) from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InputTypeError(f"texts[{i}] must be a str; got {type(t).__name__}")
    num_perm = _check_int("num_perm", num_perm, 1)
    k = _check_int("k", k, 1)
    if scheme == "storyclust":
        seed = _check_int("seed", seed, 0)
        if n_threads is not None:
            _check_int("n_threads", n_threads, 1)
        return _storyclust_signatures(items, num_perm, seed, k, n_threads)
    if scheme == "datasketch":
        seed = _check_int("seed", seed, 0, 2**32 - 1)
        return _datasketch_signatures(items, num_perm, seed, k)
    raise SettingsError(f"scheme must be one of {', '.join(map(repr, SCHEMES))}; got {scheme!r}")


def _encode(texts: list[str]) -> tuple[U8, I64]:
    """UTF-8 bytes of `texts`, concatenated, and the offset of each."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _storyclust_signatures(
    texts: list[str], num_perm: int, seed: int, k: int, n_threads: int | None
) -> U32:
    """Signatures in batches: compiled tokeniser first, Python's for the texts it leaves."""
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    for start in range(0, len(texts), _BATCH):
        batch = texts[start : start + _BATCH]
        data, offsets = _encode(batch)
        sig, ok = similarity.text_signatures(
            data, offsets, k=k, num_perm=num_perm, seed=seed, n_threads=n_threads
        )
        rest = np.flatnonzero(~ok)
        if len(rest):
            data, offsets = _encode([" ".join(tokenize(batch[i])) for i in rest])
            sig[rest] = similarity.text_signatures(
                data,
                offsets,
                k=k,
                num_perm=num_perm,
                seed=seed,
                tokenized=True,
                n_threads=n_threads,
            )[0]
        out[start : start + len(batch)] = sig
    return out


def _datasketch_params(num_perm: int, seed: int) -> tuple[U32, U32]:
    """datasketch 2.x "affine32" permutations: odd a, then b, from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = rng.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _sha1_32(shingle: str) -> int:
    """datasketch's sha1_hash32: the first 4 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(shingle.encode("utf-8")).digest()[:4], "little")


def _datasketch_signatures(texts: list[str], num_perm: int, seed: int, k: int) -> U32:
    """SHA-1 of each shingle, the MurmurHash3 32-bit finaliser, then a * h + b mod 2**32."""
    a, b = _datasketch_params(num_perm, seed)
    out = np.full((len(texts), num_perm), similarity.EMPTY_VALUE, dtype=np.uint32)
    for i, text in enumerate(texts):
        sh = word_shingles(tokenize(text), k)
        if not sh:
            continue
        h = np.fromiter(map(_sha1_32, sh), dtype=np.uint32, count=len(sh))
        with np.errstate(over="ignore"):
            h ^= h >> np.uint32(16)
            h *= _FMIX_1
            h ^= h >> np.uint32(13)
            h *= _FMIX_2
            h ^= h >> np.uint32(16)
            out[i] = (h[:, None] * a[None, :] + b[None, :]).min(axis=0)
    return out


def to_datasketch(signature_row: npt.ArrayLike, seed: int = 1) -> LeanMinHash:
    """Wrap one signature row as a ``datasketch.LeanMinHash``.

    A row from ``signatures(..., scheme="datasketch")`` with the same `seed` is
    interchangeable with the MinHash datasketch builds itself: compare, merge,
    insert into any ``MinHashLSH`` (in memory, Redis or Cassandra). A row of the
    default ``"storyclust"`` scheme works in a ``MinHashLSH`` whose keys all come
    from that scheme, but must not be compared with datasketch's own MinHash
    (datasketch labels both ``"affine32"``: it has no way to tell them apart).

    Parameters
    ----------
    signature_row : array-like of int, shape (num_perm,)
        One row of :func:`signatures`: values in [0, 2**32 - 1].
    seed : int, default 1
        The seed the row was made with (datasketch refuses to compare MinHash of
        different seeds).

    Returns
    -------
    datasketch.LeanMinHash

    Raises
    ------
    InputTypeError
        If the row is not a 1-d array of integers.
    SettingsError
        If the row is empty or has values outside the uint32 range, or `seed` is bad.

    Examples
    --------
    >>> from datasketch import MinHashLSH
    >>> sig = signatures(["Quake hits Tokyo", "Quake hits Tokyo", "Rain in Spain"],
    ...                  scheme="datasketch")
    >>> lsh = MinHashLSH(threshold=0.8, num_perm=128)
    >>> lsh.insert("a", to_datasketch(sig[0]))
    >>> sorted(lsh.query(to_datasketch(sig[1])))
    ['a']
    >>> to_datasketch(sig[0]).jaccard(to_datasketch(sig[2]))
    0.0
    """
    from datasketch import LeanMinHash

    seed = _check_int("seed", seed, 0, 2**32 - 1)
    row: Any = np.asarray(signature_row)
    if row.ndim != 1 or row.dtype.kind not in "iu":
        raise InputTypeError(
            "signature_row must be a 1-d array of integers (one row of signatures()); "
            f"got {row.ndim}-d {row.dtype}"
        )
    if len(row) == 0:
        raise SettingsError("signature_row must have at least one value; got an empty row")
    if int(row.min()) < 0 or int(row.max()) > 0xFFFFFFFF:
        raise SettingsError(
            "signature_row values must be in [0, 2**32 - 1]; "
            f"got {int(row.min())}..{int(row.max())}"
        )
    return LeanMinHash(seed=seed, hashvalues=row.astype(np.uint32), scheme="affine32")
