"""Compiled loops of the streaming index: arrays in, arrays out, no state.

Term vectors are stored without IDF, as sorted hashed term ids and sublinear term
frequencies (``1 + ln(count)``), one row per article, rows kept in flat arrays with
``lo[r]:hi[r]`` bounds. IDF is applied here, at scoring time, from the current
document frequencies: ``idf[t] = c - lg[t]`` with ``c = ln(1 + n) + 1`` and
``lg[t] = ln(1 + df[t])``, which is scikit-learn's smoothed IDF.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "available_cpus",
    "candidate_stories",
    "components",
    "content_term_ids",
    "cosine_matrix",
    "count_terms",
    "cut_distances",
    "cut_labels",
    "cut_roots",
    "eligible",
    "join_segments",
    "keep_rows",
    "key_fences",
    "key_ranges",
    "linkage_by",
    "live_row_norms",
    "merge_postings",
    "neighbours",
    "pair_scores",
    "parallel",
    "postings",
    "query_rows",
    "query_weights",
    "remap_postings",
    "row_norms",
    "same_partition",
    "segment",
    "stop_bitmap",
    "story_members",
    "term_counts",
    "time_overs",
    "work_space",
]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(fn: _F) -> _F:
    """Compile `fn` with numba in nopython mode, cached on disk, releasing the GIL."""
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


@_jit
def _norms(rows: I64, lo: I64, hi: I64, idx: I32, val: F32, lg: F64, c: float, out: F64) -> None:
    """L2 norm of each row's TF-IDF weights, into out."""
    for k in range(len(rows)):
        r = rows[k]
        acc = 0.0
        for p in range(lo[r], hi[r]):
            w = val[p] * (c - lg[idx[p]])
            acc += w * w
        out[k] = math.sqrt(acc)


@_jit
def _cosines(
    a: I64,
    b: I64,
    lo: I64,
    hi: I64,
    idx: I32,
    val: F32,
    lg: F64,
    c: float,
    na: F64,
    nb: F64,
    out: F64,
) -> None:
    """Cosine of every (a[i], b[j]) row pair by merging their sorted term ids."""
    for i in range(len(a)):
        ra = a[i]
        if na[i] == 0.0:
            continue
        for j in range(len(b)):
            rb = b[j]
            if nb[j] == 0.0:
                continue
            p, pe = lo[ra], hi[ra]
            q, qe = lo[rb], hi[rb]
            acc = 0.0
            while p < pe and q < qe:
                tp = idx[p]
                tq = idx[q]
                if tp == tq:
                    w = c - lg[tp]
                    acc += val[p] * val[q] * w * w
                    p += 1
                    q += 1
                elif tp < tq:
                    p += 1
                else:
                    q += 1
            v = acc / (na[i] * nb[j])
            out[i, j] = min(max(v, 0.0), 1.0)


@_jit
def _norms_range(
    lo: I64,
    hi: I64,
    idx: I32,
    val: F32,
    lg: F64,
    c: float,
    alive: npt.NDArray[np.bool_],
    out: F64,
    r_lo: int,
    r_hi: int,
) -> None:
    """L2 norm of the TF-IDF weights of the live rows among r_lo..r_hi-1, into out."""
    for r in range(r_lo, r_hi):
        if alive[r]:
            out[r] = _row_norm(r, lo, hi, idx, val, lg, c)


def row_norms(rows: I64, lo: I64, hi: I64, idx: I32, val: F32, lg: F64, c: float) -> F64:
    """L2 norms of the TF-IDF weights of `rows` (IDF from `lg` and `c`).

    Examples
    --------
    >>> lo, hi = np.array([0, 2]), np.array([2, 3])
    >>> idx, val = np.array([0, 1, 1], dtype=np.int32), np.ones(3, dtype=np.float32)
    >>> row_norms(np.array([0, 1]), lo, hi, idx, val, np.zeros(2), 1.0).round(3).tolist()
    [1.414, 1.0]
    """
    out = np.zeros(len(rows), dtype=np.float64)
    _norms(np.ascontiguousarray(rows, dtype=np.int64), lo, hi, idx, val, lg, float(c), out)
    return out


def cosine_matrix(a: I64, b: I64, lo: I64, hi: I64, idx: I32, val: F32, lg: F64, c: float) -> F64:
    """TF-IDF cosine of every pair of rows ``(a[i], b[j])``, shape ``(len(a), len(b))``.

    A row without terms has cosine 0 with everything.

    Examples
    --------
    >>> lo, hi = np.array([0, 2]), np.array([2, 3])
    >>> idx, val = np.array([0, 1, 1], dtype=np.int32), np.ones(3, dtype=np.float32)
    >>> cosine_matrix(np.array([0]), np.array([0, 1]), lo, hi, idx, val, np.zeros(2), 1.0).round(3).tolist()
    [[1.0, 0.707]]
    """
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    na = row_norms(a, lo, hi, idx, val, lg, c)
    nb = row_norms(b, lo, hi, idx, val, lg, c)
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    _cosines(a, b, lo, hi, idx, val, lg, float(c), na, nb, out)
    return out


@_jit
def _postings(
    lo: I64, hi: I64, idx: I32, val: F32, start: int, upto: int, n_terms: int
) -> tuple[I64, I64, F32]:
    """Term -> (slot, TF) lists of slots start..upto-1, by a counting sort."""
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    for s in range(start, upto):
        for p in range(lo[s], hi[s]):
            ptr[idx[p] + 1] += 1
    for t in range(n_terms):
        ptr[t + 1] += ptr[t]
    fill = ptr[:-1].copy()
    slots = np.empty(ptr[n_terms], dtype=np.int64)
    vals = np.empty(ptr[n_terms], dtype=np.float32)
    for s in range(start, upto):
        for p in range(lo[s], hi[s]):
            t = idx[p]
            slots[fill[t]] = s
            vals[fill[t]] = val[p]
            fill[t] += 1
    return ptr, slots, vals


@_jit
def _search(
    q_ptr: I64,
    q_idx: I32,
    q_w: F64,
    q_day: F64,
    q_limit: I64,
    post_ptr: I64,
    post_slot: I64,
    post_val: F32,
    seg_bounds: I64,
    seg_terms: I32,
    seg_ptr: I64,
    seg_slot: I64,
    seg_val: F32,
    upto: int,
    lo: I64,
    hi: I64,
    idx: I32,
    val: F32,
    n: int,
    lg: F64,
    c: float,
    alive: npt.NDArray[np.bool_],
    day: F64,
    row: I64,
    horizon: float,
    floor: float,
    cut: F64,
    norms: F64,
    out: I64,
    i_lo: int,
    i_hi: int,
) -> None:
    """Best neighbours of query rows i_lo..i_hi-1 among slots < their limits (see ``neighbours``)."""
    k = out.shape[1]
    acc = np.zeros(n, dtype=np.float64)
    mark = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    cand_v = np.empty(n, dtype=np.float64)
    cand_s = np.empty(n, dtype=np.int64)
    for i in range(i_lo, i_hi):
        nt = 0
        a, b = q_ptr[i], q_ptr[i + 1]
        for p in range(a, b):
            t = q_idx[p]
            w = q_w[p]
            nt = _accumulate(
                post_slot, post_val, post_ptr[t], post_ptr[t + 1], w, acc, mark, touched, nt
            )
            for g in range(len(seg_bounds) - 1):
                u = _find_term(seg_terms, seg_bounds[g], seg_bounds[g + 1], t)
                if u >= 0:
                    nt = _accumulate(
                        seg_slot, seg_val, seg_ptr[u], seg_ptr[u + 1], w, acc, mark, touched, nt
                    )
        for s in range(upto, min(n, q_limit[i])):
            p, q = a, lo[s]
            qe = hi[s]
            dot = 0.0
            while p < b and q < qe:
                if q_idx[p] == idx[q]:
                    dot += q_w[p] * val[q]
                    p += 1
                    q += 1
                elif q_idx[p] < idx[q]:
                    p += 1
                else:
                    q += 1
            if dot > 0.0:
                mark[s] = True
                touched[nt] = s
                nt += 1
                acc[s] += dot
        nc = 0
        qd = q_day[i]
        for j in range(nt):
            s = touched[j]
            dot = acc[s]
            acc[s] = 0.0
            mark[s] = False
            if s >= q_limit[i] or not alive[s]:
                continue
            if norms[s] < 0.0:  # not computed up front (few queries): now, once per call
                norms[s] = _row_norm(s, lo, hi, idx, val, lg, c)
            v = dot / norms[s] if norms[s] > 0.0 else 0.0
            if v < cut[i]:
                continue
            if not math.isnan(day[s]):
                if math.isnan(qd):
                    if day[s] < floor:
                        continue
                elif abs(qd - day[s]) > horizon:
                    continue
            cand_v[nc] = v
            cand_s[nc] = s
            nc += 1
        # Best first; ties go to the earlier article (lower row), whatever the slot order.
        by_row = np.argsort(row[cand_s[:nc]], kind="mergesort")
        vs = cand_v[:nc][by_row]
        ss = cand_s[:nc][by_row]
        best = np.argsort(-vs, kind="mergesort")
        for j in range(k):
            out[i, j] = ss[best[j]] if j < nc else -1


