"""StoryIndex inverted lists: built ahead of the search and merged, they are what a rebuild makes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust.index
from storyclust import StoryIndex
from storyclust._index_kernels import merge_postings, postings
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
    # Terms in more than 150 articles are hubs, left out of the search: their counts
    # too must be the same, the new articles' lists apart or not.
    monkeypatch.setattr(storyclust.index, "_MAX_POSTINGS", 150)
    for b in range(9):
        part = _batch(b, 300)
        assert ahead.add(part) == rebuilt.add(part)
        assert ahead._pool._main_upto == rebuilt._pool._main_upto
        for got, want in zip(ahead._pool._main or (), rebuilt._pool._main or ()):
            assert np.array_equal(got, want)
    assert len(built) >= 2  # the lists were built ahead, more than once
    assert ahead.stories() == rebuilt.stories()
    events = [
        [(e.kind, e.story_id, e.other_id, e.article_id, e.score) for e in x.events()]
        for x in (ahead, rebuilt)
    ]
    assert events[0] == events[1]
