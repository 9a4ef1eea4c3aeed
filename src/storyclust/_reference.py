"""Slow, obvious twins of :mod:`storyclust.similarity` and :func:`storyclust.text.hash_strings`.

Same signatures, same results, written with Python ints, dicts and loops so that a
reader can check them by eye. Used only by the tests, which assert the fast kernel
agrees with this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.integrate import quad

from .text import _UNSPACED, _mark_ranges, normalize

__all__ = [
    "EMPTY_VALUE",
    "band_candidates",
    "band_keys",
    "cosine_neighbors",
    "cosine_pairs",
    "hash_raw_text",
    "hash_strings",
    "hash_token_text",
    "jaccard_estimates",
    "lsh_params",
    "minhash_params",
    "minhash_signatures",
    "shingle_hashes",
    "text_signatures",
    "tokenize",
]

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MASK64 = (1 << 64) - 1
EMPTY_VALUE = 0xFFFFFFFF
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def _fnv1a_step(h: int, value: int) -> int:
    """One FNV-1a round: xor in `value`, multiply by the prime, mod 2**64."""
    return ((h ^ value) * FNV_PRIME) & MASK64


def _splitmix64(x: int) -> int:
    """The splitmix64 finaliser on one Python int, mod 2**64."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _documents(values: npt.ArrayLike, offsets: npt.ArrayLike) -> list[list[int]]:
    """Split concatenated values into one list of Python ints per document."""
    flat = [int(v) for v in np.asarray(values).tolist()]
    offs = [int(o) for o in np.asarray(offsets).tolist()]
    return [flat[offs[d] : offs[d + 1]] for d in range(len(offs) - 1)]


def hash_strings(strings: Sequence[str]) -> U64:
    """FNV-1a 64 over the UTF-8 bytes of each string, one byte at a time."""
    out: list[int] = []
    for s in strings:
        h = FNV_OFFSET
        for byte in s.encode("utf-8", "surrogatepass"):
            h = _fnv1a_step(h, byte)
        out.append(h)
    return np.array(out, dtype=np.uint64)


def shingle_hashes(token_hashes: U64, offsets: I64, k: int) -> tuple[U64, I64]:
    """Fold each k-token window (or a whole shorter document) with FNV-1a, then splitmix64."""
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    hashes: list[int] = []
    sh_offsets = [0]
    for tokens in _documents(token_hashes, offsets):
        if len(tokens) == 0:
            windows: list[list[int]] = []
        elif len(tokens) <= k:
            windows = [tokens]
        else:
            windows = [tokens[i : i + k] for i in range(len(tokens) - k + 1)]
        for window in windows:
            h = FNV_OFFSET
            for t in window:
                h = _fnv1a_step(h, t)
            hashes.append(_splitmix64(h))
        sh_offsets.append(sh_offsets[-1] + len(windows))
    return np.array(hashes, dtype=np.uint64), np.array(sh_offsets, dtype=np.int64)


_WORD = re.compile(rf"\w[\w{_mark_ranges()}]*")


def tokenize(text: str) -> list[str]:
    """Normalise, take each word (a word character, then word characters or marks),
    and split words of unspaced scripts into their characters, one word at a time."""
    out: list[str] = []
    for word in _WORD.findall(normalize(text)):
        if not _UNSPACED.search(word):
            out.append(word)
            continue
        run = ""
        for ch in word:
            if _UNSPACED.match(ch):
                if run:
                    out.append(run)
                    run = ""
                out.append(ch)
            else:
                run += ch
        if run:
            out.append(run)
    return out


def _texts(data: U8, offsets: I64) -> list[str]:
    """Decode each document's bytes (UTF-8, lone surrogates allowed)."""
    raw = bytes(np.asarray(data, dtype=np.uint8))
    offs = [int(o) for o in np.asarray(offsets).tolist()]
    return [
        raw[offs[d] : offs[d + 1]].decode("utf-8", "surrogatepass") for d in range(len(offs) - 1)
    ]


def _hashed(docs: list[list[str]]) -> tuple[U64, I64]:
    """Token hashes of each document's tokens, concatenated, and their offsets."""
    hashes = hash_strings([t for doc in docs for t in doc])
    offsets = np.array([0] + [len(doc) for doc in docs], dtype=np.int64).cumsum()
    return hashes, offsets