@_jit
def _keep_rows(a: Any, lo: I64, hi: I64) -> None:
    """Rows ``a[lo[r]:hi[r]]`` moved to the front of `a`, one after another, in place."""
    o = 0
    for r in range(len(lo)):
        for p in range(lo[r], hi[r]):
            a[o] = a[p]  # o <= p: rows ascending and disjoint
            o += 1


def keep_rows(a: Any, lo: I64, hi: I64) -> tuple[I64, I64]:
    """Move rows ``lo[r]:hi[r]`` of the flat array `a` to its front, in place; return their new bounds.

    The rows must be ascending and disjoint (``hi[r] <= lo[r + 1]``), as the rows
    a compaction keeps: then no row is overwritten before it is moved.

    Examples
    --------
    >>> a = np.arange(6)
    >>> new_lo, new_hi = keep_rows(a, np.array([1, 4]), np.array([2, 6]))
    >>> a[:3].tolist(), new_lo.tolist(), new_hi.tolist()
    ([1, 4, 5], [0, 1], [1, 3])
    """
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    if len(lo) > 1 and (np.any(hi < lo) or np.any(lo[1:] < hi[:-1])):
        raise ValueError("keep_rows: rows must be ascending and disjoint")
    lengths = hi - lo
    new_hi = np.cumsum(lengths).astype(np.int64)
    _keep_rows(a, lo, hi)
    return new_hi - lengths, new_hi


@_jit
def _fences(keys: U64, bits: int, out: I64) -> None:
    t = 0
    for i in range(len(keys)):
        top = keys[i] >> np.uint64(64 - bits) if bits else np.uint64(0)
        while t <= top:
            out[t] = i
            t += 1
    while t < len(out):
        out[t] = len(keys)
        t += 1


def key_fences(keys: U64) -> tuple[I64, int]:
    """Where each value of the top bits starts in sorted hashed `keys`: a table for :func:`key_ranges`.

    ``fences[t]`` is the first i whose key's top `bits` bits are at least t, with
    ``2 ** bits`` an eighth to a quarter of the number of keys: 1 to 2 bytes a key.

    Examples
    --------
    >>> keys = np.array([1, 2, 3, 4, 5] + [2**63 + k for k in range(4)], dtype=np.uint64)
    >>> fences, bits = key_fences(keys)  # 1 bit: below 2**63 and from 2**63 on
    >>> fences.tolist(), bits
    ([0, 5, 9], 1)
    """
    bits = max(0, min(62, len(keys).bit_length() - 3))
    out = np.empty((1 << bits) + 1, dtype=np.int64)
    _fences(keys, bits, out)
    return out, bits


@_jit
def _key_ranges(keys: U64, fences: I64, bits: int, probes: U64, lo: I64, hi: I64) -> None:
    n = len(keys)
    for i in range(len(probes)):
        p = probes[i]
        t = p >> np.uint64(64 - bits) if bits else np.uint64(0)
        a, b = fences[t], fences[t + 1]
        while a < b:  # the first key >= p, among the keys sharing its top bits
            m = (a + b) >> 1
            if keys[m] < p:
                a = m + 1
            else:
                b = m
        lo[i] = a
        while a < n and keys[a] == p:
            a += 1
        hi[i] = a


def key_ranges(keys: U64, probes: U64, fences: tuple[I64, int] | None = None) -> tuple[I64, I64]:
    """``np.searchsorted(keys, probes, "left")`` and ``"right"``, for sorted hashed keys.

    With the table of :func:`key_fences`, a probe reads one entry of it and a few
    keys that share its top bits: at a million articles' band keys (32 MB) one or
    two cache misses, where a binary search takes a dozen. Hashed keys spread
    evenly, so the few stay few. A probe no key equals gets ``lo == hi``.

    Examples
    --------
    >>> lo, hi = key_ranges(np.array([2, 5, 5, 9], dtype=np.uint64), np.array([5, 6], dtype=np.uint64))
    >>> lo.tolist(), hi.tolist()
    ([1, 3], [3, 3])
    """
    table, bits = key_fences(keys) if fences is None else fences
    lo = np.empty(len(probes), dtype=np.int64)
    hi = np.empty(len(probes), dtype=np.int64)
    _key_ranges(keys, table, bits, probes.astype(np.uint64, copy=False), lo, hi)
    return lo, hi


def postings(
    lo: I64, hi: I64, idx: I32, val: F32, start: int, upto: int, n_terms: int
) -> tuple[I64, I64, F32]:
    """Inverted lists of rows ``start..upto-1``: ``slots[ptr[t]:ptr[t + 1]]`` hold term t.

    Examples
    --------
    >>> lo, hi = np.array([0, 2]), np.array([2, 3])
    >>> idx, val = np.array([0, 1, 1], dtype=np.int32), np.ones(3, dtype=np.float32)
    >>> ptr, slots, _ = postings(lo, hi, idx, val, 0, 2, 3)
    >>> ptr.tolist(), slots.tolist()
    ([0, 1, 3, 3], [0, 0, 1])
    """
    return _postings(lo, hi, idx, val, int(start), int(upto), int(n_terms))


@_jit
def _merge_postings(p1: I64, s1: I64, v1: F32, p2: I64, s2: I64, v2: F32) -> tuple[I64, I64, F32]:
    """Each term's list of the first then of the second inverted lists."""
    ptr = p1 + p2
    slots = np.empty(len(s1) + len(s2), dtype=np.int64)
    vals = np.empty(len(s1) + len(s2), dtype=np.float32)
    for t in range(len(p1) - 1):
        o = ptr[t]
        for e in range(p1[t], p1[t + 1]):
            slots[o] = s1[e]
            vals[o] = v1[e]
            o += 1
        for e in range(p2[t], p2[t + 1]):
            slots[o] = s2[e]
            vals[o] = v2[e]
            o += 1
    return ptr, slots, vals


def merge_postings(first: tuple[I64, I64, F32], then: tuple[I64, I64, F32]) -> tuple[I64, I64, F32]:
    """The inverted lists of rows ``a..c-1`` from those of ``a..b-1`` (`first`) and ``b..c-1`` (`then`).

    Equal to ``postings(..., a, c, n_terms)``, array for array, at the cost of a copy.

    Examples
    --------
    >>> lo, hi = np.array([0, 2]), np.array([2, 3])
    >>> idx, val = np.array([0, 1, 1], dtype=np.int32), np.ones(3, dtype=np.float32)
    >>> ptr, slots, _ = merge_postings(postings(lo, hi, idx, val, 0, 1, 3), postings(lo, hi, idx, val, 1, 2, 3))
    >>> ptr.tolist(), slots.tolist()
    ([0, 1, 3, 3], [0, 0, 1])
    """
    return _merge_postings(*first, *then)


@_jit
def _remap_postings(ptr: I64, slots: I64, vals: F32, new: I64) -> int:
    """Each term's list with slot s as ``new[s]``, without the slots where that is -1; in place."""
    o = 0
    start = ptr[0]
    for t in range(len(ptr) - 1):
        end = ptr[t + 1]
        for e in range(start, end):
            s = new[slots[e]]
            if s >= 0:  # o <= e: entries move towards the front
                slots[o] = s
                vals[o] = vals[e]
                o += 1
        ptr[t + 1] = o
        start = end
    return o


