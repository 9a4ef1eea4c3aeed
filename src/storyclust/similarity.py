"""The similarity kernel: arrays in, arrays out; no I/O, no logging, no state.

Token and shingle hashing from text bytes, MinHash signatures, LSH band keys and
candidate pairs, Jaccard estimates, and sparse cosine similarities. Each function
has a slow, obvious twin in :mod:`storyclust._reference` that the tests compare it
against. The hot loops are compiled with numba (cached on disk after the first
call) and release the GIL, so long inputs are split over threads; the result does
not depend on the number of threads.

Hash scheme (``"storyclust"``): tokens are hashed with 64-bit FNV-1a over their
UTF-8 bytes (as :func:`storyclust.text.hash_strings`); a shingle of k tokens folds
its token hashes with FNV-style xor-multiply and a splitmix64 finaliser;
permutation p maps a shingle hash x to ``(a_p * x + b_p) mod 2**64 >> 32``
(multiply-shift hashing, a_p odd), with a_p, b_p drawn from
``numpy.random.PCG64(seed)``. The signature of a document with no shingles is all
``EMPTY_VALUE``.

Costs (n documents, T tokens, S shingles, B text bytes, P permutations, b bands;
measured figures in ``benchmarks/results/similarity.md``):

=========================  ==========================  =============================
function                   time                        memory besides the output
=========================  ==========================  =============================
hash_token_text            O(B)                        O(n)
hash_raw_text              O(B)                        O(n)
shingle_hashes             O(S * k)                    O(n)
minhash_signatures         O(S * P), vectorised over   O(P) per thread
                           the permutations
text_signatures            O(B + S * (k + P)), fused   O(longest document) per thread
lsh_params                 O(P log P) integrals        O(1)
band_keys                  O(n * b * rows)             O(n * b)
band_candidates            O(b * n log n) sorting      O(n + candidate pairs)
jaccard_estimates          O(pairs * P)                O(pairs + P * 16,384)
cosine_pairs               O(pairs * row nnz)          O(chunk * row nnz)
cosine_neighbors           sum over features of        O(nnz) index, O(n) per
                           df**2 multiply-adds         thread; no n x n matrix
prefix_matrix              O(nnz) selection            none
cosine_candidates          per row and prefix feature: O(n * max_terms) prefix
                           the postings within the     index, O(n) per thread
                           horizon (at most
                           2 * max_nearby + 1), and
                           O(pairs * row nnz)
term_counts                O(T + terms log terms)      O(T)
average_linkage            O(m**2) (nearest-neighbour  O(m); the input is
                           chain)                      overwritten, not copied
names_raw_text             O(B), one pass              O(longest document)
line_hashes                O(B), one pass              O(n)
strip_line_hashes          O(B)                        O(B) output
raw_words                  O(B)                        O(B) folded words
=========================  ==========================  =============================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.integrate import quad

from ._kernel_base import (
    B1,
    F64,
    I64,
    U8,
    U32,
    U64,
    _as_offsets,
    _jit,
    _joined,
    _run,
    _run_parts,
    _thread_count,
)
from ._kernel_cosine import (
    cosine_candidates,
    cosine_neighbors,
    cosine_pairs,
    prefix_matrix,
    top_per_row,
)
from ._kernel_linkage import average_linkage, flat_clusters

__all__ = [
    "EMPTY_VALUE",
    "average_linkage",
    "band_candidates",
    "band_keys",
    "cosine_candidates",
    "cosine_neighbors",
    "cosine_pairs",
    "flat_clusters",
    "hash_raw_text",
    "hash_token_text",
    "jaccard_estimates",
    "line_hashes",
    "lsh_params",
    "minhash_params",
    "minhash_signatures",
    "names_raw_text",
    "prefix_matrix",
    "raw_words",
    "shingle_hashes",
    "strip_line_hashes",
    "term_counts",
    "text_signatures",
    "top_per_row",
]

EMPTY_VALUE = np.uint32(0xFFFFFFFF)
_EMPTY64 = np.uint64(0xFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)
_OFFSET = np.uint64(0xCBF29CE484222325)
_SM_1 = np.uint64(0x9E3779B97F4A7C15)
_SM_2 = np.uint64(0xBF58476D1CE4E5B9)
_SM_3 = np.uint64(0x94D049BB133111EB)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)


# --- compiled kernels -------------------------------------------------------------------


@_jit
def _splitmix64_one(x: np.uint64) -> Any:
    """The splitmix64 finaliser of one 64-bit value."""
    z = x + _SM_1
    z = (z ^ (z >> _S30)) * _SM_2
    z = (z ^ (z >> _S27)) * _SM_3
    return z ^ (z >> _S31)


@_jit
def _fold_shingles(tokens: U64, n: int, k: int, out: U64) -> int:
    """Hash the k-token windows of tokens[:n] into out; return how many (one if n <= k)."""
    if n == 0:
        return 0
    m = n - k + 1 if n > k else 1
    w = k if n > k else n
    for s in range(m):
        h = _OFFSET
        for j in range(w):
            h = (h ^ tokens[s + j]) * _PRIME
        out[s] = _splitmix64_one(h)
    return m


@_jit
def _minhash_row(sh: U64, lo: int, hi: int, a: U64, b: U64, mins: U64, row: U32) -> None:
    """Write the signature of shingles sh[lo:hi] (at least one) into row."""
    p_count = a.shape[0]
    mins[:] = _EMPTY64
    i = lo
    # Four shingles per pass over the permutations: each a[p], b[p] and mins[p] is
    # loaded once for four products. The loop over p is what the compiler vectorises.
    while i + 4 <= hi:
        x0, x1, x2, x3 = sh[i], sh[i + 1], sh[i + 2], sh[i + 3]
        for p in range(p_count):
            ap, bp = a[p], b[p]
            v0 = (ap * x0 + bp) >> _S32
            v1 = (ap * x1 + bp) >> _S32
            v2 = (ap * x2 + bp) >> _S32
            v3 = (ap * x3 + bp) >> _S32
            m = mins[p]
            m = v0 if v0 < m else m
            m = v1 if v1 < m else m
            m = v2 if v2 < m else m
            mins[p] = v3 if v3 < m else m
        i += 4
    while i < hi:
        x = sh[i]
        for p in range(p_count):
            v = (a[p] * x + b[p]) >> _S32
            if v < mins[p]:
                mins[p] = v
        i += 1
    for p in range(p_count):
        row[p] = np.uint32(mins[p])


@_jit
def _minhash_range(sh: U64, offsets: I64, a: U64, b: U64, out: U32, d_lo: int, d_hi: int) -> None:
    """Signatures of documents d_lo..d_hi-1 into out (rows of empty documents untouched)."""
    mins = np.empty(a.shape[0], dtype=np.uint64)
    for d in range(d_lo, d_hi):
        if offsets[d + 1] > offsets[d]:
            _minhash_row(sh, offsets[d], offsets[d + 1], a, b, mins, out[d])


@_jit
def _shingle_range(
    tokens: U64, offsets: I64, sh_offsets: I64, k: int, out: U64, d_lo: int, d_hi: int
) -> None:
    """Shingle hashes of documents d_lo..d_hi-1 into their places in out."""
    for d in range(d_lo, d_hi):
        lo, hi = offsets[d], offsets[d + 1]
        _fold_shingles(tokens[lo:hi], hi - lo, k, out[sh_offsets[d] : sh_offsets[d + 1]])


@_jit
def _latin1_separator(cp: int) -> bool:
    """U+0080..U+00BF characters that NFKC and case folding keep outside words."""
    return (
        cp <= 0xA7
        or cp == 0xA9
        or 0xAB <= cp <= 0xAE
        or 0xB0 <= cp <= 0xB1
        or 0xB6 <= cp <= 0xB7
        or cp == 0xBB
        or cp == 0xBF
    )


def _ascii_fold_table() -> U8:
    """Byte -> its case-folded self for ASCII word characters, 0 for other ASCII, 255 above."""
    table = np.zeros(256, dtype=np.uint8)
    table[0x80:] = 255
    for c in b"0123456789_abcdefghijklmnopqrstuvwxyz":
        table[c] = c
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[c] = c + 32
    table.setflags(write=False)
    return table


# Read-only; numba compiles it in as a constant.
_ASCII_FOLD = _ascii_fold_table()


@_jit
def _split_raw(data: U8, lo: int, hi: int, fold: U8, ends: I64) -> int:
    """Tokenise raw text data[lo:hi] as storyclust.text.tokenize would, without hashing.

    Writes the case-folded bytes of the words, back to back, to `fold`, and where
    each word ends to `ends`; returns the number of words, or -1 if the text has a
    character this tokeniser does not cover (the caller then tokenises it in
    Python). Covered: ASCII, Latin-1 letters and symbols, typographic punctuation
    (quotes, dashes, spaces) and currency signs.
    """
    n = 0
    m = 0
    in_word = False
    i = lo
    while i < hi:
        c = data[i]
        t = _ASCII_FOLD[c]
        if t != 255:
            # ASCII, without a branch per character: the byte is always written, and
            # counted only inside a word; a word ends where a separator follows it.
            w = t != 0
            fold[m] = t
            m += w
            ends[n] = m
            n += in_word and not w
            in_word = w
            i += 1
            continue
        if c == 0xC2 or c == 0xC3:
            if i + 1 >= hi or not (0x80 <= data[i + 1] <= 0xBF):
                return -1
            c2 = data[i + 1]
            cp = ((int(c) & 0x1F) << 6) | (int(c2) & 0x3F)
            i += 2
            if cp >= 0xC0 and cp != 0xD7 and cp != 0xF7:
                # A Latin-1 letter: part of a word, case-folded; sharp s folds to "ss".
                if cp == 0xDF:
                    fold[m] = 115
                    fold[m + 1] = 115
                else:
                    fold[m] = 0xC3
                    fold[m + 1] = c2 + 0x20 if cp <= 0xDE else c2
                m += 2
                in_word = True
                continue
            if cp < 0xC0 and not _latin1_separator(cp):
                return -1
        elif c == 0xE2 or c == 0xE3 or c == 0xEF:
            if i + 2 >= hi or not (0x80 <= data[i + 1] <= 0xBF and 0x80 <= data[i + 2] <= 0xBF):
                return -1
            cp = (
                ((int(c) & 0x0F) << 12)
                | ((int(data[i + 1]) & 0x3F) << 6)
                | (int(data[i + 2]) & 0x3F)
            )
            i += 3
            general = 0x2000 <= cp <= 0x206F and cp != 0x2017 and cp != 0x203E
            currency = 0x20A0 <= cp <= 0x20C0 and cp != 0x20A8
            if not (general or currency or cp == 0x3000 or cp == 0xFEFF):
                return -1
        else:
            return -1
        if in_word:  # a separator ends the word
            ends[n] = m
            n += 1
            in_word = False
    if in_word:
        ends[n] = m
        n += 1
    return n


@_jit
def _split_tokens(data: U8, lo: int, hi: int, fold: U8, ends: I64) -> int:
    """Split data[lo:hi] at spaces: word bytes to `fold`, word ends to `ends`; return how many."""
    n = 0
    m = 0
    in_word = False
    for i in range(lo, hi):
        c = data[i]
        w = c != 32
        fold[m] = c
        m += w
        ends[n] = m
        n += in_word and not w
        in_word = w
    if in_word:
        ends[n] = m
        n += 1
    return n


@_jit
def _hash_words(fold: U8, ends: I64, n: int, out: U64) -> None:
    """FNV-1a 64 of each word of `fold` (word j ends at ends[j]) into out."""
    start = 0
    for j in range(n):
        end = ends[j]
        h = _OFFSET
        if end - start <= 8:
            # Eight steps, the extra ones without effect: no branch on the word's
            # length, so the hashes of consecutive words overlap in the pipeline.
            for q in range(8):
                hq = (h ^ np.uint64(fold[start + q])) * _PRIME
                h = hq if start + q < end else h
        else:
            for q in range(start, end):
                h = (h ^ np.uint64(fold[q])) * _PRIME
        out[j] = h
        start = end


@_jit
def _scan(data: U8, lo: int, hi: int, raw: bool, out: U64, fold: U8, ends: I64) -> int:
    """Token hashes of one document (raw text or space-separated tokens) into out."""
    n = _split_raw(data, lo, hi, fold, ends) if raw else _split_tokens(data, lo, hi, fold, ends)
    if n > 0:
        _hash_words(fold, ends, n, out)
    return n


@_jit
def _longest(offsets: I64, d_lo: int, d_hi: int) -> int:
    """Length of the longest of documents d_lo..d_hi-1."""
    m = 0
    for d in range(d_lo, d_hi):
        m = max(m, offsets[d + 1] - offsets[d])
    return m


@_jit
def _scratch(offsets: I64, d_lo: int, d_hi: int) -> tuple[U64, U8, I64]:
    """Buffers for the tokens of the longest document: hashes, folded bytes, word ends."""
    size = _longest(offsets, d_lo, d_hi)
    # Eight spare bytes: _hash_words reads up to eight past a short last word.
    return (
        np.empty(size // 2 + 1, dtype=np.uint64),
        np.zeros(size + 8, dtype=np.uint8),
        np.empty(size // 2 + 2, dtype=np.int64),
    )


@_jit
def _count_tokens(data: U8, offsets: I64, raw: bool, counts: I64, d_lo: int, d_hi: int) -> None:
    """Tokens of each of documents d_lo..d_hi-1 (-1 where raw text needs Python)."""
    _buf, fold, ends = _scratch(offsets, d_lo, d_hi)
    for d in range(d_lo, d_hi):
        if raw:
            counts[d] = _split_raw(data, offsets[d], offsets[d + 1], fold, ends)
        else:
            counts[d] = _split_tokens(data, offsets[d], offsets[d + 1], fold, ends)


@_jit
def _room(out: Any, m: int, need: int) -> Any:
    """`out` (its first m entries filled) if it holds `need` entries, else a copy
    twice as large (or as large as needed) with those m entries."""
    if need <= len(out):
        return out
    grown = np.empty(max(2 * len(out), need), dtype=out.dtype)
    grown[:m] = out[:m]
    return grown


@_jit
def _appended(out: U64, m: int, values: U64, k: int) -> U64:
    """`out`, its first m entries filled, with ``values[:k]`` written after them
    (in a larger copy when it is too short: :func:`_room`)."""
    out = _room(out, m, m + k)
    out[m : m + k] = values[:k]
    return out


@_jit
def _tokens_piece(data: U8, offsets: I64, raw: bool, d_lo: int, d_hi: int) -> tuple[U64, I64]:
    """Token hashes of documents d_lo..d_hi-1, in one pass, one document after
    another, and each document's number of tokens (-1 where raw text needs Python)."""
    buf, fold, ends = _scratch(offsets, d_lo, d_hi)
    counts = np.zeros(d_hi - d_lo, dtype=np.int64)
    out = np.empty(max(64, (offsets[d_hi] - offsets[d_lo]) // 4), dtype=np.uint64)
    m = 0
    for d in range(d_lo, d_hi):
        n = _scan(data, offsets[d], offsets[d + 1], raw, buf, fold, ends)
        counts[d - d_lo] = n
        if n <= 0:
            continue
        out = _appended(out, m, buf, n)
        m += n
    return out[:m], counts


@_jit
def _text_signature_range(
    data: U8,
    offsets: I64,
    raw: bool,
    k: int,
    a: U64,
    b: U64,
    out: U32,
    ok: B1,
    d_lo: int,
    d_hi: int,
) -> None:
    """Text bytes to signatures for documents d_lo..d_hi-1, one document at a time."""
    tokens, fold, ends = _scratch(offsets, d_lo, d_hi)
    shingles = np.empty(len(tokens), dtype=np.uint64)
    mins = np.empty(a.shape[0], dtype=np.uint64)
    for d in range(d_lo, d_hi):
        n = _scan(data, offsets[d], offsets[d + 1], raw, tokens, fold, ends)
        if n < 0:
            ok[d] = False
            continue
        m = _fold_shingles(tokens, n, k, shingles)
        if m > 0:
            _minhash_row(shingles, 0, m, a, b, mins, out[d])


@_jit
def _in_sorted(values: U64, x: np.uint64) -> bool:
    """Whether x is in the sorted array `values`."""
    k = np.searchsorted(values, x)
    return bool(k < len(values) and values[k] == x)


@_jit
def _term_count_range(
    tokens: U64,
    field_offsets: I64,
    stop: U64,
    title_weight: int,
    lead_words: int,
    lead_weight: int,
    out_terms: U64,
    out_counts: I64,
    n_terms: I64,
    d_lo: int,
    d_hi: int,
) -> None:
    """Weighted content-term counts of articles d_lo..d_hi-1, each in its own token slots.

    An article's terms are summed in an open-addressing table (the hashes' low bits
    place them), then only the distinct terms are sorted.
    """
    longest = 1
    for d in range(d_lo, d_hi):
        longest = max(longest, field_offsets[2 * d + 2] - field_offsets[2 * d])
    size = 1
    while size < 2 * longest:
        size *= 2
    mask = np.uint64(size - 1)
    t_key = np.zeros(size, dtype=np.uint64)
    t_cnt = np.zeros(size, dtype=np.int64)
    t_used = np.zeros(size, dtype=np.bool_)
    slots = np.empty(size, dtype=np.int64)
    for d in range(d_lo, d_hi):
        base = field_offsets[2 * d]
        m = 0
        if title_weight > 0:
            for q in range(field_offsets[2 * d], field_offsets[2 * d + 1]):
                x = tokens[q]
                if not _in_sorted(stop, x):
                    out_terms[base + m] = x
                    out_counts[base + m] = title_weight
                    m += 1
        seen = 0
        for q in range(field_offsets[2 * d + 1], field_offsets[2 * d + 2]):
            x = tokens[q]
            if not _in_sorted(stop, x):
                out_terms[base + m] = x
                out_counts[base + m] = 1 + lead_weight if seen < lead_words else 1
                seen += 1
                m += 1
        u = 0
        for q in range(m):
            x = out_terms[base + q]
            h = x & mask
            while t_used[h] and t_key[h] != x:
                h = (h + np.uint64(1)) & mask
            if not t_used[h]:
                t_used[h] = True
                t_key[h] = x
                t_cnt[h] = 0
                slots[u] = h
                u += 1
            t_cnt[h] += out_counts[base + q]
        terms = np.empty(u, dtype=np.uint64)
        for k in range(u):
            terms[k] = t_key[slots[k]]
        terms.sort()
        for k in range(u):
            x = terms[k]
            h = x & mask
            while t_key[h] != x:
                h = (h + np.uint64(1)) & mask
            out_terms[base + k] = x
            out_counts[base + k] = t_cnt[h]
        for k in range(u):
            t_used[slots[k]] = False
        n_terms[d] = u


@_jit
def _decode_names_text(data: U8, lo: int, hi: int, cps: I64) -> int:
    """Code points of data[lo:hi] into cps; -1 if a character is outside what _names_doc covers.

    Covered: ASCII, no-break space, Latin-1 letters and the multiplication and
    division signs, en and em dashes, curly quotes and the ellipsis.
    """
    n = 0
    i = lo
    while i < hi:
        c = data[i]
        if c < 0x80:
            cps[n] = c
            i += 1
        elif c == 0xC2 or c == 0xC3:
            if i + 1 >= hi or not (0x80 <= data[i + 1] <= 0xBF):
                return -1
            cp = ((int(c) & 0x1F) << 6) | (int(data[i + 1]) & 0x3F)
            if cp < 0xC0 and cp != 0xA0:
                return -1
            cps[n] = cp
            i += 2
        elif c == 0xE2:
            if i + 2 >= hi or data[i + 1] != 0x80:
                return -1
            c3 = data[i + 2]
            if not (
                c3 == 0x93
                or c3 == 0x94
                or c3 == 0x98
                or c3 == 0x99
                or c3 == 0x9C
                or c3 == 0x9D
                or c3 == 0xA6
            ):
                return -1
            cps[n] = 0x2000 | (int(c3) & 0x3F)
            i += 3
        else:
            return -1
        n += 1
    return n


@_jit
def _cp_word(cp: int) -> bool:
    """What the regex \\w matches among the covered characters."""
    return (
        (48 <= cp <= 57)
        or (65 <= cp <= 90)
        or (97 <= cp <= 122)
        or cp == 95
        or (0xC0 <= cp <= 0xFF and cp != 0xD7 and cp != 0xF7)
    )


@_jit
def _cp_space(cp: int) -> bool:
    """What the regex \\s matches among the covered characters."""
    return (9 <= cp <= 13) or (0x1C <= cp <= 0x20) or cp == 0xA0


@_jit
def _fnv_byte(h: np.uint64, b: int) -> Any:
    return (h ^ np.uint64(b)) * _PRIME


@_jit
def _key_hashes(cps: I64, lo: int, hi: int) -> tuple[Any, Any, bool]:
    """FNV-1a of the case-folded word cps[lo:hi] (curly apostrophe as ASCII), and of it
    without a final "'s"; and whether it ends in "'s"."""
    h = _OFFSET
    prev = _OFFSET  # hash before the last two key characters
    prev1 = _OFFSET
    last2 = -1
    last1 = -1
    for q in range(lo, hi):
        cp = cps[q]
        if 65 <= cp <= 90 or (0xC0 <= cp <= 0xDE and cp != 0xD7):
            cp += 32
        elif cp == 0x2019:
            cp = 39
        if cp == 0xDF:  # sharp s folds to "ss"
            prev = prev1
            prev1 = h
            h = _fnv_byte(h, 115)
            prev = prev1
            prev1 = h
            h = _fnv_byte(h, 115)
            last2, last1 = 115, 115
            continue
        prev = prev1
        prev1 = h
        h = _fnv_byte(h, cp) if cp < 128 else _fnv_byte(_fnv_byte(h, 195), 128 + (cp - 192))
        last2, last1 = last1, cp
    return h, prev, last2 == 39 and last1 == 115


@_jit
def _names_doc(cps: I64, n: int, stop: U64, out: U64, mid: U64, initial: U64) -> tuple[int, int]:
    """Name and figure hashes of one decoded text (as storyclust.text.names_and_numbers
    without a title) into out: names first, then figures; returns both counts."""
    n_mid = 0
    n_init = 0
    i = 0
    while i < n:
        # One step of re.finditer: try a match starting at i.
        prefixed = False
        j = -1
        cp = cps[i]
        if i == 0 and _cp_word(cp):
            j = 0
            prefixed = True
        if j < 0 and (
            cp == 46
            or cp == 33
            or cp == 63
            or cp == 58
            or cp == 59
            or cp == 34
            or cp == 0x201C
            or cp == 0x201D
        ):
            k = i + 1
            while k < n and _cp_space(cps[k]):
                k += 1
            if k > i + 1 and k < n and _cp_word(cps[k]):
                j = k
                prefixed = True
        if j < 0 and cp == 10:
            k = i + 1
            while k < n and _cp_space(cps[k]):
                k += 1
            if k < n and _cp_word(cps[k]):
                j = k
                prefixed = True
        if j < 0 and _cp_word(cp):
            j = i
        if j < 0:
            i += 1
            continue
        e = j + 1
        while e < n and (_cp_word(cps[e]) or cps[e] == 39 or cps[e] == 0x2019 or cps[e] == 45):
            e += 1
        i = e
        first = cps[j]
        if not ((65 <= first <= 90) or (0xC0 <= first <= 0xDE and first != 0xD7)):
            continue
        h, h_short, possessive = _key_hashes(cps, j, e)
        if _in_sorted(stop, h) or (possessive and _in_sorted(stop, h_short)):
            continue
        key = h_short if possessive else h
        if prefixed:
            initial[n_init] = key
            n_init += 1
        else:
            mid[n_mid] = key
            n_mid += 1
    m = 0
    for q in range(n_mid):
        out[m] = mid[q]
        m += 1
    if n_init:
        names = np.sort(mid[:n_mid])
        for q in range(n_init):
            if _in_sorted(names, initial[q]):
                out[m] = initial[q]
                m += 1
    n_names = m
    # Figures: \\d+(?:[.,:]\\d+)*, thousands commas dropped, two characters or more.
    i = 0
    while i < n:
        if not (48 <= cps[i] <= 57):
            i += 1
            continue
        e = i
        while e < n and 48 <= cps[e] <= 57:
            e += 1
        while (
            e + 1 < n and (cps[e] == 46 or cps[e] == 44 or cps[e] == 58) and 48 <= cps[e + 1] <= 57
        ):
            e += 1
            while e < n and 48 <= cps[e] <= 57:
                e += 1
        h = _OFFSET
        length = 0
        for q in range(i, e):
            if cps[q] != 44:
                h = _fnv_byte(h, cps[q])
                length += 1
        if length >= 2:
            out[m] = h
            m += 1
        i = e
    return n_names, m - n_names


@_jit
def _names_piece(data: U8, offsets: I64, stop: U64, d_lo: int, d_hi: int) -> tuple[U64, I64]:
    """Names and figures of documents d_lo..d_hi-1, in one pass: their hashes, one
    document after another, and per document its counts of names and of figures
    (names -1: a text the scanner does not cover, with nothing in the hashes)."""
    size = _longest(offsets, d_lo, d_hi) + 1
    cps = np.empty(size, dtype=np.int64)
    buf = np.empty(size, dtype=np.uint64)
    mid = np.empty(size, dtype=np.uint64)
    initial = np.empty(size, dtype=np.uint64)
    counts = np.zeros(2 * (d_hi - d_lo), dtype=np.int64)
    out = np.empty(max(64, (offsets[d_hi] - offsets[d_lo]) // 16), dtype=np.uint64)
    m = 0
    for d in range(d_lo, d_hi):
        n = _decode_names_text(data, offsets[d], offsets[d + 1], cps)
        if n < 0:
            counts[2 * (d - d_lo)] = -1
            continue
        n_names, n_figures = _names_doc(cps, n, stop, buf, mid, initial)
        counts[2 * (d - d_lo)] = n_names
        counts[2 * (d - d_lo) + 1] = n_figures
        k = n_names + n_figures
        out = _appended(out, m, buf, k)
        m += k
    return out[:m], counts


@_jit
def _words_range(
    data: U8,
    offsets: I64,
    tok_offsets: I64,
    byte_offsets: I64,
    out_bytes: U8,
    out_ends: I64,
    d_lo: int,
    d_hi: int,
) -> None:
    """Folded word bytes of raw documents d_lo..d_hi-1 (counted before) into their places."""
    _buf, fold, ends = _scratch(offsets, d_lo, d_hi)
    for d in range(d_lo, d_hi):
        t0 = tok_offsets[d]
        n = tok_offsets[d + 1] - t0
        if n <= 0:
            continue
        _split_raw(data, offsets[d], offsets[d + 1], fold, ends)
        b0 = byte_offsets[d]
        m = ends[n - 1]
        out_bytes[b0 : b0 + m] = fold[:m]
        for j in range(n):
            out_ends[t0 + j] = b0 + ends[j]


@_jit
def _line_break(data: U8, i: int, hi: int) -> int:
    """Bytes of the line break at data[i] (as str.splitlines sees them), 0 if none."""
    c = data[i]
    if c == 13:
        return 2 if i + 1 < hi and data[i + 1] == 10 else 1
    if c == 10 or c == 11 or c == 12 or c == 0x1C or c == 0x1D or c == 0x1E:
        return 1
    if c == 0xC2 and i + 1 < hi and data[i + 1] == 0x85:
        return 2
    if (
        c == 0xE2
        and i + 2 < hi
        and data[i + 1] == 0x80
        and (data[i + 2] == 0xA8 or data[i + 2] == 0xA9)
    ):
        return 3
    return 0


@_jit
def _line_end(data: U8, lo: int, hi: int) -> tuple[int, int]:
    """Where the line starting at lo ends, and where the next one starts."""
    i = lo
    while i < hi:
        b = _line_break(data, i, hi)
        if b:
            return i, i + b
        i += 1
    return hi, hi


@_jit
def _normal_line(data: U8, lo: int, hi: int) -> tuple[Any, int, bool]:
    """FNV-1a of ``normalize(line)`` for the line data[lo:hi], its number of words,
    and whether every character was covered (if not, the caller normalises it)."""
    h = _OFFSET
    words = 0
    pending_space = False  # a run of white space, written only before more text
    i = lo
    while i < hi:
        c = data[i]
        space = False
        n_out = 0
        b0 = 0
        b1 = 0
        b2 = 0
        step = 1
        if c < 0x80:
            if (9 <= c <= 13) or (0x1C <= c <= 0x20):
                space = True
            else:
                n_out = 1
                b0 = c + 32 if 65 <= c <= 90 else c
        elif c == 0xC2:
            if i + 1 >= hi or data[i + 1] != 0xA0:
                return h, words, False
            space = True
            step = 2
        elif c == 0xC3:
            if i + 1 >= hi or not (0x80 <= data[i + 1] <= 0xBF):
                return h, words, False
            c2 = data[i + 1]
            step = 2
            n_out = 2
            if c2 == 0x9F:  # sharp s folds to "ss"
                b0 = 115
                b1 = 115
            else:
                b0 = 0xC3
                b1 = c2 + 0x20 if (0x80 <= c2 <= 0x9E and c2 != 0x97) else c2
        elif c == 0xE2:
            if i + 2 >= hi or data[i + 1] != 0x80:
                return h, words, False
            c3 = data[i + 2]
            step = 3
            if 0x80 <= c3 <= 0x8A:  # en quad .. hair space: NFKC makes them spaces
                space = True
            elif c3 == 0x93 or c3 == 0x94 or c3 == 0x98 or c3 == 0x99 or c3 == 0x9C or c3 == 0x9D:
                n_out = 3
                b0 = 0xE2
                b1 = 0x80
                b2 = c3
            elif c3 == 0xA6:  # the ellipsis: NFKC gives three full stops
                n_out = 3
                b0 = 46
                b1 = 46
                b2 = 46
            else:
                return h, words, False
        else:
            return h, words, False
        i += step
        if space:
            pending_space = words > 0
            continue
        if pending_space:
            h = _fnv_byte(h, 32)
            pending_space = False
            words += 1
        elif words == 0:
            words = 1
        h = _fnv_byte(h, b0)
        if n_out > 1:
            h = _fnv_byte(h, b1)
        if n_out > 2:
            h = _fnv_byte(h, b2)
    return h, words, True


@_jit
def _lines_piece(data: U8, offsets: I64, d_lo: int, d_hi: int) -> tuple[U64, I64, I64]:
    """Normalised-line hashes and word counts of documents d_lo..d_hi-1, in one pass,
    one document after another, and each document's number of lines (-1: a text the
    scanner does not cover, with nothing in the hashes)."""
    counts = np.zeros(d_hi - d_lo, dtype=np.int64)
    cap = max(64, (offsets[d_hi] - offsets[d_lo]) // 32)
    out_hash = np.empty(cap, dtype=np.uint64)
    out_words = np.empty(cap, dtype=np.int64)
    m = 0
    for d in range(d_lo, d_hi):
        lo, hi = offsets[d], offsets[d + 1]
        start = m
        while lo < hi:
            end, nxt = _line_end(data, lo, hi)
            h, words, ok = _normal_line(data, lo, end)
            if not ok:
                m = start  # none of this text's lines
                counts[d - d_lo] = -1
                break
            if words > 0:
                out_hash = _room(out_hash, m, m + 1)
                out_words = _room(out_words, m, m + 1)
                out_hash[m] = h
                out_words[m] = words
                m += 1
            lo = nxt
        if counts[d - d_lo] == 0:
            counts[d - d_lo] = m - start
    return out_hash[:m], out_words[:m], counts


@_jit
def _compact(buf: U8, offsets: I64, new_offsets: I64) -> None:
    """Move each document's bytes from offsets[d] down to new_offsets[d] (never up), in place."""
    for d in range(len(new_offsets) - 1):
        m = new_offsets[d + 1] - new_offsets[d]
        src, dst = offsets[d], new_offsets[d]
        if src != dst:
            for q in range(m):
                buf[dst + q] = buf[src + q]


@_jit
def _strip_range(
    data: U8, offsets: I64, lines: U64, out: U8, out_len: I64, d_lo: int, d_hi: int
) -> None:
    """Documents d_lo..d_hi-1 without the lines whose normalised hash is in `lines`,
    the rest joined by newlines, written at their own offsets in out."""
    for d in range(d_lo, d_hi):
        lo, hi = offsets[d], offsets[d + 1]
        w = offsets[d]
        first = True
        covered = True
        while lo < hi:
            end, nxt = _line_end(data, lo, hi)
            h, words, ok = _normal_line(data, lo, end)
            if not ok:
                covered = False
                break
            if not (words > 0 and _in_sorted(lines, h)):
                if not first:
                    out[w] = 10
                    w += 1
                out[w : w + end - lo] = data[lo:end]
                w += end - lo
                first = False
            lo = nxt
        out_len[d] = w - offsets[d] if covered else -1


# --- public kernel ----------------------------------------------------------------------


def hash_token_text(data: U8, offsets: I64, *, n_threads: int | None = None) -> tuple[U64, I64]:
    """Hash the space-separated tokens of many documents.

    This is how tokens already produced by :func:`storyclust.text.tokenize` reach
    the kernel: ``" ".join(tokens)`` of each document, UTF-8 encoded and
    concatenated, hashed here without a Python object per token.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
        UTF-8 bytes of every document's tokens joined by single spaces.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document d owns ``data[offsets[d]:offsets[d + 1]]``.
    n_threads : int, optional
        Threads to use; by default all CPUs for long inputs, one for short ones.

    Returns
    -------
    token_hashes : ndarray of uint64, shape (n_tokens,)
        Equal to :func:`storyclust.text.hash_strings` of the tokens.
    token_offsets : ndarray of int64, shape (n_docs + 1,)

    Examples
    --------
    >>> data = np.frombuffer("a bb\\nc".encode(), dtype=np.uint8)
    >>> h, off = hash_token_text(data, np.array([0, 4, 6]))
    >>> off.tolist(), int(h[0]) == 0xAF63DC4C8601EC8C
    ([0, 2, 3], True)
    """
    return _token_hashes(data, offsets, raw=False, n_threads=n_threads)[:2]


def hash_raw_text(data: U8, offsets: I64, *, n_threads: int | None = None) -> tuple[U64, I64, B1]:
    """Tokenise and hash raw UTF-8 text exactly as ``hash_strings(tokenize(text))``.

    The compiled tokeniser covers ASCII text with Latin-1 letters and typographic
    punctuation (curly quotes, dashes, no-break spaces, currency signs): most
    English and Western European news. A document with any other character gets
    no tokens here and ``ok`` False: tokenise it with
    :func:`storyclust.text.tokenize` and hash it with :func:`hash_token_text`.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
        UTF-8 bytes of the documents, concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
    n_threads : int, optional

    Returns
    -------
    token_hashes : ndarray of uint64, shape (n_tokens,)
    token_offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)
        False where the document must be tokenised in Python instead.

    Examples
    --------
    >>> data = np.frombuffer("Quake hits Tokyo — 7.1\\u6771".encode(), dtype=np.uint8)
    >>> h, off, ok = hash_raw_text(data, np.array([0, 24, len(data)]))
    >>> off.tolist(), ok.tolist()
    ([0, 5, 5], [True, False])
    """
    return _token_hashes(data, offsets, raw=True, n_threads=n_threads)


def _counted(
    data: U8, offsets: I64, raw: bool, n_threads: int | None
) -> tuple[U8, I64, int, I64, I64]:
    """The first pass of tokenising: bytes, checked offsets, threads, token counts
    (-1 where raw text needs Python) and token offsets."""
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 64)
    counts = np.zeros(len(off) - 1, dtype=np.int64)
    _run(_count_tokens, (buf, off, raw, counts), off, threads)
    tok_offsets = np.zeros(len(off), dtype=np.int64)
    np.cumsum(np.maximum(counts, 0), out=tok_offsets[1:])
    return buf, off, threads, counts, tok_offsets


def _token_hashes(
    data: U8, offsets: I64, *, raw: bool, n_threads: int | None
) -> tuple[U64, I64, B1]:
    """The token hashes of each document, in one pass."""
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 64)
    parts = _run_parts(_tokens_piece, (buf, off, raw), off, threads)
    out, counts = _joined(parts, np.uint64, np.int64)
    tok_offsets = np.zeros(len(off), dtype=np.int64)
    np.cumsum(np.maximum(counts, 0), out=tok_offsets[1:])
    return out, tok_offsets, counts >= 0


def term_counts(
    token_hashes: U64,
    field_offsets: I64,
    stop_hashes: U64,
    *,
    title_weight: int = 2,
    lead_words: int = 30,
    lead_weight: int = 1,
    n_threads: int | None = None,
) -> tuple[U64, I64, I64]:
    """Weighted counts of the content terms of many articles, each sorted by term hash.

    The term frequencies TF-IDF is built on: an article's title and text tokens
    with the stop words left out; a title term counts `title_weight` times, each
    of the first `lead_words` content words of the text counts ``1 + lead_weight``
    times, every other content word once.

    Parameters
    ----------
    token_hashes : ndarray of uint64, shape (n_tokens,)
        Token hashes of each article's title, then of its text, article after article.
    field_offsets : ndarray of int64, shape (2 * n_articles + 1,)
        Article a's title tokens are ``token_hashes[field_offsets[2a]:field_offsets[2a + 1]]``,
        its text tokens run on to ``field_offsets[2a + 2]``.
    stop_hashes : ndarray of uint64
        Hashes of the stop words.
    title_weight, lead_words, lead_weight : int
    n_threads : int, optional

    Returns
    -------
    terms : ndarray of uint64, shape (n_entries,)
        Distinct term hashes of each article, ascending within an article.
    counts : ndarray of int64, shape (n_entries,)
        Weighted count of each.
    offsets : ndarray of int64, shape (n_articles + 1,)

    Examples
    --------
    >>> t, c, off = term_counts(np.array([5, 7, 5, 9], dtype=np.uint64), np.array([0, 1, 4]),
    ...                         np.array([9], dtype=np.uint64), lead_words=1)
    >>> t.tolist(), c.tolist(), off.tolist()
    ([5, 7], [3, 2], [0, 2])
    """
    for name, v in (
        ("title_weight", title_weight),
        ("lead_words", lead_words),
        ("lead_weight", lead_weight),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an int >= 0; got {v!r}")
    tokens = np.ascontiguousarray(token_hashes, dtype=np.uint64)
    off = _as_offsets(field_offsets, len(tokens))
    if len(off) % 2 != 1:
        raise ValueError(
            "field_offsets must hold 2 * n_articles + 1 positions (title, text per article); "
            f"got {len(off)}"
        )
    stop = np.unique(np.asarray(stop_hashes, dtype=np.uint64))
    n = (len(off) - 1) // 2
    out_t = np.empty(len(tokens), dtype=np.uint64)
    out_c = np.empty(len(tokens), dtype=np.int64)
    n_terms = np.zeros(n, dtype=np.int64)
    art_off = np.ascontiguousarray(off[::2])
    threads = _thread_count(n_threads, float(art_off[-1] - art_off[0]) * 16)
    _run(
        _term_count_range,
        (
            tokens,
            off,
            stop,
            int(title_weight),
            int(lead_words),
            int(lead_weight),
            out_t,
            out_c,
            n_terms,
        ),
        art_off,
        threads,
    )
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_terms, out=offsets[1:])
    # Compact: article a's terms sit at the start of its token slots.
    slot = np.arange(len(tokens), dtype=np.int64) - np.repeat(art_off[:-1], np.diff(art_off))
    keep = slot < np.repeat(n_terms, np.diff(art_off))
    return out_t[keep], out_c[keep], offsets


def names_raw_text(
    data: U8, offsets: I64, stop_hashes: U64, *, n_threads: int | None = None
) -> tuple[U64, I64, I64, B1]:
    """Hashes of the names and figures of raw UTF-8 texts, as :func:`storyclust.text.names_and_numbers`.

    Equal to ``hash_strings(names_and_numbers(text))`` (no title) for every text
    the compiled scanner covers: ASCII with Latin-1 letters, no-break spaces,
    dashes, curly quotes and the ellipsis. A text with any other character gets
    ``ok`` False and nothing here: run :func:`storyclust.text.names_and_numbers`
    on it instead.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
    offsets : ndarray of int64, shape (n_docs + 1,)
    stop_hashes : ndarray of uint64
        Hashes of :data:`storyclust.text.STOP_WORDS`.
    n_threads : int, optional

    Returns
    -------
    hashes : ndarray of uint64, shape (n_entries,)
        Per document its names (mid-sentence capitalised words, then sentence-initial
        ones also seen mid-sentence), then its figures.
    offsets : ndarray of int64, shape (n_docs + 1,)
    n_names : ndarray of int64, shape (n_docs,)
        How many of each document's entries are names (the rest are figures).
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> from storyclust.text import STOP_WORDS, hash_strings, names_and_numbers
    >>> text = "Rescuers in Mamuju found 8 bodies. Officials said 1,200 fled."
    >>> data = np.frombuffer(text.encode(), dtype=np.uint8)
    >>> h, off, n_names, ok = names_raw_text(data, np.array([0, len(data)]),
    ...                                      hash_strings(sorted(STOP_WORDS)))
    >>> h.tolist() == hash_strings(names_and_numbers(text)).tolist(), n_names.tolist()
    (True, [1])
    """
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    stop = np.unique(np.asarray(stop_hashes, dtype=np.uint64))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 32)
    parts = _run_parts(_names_piece, (buf, off, stop), off, threads)
    out, counts = _joined(parts, np.uint64, np.int64)
    ok = counts[0::2] >= 0
    out_off = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.where(ok, counts[0::2] + counts[1::2], 0), out=out_off[1:])
    return out, out_off, np.where(ok, counts[0::2], 0), ok


def raw_words(data: U8, offsets: I64, *, n_threads: int | None = None) -> tuple[list[str], I64, B1]:
    """The tokens of raw UTF-8 texts as strings, as :func:`storyclust.text.tokenize` gives them.

    The words :func:`hash_raw_text` hashes, for the texts it covers (``ok``); the
    others get no tokens here (tokenise them in Python).

    Returns
    -------
    tokens : list of str
    token_offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> data = np.frombuffer("Straße in MÜNCHEN".encode(), dtype=np.uint8)
    >>> raw_words(data, np.array([0, len(data)]))[0]
    ['strasse', 'in', 'münchen']
    """
    buf, off, threads, counts, tok_offsets = _counted(data, offsets, True, n_threads)
    ok = counts >= 0
    # Folded words never take more bytes than the text they come from.
    byte_offsets = off - off[0]
    out_bytes = np.zeros(int(byte_offsets[-1]), dtype=np.uint8)
    out_ends = np.zeros(int(tok_offsets[-1]), dtype=np.int64)
    _run(
        _words_range,
        (buf, off, tok_offsets, byte_offsets, out_bytes, out_ends),
        off,
        threads,
    )
    starts = np.empty_like(out_ends)
    if len(out_ends):
        starts[1:] = out_ends[:-1]
        starts[tok_offsets[:-1][counts > 0]] = byte_offsets[:-1][counts > 0]
    raw = out_bytes.tobytes()
    words = [raw[a:b].decode("utf-8") for a, b in zip(starts.tolist(), out_ends.tolist())]
    return words, tok_offsets, ok


def line_hashes(
    data: U8, offsets: I64, *, n_threads: int | None = None
) -> tuple[U64, I64, I64, B1]:
    """Hashes of the normalised lines of raw UTF-8 texts, for learning boilerplate.

    Lines are split as ``str.splitlines`` splits them; each non-empty
    ``storyclust.text.normalize(line)`` is hashed as ``hash_strings`` would hash it.
    Covered: ASCII, Latin-1 letters, no-break and typographic spaces, dashes, curly
    quotes and the ellipsis; a text with another character gets ``ok`` False and
    nothing here (normalise its lines in Python).

    Returns
    -------
    hashes : ndarray of uint64, shape (n_lines,)
    words : ndarray of int64, shape (n_lines,)
        Words of each normalised line.
    line_offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> from storyclust.text import hash_strings
    >>> data = np.frombuffer("Related  ARTICLES\\r\\n\\nSign up".encode(), dtype=np.uint8)
    >>> h, words, off, ok = line_hashes(data, np.array([0, len(data)]))
    >>> h.tolist() == hash_strings(["related articles", "sign up"]).tolist(), words.tolist()
    (True, [2, 2])
    """
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 32)
    parts = _run_parts(_lines_piece, (buf, off), off, threads)
    out_h, out_w, counts = _joined(parts, np.uint64, np.int64, np.int64)
    ok = counts >= 0
    line_off = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.maximum(counts, 0), out=line_off[1:])
    return out_h, out_w, line_off, ok


