"""Compiled loops of the streaming index: arrays in, arrays out, no state.

Term vectors are stored without IDF, as sorted hashed term ids and sublinear term
frequencies (``1 + ln(count)``), one row per article, rows kept in flat arrays with
``lo[r]:hi[r]`` bounds. IDF is applied here, at scoring time, from the current
document frequencies: ``idf[t] = c - lg[t]`` with ``c = ln(1 + n) + 1`` and
``lg[t] = ln(1 + df[t])``, which is scikit-learn's smoothed IDF.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["cosine_matrix", "neighbours", "postings", "row_norms"]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
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
    tail_ptr: I64,
    tail_slot: I64,
    tail_val: F32,
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
    out: I64,
) -> None:
    """Best neighbours of each query row among slots < its limit (see ``neighbours``)."""
    k = out.shape[1]
    norms = np.full(n, -1.0)  # computed for the rows a query reaches, once per call
    acc = np.zeros(n, dtype=np.float64)
    mark = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    cand_v = np.empty(n, dtype=np.float64)
    cand_s = np.empty(n, dtype=np.int64)
    for i in range(len(q_ptr) - 1):
        nt = 0
        a, b = q_ptr[i], q_ptr[i + 1]
        for p in range(a, b):
            t = q_idx[p]
            w = q_w[p]
            for e in range(post_ptr[t], post_ptr[t + 1]):
                s = post_slot[e]
                if not mark[s]:
                    mark[s] = True
                    touched[nt] = s
                    nt += 1
                acc[s] += w * post_val[e]
            for e in range(tail_ptr[t], tail_ptr[t + 1]):
                s = tail_slot[e]
                if not mark[s]:
                    mark[s] = True
                    touched[nt] = s
                    nt += 1
                acc[s] += w * tail_val[e]
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
            if norms[s] < 0.0:
                sq = 0.0
                for p in range(lo[s], hi[s]):
                    w = val[p] * (c - lg[idx[p]])
                    sq += w * w
                norms[s] = math.sqrt(sq)
            v = acc[s] / norms[s] if norms[s] > 0.0 else 0.0
            acc[s] = 0.0
            mark[s] = False
            if s >= q_limit[i] or not alive[s] or v < cut[i]:
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


def neighbours(
    queries: tuple[I64, I32, F64],
    q_day: F64,
    q_limit: I64,
    main: tuple[I64, I64, F32],
    tail: tuple[I64, I64, F32],
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
) -> I64:
    """The `k` best TF-IDF neighbours of each query among the stored rows.

    A query row q (sorted term ids, weights) scores row s by
    ``sum_t q_t * tf_st / |s|``, where ``|s|`` is the norm of row s's TF-IDF
    weights (IDF ``c - lg[t]``). Rows are reached through the inverted lists
    `main` and `tail`; rows from `upto` on are scanned by merging their terms
    (pass ``upto = n`` when `tail` covers them). Kept: rows alive,
    below the query's `q_limit`, within `horizon` days of a dated query (an
    undated row always is) and scoring at least the query's `cut`; best first, ties to the
    lower `row`. An undated query (NaN `q_day`) keeps the undated rows and those
    dated `floor` or later.

    Returns
    -------
    ndarray of int64, shape (n_queries, k)
        Slots, padded with -1.
    """
    q_ptr, q_idx, q_w = queries
    post_ptr, post_slot, post_val = main
    tail_ptr, tail_slot, tail_val = tail
    lo, hi, idx, val = rows
    out = np.full((len(q_ptr) - 1, k), -1, dtype=np.int64)
    _search(
        q_ptr,
        q_idx,
        q_w,
        q_day,
        q_limit,
        post_ptr,
        post_slot,
        post_val,
        tail_ptr,
        tail_slot,
        tail_val,
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
        out,
    )
    return out
