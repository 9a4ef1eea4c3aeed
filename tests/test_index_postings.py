"""StoryIndex inverted lists: segments and lists built ahead give what a rebuild gives."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust._index_assign
from storyclust import StoryIndex
from storyclust._index_kernels import (
    join_segments,
    live_row_norms,
    merge_postings,
    postings,
    remap_postings,
    segment,
)
from storyclust._index_state import Pool

_WORDS = ["quake", "flood", "vote", "market", "storm", "court", "strike", "fire", "rally", "trial"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sets(st.integers(0, 40), max_size=12), min_size=0, max_size=20),
    st.data(),
)
def test_merged_lists_are_those_of_all_rows(rows: list[set[int]], data: st.DataObject) -> None:
    lengths = [len(r) for r in rows]
    lo = np.cumsum([0, *lengths])[:-1].astype(np.int64)
    hi = (lo + np.array(lengths, dtype=np.int64)).astype(np.int64)
    idx = np.array([t for r in rows for t in sorted(r)], dtype=np.int32)
    val = np.arange(len(idx), dtype=np.float32) + 1
    a = data.draw(st.integers(0, len(rows)))
    b = data.draw(st.integers(a, len(rows)))
    c = data.draw(st.integers(b, len(rows)))
    merged = merge_postings(
        postings(lo, hi, idx, val, a, b, 41), postings(lo, hi, idx, val, b, c, 41)
    )
    whole = postings(lo, hi, idx, val, a, c, 41)
    for got, want in zip(merged, whole):
        assert got.dtype == want.dtype and np.array_equal(got, want)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sets(st.integers(0, 40), max_size=12), st.booleans()), max_size=20),
    st.data(),
)
def test_renumbered_lists_are_those_of_the_rows_kept(
    rows: list[tuple[set[int], bool]], data: st.DataObject
) -> None:
    """A compaction's renumbered lists are the lists of the rows it keeps, array for array."""
    terms = [sorted(r) for r, _ in rows]
    kept = np.array([k for _, k in rows], dtype=np.bool_)
    upto = data.draw(st.integers(0, len(rows)))  # the slots the lists cover

    def flat(sel: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.array([len(r) for r in sel], dtype=np.int64)
        hi = np.cumsum(lengths).astype(np.int64)
        idx = np.array([t for r in sel for t in r], dtype=np.int32)
        return hi - lengths, hi, idx, np.ones(len(idx), dtype=np.float32) + idx

    new = np.where(kept, np.cumsum(kept) - 1, -1)[:upto].astype(np.int64)
    got = remap_postings(postings(*flat(terms), 0, upto, 41), new)
    kept_rows = [r for r, k in zip(terms, kept.tolist()) if k]
    want = postings(*flat(kept_rows), 0, int(kept[:upto].sum()), 41)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and np.array_equal(g, w)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sets(st.integers(0, 40), max_size=12), min_size=0, max_size=20),
    st.data(),
)
def test_segments_hold_the_lists_of_their_terms(rows: list[set[int]], data: st.DataObject) -> None:
    """A segment's lists are the dense lists (postings) of its slots, for the terms they hold."""
    lengths = [len(r) for r in rows]
    lo = np.cumsum([0, *lengths])[:-1].astype(np.int64)
    hi = (lo + np.array(lengths, dtype=np.int64)).astype(np.int64)
    idx = np.array([t for r in rows for t in sorted(r)], dtype=np.int32)
    val = np.arange(len(idx), dtype=np.float32) + 1
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    bounds = [0, *cuts, len(rows)]
    parts = [segment(lo, hi, idx, val, a, b) for a, b in itertools.pairwise(bounds)]
    seg_bounds, terms, ptr, slots, vals = join_segments(parts)
    assert ptr[-1] == len(slots) == len(idx)
    for g, (a, b) in enumerate(itertools.pairwise(bounds)):
        d_ptr, d_slots, d_vals = postings(lo, hi, idx, val, a, b, 41)
        held = np.flatnonzero(np.diff(d_ptr))
        got = terms[seg_bounds[g] : seg_bounds[g + 1]]
        assert got.dtype == np.int32 and got.tolist() == held.tolist()
        for u, t in zip(range(seg_bounds[g], seg_bounds[g + 1]), held.tolist()):
            want = slice(d_ptr[t], d_ptr[t + 1])
            assert slots[ptr[u] : ptr[u + 1]].tolist() == d_slots[want].tolist()
            assert vals[ptr[u] : ptr[u + 1]].tolist() == d_vals[want].tolist()