def remap_postings(lists: tuple[I64, I64, F32], new: I64) -> tuple[I64, I64, F32]:
    """Inverted lists (:func:`postings`) after the slots are renumbered: slot s becomes ``new[s]``.

    In place: `lists` is overwritten (its arrays are returned, cut to what they hold).

    Slots with ``new[s] == -1`` are left out. With `new` increasing over the
    slots it keeps (a compaction), equal to :func:`postings` of the renumbered
    rows, array for array.

    Examples
    --------
    >>> lo, hi = np.array([0, 1, 2]), np.array([1, 2, 3])
    >>> idx, val = np.array([0, 0, 1], dtype=np.int32), np.ones(3, dtype=np.float32)
    >>> ptr, slots, _ = remap_postings(postings(lo, hi, idx, val, 0, 3, 2), np.array([-1, 0, 1]))
    >>> ptr.tolist(), slots.tolist()
    ([0, 1, 2], [0, 1])
    """
    ptr, slots, vals = lists
    n = _remap_postings(ptr, slots, vals, new.astype(np.int64))
    return ptr, slots[:n], vals[:n]


# Compact inverted lists ("segments"): those of some slots, for the terms they hold only,
# so that building them costs in proportion to their entries, not to the term space.
# Several segments are held one after another: segment g's terms are
# terms[bounds[g]:bounds[g + 1]] (ascending), term entry u's list is
# slots[ptr[u]:ptr[u + 1]] (ascending slots) with their values vals[...].
Segments = tuple[I64, I32, I64, I64, F32]  # bounds, terms, ptr, slots, vals


@_jit
def _segment(
    lo: I64, hi: I64, idx: I32, val: F32, start: int, upto: int
) -> tuple[I32, I64, I64, F32]:
    """Term -> (slot, TF) lists of slots start..upto-1 for their terms only (see ``segment``)."""
    n_entries = 0
    for s in range(start, upto):
        n_entries += hi[s] - lo[s]
    # Entry e (in slot order) as the key term << 32 | e: sorted, each term's entries
    # stay in slot order. A radix sort of the term bits, 11 a pass.
    key = np.empty(n_entries, dtype=np.uint64)
    at = np.empty(n_entries, dtype=np.int64)
    of = np.empty(n_entries, dtype=np.int64)
    top = 0
    e = 0
    for s in range(start, upto):
        for p in range(lo[s], hi[s]):
            t = idx[p]
            top = max(top, t)
            key[e] = (np.uint64(t) << np.uint64(32)) | np.uint64(e)
            at[e] = p
            of[e] = s
            e += 1
    other = np.empty_like(key)
    shift = 0
    while (top >> shift) > 0:
        bits = np.uint64(32 + shift)
        fill = np.zeros(2049, dtype=np.int64)
        for j in range(n_entries):
            fill[((key[j] >> bits) & np.uint64(2047)) + 1] += 1
        for d in range(2048):
            fill[d + 1] += fill[d]
        for j in range(n_entries):
            d = (key[j] >> bits) & np.uint64(2047)
            o = fill[d]
            other[o] = key[j]
            fill[d] = o + 1
        key, other = other, key
        shift += 11
    slots = np.empty(n_entries, dtype=np.int64)
    vals = np.empty(n_entries, dtype=np.float32)
    nd = 0
    last = -1
    for j in range(n_entries):
        t = np.int64(key[j] >> np.uint64(32))
        if t != last:
            nd += 1
            last = t
    terms = np.empty(nd, dtype=np.int32)
    ptr = np.empty(nd + 1, dtype=np.int64)
    u = 0
    last = -1
    for j in range(n_entries):
        t = np.int64(key[j] >> np.uint64(32))
        if t != last:
            terms[u] = t
            ptr[u] = j
            u += 1
            last = t
        e = np.int64(key[j] & np.uint64(0xFFFFFFFF))
        slots[j] = of[e]
        vals[j] = val[at[e]]
    ptr[nd] = n_entries
    return terms, ptr, slots, vals


def segment(
    lo: I64, hi: I64, idx: I32, val: F32, start: int, upto: int
) -> tuple[I32, I64, I64, F32]:
    """The inverted lists of rows ``start..upto-1``, for the terms they hold only.

    Returns ``(terms, ptr, slots, vals)``: the distinct terms ascending, and term
    ``terms[u]``'s rows ``slots[ptr[u]:ptr[u + 1]]`` (ascending) and values; the
    lists of :func:`postings` for those terms, built by a radix sort of the
    entries (no pass over the term space).

    Examples
    --------
    >>> lo, hi = np.array([0, 2]), np.array([2, 3])
    >>> idx, val = np.array([0, 5, 5], dtype=np.int32), np.ones(3, dtype=np.float32)
    >>> terms, ptr, slots, _ = segment(lo, hi, idx, val, 0, 2)
    >>> terms.tolist(), ptr.tolist(), slots.tolist()
    ([0, 5], [0, 1, 3], [0, 0, 1])
    """
    return _segment(lo, hi, idx, val, int(start), int(upto))


def join_segments(parts: list[tuple[I32, I64, I64, F32]]) -> Segments:
    """Segments (:func:`segment`) held one after another, as the neighbour search takes them."""
    bounds = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p[0]) for p in parts], out=bounds[1:])
    base = np.cumsum([0] + [len(p[2]) for p in parts])
    ptr = np.concatenate([p[1][:-1] + b for p, b in zip(parts, base)] + [base[-1:]])
    terms = np.concatenate([np.zeros(0, dtype=np.int32)] + [p[0] for p in parts])
    slots = np.concatenate([np.zeros(0, dtype=np.int64)] + [p[2] for p in parts])
    vals = np.concatenate([np.zeros(0, dtype=np.float32)] + [p[3] for p in parts])
    return bounds, terms, ptr.astype(np.int64), slots, vals


@_jit
def _accumulate(
    slot: I64,
    val: F32,
    e_lo: int,
    e_hi: int,
    w: float,
    acc: F64,
    mark: npt.NDArray[np.bool_],
    touched: I64,
    nt: int,
) -> int:
    """Add w x the postings e_lo..e_hi-1 to their slots' sums, noting each slot first touched;
    returns the new count of touched slots."""
    for e in range(e_lo, e_hi):
        s = slot[e]
        if not mark[s]:
            mark[s] = True
            touched[nt] = s
            nt += 1
        acc[s] += w * val[e]
    return nt


@_jit
def _find_term(terms: I32, lo: int, hi: int, t: int) -> int:
    """Position of term `t` in the ascending terms[lo:hi], or -1."""
    at = lo + np.searchsorted(terms[lo:hi], t)
    return at if at < hi and terms[at] == t else -1


