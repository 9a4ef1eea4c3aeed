"""StoryIndex neighbour query: the compiled weights equal the numpy expressions they replace, to the bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storyclust._index_kernels import _LOG_COUNTS, query_rows, query_weights
from storyclust.similarity import top_per_row

_N_TERMS = 64


def _reference(
    ptr: np.ndarray,
    idx: np.ndarray,
    cnt: np.ndarray,
    lg: np.ndarray,
    c: float,
    main_ptr: np.ndarray,
    tail_ptr: np.ndarray,
    max_postings: int,
    n_top: int,
) -> tuple[np.ndarray, ...]:
    """The numpy passes of StoryIndex._neighbour_query before they were compiled."""
    n = len(ptr) - 1
    idf = c - lg[idx]
    w = (1.0 + np.log(np.maximum(cnt, 1).astype(np.float64))) * idf
    doc = np.repeat(np.arange(n), np.diff(ptr))
    norm = np.sqrt(np.bincount(doc, w * w, minlength=n))
    qw = w / np.maximum(norm, 1e-12)[doc] * idf
    listed = main_ptr[idx + 1] - main_ptr[idx] + tail_ptr[idx + 1] - tail_ptr[idx]
    hub = listed > max_postings
    keep = top_per_row(ptr, np.where(hub, -1.0, qw), n_top)
    keep = keep[~hub[keep]]
    unit = w / np.maximum(norm, 1e-12)[doc]
    kept = np.bincount(doc[keep], unit[keep] ** 2, minlength=n).astype(np.float64)
    q_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc[keep], minlength=n), out=q_ptr[1:])
    return w, qw, hub, norm, keep, kept, q_ptr


def _compiled(
    ptr: np.ndarray,
    idx: np.ndarray,
    cnt: np.ndarray,
    lg: np.ndarray,
    c: float,
    main_ptr: np.ndarray,
    tail_ptr: np.ndarray,
    max_postings: int,
    n_top: int,
) -> tuple[np.ndarray, ...]:
    """The same, as StoryIndex._neighbour_query does it now."""
    # The tail's counts per term, split over two rows as the index holds them.
    tail = np.diff(tail_ptr).astype(np.int32)
    counts = np.stack([tail // 3, tail - tail // 3])
    w, qw, hub, norm = query_weights(ptr, idx, cnt, lg, c, main_ptr, counts, max_postings)
    keep = top_per_row(ptr, np.where(hub, -1.0, qw), n_top)
    keep = keep[~hub[keep]]
    kept, q_ptr = query_rows(keep, ptr, w, norm)
    return w, qw, hub, norm, keep, kept, q_ptr


def _lists(counts: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.integers(0, _N_TERMS - 1), st.integers(0, 65535), max_size=20),
        max_size=12,
    ),
    st.lists(st.integers(0, 30), min_size=_N_TERMS, max_size=_N_TERMS),
    st.lists(st.integers(0, 30), min_size=_N_TERMS, max_size=_N_TERMS),
    st.lists(st.integers(0, 500), min_size=_N_TERMS, max_size=_N_TERMS),
    st.integers(0, 1000),
    st.integers(0, 40),
    st.integers(1, 6),
)
def test_query_weights_equal_numpy(
    rows: list[dict[int, int]],
    main_counts: list[int],
    tail_counts: list[int],
    df: list[int],
    n_docs: int,
    max_postings: int,
    n_top: int,
) -> None:
    ptr = _lists([len(r) for r in rows])
    idx = np.array([t for r in rows for t in sorted(r)], dtype=np.int32)
    cnt = np.array([r[t] for r in rows for t in sorted(r)], dtype=np.uint16)
    lg = np.log1p(np.array(df, dtype=np.float64))
    c = float(np.log1p(n_docs) + 1.0)
    args = (ptr, idx, cnt, lg, c, _lists(main_counts), _lists(tail_counts), max_postings, n_top)
    for got, want in zip(_compiled(*args), _reference(*args)):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want)  # bit for bit: no NaN here


def test_log_table_is_numpys_log_at_any_position() -> None:
    # numpy's log on arrays of counts anywhere in an array, of any length, is the table's.
    rng = np.random.default_rng(0)
    for n in [*range(1, 40), 1000, 4097]:
        x = rng.integers(0, 1 << 16, n).astype(np.uint16)
        for start in range(3):
            y = x[start:]
            want = np.log(np.maximum(y, 1).astype(np.float64))
            assert np.array_equal(_LOG_COUNTS[y], want)
