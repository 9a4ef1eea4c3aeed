"""What every module of the similarity kernel shares: array types, the numba decorator,
checked offsets, and running a compiled loop over document ranges on threads.

Part of :mod:`storyclust.similarity`, the public surface; nothing here is public.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]
FLT = npt.NDArray[np.floating[Any]]

# Below this many shingle x permutation cells (or text bytes x 64), one thread is
# faster than starting more.
_MIN_PARALLEL_WORK = 1 << 22
# Pieces per thread: uneven documents still keep every thread busy.
_PIECES_PER_THREAD = 4

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(fn: _F) -> _F:
    """Compile `fn` with numba in nopython mode, cached on disk, releasing the GIL."""
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


def _thread_count(n_threads: int | None, work: float) -> int:
    """Threads to use: all available CPUs (or `n_threads`), one for small work."""
    if n_threads is None:
        if work < _MIN_PARALLEL_WORK:
            return 1
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive int or None; got {n_threads!r}")
    return n_threads


def _pieces(cost_offsets: I64, parts: int) -> list[tuple[int, int]]:
    """Split documents into at most `parts` contiguous ranges of about equal cost."""
    n = len(cost_offsets) - 1
    if n <= 0:
        return []
    parts = max(1, min(parts, n))
    targets = np.linspace(cost_offsets[0], cost_offsets[-1], parts + 1)[1:-1]
    cuts = np.unique(np.concatenate([[0], np.searchsorted(cost_offsets, targets), [n]]))
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(cuts) if hi > lo]


def _run_parts(
    kernel: Callable[..., Any],
    args: Sequence[Any],
    cost_offsets: I64,
    n_threads: int,
) -> list[Any]:
    """What ``kernel(*args, lo, hi)`` returns for each document range, in range order,
    computed on `n_threads` threads: the same for any thread count."""
    ranges = _pieces(cost_offsets, n_threads * _PIECES_PER_THREAD if n_threads > 1 else 1)
    if n_threads == 1:
        return [kernel(*args, lo, hi) for lo, hi in ranges]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        return [f.result() for f in [pool.submit(kernel, *args, lo, hi) for lo, hi in ranges]]


def _run(
    kernel: Callable[..., None],
    args: Sequence[Any],
    cost_offsets: I64,
    n_threads: int,
) -> None:
    """Call ``kernel(*args, lo, hi)`` over document ranges, on `n_threads` threads.

    Every range writes its own rows, so the result is the same for any thread count.
    """
    _run_parts(kernel, args, cost_offsets, n_threads)


def _joined(parts: list[tuple[Any, ...]], *dtypes: type) -> list[Any]:
    """Each output of the ranges' kernels, the ranges' arrays concatenated (empty if none)."""
    return [
        np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=dtype)
        for i, dtype in enumerate(dtypes)
    ]


def _as_offsets(offsets: npt.ArrayLike, length: int) -> I64:
    """Offsets as contiguous int64, checked to be non-decreasing within [0, length]."""
    off = np.ascontiguousarray(offsets, dtype=np.int64)
    if off.ndim != 1 or len(off) == 0:
        raise ValueError(
            f"offsets must be a 1-d array of n_docs + 1 positions; got shape {off.shape}"
        )
    if off[0] < 0 or off[-1] > length or np.any(np.diff(off) < 0):
        raise ValueError(
            f"offsets must be non-decreasing positions within [0, {length}]; "
            f"got {off.tolist() if len(off) < 8 else f'{off[0]}..{off[-1]}'}"
        )
    return off