def neighbours(
    queries: tuple[I64, I32, F64],
    q_day: F64,
    q_limit: I64,
    main: tuple[I64, I64, F32],
    tail: Segments,
    upto: int,
    rows: tuple[I64, I64, I32, F32],
    n: int,
    lg: F64,
    c: float,
    alive: npt.NDArray[np.bool_],
    day: F64,
    row: I64,
    *,
    horizon: float,
    floor: float,
    cut: F64,
    k: int,
    n_threads: int = 1,
    norms: F64 | None = None,
    norms_ready: bool = False,
    span: tuple[int, int] | None = None,
) -> I64:
    """The `k` best TF-IDF neighbours of each query among the stored rows.

    A query row q (sorted term ids, weights) scores row s by
    ``sum_t q_t * tf_st / |s|``, where ``|s|`` is the norm of row s's TF-IDF
    weights (IDF ``c - lg[t]``). Rows are reached through the inverted lists
    `main` (:func:`postings`) and the segments `tail` (:func:`join_segments`); rows
    from `upto` on are scanned by merging their terms (pass ``upto = n`` when the
    lists cover them). Kept: rows alive,
    below the query's `q_limit`, within `horizon` days of a dated query (an
    undated row always is) and scoring at least the query's `cut`; best first, ties to the
    lower `row`. An undated query (NaN `q_day`) keeps the undated rows and those
    dated `floor` or later. Queries are split over `n_threads` threads; the
    result is the same for any number. `norms` (length `n`, negative where not
    computed yet) receives the rows' norms, for the caller to keep; with
    `norms_ready` none are computed up front (they are all there already,
    :func:`live_row_norms`, or those missing are computed as rows are reached). `span`
    ``(first, last)`` searches those queries only (the other rows of the result
    are -1): a caller can search in pieces, each giving what the whole would.

    Returns
    -------
    ndarray of int64, shape (n_queries, k)
        Slots, padded with -1.
    """
    q_ptr, q_idx, q_w = queries
    post_ptr, post_slot, post_val = main
    seg_bounds, seg_terms, seg_ptr, seg_slot, seg_val = tail
    lo, hi, idx, val = rows
    out = np.full((len(q_ptr) - 1, k), -1, dtype=np.int64)
    first, last = (0, len(q_ptr) - 1) if span is None else span
    if norms is None:
        norms = np.full(int(n), -1.0)
    if norms_ready:
        pass
    elif (last - first) * 64 >= n:  # most rows will be reached: their norms up front, on every CPU
        live_row_norms(rows, n, lg, c, alive, norms, n_threads)
    else:  # a few queries: norms as rows are reached, on one thread (shared cache)
        n_threads = 1
    args = (
        q_ptr,
        q_idx,
        q_w,
        q_day,
        q_limit,
        post_ptr,
        post_slot,
        post_val,
        seg_bounds,
        seg_terms,
        seg_ptr,
        seg_slot,
        seg_val,
        int(upto),
        lo,
        hi,
        idx,
        val,
        int(n),
        lg,
        float(c),
        alive,
        day,
        row,
        float(horizon),
        float(floor),
        np.ascontiguousarray(cut, dtype=np.float64),
        norms,
        out,
    )
    parallel(_search, args, last - first, n_threads, start=first)
    return out


def live_row_norms(
    rows: tuple[I64, I64, I32, F32],
    n: int,
    lg: F64,
    c: float,
    alive: npt.NDArray[np.bool_],
    out: F64,
    n_threads: int = 1,
) -> None:
    """The TF-IDF norms of the live rows among the first `n`, into `out`, over `n_threads` threads."""
    lo, hi, idx, val = rows
    parallel(_norms_range, (lo, hi, idx, val, lg, float(c), alive, out), int(n), n_threads)


# numpy's log of every count a term can have (counts are uint16), so that the compiled
# query weights use numpy's log to the last bit, not numba's.
_LOG_COUNTS: Final = np.log(np.maximum(np.arange(1 << 16), 1).astype(np.float64))


@_jit
def _query_weights(
    ptr: I64,
    idx: I32,
    cnt: npt.NDArray[np.uint16],
    lg: F64,
    c: float,
    logs: F64,
    main_ptr: I64,
    counts: I32,
    max_postings: int,
    w: F64,
    qw: F64,
    hub: npt.NDArray[np.bool_],
    norm: F64,
) -> None:
    """TF-IDF weights, row norms, query weights and hub marks of CSR rows (see ``query_weights``)."""
    for d in range(len(ptr) - 1):
        acc = 0.0
        for p in range(ptr[d], ptr[d + 1]):
            t = idx[p]
            x = (1.0 + logs[cnt[p]]) * (c - lg[t])
            w[p] = x
            acc += x * x
            listed = main_ptr[t + 1] - main_ptr[t]
            for r in range(counts.shape[0]):
                listed += counts[r, t]
            hub[p] = listed > max_postings
        nd = math.sqrt(acc)
        norm[d] = nd
        nd = max(nd, 1e-12)
        for p in range(ptr[d], ptr[d + 1]):
            qw[p] = w[p] / nd * (c - lg[idx[p]])


def query_weights(
    ptr: I64,
    idx: I32,
    cnt: npt.NDArray[np.uint16],
    lg: F64,
    c: float,
    main_ptr: I64,
    counts: I32,
    max_postings: int,
) -> tuple[F64, F64, npt.NDArray[np.bool_], F64]:
    """The weights a neighbour query needs of CSR rows of term ids `idx` and counts `cnt`, in one pass.

    With ``idf = c - lg[idx]`` and ``doc`` the row of each entry: the TF-IDF weights
    ``w = (1 + log(max(cnt, 1))) * idf``, the query weights ``qw = w / max(norm, 1e-12)[doc] * idf``,
    whether each term is a hub (in more than `max_postings` articles: those of the
    inverted lists `main_ptr` plus ``counts[:, t].sum()``, `counts` of shape
    ``(k, n_terms)``, int32), and each row's norm ``sqrt(bincount(doc, w * w))``.
    Equal to those numpy expressions to the last bit (numpy's log, tested).

    Returns
    -------
    w, qw : ndarray of float64, shape (len(idx),)
    hub : ndarray of bool, shape (len(idx),)
    norm : ndarray of float64, shape (len(ptr) - 1,)
    """
    n_entries = len(idx)
    w = np.empty(n_entries)
    qw = np.empty(n_entries)
    hub = np.empty(n_entries, dtype=np.bool_)
    norm = np.empty(len(ptr) - 1)
    _query_weights(
        np.ascontiguousarray(ptr, dtype=np.int64), idx, cnt, lg, float(c), _LOG_COUNTS,
        main_ptr, counts, int(max_postings), w, qw, hub, norm,
    )  # fmt: skip
    return w, qw, hub, norm


@_jit
def _query_rows(keep: I64, ptr: I64, w: F64, norm: F64, kept: F64, q_ptr: I64) -> None:
    """Squared unit weights and entries kept per row (see ``query_rows``)."""
    d = 0
    for p in keep:
        while ptr[d + 1] <= p:
            d += 1
        u = w[p] / max(norm[d], 1e-12)
        kept[d] += u * u
        q_ptr[d + 1] += 1
    for d in range(len(ptr) - 1):
        q_ptr[d + 1] += q_ptr[d]


def query_rows(keep: I64, ptr: I64, w: F64, norm: F64) -> tuple[F64, I64]:
    """Per row of entries `keep` (ascending positions in CSR rows `ptr`): the sum of their squared unit weights, and their offsets.

    ``kept = bincount(doc[keep], (w / max(norm, 1e-12)[doc])[keep] ** 2)`` and
    ``q_ptr = [0, *cumsum(bincount(doc[keep]))]`` (both of length ``len(ptr) - 1``
    rows), to the last bit (tested).
    """
    n = len(ptr) - 1
    kept = np.zeros(n)
    q_ptr = np.zeros(n + 1, dtype=np.int64)
    _query_rows(np.ascontiguousarray(keep, dtype=np.int64), ptr, w, norm, kept, q_ptr)
    return kept, q_ptr


@_jit
def _content_ids(hashes: U64, stop: U64, bitmap: U64, n_terms: int, out: U64) -> None:
    """Term ids of token hashes, `n_terms` for those in `stop` (see ``content_term_ids``)."""
    low = np.uint64(n_terms - 1)
    none = np.uint64(n_terms)
    m16 = np.uint64(0xFFFF)
    for i in range(len(hashes)):
        h = hashes[i]
        out[i] = h & low
        b = h & m16
        if (bitmap[b >> np.uint64(6)] >> (b & np.uint64(63))) & np.uint64(1) and _in_sorted(
            stop, h
        ):
            out[i] = none


def stop_bitmap(stop: U64) -> U64:
    """Bits set at the low 16 bits of each of the sorted hashes `stop`: ``content_term_ids``'s filter."""
    bitmap = np.zeros(1 << 10, dtype=np.uint64)
    low = (stop & np.uint64(0xFFFF)).astype(np.int64)
    np.bitwise_or.at(bitmap, low >> 6, np.uint64(1) << (low & 63).astype(np.uint64))
    return bitmap


def content_term_ids(hashes: U64, stop: U64, bitmap: U64, n_terms: int) -> U64:
    """``np.where(isin(hashes, stop), n_terms, hashes & (n_terms - 1))`` in one compiled pass.

    `stop` is sorted, `bitmap` is ``stop_bitmap(stop)`` and `n_terms` a power of two.
    Most tokens are told apart from the stop hashes by the bitmap alone; the others
    are looked up by bisection. Equal to the numpy expression (tested).
    """
    out = np.empty(len(hashes), dtype=np.uint64)
    _content_ids(np.ascontiguousarray(hashes, dtype=np.uint64), stop, bitmap, int(n_terms), out)
    return out


