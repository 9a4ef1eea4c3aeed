"""Sparse cosine similarities: pairs above a threshold, and the prefixes that bound the search.

:func:`cosine_neighbors` is the exact search (an inverted index, one dense
accumulator per thread, no n x n matrix); :func:`cosine_candidates` the bounded one
the pipeline uses (rows meet only through their heaviest features, within a time
horizon); :func:`cosine_pairs` the exact cosines of given pairs; :func:`prefix_matrix`
and :func:`top_per_row` keep each row's largest entries. The compiled loops they
run are here too. Part of :mod:`storyclust.similarity`, which is where callers
import them from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ._kernel_base import B1, F64, FLT, I64, _jit, _run, _thread_count

__all__ = [
    "cosine_candidates",
    "cosine_neighbors",
    "cosine_pairs",
    "prefix_matrix",
    "top_per_row",
]


def cosine_pairs(x: sp.csr_matrix, pairs: I64, *, chunk: int = 1 << 13) -> F64:
    """Dot products of the rows of `x` for each pair, clipped to [0, 1]: cosines when the
    rows are L2-normalised (and rounding cannot take them past 1).

    Returns
    -------
    ndarray of float64, shape (n_pairs,)
    """
    out = np.zeros(len(pairs))
    for s in range(0, len(pairs), chunk):
        p = pairs[s : s + chunk]
        # Summed in float64 whatever the matrix holds: the same value (to ~1e-16) as
        # any other order of the sum, a matrix product's included.
        a = x[p[:, 0]].astype(np.float64)
        out[s : s + chunk] = np.asarray(
            a.multiply(x[p[:, 1]].astype(np.float64)).sum(axis=1)
        ).ravel()
    return np.clip(out, 0.0, 1.0)


@_jit
def _keep_best(
    out: I64,
    n_out: int,
    i: int,
    n: int,
    kept_j: I64,
    kept_s: F64,
    n_kept: int,
    max_neighbors: int,
) -> tuple[I64, int]:
    """Append row i's `max_neighbors` best kept rows (best first, ties to the lower
    index) to out as pair codes (lo * n + hi), growing it as needed."""
    js = kept_j[:n_kept]
    by_j = np.argsort(js, kind="mergesort")
    if n_kept > max_neighbors:
        by_s = np.argsort(-kept_s[:n_kept][by_j], kind="mergesort")
        chosen = js[by_j][by_s][:max_neighbors]
    else:
        chosen = js[by_j]
    if n_out + len(chosen) > len(out):
        bigger = np.empty(2 * (n_out + len(chosen)), dtype=np.int64)
        bigger[:n_out] = out[:n_out]
        out = bigger
    for j in chosen:
        out[n_out] = min(i, j) * n + max(i, j)
        n_out += 1
    return out, n_out


@_jit
def _cosine_rows(
    indptr: I64,
    indices: I64,
    data: F64,
    c_ptr: I64,
    c_rows: I64,
    c_vals: F64,
    threshold: float,
    max_neighbors: int,
    r_lo: int,
    r_hi: int,
) -> I64:
    """Pair codes (lo * n + hi) that rows r_lo..r_hi-1 keep among their best neighbours.

    Row i's dot products with every row sharing a feature accumulate in one dense
    array, feature by feature in i's order (so each sum is the reference's, bit for
    bit); no product matrix is built. Kept neighbours come out in index order.
    """
    n = len(indptr) - 1
    acc = np.zeros(n)
    kept_j = np.empty(n, dtype=np.int64)
    kept_s = np.empty(n)
    out = np.empty(1024, dtype=np.int64)
    n_out = 0
    for i in range(r_lo, r_hi):
        lo_j, hi_j = n, 0
        for e in range(indptr[i], indptr[i + 1]):
            f = indices[e]
            v = data[e]
            q0, q1 = c_ptr[f], c_ptr[f + 1]
            if q1 > q0:
                lo_j = min(lo_j, c_rows[q0])
                hi_j = max(hi_j, c_rows[q1 - 1] + 1)
            for q in range(q0, q1):
                acc[c_rows[q]] += v * c_vals[q]
        # A sweep of the touched span (rows are sorted in each posting list) finds
        # the neighbours and clears the array, with no bookkeeping in the loop above.
        acc[i] = 0.0
        n_kept = 0
        for j in range(lo_j, hi_j):
            s = acc[j]
            if s >= threshold:
                kept_j[n_kept] = j
                kept_s[n_kept] = s
                n_kept += 1
            acc[j] = 0.0
        out, n_out = _keep_best(out, n_out, i, n, kept_j, kept_s, n_kept, max_neighbors)
    return out[:n_out]


@_jit
def _prefix_rows(
    indptr: I64,
    indices: I64,
    data: FLT,
    c_ptr: I64,
    c_rows: I64,
    c_vals: FLT,
    hub: B1,
    active: B1,
    days: F64,
    win_lo: I64,
    win_hi: I64,
    n_dated: int,
    orig: I64,
    horizon: float,
    nearby: int,
    min_partial: float,
    max_neighbors: int,
    r_lo: int,
    r_hi: int,
) -> I64:
    """Pair codes (lo * n + hi) that rows r_lo..r_hi-1 keep by their prefix dot products.

    The rows are in time order (undated last; `orig` maps them back to the
    caller's rows, whose numbers the codes and the tie-breaks use). (indptr,
    indices, data) are the prefix rows (each row's heaviest features, columns
    ascending); (c_ptr, c_rows, c_vals) the same by column, rows ascending within a
    column, so in time order. A dated row reads of each column only the postings
    of rows `win_lo[i]..win_hi[i]-1` (those within the horizon, found by binary
    search) and the undated rows (from `n_dated` on): the work is the postings
    within the horizon, never those outside it. Partial sums accumulate in one
    dense array; the rows touched are listed as they are. Rows not `active` are
    not searched (they are still found).
    """
    n = len(indptr) - 1
    acc = np.zeros(n)
    seen = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    kept_j = np.empty(n, dtype=np.int64)
    kept_s = np.empty(n)
    out = np.empty(1024, dtype=np.int64)
    n_out = 0
    for i in range(r_lo, r_hi):
        if not active[i]:
            continue
        n_touched = 0
        dated = i < n_dated
        for e in range(indptr[i], indptr[i + 1]):
            f = indices[e]
            if hub[f]:
                continue
            v = data[e]
            c0, c1 = c_ptr[f], c_ptr[f + 1]
            if dated:
                col = c_rows[c0:c1]
                q0 = c0 + np.searchsorted(col, win_lo[i])
                q1 = c0 + np.searchsorted(col, win_hi[i])
                if nearby < n:  # only the nearest in time on each side
                    at = c0 + np.searchsorted(col, i)
                    q0, q1 = max(q0, at - nearby), min(q1, at + nearby + 1)
                spans = ((q0, q1), (c0 + np.searchsorted(col, n_dated), c1))
            else:
                spans = ((c0, c1), (c1, c1))
            for q0, q1 in spans:
                for q in range(q0, q1):
                    j = c_rows[q]
                    if not seen[j]:  # (a product may underflow to 0: never test acc for it)
                        seen[j] = True
                        touched[n_touched] = j
                        n_touched += 1
                    acc[j] += v * c_vals[q]
        n_kept = 0
        day_i = days[i]
        for t in range(n_touched):
            j = touched[t]
            s = acc[j]
            acc[j] = 0.0
            seen[j] = False
            if j == i or s < min_partial:
                continue
            if abs(day_i - days[j]) > horizon:  # False where either day is NaN
                continue
            kept_j[n_kept] = orig[j]
            kept_s[n_kept] = s
            n_kept += 1
        out, n_out = _keep_best(out, n_out, orig[i], n, kept_j, kept_s, n_kept, max_neighbors)
    return out[:n_out]


@_jit
def _top_fill(
    ptr: I64,
    weight: FLT,
    cols: npt.NDArray[Any],
    k: int,
    rows: I64,
    out_ptr: I64,
    out_data: FLT,
    out_cols: npt.NDArray[Any],
    q_lo: int,
    q_hi: int,
) -> None:
    """Write the `k` largest entries of CSR row rows[q] (ties to the earlier entry,
    original order kept) as output row q, for q in q_lo..q_hi-1."""
    for q in range(q_lo, q_hi):
        r = rows[q]
        lo, hi = ptr[r], ptr[r + 1]
        at = out_ptr[q]
        if hi - lo <= k:
            for p in range(lo, hi):
                out_data[at] = weight[p]
                out_cols[at] = cols[p]
                at += 1
            continue
        cut = np.partition(weight[lo:hi], hi - lo - k)[hi - lo - k]  # the k-th largest value
        above = 0
        for p in range(lo, hi):
            if weight[p] > cut:
                above += 1
        ties = k - above  # entries equal to the cut kept, earliest first
        for p in range(lo, hi):
            w = weight[p]
            if w > cut or (w == cut and ties > 0):
                if w == cut:
                    ties -= 1
                out_data[at] = w
                out_cols[at] = cols[p]
                at += 1


def top_per_row(ptr: npt.ArrayLike, weight: npt.ArrayLike, k: int) -> I64:
    """Positions of the `k` largest entries of each CSR row, in their original order.

    Ties go to the earlier entry.

    Examples
    --------
    >>> top_per_row(np.array([0, 3, 4]), np.array([1.0, 3.0, 3.0, 2.0]), 2).tolist()
    [1, 2, 3]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    p = np.ascontiguousarray(ptr, dtype=np.int64)
    w = np.ascontiguousarray(weight)
    _check_no_nan(w, "weight")
    rows = np.arange(len(p) - 1, dtype=np.int64)
    _, _, positions = _top_entries(p, w, np.arange(len(w), dtype=np.int64), int(k), rows)
    return positions