def _batch(b: int, size: int) -> list[dict[str, str]]:
    return [
        {
            "id": f"b{b}-{k}",
            "title": f"{_WORDS[(b + k) % 10]} {_WORDS[k % 7]} report {k % 13}",
            "text": " ".join(
                _WORDS[(k * j + b) % 10] + str((b * 7 + k * 3 + j) % 53) for j in range(40)
            ),
        }
        for k in range(size)
    ]


def test_lists_built_ahead_decide_and_cache_as_a_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead, rebuilt = StoryIndex(), StoryIndex()
    built = []
    original = Pool.postings_ahead

    def counted(self: Pool, *args: object) -> object:
        found = original(self, *args)  # type: ignore[arg-type]
        if self is ahead._pool and found is not None:
            built.append(self.n)
        return found if self is ahead._pool else None

    monkeypatch.setattr(Pool, "postings_ahead", counted)
    extended = []
    original_extended = storyclust._index_state._extended

    def extend(*args: Any) -> Any:
        extended.append(args[2:])  # (upto, n): the cached lists' slots, and all
        return original_extended(*args)

    monkeypatch.setattr(storyclust._index_state, "_extended", extend)
    # Terms in more than 150 articles are hubs, left out of the search: their counts
    # too must be the same, the new articles' lists apart or not.
    monkeypatch.setattr(storyclust._index_assign, "_MAX_POSTINGS", 150)
    compacted = 0
    for b in range(9):
        part = _batch(b, 300)
        assert ahead.add(part) == rebuilt.add(part)
        if b == 4:  # a compaction: the cached lists are renumbered, then extended
            n = len(ahead)
            gone = [f"b{c}-{k}" for c in range(4) for k in range(300) if k % 8]
            assert ahead.remove(gone) == rebuilt.remove(gone) == len(gone)
            assert ahead._pool.n == rebuilt._pool.n == n - len(gone)  # compacted
            assert ahead._pool._stale
            compacted = len(extended)
        # The same slots count as cached (the hub test reads their counts), held in the
        # dense lists built ahead plus a segment instead of in the dense lists alone.
        if ahead._pool._stale:  # renumbered lists, not searched: extended at the next add
            continue
        assert ahead._pool._main_upto == rebuilt._pool._main_upto
        upto = ahead._pool._main_upto
        for pool in (ahead._pool, rebuilt._pool):
            if pool._postings_due(pool.n):  # asking would rebuild: nothing cached to compare
                continue
            main, _, counts, _ = pool.postings(1, pool.n)
            listed = np.diff(main[0]) + counts[0]
            lists = (pool.tf_lo, pool.tf_hi, pool.tf.idx, pool.tf.val)
            # Slots after those built ahead are a cached segment, not in the dense lists.
            parts = pool._tail.parts
            dense = parts[0][0] if parts and parts[0][2] else pool._main_upto
            rebuild = postings(*lists, 0, dense, len(listed))
            assert np.array_equal(listed, np.diff(postings(*lists, 0, upto, len(listed))[0]))
            # The cached lists, extended or rebuilt, are those of a rebuild, array for array.
            assert all(np.array_equal(x, y) for x, y in zip(main, rebuild))
    assert len(built) >= 2  # the lists were built ahead, more than once
    assert extended and all(0 < upto <= n for upto, n in extended)  # by extending the cache
    assert len(extended) > compacted > 0  # before and after the compaction
    assert ahead.stories() == rebuilt.stories()
    events = [
        [(e.kind, e.story_id, e.other_id, e.article_id, e.score) for e in x.events()]
        for x in (ahead, rebuilt)
    ]
    assert events[0] == events[1]


def test_norms_computed_by_the_background_search_give_the_same_adds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search beside the loop computes row norms as it reaches rows: as the up-front pass does."""
    background, up_front = StoryIndex(), StoryIndex()
    original = StoryIndex._tfidf_candidates
    passes = []

    def search(self: StoryIndex, *args: Any, **kwargs: Any) -> Any:
        if self is up_front:
            kwargs["worker"] = None  # the whole search here, norms of every row first
        return original(self, *args, **kwargs)

    def counted(*args: Any) -> None:
        passes.append(args[1])
        live_row_norms(*args)

    monkeypatch.setattr(StoryIndex, "_tfidf_candidates", search)
    monkeypatch.setattr(storyclust._index_assign, "live_row_norms", counted)
    for b in range(6):
        part = _batch(b, 400)
        assert background.add(part) == up_front.add(part)
    assert len(passes) >= 5  # the up-front index computed them up front
    assert background.stories() == up_front.stories()