def hash_token_text(data: U8, offsets: I64) -> tuple[U64, I64]:
    """Split each decoded document on spaces, drop empty pieces, hash the rest."""
    return _hashed([[t for t in text.split(" ") if t] for text in _texts(data, offsets)])


# The characters the compiled tokeniser handles itself: ASCII, the Latin-1 letters
# and symbols, general punctuation (spaces, dashes, quotes) and currency signs, less
# those whose NFKC form holds a letter, digit or combining mark.
COVERED = frozenset(
    [chr(c) for c in range(0x80)]
    + [chr(c) for c in range(0xC0, 0x100)]
    + [chr(c) for c in range(0x80, 0xA8)]
    + [chr(c) for c in (0xA9, 0xAB, 0xAC, 0xAD, 0xAE, 0xB0, 0xB1, 0xB6, 0xB7, 0xBB, 0xBF)]
    + [chr(c) for c in range(0x2000, 0x2070) if c not in (0x2017, 0x203E)]
    + [chr(c) for c in range(0x20A0, 0x20C1) if c != 0x20A8]
    + ["\u3000", "\ufeff"]
)


def hash_raw_text(data: U8, offsets: I64) -> tuple[U64, I64, npt.NDArray[np.bool_]]:
    """tokenize() then hash_strings() each covered document; no tokens for the others."""
    texts = _texts(data, offsets)
    ok = [all(ch in COVERED for ch in text) for text in texts]
    hashes, tok_offsets = _hashed([tokenize(t) if good else [] for t, good in zip(texts, ok)])
    return hashes, tok_offsets, np.array(ok, dtype=np.bool_)


def text_signatures(
    data: U8,
    offsets: I64,
    *,
    k: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    tokenized: bool = False,
) -> tuple[U32, npt.NDArray[np.bool_]]:
    """Token hashes, then shingle hashes, then signatures, one step after another."""
    if tokenized:
        hashes, tok_offsets = hash_token_text(data, offsets)
        ok = np.ones(len(tok_offsets) - 1, dtype=np.bool_)
    else:
        hashes, tok_offsets, ok = hash_raw_text(data, offsets)
    sh, sh_offsets = shingle_hashes(hashes, tok_offsets, k)
    return minhash_signatures(sh, sh_offsets, num_perm=num_perm, seed=seed), ok


def minhash_params(num_perm: int, seed: int) -> tuple[U64, U64]:
    """The same PCG64 draw as the kernel, with the low bit of each `a` set by hand."""
    rng = np.random.Generator(np.random.PCG64(seed))
    ab = rng.integers(0, MASK64, size=(2, num_perm), dtype=np.uint64, endpoint=True)
    a = [int(v) | 1 for v in ab[0].tolist()]
    b = [int(v) for v in ab[1].tolist()]
    return np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)


def minhash_signatures(shingles: U64, offsets: I64, *, num_perm: int = 128, seed: int = 1) -> U32:
    """For each document and permutation, the minimum of ((a * x + b) mod 2**64) >> 32."""
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    a_arr, b_arr = minhash_params(num_perm, seed)
    a = [int(v) for v in a_arr.tolist()]
    b = [int(v) for v in b_arr.tolist()]
    rows: list[list[int]] = []
    for doc in _documents(shingles, offsets):
        row: list[int] = []
        for p in range(num_perm):
            best = EMPTY_VALUE
            for x in doc:
                best = min(best, ((a[p] * x + b[p]) & MASK64) >> 32)
            row.append(best)
        rows.append(row)
    return np.array(rows, dtype=np.uint32).reshape(len(rows), num_perm)


def _false_positive(threshold: float, b: int, r: int) -> float:
    """Area under the S-curve below `threshold`."""
    return float(quad(lambda s: 1 - (1 - s**r) ** b, 0.0, threshold)[0])


def _false_negative(threshold: float, b: int, r: int) -> float:
    """Area above the S-curve beyond `threshold`."""
    return float(quad(lambda s: (1 - s**r) ** b, threshold, 1.0)[0])