@_jit
def _count_terms(idx: I32, sign: int, df: I64, seen: npt.NDArray[np.bool_]) -> I64:
    """Add `sign` to ``df[t]`` for every entry t of `idx`; the terms met, ascending."""
    n_met = 0
    for p in range(len(idx)):
        t = idx[p]
        df[t] += sign
        if not seen[t]:
            seen[t] = True
            n_met += 1
    out = np.empty(n_met, dtype=np.int64)
    k = 0
    for t in range(len(seen)):
        if seen[t]:
            out[k] = t
            k += 1
    return out


def count_terms(idx: I32, sign: int, df: I64) -> I64:
    """``df += sign * bincount(idx, minlength=len(df))`` in place, in one pass; returns the terms of `idx`, ascending.

    The same document frequencies and terms as the bincount (tested), without its
    array of every term's count and the pass that finds the non-zero ones.
    """
    return _count_terms(idx, int(sign), df, np.zeros(len(df), dtype=np.bool_))


# --- names and figures ----------------------------------------------------------------------

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parallel(
    kernel: Callable[..., None], args: tuple[Any, ...], n: int, n_threads: int, start: int = 0
) -> None:
    """Call ``kernel(*args, lo, hi)`` over `n_threads` contiguous ranges of start..start+n-1 at once.

    The kernels release the GIL and each range writes only its own rows, so the
    result does not depend on `n_threads`.
    """
    parts = max(1, min(n_threads, n))
    if parts == 1:
        kernel(*args, start, start + n)
        return
    cuts = (start + np.linspace(0, n, parts + 1).astype(np.int64)).tolist()
    with ThreadPoolExecutor(max_workers=parts) as pool:
        for f in [pool.submit(kernel, *args, lo, hi) for lo, hi in itertools.pairwise(cuts)]:
            f.result()


# --- pair signals ---------------------------------------------------------------------------


@_jit
def _row_norm(r: int, lo: I64, hi: I64, idx: I32, val: F32, lg: F64, c: float) -> float:
    """L2 norm of row r's TF-IDF weights."""
    acc = 0.0
    for p in range(lo[r], hi[r]):
        w = val[p] * (c - lg[idx[p]])
        acc += w * w
    return math.sqrt(acc)


@_jit
def _row_cosine(
    ra: int, rb: int, lo: I64, hi: I64, idx: I32, val: F32, lg: F64, c: float, na: float, nb: float
) -> float:
    """Cosine of rows ra and rb (norms na, nb), by merging their sorted term ids."""
    p, pe = lo[ra], hi[ra]
    q, qe = lo[rb], hi[rb]
    acc = 0.0
    # Branch-free steps (only a shared term branches): the merge runs about twice as fast.
    while p < pe and q < qe:
        tp = idx[p]
        tq = idx[q]
        if tp == tq:
            w = c - lg[tp]
            acc += val[p] * val[q] * w * w
        p += tp <= tq
        q += tq <= tp
    v = acc / (na * nb)
    return min(max(v, 0.0), 1.0)


@_jit
def _spread(r: int, lo: I64, hi: I64, idx: I32, val: F32, dense: F32, bits: U64) -> None:
    """Spread row r's TF into `dense`, its terms marked in the bitmap `bits`."""
    for e in range(lo[r], hi[r]):
        t = idx[e]
        dense[t] = val[e]
        bits[t >> 6] |= np.uint64(1) << np.uint64(t & 63)


@_jit
def _unspread(r: int, lo: I64, hi: I64, idx: I32, dense: F32, bits: U64) -> None:
    """Undo ``_spread`` of row r: `dense` and `bits` zeros again."""
    for e in range(lo[r], hi[r]):
        t = idx[e]
        dense[t] = 0.0
        bits[t >> 6] = np.uint64(0)


@_jit
def _dense_cosine(
    rb: int,
    dense: F32,
    bits: U64,
    lo: I64,
    hi: I64,
    idx: I32,
    val: F32,
    lg: F64,
    c: float,
    na: float,
    nb: float,
) -> float:
    """``_row_cosine`` of the row spread into `dense` and row rb: the same sum, term by term.

    A pass over row rb, its terms looked up in the bitmap (small enough to stay in
    cache) before the spread values: about twice as fast as merging two rows.
    """
    acc = 0.0
    for q in range(lo[rb], hi[rb]):
        t = idx[q]
        if (bits[t >> 6] >> np.uint64(t & 63)) & np.uint64(1):
            w = c - lg[t]
            acc += dense[t] * val[q] * w * w
    v = acc / (na * nb)
    return min(max(v, 0.0), 1.0)


@_jit
def _cached_norm(
    r: int, lo: I64, hi: I64, idx: I32, val: F32, lg: F64, c: float, cache: F64
) -> float:
    """``_row_norm`` of row r, kept in cache[r] (negative there: not computed yet)."""
    if cache[r] < 0.0:
        cache[r] = _row_norm(r, lo, hi, idx, val, lg, c)
    out: float = cache[r]
    return out


@_jit
def _block(
    a: I64,
    b: I64,
    symmetric: bool,
    tf: tuple[I64, I64, I32, F32, F64],
    nm: tuple[I64, I64, I32, F32, F64],
    c: float,
    sig: npt.NDArray[np.uint32],
    has_sh: npt.NDArray[np.bool_],
    tf_norm: F64,
    nm_norm: F64,
    work: tuple[F32, U64],
    cos: F64,
    names: F64,
    jac: F64,
) -> None:
    """Cosine, names cosine (NaN unless both have names) and signature Jaccard of a x b.

    `tf_norm` and `nm_norm` cache the rows' norms by slot (negative: not computed yet).
    `work` is zeros (one float a term id, one bit a term id), left so: row a[i]'s TF
    is spread into it while its cosines are taken, each a pass over row b[j].
    """
    dense, bits = work
    tf_lo, tf_hi, tf_idx, tf_val, tf_lg = tf
    nm_lo, nm_hi, nm_idx, nm_val, nm_lg = nm
    ta = np.empty(len(a))
    tn = np.empty(len(a))
    for i in range(len(a)):
        ta[i] = _cached_norm(a[i], tf_lo, tf_hi, tf_idx, tf_val, tf_lg, c, tf_norm)
        tn[i] = _cached_norm(a[i], nm_lo, nm_hi, nm_idx, nm_val, nm_lg, c, nm_norm)
    tb = np.empty(len(b))
    bn = np.empty(len(b))
    for j in range(len(b)):
        tb[j] = _cached_norm(b[j], tf_lo, tf_hi, tf_idx, tf_val, tf_lg, c, tf_norm)
        bn[j] = _cached_norm(b[j], nm_lo, nm_hi, nm_idx, nm_val, nm_lg, c, nm_norm)
    p = sig.shape[1]
    for i in range(len(a)):
        ra = a[i]
        a_names = nm_hi[ra] > nm_lo[ra]
        _spread(ra, tf_lo, tf_hi, tf_idx, tf_val, dense, bits)
        for j in range(i if symmetric else 0, len(b)):
            rb = b[j]
            v = 0.0
            if ta[i] != 0.0 and tb[j] != 0.0:
                v = _dense_cosine(
                    rb, dense, bits, tf_lo, tf_hi, tf_idx, tf_val, tf_lg, c, ta[i], tb[j]
                )
            w = np.nan
            if a_names and nm_hi[rb] > nm_lo[rb]:
                w = 0.0
                if tn[i] != 0.0 and bn[j] != 0.0:
                    w = _row_cosine(ra, rb, nm_lo, nm_hi, nm_idx, nm_val, nm_lg, c, tn[i], bn[j])
            x = 0.0
            if has_sh[ra] and has_sh[rb]:
                same = 0
                for k in range(p):
                    same += sig[ra, k] == sig[rb, k]
                x = same / p
            cos[i, j] = v
            names[i, j] = w
            jac[i, j] = x
            if symmetric:
                cos[j, i] = v
                names[j, i] = w
                jac[j, i] = x
        _unspread(ra, tf_lo, tf_hi, tf_idx, dense, bits)