def strip_line_hashes(
    data: U8, offsets: I64, lines: U64, *, n_threads: int | None = None
) -> tuple[U8, I64, B1]:
    """Raw UTF-8 texts without the lines whose normalised hash is in `lines`.

    As ``"\\n".join(x for x in text.splitlines() if hash(normalize(x)) not in lines)``
    (see :func:`line_hashes`), for the texts :func:`line_hashes` covers; the others
    (``ok`` False) come back empty.

    Returns
    -------
    data : ndarray of uint8
    offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> from storyclust.text import hash_strings
    >>> data = np.frombuffer("News\\nRELATED articles\\nMore".encode(), dtype=np.uint8)
    >>> out, off, ok = strip_line_hashes(data, np.array([0, len(data)]), hash_strings(["related articles"]))
    >>> out.tobytes().decode()
    'News\\nMore'
    """
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    table = np.unique(np.asarray(lines, dtype=np.uint64))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 32)
    # Joining by one newline never makes a text longer: write each in its own place.
    out = np.zeros(len(buf), dtype=np.uint8)
    out_len = np.zeros(n_docs, dtype=np.int64)
    _run(_strip_range, (buf, off, table, out, out_len), off, threads)
    ok = out_len >= 0
    length = np.maximum(out_len, 0)
    new_off = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(length, out=new_off[1:])
    _compact(out, off, new_off)
    return out[: new_off[-1]], new_off, ok


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


@_jit
def _band_key_range(sig: U32, bands: int, rows: int, out: U64, d_lo: int, d_hi: int) -> None:
    """Band keys of documents d_lo..d_hi-1: FNV-fold each band's values, then splitmix64."""
    for d in range(d_lo, d_hi):
        for band in range(bands):
            h = _OFFSET
            for j in range(band * rows, (band + 1) * rows):
                h = (h ^ np.uint64(sig[d, j])) * _PRIME
            out[d, band] = _splitmix64_one(h)


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