def lsh_params(
    threshold: float,
    num_perm: int,
    *,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
    min_recall: float | None = None,
) -> tuple[int, int]:
    """Try every (bands, rows) with bands * rows <= num_perm; keep the first with least error."""
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
            fp = _false_positive(threshold, b, r)
            fn = _false_negative(threshold, b, r)
            err = false_positive_weight * fp + false_negative_weight * fn
            if err < best_err:
                best, best_err = (b, r), err
    if best_err == math.inf:
        raise ValueError(
            f"min_recall {min_recall} cannot be reached at threshold {threshold} with "
            f"num_perm={num_perm}; lower min_recall or raise num_perm"
        )
    return best


def band_keys(signatures: U32, bands: int, rows: int) -> U64:
    """Fold the `rows` values of each band with FNV-1a, then splitmix64."""
    n_docs, num_perm = signatures.shape
    if bands * rows > num_perm:
        raise ValueError(f"bands * rows must be <= num_perm ({num_perm}); got {bands} * {rows}")
    sig = [[int(v) for v in row] for row in signatures.tolist()]
    out: list[list[int]] = []
    for d in range(n_docs):
        keys: list[int] = []
        for band in range(bands):
            h = FNV_OFFSET
            for v in sig[d][band * rows : (band + 1) * rows]:
                h = _fnv1a_step(h, v)
            keys.append(_splitmix64(h))
        out.append(keys)
    return np.array(out, dtype=np.uint64).reshape(n_docs, bands)


def band_candidates(
    keys: U64, *, max_bucket_size: int = 200, valid: npt.NDArray[np.bool_] | None = None
) -> I64:
    """Pairs sharing a bucket in some band; an oversize bucket gives only its chain."""
    n_docs, n_bands = keys.shape
    rows = [[int(v) for v in row] for row in keys.tolist()]
    ok = [True] * n_docs if valid is None else [bool(v) for v in np.asarray(valid).tolist()]
    found: set[tuple[int, int]] = set()
    for band in range(n_bands):
        buckets: dict[int, list[int]] = {}
        for d in range(n_docs):
            if ok[d]:
                buckets.setdefault(rows[d][band], []).append(d)
        for members in buckets.values():
            if len(members) > max_bucket_size:
                for p in range(len(members) - 1):
                    found.add((members[p], members[p + 1]))
            else:
                for p in range(len(members)):
                    for q in range(p + 1, len(members)):
                        found.add((members[p], members[q]))
    return np.array(sorted(found), dtype=np.int64).reshape(len(found), 2)


def _is_empty(signature: list[int]) -> bool:
    """True for the signature of a document without shingles."""
    return all(v == EMPTY_VALUE for v in signature)


def jaccard_estimates(signatures: U32, pairs: I64) -> F64:
    """Fraction of positions where the two signatures agree; 0 if either is empty."""
    sig = [[int(v) for v in row] for row in signatures.tolist()]
    out: list[float] = []
    for i, j in np.asarray(pairs, dtype=np.int64).reshape(-1, 2).tolist():
        a, b = sig[i], sig[j]
        if _is_empty(a) or _is_empty(b):
            out.append(0.0)
        else:
            out.append(sum(1 for u, v in zip(a, b, strict=True) if u == v) / len(a))
    return np.array(out, dtype=np.float64)


def _row_dicts(x: sp.spmatrix) -> list[dict[int, float]]:
    """Each row of a sparse matrix as {column: value}, in storage order."""
    csr = sp.csr_matrix(x)
    rows: list[dict[int, float]] = []
    for i in range(csr.shape[0]):
        lo, hi = int(csr.indptr[i]), int(csr.indptr[i + 1])
        row: dict[int, float] = {}
        for c, v in zip(csr.indices[lo:hi].tolist(), csr.data[lo:hi].tolist(), strict=True):
            row[int(c)] = row.get(int(c), 0.0) + float(v)
        rows.append(row)
    return rows


def _dot(a: dict[int, float], b: dict[int, float]) -> float:
    """Sum of a[c] * b[c] over the columns of `a`, in its order."""
    total = 0.0
    for c, v in a.items():
        if c in b:
            total += v * b[c]
    return total