def work_space(n_terms: int) -> tuple[F32, U64]:
    """Working space of the pair kernels over term ids below `n_terms`: zeros, kept so."""
    return np.zeros(n_terms, dtype=np.float32), np.zeros((n_terms + 63) // 64, dtype=np.uint64)


def _work(tf: tuple[Any, ...]) -> tuple[F32, U64]:
    """Working space for the term ids of rows `tf`."""
    return work_space(int(tf[2].max()) + 1 if len(tf[2]) else 1)


def pair_signals(
    a: I64,
    b: I64,
    tf: tuple[I64, I64, I32, F32, F64],
    nm: tuple[I64, I64, I32, F32, F64],
    c: float,
    sig: npt.NDArray[np.uint32],
    has_sh: npt.NDArray[np.bool_],
) -> tuple[F64, F64, F64]:
    """TF-IDF cosine, names cosine and MinHash Jaccard of every pair ``(a[i], b[j])``.

    `tf` and `nm` are the term rows ``(lo, hi, idx, val)`` with their ``lg =
    ln(1 + df)``; IDF is ``c - lg``. The names cosine is NaN unless both rows have
    names; the Jaccard is 0 unless both have shingles. Pass the same array as `a`
    and `b` for a symmetric block (each pair computed once). Equal to
    :func:`cosine_matrix` and the signature comparison of plain numpy (tested).

    Returns
    -------
    cosine, names, jaccard : ndarray of float64, shape (len(a), len(b)) each
    """
    symmetric = a is b
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = a if symmetric else np.ascontiguousarray(b, dtype=np.int64)
    shape = (len(a), len(b))
    cos, names, jac = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    tf_norm, nm_norm = np.full(len(tf[0]), -1.0), np.full(len(nm[0]), -1.0)
    _block(
        a, b, symmetric, tf, nm, float(c), sig, has_sh, tf_norm, nm_norm, _work(tf), cos, names, jac
    )
    return cos, names, jac


# --- term counts, components, dendrogram cut --------------------------------------------------


@_jit
def _count_range(
    ptr: I64, terms: I64, weight: I64, out_t: I64, out_c: I64, n_out: I64, d_lo: int, d_hi: int
) -> None:
    """Distinct terms of documents d_lo..d_hi-1, ascending, with summed weights, at their starts."""
    for d in range(d_lo, d_hi):
        lo, hi = ptr[d], ptr[d + 1]
        if hi == lo:
            continue
        order = np.argsort(terms[lo:hi])
        k = lo - 1
        last = -1
        for j in range(hi - lo):
            p = lo + order[j]
            t = terms[p]
            if k < lo or t != last:
                k += 1
                out_t[k] = t
                out_c[k] = 0
                last = t
            out_c[k] += weight[p]
        n_out[d] = k - lo + 1


def term_counts(ptr: I64, terms: I64, weight: I64, n_threads: int = 1) -> tuple[I64, I64, I64]:
    """Per document (``terms[ptr[d]:ptr[d + 1]]``) its distinct terms, ascending, and summed weights.

    Returns CSR pieces ``(ptr, terms, counts)``; the same for any `n_threads`.

    Examples
    --------
    >>> p, t, c = term_counts(np.array([0, 3, 4]), np.array([5, 2, 5, 7]), np.array([1, 1, 2, 1]))
    >>> p.tolist(), t.tolist(), c.tolist()
    ([0, 2, 3], [2, 5, 7], [1, 3, 1])
    """
    n = len(ptr) - 1
    out_t = np.empty(len(terms), dtype=np.int64)
    out_c = np.empty(len(terms), dtype=np.int64)
    n_out = np.zeros(n, dtype=np.int64)
    args = (ptr, terms, weight, out_t, out_c, n_out)
    parallel(_count_range, args, n, n_threads)
    new_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_out, out=new_ptr[1:])
    keep = np.arange(len(terms)) - np.repeat(ptr[:-1], np.diff(ptr)) < np.repeat(
        n_out, np.diff(ptr)
    )
    return new_ptr, out_t[keep], out_c[keep]


