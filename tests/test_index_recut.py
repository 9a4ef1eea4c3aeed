"""StoryIndex re-cuts: a cut that groups the articles as their stories do is seen as such, and moves nothing."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storyclust import StoryIndex
from storyclust._index_kernels import same_partition
from storyclust._index_store import Changes


def _groups(keys: list[int]) -> set[frozenset[int]]:
    out: dict[int, set[int]] = {}
    for i, k in enumerate(keys):
        out.setdefault(k, set()).add(i)
    return {frozenset(g) for g in out.values()}


@st.composite
def _labels_and_stories(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    n = draw(st.integers(0, 12))
    raw = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    first: dict[int, int] = {}
    labels = [first.setdefault(x, len(first)) for x in raw]  # 0..k-1 by first appearance
    if draw(st.booleans()):  # the same grouping under other names
        names = draw(st.lists(st.integers(0, 99), min_size=5, max_size=5, unique=True))
        return labels, [names[x] for x in labels]
    return labels, draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))


@settings(max_examples=300, deadline=None)
@given(_labels_and_stories())
def test_same_partition_is_same_grouping(case: tuple[list[int], list[int]]) -> None:
    labels, stories = case
    got = same_partition(np.array(labels, dtype=np.int64), np.array(stories, dtype=np.int64))
    assert got == (_groups(labels) == _groups(stories))


@settings(max_examples=100, deadline=None)
@given(_labels_and_stories())
def test_apply_moves_nothing_on_the_same_partition(case: tuple[list[int], list[int]]) -> None:
    labels, stories = case
    if not labels or not same_partition(np.array(labels), np.array(stories)):
        return
    index = StoryIndex()
    index.add([f"article {k} about topic {k * 7919 % 101}" for k in range(len(labels))])
    pool = index._pool
    m = np.arange(len(labels), dtype=np.int64)
    for slot, sid in enumerate(stories):
        pool.move([slot], sid + 1000)
    before = {k: list(v) for k, v in pool.members.items()}
    ch = Changes()
    dense = np.zeros((len(m), len(m)))
    index._apply(m, np.array(labels, dtype=np.int64), dense, "x", ch)
    assert not ch.ops and not ch.new_stories
    assert pool.members == before
    assert pool.story[m].tolist() == [s + 1000 for s in stories]