def _clip01(v: float) -> float:
    """`v` clipped to [0, 1]."""
    return min(1.0, max(0.0, v))


def cosine_pairs(x: sp.csr_matrix, pairs: I64, *, chunk: int = 1 << 16) -> F64:
    """Dot product of the two rows of each pair, clipped to [0, 1]."""
    rows = _row_dicts(x)
    out = [
        _clip01(_dot(rows[i], rows[j]))
        for i, j in np.asarray(pairs, dtype=np.int64).reshape(-1, 2).tolist()
    ]
    return np.array(out, dtype=np.float64)


def cosine_neighbors(
    x: sp.csr_matrix,
    *,
    threshold: float,
    max_neighbors: int = 50,
    block_rows: int = 2048,
) -> tuple[I64, F64]:
    """All pairs i != j with dot >= threshold, each row keeping its best `max_neighbors`."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    rows = _row_dicts(x)
    n = len(rows)
    kept: set[tuple[int, int]] = set()
    for i in range(n):
        scored: list[tuple[float, int]] = []
        for j in range(n):
            if i == j:
                continue
            s = _dot(rows[i], rows[j])
            if s >= threshold:
                scored.append((s, j))
        scored.sort(key=lambda sj: (-sj[0], sj[1]))
        for rank, (_, j) in enumerate(scored):
            if rank < max_neighbors:
                kept.add((min(i, j), max(i, j)))
    pairs = np.array(sorted(kept), dtype=np.int64).reshape(len(kept), 2)
    return pairs, cosine_pairs(x, pairs)


def term_counts(
    token_hashes: U64,
    field_offsets: I64,
    stop_hashes: U64,
    *,
    title_weight: int = 2,
    lead_words: int = 30,
    lead_weight: int = 1,
) -> tuple[U64, I64, I64]:
    """Twin of :func:`storyclust.similarity.term_counts`: a Counter per article."""
    from collections import Counter

    toks = [int(x) for x in np.asarray(token_hashes, dtype=np.uint64)]
    off = [int(x) for x in np.asarray(field_offsets)]
    stop = {int(x) for x in np.asarray(stop_hashes, dtype=np.uint64)}
    terms: list[int] = []
    counts: list[int] = []
    offsets = [0]
    for a in range((len(off) - 1) // 2):
        title = [x for x in toks[off[2 * a] : off[2 * a + 1]] if x not in stop]
        body = [x for x in toks[off[2 * a + 1] : off[2 * a + 2]] if x not in stop]
        c: Counter[int] = Counter()
        for x in title * title_weight + body[:lead_words] * lead_weight + body:
            c[x] += 1
        for x in sorted(c):
            terms.append(x)
            counts.append(c[x])
        offsets.append(len(terms))
    return (
        np.array(terms, dtype=np.uint64),
        np.array(counts, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
    )


def prefix_matrix(x: sp.csr_matrix, max_terms: int) -> sp.csr_matrix:
    """Twin of :func:`storyclust.similarity.prefix_matrix`: sort each row's entries."""
    rows = _row_dicts(x)
    out = sp.lil_matrix(x.shape)
    for i, row in enumerate(rows):
        for f, v in sorted(row.items(), key=lambda fv: (-fv[1], fv[0]))[:max_terms]:
            out[i, f] = v
    return sp.csr_matrix(out)