@_jit
def _find(parent: I64, x: int) -> int:
    """Root of x in a union-find forest, halving paths."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@_jit
def components(adj: npt.NDArray[np.bool_]) -> I64:
    """Connected components of an undirected graph given as a dense boolean matrix.

    Returns, for each node, the smallest node of its component.

    Examples
    --------
    >>> components(np.array([[0, 0, 1], [0, 0, 0], [1, 0, 0]], dtype=bool)).tolist()
    [0, 1, 0]
    """
    m = adj.shape[0]
    parent = np.arange(m)
    for i in range(m):
        for j in range(i + 1, m):
            if adj[i, j] or adj[j, i]:
                a, b = _find(parent, i), _find(parent, j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    out = np.empty(m, dtype=np.int64)
    for i in range(m):
        out[i] = _find(parent, i)
    return out


@_jit
def cut_roots(z: F64, m: int, height: float) -> I64:
    """For each of m leaves, the top cluster of a scipy linkage `z` cut at `height` (merges <= it)."""
    parent = np.arange(2 * m - 1)
    for k in range(m - 1):
        if z[k, 2] <= height:
            parent[int(z[k, 0])] = m + k
            parent[int(z[k, 1])] = m + k
    out = np.empty(m, dtype=np.int64)
    for i in range(m):
        x = i
        while parent[x] != x:
            x = parent[x]
        out[i] = x
    return out


@_jit
def _cut_distances(dense: F64, link_threshold: float, y: F64) -> float:
    """Fill `y` (see ``cut_distances``); return the smallest score above the diagonal."""
    m = dense.shape[0]
    comp = components(dense >= link_threshold)
    low = np.inf
    nan = False
    k = 0
    for i in range(m):
        for j in range(i + 1, m):
            x = dense[i, j]
            if math.isnan(x):
                nan = True
            elif x < low:
                low = x
            d = 1.0 - x if comp[i] == comp[j] else 1.0
            y[k] = min(max(d, 0.0), 1.0)
            k += 1
    return np.nan if nan else low


def cut_distances(dense: F64, link_threshold: float) -> tuple[F64, float]:
    """The condensed distances a re-cut's linkage is given, and the smallest pair score.

    Pairs in one group of links (scores >= `link_threshold`, the components of
    the graph) are ``clip(1 - score, 0, 1)`` apart, pairs in different groups 1;
    ``y`` is in ``scipy.spatial.distance.squareform`` order. The smallest score
    above the diagonal (NaN if any is NaN; inf if m < 2) tells whether any cut is
    needed. Equal to the numpy expressions to the last bit (tested).
    """
    m = len(dense)
    y = np.empty(m * (m - 1) // 2)
    low = _cut_distances(np.ascontiguousarray(dense, dtype=np.float64), float(link_threshold), y)
    return y, float(low)


@_jit
def cut_labels(z: F64, m: int, height: float) -> I64:
    """``number_by_first_appearance(cut_roots(z, m, height))``: labels 0..k-1 by first appearance."""
    roots = cut_roots(z, m, height)
    ids = np.full(2 * m, -1, dtype=np.int64)
    out = np.empty(m, dtype=np.int64)
    k = 0
    for i in range(m):
        r = roots[i]
        if ids[r] < 0:
            ids[r] = k
            k += 1
        out[i] = ids[r]
    return out


# --- the assignment loop's bookkeeping -------------------------------------------------------


@_jit
def same_partition(labels: I64, stories: I64) -> bool:
    """Whether `labels` (0..k-1) and `stories` group the same items together.

    Then making the stories follow the labels moves nothing: each label is one
    story's and each story one label's.

    Examples
    --------
    >>> same_partition(np.array([0, 1, 0]), np.array([7, 3, 7])), same_partition(np.array([0, 0]), np.array([7, 3]))
    (True, False)
    """
    n = len(labels)
    if n == 0:
        return True
    first = np.full(labels.max() + 1, -1, dtype=np.int64)
    for i in range(n):
        lab = labels[i]
        if first[lab] < 0:
            first[lab] = i
        elif stories[first[lab]] != stories[i]:
            return False
    seen = np.sort(stories[first[first >= 0]])
    return not (seen[1:] == seen[:-1]).any()


@_jit
def _sorted_unique(x: I64) -> I64:
    """``np.unique`` of an int64 array."""
    y: I64 = np.sort(x)
    if len(y) == 0:
        return y
    keep = np.ones(len(y), dtype=np.bool_)
    for k in range(1, len(y)):
        keep[k] = y[k] != y[k - 1]
    return y[keep]


@_jit
def candidate_stories(
    nbr: I64, lsh: I64, slot: int, alive: npt.NDArray[np.bool_], story: I64
) -> tuple[I64, I64]:
    """An article's candidates (``union1d(nbr, lsh)``, earlier and alive ones) and their stories.

    Returns the candidate slots and the distinct stories (>= 0) they are in, both ascending.
    """
    both = _sorted_unique(np.concatenate((nbr.astype(np.int64), lsh.astype(np.int64))))
    keep = np.zeros(len(both), dtype=np.bool_)
    for k in range(len(both)):
        c = both[k]
        keep[k] = c < slot and alive[c]
    cands = both[keep]
    st = story[cands]
    return cands, _sorted_unique(st[st >= 0])


@_jit
def _in_sorted(x: npt.NDArray[Any], v: Any) -> bool:
    """Whether `v` is in the sorted array `x` (bisection; int64 or uint64 alike)."""
    lo, hi = 0, len(x)
    while lo < hi:
        mid = (lo + hi) >> 1
        if x[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo < len(x) and x[lo] == v


@_jit
def _is_eligible(day: F64, x_day: float, r: int, horizon: float, floor: float, lsh: I64) -> bool:
    """Whether slot `r` is compared with an article of day `x_day` (see ``eligible``)."""
    md = day[r]
    if math.isnan(md):
        return True
    if math.isnan(x_day):
        if md >= floor:
            return True
    elif abs(md - x_day) <= horizon:
        return True
    return len(lsh) > 0 and _in_sorted(lsh, r)


@_jit
def eligible(
    day: F64, slot: int, m: I64, horizon: float, floor: float, lsh: I64
) -> npt.NDArray[np.bool_]:
    """Which of the slots `m` an article in `slot` is compared with.

    All of them if `horizon` is infinite. Otherwise undated ones; dated ones
    within `horizon` days of the article's day (or, for an undated article, on or
    after `floor`); and the LSH candidates `lsh` (sorted, distinct).
    """
    out = np.ones(len(m), dtype=np.bool_)
    if not math.isfinite(horizon):
        return out
    x_day = day[slot]
    for k in range(len(m)):
        out[k] = _is_eligible(day, x_day, m[k], horizon, floor, lsh)
    return out


@_jit
def story_members(
    flat: I64, sizes: I64, slot: int, day: F64, horizon: float, floor: float, lsh: I64
) -> tuple[I64, I64, I64]:
    """The eligible members (other than `slot`) of stories given as concatenated member lists.

    Returns the members kept, the index of the story of each, and the count a story.
    """
    n = len(sizes)
    keep = eligible(day, slot, flat, horizon, floor, lsh)
    owner = np.empty(len(flat), dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    k = 0
    for o in range(n):
        for _ in range(sizes[o]):
            owner[k] = o
            if flat[k] == slot:
                keep[k] = False
            if keep[k]:
                counts[o] += 1
            k += 1
    return flat[keep], owner[keep], counts


@_jit
def linkage_by(scores: F64, owner: I64, counts: I64, method: int) -> F64:
    """The linkage of each group's scores (0: average, 1: single, 2: complete; 0.0 if empty).

    The mean is summed in input order, as ``np.bincount`` with weights does.
    """
    n = len(counts)
    out = np.zeros(n)
    if method == 0:
        for k in range(len(scores)):
            out[owner[k]] += scores[k]
        for o in range(n):
            out[o] = out[o] / counts[o] if counts[o] > 0 else 0.0
        return out
    out[:] = np.inf if method == 2 else -np.inf
    for k in range(len(scores)):
        x = scores[k]
        o = owner[k]
        if method == 2:
            if x < out[o] or math.isnan(x):
                out[o] = x
        elif x > out[o] or math.isnan(x):
            out[o] = x
    for o in range(n):
        if counts[o] == 0:
            out[o] = 0.0
    return out


# --- headline similarity (rapidfuzz's token_set_ratio) and the combined pair score ----------

_ONES: Final = np.uint64(0xFFFFFFFFFFFFFFFF)
_SPACE: Final = 32


@_jit
def _split(chars: U32, lo: int, hi: int, st: I64, en: I64) -> int:
    """Bounds of the space-separated tokens of chars[lo:hi] into st, en; their number."""
    n = 0
    p = lo
    while p < hi:
        q = p
        while q < hi and chars[q] != _SPACE:
            q += 1
        if q > p:
            st[n] = p
            en[n] = q
            n += 1
        p = q + 1
    return n


@_jit
def _compare(chars: U32, p: int, pe: int, q: int, qe: int) -> int:
    """-1, 0 or 1 as token chars[p:pe] sorts before, equal to or after chars[q:qe] (code points)."""
    while p < pe and q < qe:
        if chars[p] != chars[q]:
            return -1 if chars[p] < chars[q] else 1
        p += 1
        q += 1
    if p == pe and q == qe:
        return 0
    return -1 if p == pe else 1


@_jit
def _popcount(x: np.uint64) -> int:
    """Set bits of a 64-bit word."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@_jit
