"""The compiled loops that read documents, and the hash constants they compile in.

Text bytes to token hashes (the raw-text tokeniser and the space-separated one),
shingle hashes, MinHash rows, the fused text-to-signature loop, band keys, weighted
term counts, names and figures, folded words, normalised lines and the boilerplate
strip. Each loop takes a range of documents (``d_lo..d_hi``) and writes only their
rows or returns only their piece, so :mod:`storyclust._kernel_text` and
:mod:`storyclust._kernel_minhash`, which check the inputs and own the results, can
split documents over threads. Part of :mod:`storyclust.similarity`; nothing here is
public.

One file on purpose: numba's disk cache (``cache=True``) checks only the source file
of the function it compiled, so a compiled loop that called a compiled function or
read a constant of another file could go on running a stale copy after that file
changed. No loop here reaches outside this file (``_jit`` is only the decorator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._kernel_base import B1, I64, U8, U32, U64, _jit

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


@_jit
def _band_key_range(sig: U32, bands: int, rows: int, out: U64, d_lo: int, d_hi: int) -> None:
    """Band keys of documents d_lo..d_hi-1: FNV-fold each band's values, then splitmix64."""
    for d in range(d_lo, d_hi):
        for band in range(bands):
            h = _OFFSET
            for j in range(band * rows, (band + 1) * rows):
                h = (h ^ np.uint64(sig[d, j])) * _PRIME
            out[d, band] = _splitmix64_one(h)