def cosine_candidates(
    x: sp.csr_matrix,
    *,
    threshold: float,
    max_terms: int = 16,
    max_postings: int = 5000,
    min_partial: float | None = None,
    max_neighbors: int = 50,
    days: npt.ArrayLike | None = None,
    horizon: float = math.inf,
    max_nearby: int | None = None,
    search: npt.ArrayLike | None = None,
    hubs: npt.ArrayLike | None = None,
) -> tuple[I64, F64, int]:
    """Twin of :func:`storyclust.similarity.cosine_candidates`: every pair, by the definition."""
    prefix = _row_dicts(prefix_matrix(x, max_terms))
    n = len(prefix)
    postings: dict[int, int] = {}
    for row in prefix:
        for f in row:
            postings[f] = postings.get(f, 0) + 1
    hub_set = (
        {f for f, c in postings.items() if c > max_postings}
        if hubs is None
        else {int(f) for f in np.asarray(hubs).reshape(-1)}
    )
    searched = [True] * n if search is None else [bool(v) for v in np.asarray(search)]
    d = [math.nan] * n if days is None else [float(v) for v in np.asarray(days)]
    # Each feature's dated rows in time order (ties: lower row first): a dated pair
    # meets through the feature only if at most max_nearby places apart there.
    rank: dict[int, dict[int, int]] = {}
    for f in postings:
        holders = sorted((d[r], r) for r in range(n) if f in prefix[r] and not math.isnan(d[r]))
        rank[f] = {r: k for k, (_, r) in enumerate(holders)}
    low = threshold / 2 if min_partial is None else min_partial
    kept: set[tuple[int, int]] = set()
    for i in range(n):
        if not searched[i]:
            continue
        scored = []
        for j in range(n):
            if j == i or abs(d[i] - d[j]) > horizon:
                continue
            shared = sorted((set(prefix[i]) & set(prefix[j])) - hub_set)
            if max_nearby is not None and not (math.isnan(d[i]) or math.isnan(d[j])):
                shared = [f for f in shared if abs(rank[f][i] - rank[f][j]) <= max_nearby]
            if not shared:
                continue
            s = 0.0
            for f in shared:  # in column order, as the kernel adds them
                s += prefix[i][f] * prefix[j][f]
            if s >= low and s > 0.0:
                scored.append((s, j))
        scored.sort(key=lambda sj: (-sj[0], sj[1]))
        for _, j in scored[:max_neighbors]:
            kept.add((min(i, j), max(i, j)))
    pairs = np.array(sorted(kept), dtype=np.int64).reshape(len(kept), 2)
    sims = cosine_pairs(x, pairs)
    keep = sims >= threshold
    return pairs[keep], sims[keep], len(hub_set)


def names_raw_text(
    data: U8, offsets: I64, stop_hashes: U64
) -> tuple[U64, I64, I64, npt.NDArray[np.bool_]]:
    """Twin of :func:`storyclust.similarity.names_raw_text`: the regular expressions of
    :func:`storyclust.text.names_and_numbers` on every text (all texts ``ok``)."""
    from .text import hash_strings as _hash
    from .text import names_and_numbers

    del stop_hashes  # names_and_numbers knows the stop words
    texts = _texts(data, offsets)
    out: list[int] = []
    off = [0]
    n_names = []
    for t in texts:
        found = names_and_numbers(t)
        figures = [w for w in found if w[:1].isdigit()]
        n_names.append(len(found) - len(figures))
        out.extend(int(h) for h in _hash(found))
        off.append(len(out))
    return (
        np.array(out, dtype=np.uint64),
        np.array(off, dtype=np.int64),
        np.array(n_names, dtype=np.int64),
        np.ones(len(texts), dtype=bool),
    )


def line_hashes(data: U8, offsets: I64) -> tuple[U64, I64, I64, npt.NDArray[np.bool_]]:
    """Twin of :func:`storyclust.similarity.line_hashes`: splitlines and normalize on every text."""
    hashes: list[int] = []
    words: list[int] = []
    off = [0]
    for t in _texts(data, offsets):
        lines = [x for x in (normalize(y) for y in t.splitlines()) if x]
        hashes.extend(int(h) for h in hash_strings(lines))
        words.extend(len(x.split()) for x in lines)
        off.append(len(hashes))
    n = len(off) - 1
    return (
        np.array(hashes, dtype=np.uint64),
        np.array(words, dtype=np.int64),
        np.array(off, dtype=np.int64),
        np.ones(n, dtype=bool),
    )


def strip_line_hashes(data: U8, offsets: I64, lines: U64) -> list[str]:
    """Twin of :func:`storyclust.similarity.strip_line_hashes`, as strings."""
    table = {int(x) for x in np.asarray(lines, dtype=np.uint64)}
    out = []
    for t in _texts(data, offsets):
        kept = [
            x
            for x in t.splitlines()
            if not (normalize(x) and int(hash_strings([normalize(x)])[0]) in table)
        ]
        out.append("\n".join(kept))
    return out