def _top_entries(
    ptr: I64, weight: npt.NDArray[Any], cols: npt.NDArray[Any], k: int, rows: I64
) -> tuple[I64, npt.NDArray[Any], npt.NDArray[Any]]:
    """The `k` largest entries of CSR rows `rows` (in that order), as (indptr, weights, cols).

    Written straight into the output arrays over threads (:func:`_top_fill`).
    """
    counts = np.minimum(np.diff(ptr), k)[rows]
    out_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_ptr[1:])
    out_weight = np.empty(int(out_ptr[-1]), dtype=weight.dtype)
    out_cols = np.empty(int(out_ptr[-1]), dtype=cols.dtype)
    _run(
        _top_fill,
        (ptr, weight, cols, k, rows, out_ptr, out_weight, out_cols),
        out_ptr,
        _thread_count(None, float(len(weight)) * 16),
    )
    return out_ptr, out_weight, out_cols


def _float_rows(x: sp.spmatrix) -> sp.csr_matrix:
    """`x` as CSR with float32 or float64 values, copied only if it must be converted."""
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    return sp.csr_matrix(x, dtype=dtype)


def prefix_matrix(x: sp.csr_matrix, max_terms: int) -> sp.csr_matrix:
    """Each row's `max_terms` largest entries (ties to the lower column), columns ascending.

    Examples
    --------
    >>> prefix_matrix(sp.csr_matrix(np.array([[0.1, 0.7, 0.7, 0.1]])), 2).toarray().tolist()
    [[0.0, 0.7, 0.7, 0.0]]
    """
    if isinstance(max_terms, bool) or not isinstance(max_terms, (int, np.integer)) or max_terms < 1:
        raise ValueError(f"max_terms must be an int >= 1; got {max_terms!r}")
    x = _float_rows(x)
    _check_no_nan(x.data, "x")
    return _prefix_in_order(x, int(max_terms), np.arange(x.shape[0], dtype=np.int64))


