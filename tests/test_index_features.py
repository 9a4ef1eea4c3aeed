"""StoryIndex features: the compiled stop-word filter equals the numpy expression it replaces."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storyclust._index_kernels import content_term_ids, count_terms, stop_bitmap
from storyclust._index_state import (
    _STOP_BITMAP,
    _STOP_HASHES,
    N_TERMS,
    _Flat,
    _Titles,
    members_of,
)


def _reference(hashes: np.ndarray, stop: np.ndarray, n_terms: int) -> np.ndarray:
    """The numpy expression of featurize before it was compiled (`stop` sorted)."""
    content = stop[np.searchsorted(stop[:-1], hashes)] != hashes
    return np.where(content, hashes & np.uint64(n_terms - 1), np.uint64(n_terms))


_U64 = st.integers(0, (1 << 64) - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_U64, min_size=1, max_size=30, unique=True),
    st.lists(st.one_of(_U64, st.integers(0, 29)), max_size=200),
    st.integers(0, 1 << 16),
)
def test_content_term_ids_equal_numpy(stop: list[int], picks: list[int], shift: int) -> None:
    stop_arr = np.sort(np.array(stop, dtype=np.uint64))
    # Tokens: stop hashes, random hashes, and near misses sharing a stop hash's low 16 bits.
    tokens = [stop[p] if p < len(stop) else p for p in picks]
    tokens += [(h ^ (shift << 16)) & ((1 << 64) - 1) for h in stop]
    hashes = np.array(tokens, dtype=np.uint64)
    got = content_term_ids(hashes, stop_arr, stop_bitmap(stop_arr), 1 << 20)
    want = _reference(hashes, stop_arr, 1 << 20)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_stop_words_of_the_index_are_filtered() -> None:
    rng = np.random.default_rng(0)
    hashes = np.concatenate(
        [_STOP_HASHES, rng.integers(0, 1 << 63, 5000, dtype=np.uint64) * np.uint64(2)]
    )
    rng.shuffle(hashes)
    got = content_term_ids(hashes, _STOP_HASHES, _STOP_BITMAP, N_TERMS)
    assert np.array_equal(got, _reference(hashes, _STOP_HASHES, N_TERMS))
    assert (got == N_TERMS).sum() >= len(_STOP_HASHES)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 99), max_size=300),
    st.lists(st.integers(0, 50), min_size=100, max_size=100),
    st.sampled_from([1, -1]),
)
def test_count_terms_equal_bincount(idx: list[int], df0: list[int], sign: int) -> None:
    terms = np.array(idx, dtype=np.int32)
    want_df = np.array(df0, dtype=np.int64)
    cnt = np.bincount(terms, minlength=100)
    want_t = np.flatnonzero(cnt)
    want_df[want_t] += sign * cnt[want_t]
    got_df = np.array(df0, dtype=np.int64)
    got_t = count_terms(terms, sign, got_df)
    assert got_t.dtype == np.int64 and np.array_equal(got_t, want_t)
    assert np.array_equal(got_df, want_df)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.lists(st.integers(0, 50), max_size=40, unique=True), max_size=30),
            st.lists(st.booleans(), max_size=60),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_stores_keep_rows_through_growth_and_gathers(
    rounds: list[tuple[list[list[int]], list[bool]]],
) -> None:
    """Rows appended to the term and title stores read back the same, whatever growth and compactions came between."""
    flat, titles = _Flat(), _Titles()
    lo = hi = t_lo = t_hi = np.zeros(0, dtype=np.int64)
    want: list[tuple[list[int], str]] = []
    for rows, keep in rounds:
        sizes = np.array([len(r) for r in rows], dtype=np.int64)
        ptr = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        idx = np.array([t for r in rows for t in sorted(r)], dtype=np.int32)
        counts = np.array([t % 7 + 1 for r in rows for t in sorted(r)], dtype=np.uint16)
        a, b = flat.append(ptr, idx, counts)
        names = [" ".join(f"w{t}" for t in sorted(r)) for r in rows]
        c, d = titles.append(names)
        lo, hi, t_lo, t_hi = np.r_[lo, a], np.r_[hi, b], np.r_[t_lo, c], np.r_[t_hi, d]
        want += [(sorted(r), " ".join(sorted(set(n.split())))) for r, n in zip(rows, names)]
        # A compaction: keep some rows, in order (the rest are dropped).
        sel = np.array([k < len(keep) and keep[k] for k in range(len(want))], dtype=np.bool_)
        if len(want) and not sel.all():
            lo, hi = flat.keep(lo[sel], hi[sel])
            t_lo, t_hi = titles.keep(t_lo[sel], t_hi[sel])
            want = [w for w, s in zip(want, sel.tolist()) if s]
        for k, (terms, title) in enumerate(want):
            assert flat.idx[lo[k] : hi[k]].tolist() == terms
            vals = 1.0 + np.log(np.array([t % 7 + 1 for t in terms], dtype=np.float32))
            assert np.array_equal(flat.val[lo[k] : hi[k]], vals)
            got = titles.chars[t_lo[k] : t_hi[k]].tobytes().decode("utf-32-le")
            assert got == title
        assert flat.used == (int(hi[-1]) if len(hi) else 0) or not len(want)


@given(st.lists(st.integers(-1, 6), max_size=60))
def test_members_of_lists_each_storys_slots_ascending(stories: list[int]) -> None:
    want: dict[int, list[int]] = {}
    for slot, story in enumerate(stories):
        if story >= 0:
            want.setdefault(story, []).append(slot)
    got = members_of(np.array(stories, dtype=np.int64))
    assert got == want
    assert all(type(k) is int and all(type(x) is int for x in v) for k, v in got.items())