def _lcs(
    s1: U32, n1: int, s2: U32, n2: int, pm: npt.NDArray[np.uint64], v: npt.NDArray[np.uint64]
) -> int:
    """Length of the longest common subsequence of s1[:n1] and s2[:n2] (bit-parallel, Hyyro).

    `pm` is a zeroed (256, words) table for code points below 256 (left zeroed);
    other code points are found by a scan of s1.
    """
    if n1 == 0 or n2 == 0:
        return 0
    if n1 > n2:  # the shorter one as the bit pattern
        s1, s2, n1, n2 = s2, s1, n2, n1
    words = (n1 + 63) >> 6
    for p in range(n1):
        ch = s1[p]
        if ch < 256:
            pm[ch, p >> 6] |= np.uint64(1) << np.uint64(p & 63)
    for w in range(words):
        v[w] = _ONES
    mask = np.empty(words, dtype=np.uint64)
    for q in range(n2):
        ch = s2[q]
        if ch < 256:
            for w in range(words):
                mask[w] = pm[ch, w]
        else:
            for w in range(words):
                mask[w] = np.uint64(0)
            for p in range(n1):
                if s1[p] == ch:
                    mask[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
        carry = np.uint64(0)
        for w in range(words):
            x = v[w]
            u = x & mask[w]
            s = x + u
            c1 = s < x
            s2_ = s + carry
            c2 = s2_ < s
            carry = np.uint64(1) if (c1 or c2) else np.uint64(0)
            v[w] = s2_ | (x - u)
    out = 0
    for w in range(words):
        bits = ~v[w]
        if w == words - 1 and n1 & 63:
            bits &= (np.uint64(1) << np.uint64(n1 & 63)) - np.uint64(1)
        out += _popcount(bits)
    for p in range(n1):
        ch = s1[p]
        if ch < 256:
            pm[ch, p >> 6] = np.uint64(0)
    return out


@_jit
def _norm_score(dist: int, lensum: int) -> float:
    """rapidfuzz's normalised similarity of an Indel distance, in 0..100."""
    if lensum > 0:
        return 100.0 - 100.0 * float(dist) / float(lensum)
    return 100.0


@_jit
def _token_set_ratio(
    chars: U32,
    a_st: I64,
    a_en: I64,
    na: int,
    b_st: I64,
    b_en: I64,
    nb: int,
    buf_a: U32,
    buf_b: U32,
    pm: npt.NDArray[np.uint64],
    v: npt.NDArray[np.uint64],
) -> float:
    """``rapidfuzz.fuzz.token_set_ratio`` of two token lists, each sorted and distinct."""
    if na == 0 or nb == 0:
        return 0.0
    i = 0
    j = 0
    n_sect = 0
    sect_chars = 0
    la = 0
    lb = 0
    while i < na or j < nb:
        if i < na and j < nb:
            c = _compare(chars, a_st[i], a_en[i], b_st[j], b_en[j])
        else:
            c = -1 if i < na else 1
        if c == 0:
            n_sect += 1
            sect_chars += a_en[i] - a_st[i]
            i += 1
            j += 1
        elif c < 0:
            if la:
                buf_a[la] = _SPACE
                la += 1
            for p in range(a_st[i], a_en[i]):
                buf_a[la] = chars[p]
                la += 1
            i += 1
        else:
            if lb:
                buf_b[lb] = _SPACE
                lb += 1
            for p in range(b_st[j], b_en[j]):
                buf_b[lb] = chars[p]
                lb += 1
            j += 1
    if n_sect and (la == 0 or lb == 0):  # one title's words are all in the other
        return 100.0
    sect_len = sect_chars + n_sect - 1 if n_sect else 0
    has_sect = 1 if sect_len else 0
    sect_ab_len = sect_len + has_sect + la
    sect_ba_len = sect_len + has_sect + lb
    dist = la + lb - 2 * _lcs(buf_a, la, buf_b, lb, pm, v)
    result = _norm_score(dist, sect_ab_len + sect_ba_len)
    if not sect_len:
        return result
    ab = _norm_score(has_sect + la, sect_len + sect_ab_len)
    ba = _norm_score(has_sect + lb, sect_len + sect_ba_len)
    return max(result, ab, ba)


@_jit
def _headlines(a: I64, b: I64, symmetric: bool, lo: I64, hi: I64, chars: U32, out: F64) -> None:
    """token_set_ratio / 100 of the titles of every (a[i], b[j]); NaN unless both have one."""
    longest = 1
    for k in range(len(a)):
        longest = max(longest, hi[a[k]] - lo[a[k]])
    for k in range(len(b)):
        longest = max(longest, hi[b[k]] - lo[b[k]])
    a_st = np.empty(longest, dtype=np.int64)
    a_en = np.empty(longest, dtype=np.int64)
    b_st = np.empty(longest, dtype=np.int64)
    b_en = np.empty(longest, dtype=np.int64)
    buf_a = np.empty(longest, dtype=np.uint32)
    buf_b = np.empty(longest, dtype=np.uint32)
    words = (longest + 63) >> 6
    pm = np.zeros((256, words), dtype=np.uint64)
    v = np.empty(words, dtype=np.uint64)
    for i in range(len(a)):
        ra = a[i]
        na = _split(chars, lo[ra], hi[ra], a_st, a_en)
        for j in range(i if symmetric else 0, len(b)):
            rb = b[j]
            h = np.nan
            if na and hi[rb] > lo[rb]:
                nb = _split(chars, lo[rb], hi[rb], b_st, b_en)
                if nb:
                    r = _token_set_ratio(chars, a_st, a_en, na, b_st, b_en, nb, buf_a, buf_b, pm, v)
                    h = r / 100.0
            out[i, j] = h
            if symmetric:
                out[j, i] = h


@_jit
def _pair_scores(
    a: I64,
    b: I64,
    symmetric: bool,
    tf: tuple[I64, I64, I32, F32, F64],
    nm: tuple[I64, I64, I32, F32, F64],
    c: float,
    sig: npt.NDArray[np.uint32],
    has_sh: npt.NDArray[np.bool_],
    titles: tuple[I64, I64, U32],
    n_tokens: I64,
    only_words: int,
    tfac: F64,
    weights: tuple[float, float, float, float],
    norms: tuple[F64, F64],
    work: tuple[F32, U64],
    out: tuple[F64, F64, F64, F64, F64],
) -> None:
    """Every signal of a x b and their combined score (see ``pair_scores``)."""
    score, cos, head, names, jac = out
    _block(a, b, symmetric, tf, nm, c, sig, has_sh, norms[0], norms[1], work, cos, names, jac)
    _headlines(a, b, symmetric, titles[0], titles[1], titles[2], head)
    w_head, w_only, wn, near = weights
    # links.combine_scores, pair by pair, in the same order of operations.
    for i in range(len(a)):
        for j in range(len(b)):
            wh = w_only if n_tokens[a[i]] <= only_words or n_tokens[b[j]] <= only_words else w_head
            wc = 1.0 - wh - wn
            h = head[i, j]
            x = names[i, j]
            has_h = not math.isnan(h)
            has_n = not math.isnan(x)
            total = wc + (wh if has_h else 0.0) + (wn if has_n else 0.0)
            text = (wc * cos[i, j] + wh * (h if has_h else 0.0) + wn * (x if has_n else 0.0)) / max(
                total, 1e-12
            )
            if not total > 0:
                text = cos[i, j]
            floor = jac[i, j] if jac[i, j] >= near else 0.0
            score[i, j] = min(max(max(text * tfac[i, j], floor), 0.0), 1.0)


@_jit
def _time_overs(day: F64, a: I64, b: I64, window: float, out: F64) -> bool:
    """Days past `window` between a[i] and b[j] (0 where either is undated); any above 0."""
    finite = not math.isinf(window)
    anyover = False
    for i in range(len(a)):
        x = day[a[i]]
        for j in range(len(b)):
            dt = abs(x - day[b[j]])
            o = 0.0
            if finite and not math.isnan(dt):
                o = max(dt - window, 0.0)
                anyover = anyover or o > 0
            out[i, j] = o
    return anyover


def time_overs(day: F64, a: I64, b: I64, window: float) -> tuple[F64, bool]:
    """``max(|day[a[i]] - day[b[j]]| - window, 0)`` (0 where either day is NaN), and whether any is above 0.

    The part of :func:`storyclust.links.time_factor` before its ``exp``, in one
    call instead of a dozen numpy passes on a small block; equal to it to the
    last bit (tested).
    """
    out = np.empty((len(a), len(b)))
    anyover = _time_overs(day, a, b, float(window), out)
    return out, bool(anyover)


def pair_scores(
    a: I64,
    b: I64,
    tf: tuple[I64, I64, I32, F32, F64],
    nm: tuple[I64, I64, I32, F32, F64],
    c: float,
    sig: npt.NDArray[np.uint32],
    has_sh: npt.NDArray[np.bool_],
    titles: tuple[I64, I64, U32],
    n_tokens: I64,
    only_words: int,
    tfac: F64,
    weights: tuple[float, float, float, float],
    norms: tuple[F64, F64] | None = None,
    work: tuple[F32, U64] | None = None,
) -> tuple[F64, F64, F64, F64, F64]:
    """Every signal of every pair ``(a[i], b[j])`` and the combined link score, in one call.

    The signals of :func:`pair_signals`, the headline similarity
    (``rapidfuzz.fuzz.token_set_ratio / 100`` of the rows' titles, NaN unless both
    have one) and :func:`storyclust.links.combine_scores` of them with the time
    factors `tfac` (shape ``(len(a), len(b))``), equal to those functions to the
    last bit (tested). `titles` holds each row's title words, sorted and
    distinct, as code points ``chars[lo[r]:hi[r]]`` joined by spaces; a row with at
    most `only_words` tokens (`n_tokens`) is a headline alone; `weights` are ``(headline_weight,
    headline_only_weight, names_weight, near_duplicate_threshold)``. `norms`
    caches the rows' TF-IDF and names norms by slot (negative: not computed
    yet), valid while the IDF stays the same; `work` (``work_space(n_terms)``,
    left as it was found) can be kept between calls.

    Returns
    -------
    score, cosine, headline, names, jaccard : ndarray of float64, shape (len(a), len(b)) each
    """
    symmetric = a is b
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = a if symmetric else np.ascontiguousarray(b, dtype=np.int64)
    block = np.zeros((5, len(a), len(b)))
    out = (block[0], block[1], block[2], block[3], block[4])
    if norms is None:
        norms = (np.full(len(tf[0]), -1.0), np.full(len(nm[0]), -1.0))
    if work is None:
        work = _work(tf)
    w = (float(weights[0]), float(weights[1]), float(weights[2]), float(weights[3]))
    _pair_scores(
        a, b, symmetric, tf, nm, float(c), sig, has_sh, titles, n_tokens, int(only_words),
        np.ascontiguousarray(tfac, dtype=np.float64), w, norms, work, out,
    )  # fmt: skip
    return out