def _check_no_nan(values: npt.NDArray[Any], name: str) -> None:
    """Raise ValueError if `values` hold a NaN (no order ranks it: the output would be unset)."""
    if not values.size or values.dtype.kind != "f":
        return
    with np.errstate(invalid="ignore", over="ignore"):
        total = values.sum()
    # The sum is NaN also for inf + -inf, which rank: then look at each value.
    if np.isnan(total) and np.isnan(values).any():
        raise ValueError(f"{name} must not hold NaN; replace it (with 0, say) first")


def _prefix_in_order(x: sp.csr_matrix, max_terms: int, rows: I64) -> sp.csr_matrix:
    """:func:`prefix_matrix` of the rows `rows` of CSR `x`, in that order.

    Written straight into the output arrays (no mask over every entry, no copy to
    reorder): at a million articles of 390 terms that saves about 600 MB.
    """
    if not x.has_canonical_format:  # sorted, no duplicates: copy only when not so
        x = x.copy()
        x.sum_duplicates()
    out_ptr, out_data, out_cols = _top_entries(
        x.indptr.astype(np.int64), x.data, x.indices, max_terms, rows
    )
    return sp.csr_matrix((out_data, out_cols, out_ptr), shape=(len(rows), x.shape[1]))


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
    block_rows: int = 2048,
    n_threads: int | None = None,
) -> tuple[I64, F64, int]:
    """Pairs of rows with cosine >= `threshold`, found through each row's heaviest features.

    The bounded twin of :func:`cosine_neighbors`, for large corpora: two rows are
    compared only if they share one of their `max_terms` heaviest features (their
    *prefix*), and a feature in more than `max_postings` prefixes (a hub: a word
    common in this corpus) proposes no pairs. Each row keeps its `max_neighbors`
    best rows by the dot product over the shared prefix features (a lower bound of
    the cosine) if it is at least `min_partial`, and, with `days`, only rows
    within `horizon` days (rows without a day are compared with all). With
    `max_nearby`, a dated row meets through each feature only the `max_nearby`
    dated rows on each side of it in time among those sharing the feature (and
    every undated one): a bound on the work that keeps the rows nearest in time,
    where a corpus dense in time would otherwise read thousands of postings a
    feature. The kept pairs' exact cosines are then computed, and those under
    `threshold` dropped.

    Rows are searched in time order, each feature's postings with them, so a row
    reads only the postings within `horizon` of it. Work is the sum over features
    of their postings times the postings within the horizon, capped by
    ``max_postings**2`` a feature (by ``(2 * max_nearby + 1)`` a row and feature
    with `max_nearby`): linear in the rows for a fixed vocabulary spread, where
    the exact search is quadratic in the common words.

    Parameters
    ----------
    x : scipy.sparse matrix, shape (n_docs, n_features)
        L2-normalised, non-negative rows (TF-IDF).
    threshold : float
        In (0, 1]. Cosines are sums in floating point: two identical rows can
        score 0.9999999999999999, so to find duplicates ask for a hair below 1
        (``1 - 1e-9``), not 1.
    max_terms : int, default 16
    max_postings : int, default 5000
    min_partial : float, optional
        Default ``threshold / 2``.
    max_neighbors : int, default 50
    days : array of float, shape (n_docs,), optional
        Time of each row in days; NaN where unknown.
    horizon : float, default inf
    max_nearby : int, optional
        No bound by default. Ties in time go to the lower row.
    search : array of bool, shape (n_docs,), optional
        The rows whose neighbours are sought (all by default); the others are
        only found as neighbours. Searching a part of a corpus's rows in a
        matrix holding those rows, every row within `horizon` of them and every
        undated row gives the pairs of those rows that the whole matrix gives
        (with the whole corpus's `hubs`): how the Ray path splits the search
        into time blocks.
    hubs : array of int, optional
        The features that propose no pairs, instead of those in more than
        `max_postings` prefixes of `x` (a part of a corpus passes the corpus's).
    block_rows : int, default 2048
    n_threads : int, optional
        Same result for any number.

    Returns
    -------
    pairs : ndarray of int64, shape (n_pairs, 2)
        Unique (i, j), i < j, sorted.
    sims : ndarray of float64, shape (n_pairs,)
        Exact cosines, all >= `threshold`.
    n_hubs : int
        Features that proposed no pairs for having too many postings (with
        `hubs`: how many distinct features it names).

    Examples
    --------
    >>> x = sp.csr_matrix(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]))
    >>> pairs, sims, hubs = cosine_candidates(x, threshold=0.5)
    >>> pairs.tolist(), sims.round(2).tolist(), hubs
    ([[0, 1], [1, 2]], [0.8, 0.6], 0)
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    if isinstance(max_terms, bool) or not isinstance(max_terms, (int, np.integer)) or max_terms < 1:
        raise ValueError(f"max_terms must be an integer >= 1; got {max_terms!r}")
    if max_postings < 2:
        raise ValueError(f"max_postings must be >= 2; got {max_postings}")
    if max_nearby is not None and (
        isinstance(max_nearby, bool)
        or not isinstance(max_nearby, (int, np.integer))
        or max_nearby < 1
    ):
        raise ValueError(f"max_nearby must be an int >= 1 or None; got {max_nearby!r}")
    x = _float_rows(x)
    n = x.shape[0]
    nearby = n if max_nearby is None else int(max_nearby)
    if n == 0 or x.nnz == 0:
        named = 0 if hubs is None else len(np.unique(np.asarray(hubs, dtype=np.int64)))
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0), named
    d = (
        np.full(n, np.nan)
        if days is None
        else np.ascontiguousarray(days, dtype=np.float64).reshape(-1)
    )
    if len(d) != n:
        raise ValueError(f"days must hold one value a row ({n}); got {len(d)}")
    # Rows in time order, undated last (ties by row): each column's postings are then
    # in time order too, and a row reads only those within the horizon.
    order = np.argsort(d, kind="stable").astype(np.int64)
    d_sorted = d[order]
    n_dated = int(np.count_nonzero(~np.isnan(d_sorted)))
    # A little slack on the window: the exact test (|day_i - day_j| <= horizon) is
    # made again on every pair read, so rounding here can only read more.
    slack = 1e-6 * (1.0 + float(np.max(np.abs(d_sorted[:n_dated]), initial=0.0)))
    lo_day = d_sorted[:n_dated] - horizon - slack
    hi_day = d_sorted[:n_dated] + horizon + slack
    win_lo = np.searchsorted(d_sorted[:n_dated], lo_day, side="left").astype(np.int64)
    win_hi = np.searchsorted(d_sorted[:n_dated], hi_day, side="right").astype(np.int64)
    p = _prefix_in_order(x, int(max_terms), order)
    pc = p.tocsc()
    pc.sort_indices()
    postings = np.diff(pc.indptr)
    if hubs is None:
        hub = postings > max_postings
    else:
        hub = np.zeros(x.shape[1], dtype=np.bool_)
        hub[np.asarray(hubs, dtype=np.int64)] = True
    if search is None:
        active = np.ones(n, dtype=np.bool_)
    else:
        active = np.asarray(search, dtype=np.bool_).reshape(-1)
        if len(active) != n:
            raise ValueError(f"search must hold one value a row ({n}); got {len(active)}")
        active = active[order]
    if max_neighbors < 1:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0), int(hub.sum())
    low = threshold / 2 if min_partial is None else float(min_partial)
    # A partial sum of 0 marks an untouched row; keep every touched one at least.
    low = max(low, np.finfo(np.float64).tiny)
    # The prefixes and their inverted index (8 bytes a prefix entry each, 512 MB at
    # a million rows), held in a list that is emptied before the exact cosines.
    # Column numbers and rows stay in the matrices' own (int32) type: an int64 copy
    # of each would be 256 MB more at a million rows.
    index = [
        p.indptr.astype(np.int64),
        p.indices,
        p.data,
        pc.indptr.astype(np.int64),
        pc.indices,
        pc.data,
    ]
    del p, pc

    def rows(r: tuple[int, int]) -> I64:
        return _prefix_rows(
            index[0],
            index[1],
            index[2],
            index[3],
            index[4],
            index[5],
            hub,
            active,
            d_sorted,
            win_lo,
            win_hi,
            n_dated,
            order,
            float(horizon),
            nearby,
            low,
            max_neighbors,
            *r,
        )

    work = float(np.sum(np.where(hub, 0, postings) ** 2))
    pairs = _row_block_pairs(rows, n, block_rows, _thread_count(n_threads, work))
    index.clear()
    sims = cosine_pairs(x, pairs)
    keep = sims >= threshold
    return pairs[keep], sims[keep], int(hub.sum())


def _row_block_pairs(
    rows: Callable[[tuple[int, int]], I64], n: int, block_rows: int, threads: int
) -> I64:
    """Pair codes of every block of rows (on `threads` threads) as unique sorted (i, j) pairs."""
    step = max(1, block_rows)
    ranges = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
    if threads == 1:
        codes = [rows(r) for r in ranges]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            codes = list(pool.map(rows, ranges))
    code = np.unique(np.concatenate(codes))
    return np.stack([code // n, code % n], axis=1)


def cosine_neighbors(
    x: sp.csr_matrix,
    *,
    threshold: float,
    max_neighbors: int = 50,
    block_rows: int = 2048,
    n_threads: int | None = None,
) -> tuple[I64, F64]:
    """Pairs of rows whose cosine is >= `threshold`, each row keeping its top neighbours.

    Exact, and never an n x n matrix, dense or sparse: each row's dot products
    with the rows sharing one of its features accumulate in one dense array of n
    values (per thread), through the inverted index of the features; only the
    pairs at or above `threshold` are kept. A pair is kept if either row has the
    other among its `max_neighbors` best (ties broken by the lower index).

    Parameters
    ----------
    x : scipy.sparse matrix, shape (n_docs, n_features)
        L2-normalised rows (TF-IDF).
    threshold : float
        In (0, 1]. Rows sharing no feature are never compared, so a threshold of
        0 or below would silently miss pairs with cosine 0. Cosines are sums in
        floating point: two identical rows can score 0.9999999999999999, so to
        find duplicates ask for a hair below 1 (``1 - 1e-9``), not 1.
    max_neighbors : int, default 50
    block_rows : int, default 2048
        Rows per piece of work handed to a thread.
    n_threads : int, optional
        Threads to use; by default all CPUs for large inputs. Same result for any number.

    Returns
    -------
    pairs : ndarray of int64, shape (n_pairs, 2)
        Unique (i, j), i < j, sorted.
    sims : ndarray of float64, shape (n_pairs,)

    Raises
    ------
    ValueError
        If `threshold` is not in (0, 1].

    Examples
    --------
    >>> x = sp.csr_matrix(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]))
    >>> pairs, sims = cosine_neighbors(x, threshold=0.5)
    >>> pairs.tolist(), sims.round(2).tolist()
    ([[0, 1], [1, 2]], [0.8, 0.6])
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    x = sp.csr_matrix(x, dtype=np.float64, copy=True)
    x.sum_duplicates()
    x.sort_indices()
    n = x.shape[0]
    if n == 0 or x.nnz == 0 or max_neighbors < 1:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    xc = x.tocsc()
    xc.sort_indices()
    indptr, indices = x.indptr.astype(np.int64), x.indices.astype(np.int64)
    c_ptr, c_rows = xc.indptr.astype(np.int64), xc.indices.astype(np.int64)
    c_vals = xc.data.astype(np.float64)

    def rows(r: tuple[int, int]) -> I64:
        return _cosine_rows(
            indptr, indices, x.data, c_ptr, c_rows, c_vals, float(threshold), max_neighbors, *r
        )

    pairs = _row_block_pairs(rows, n, block_rows, _thread_count(n_threads, float(x.nnz) * 64))
    return pairs, cosine_pairs(x, pairs)
