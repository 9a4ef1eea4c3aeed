"""StoryIndex LSH runs: lookup against a plain loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storyclust._index_kernels import key_fences, key_ranges
from storyclust._index_state import LshRuns


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 12), max_size=20), max_size=5),
    st.lists(st.integers(0, 14), max_size=30),
)
def test_lookup_finds_every_entry_of_every_probe_in_order(
    runs: list[list[int]], probes: list[int]
) -> None:
    lsh = LshRuns()
    first = 0
    for keys in runs:
        rows = np.arange(first, first + len(keys), dtype=np.int64) // 2  # rows repeat
        k = np.array(keys, dtype=np.uint64)
        order = np.lexsort((rows, k))
        lsh.runs[first] = (first + max(len(keys), 1) - 1, k[order], rows[order])
        first += max(len(keys), 1)
    want = [
        (p, int(r))
        for _, keys, rows in lsh.runs.values()
        for p, x in enumerate(probes)
        for kk, r in zip(keys.tolist(), rows.tolist())
        if kk == x
    ]
    pos, rows = lsh.lookup(np.array(probes, dtype=np.uint64))
    assert list(zip(pos.tolist(), rows.tolist())) == want
    assert pos.dtype == rows.dtype == np.int64


_KEY = st.integers(0, 2**64 - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(_KEY, st.sampled_from([0, 1, 2**63, 2**64 - 1])), max_size=200),
    st.lists(_KEY, max_size=40),
    st.data(),
)
def test_key_ranges_match_searchsorted(
    keys: list[int], extra: list[int], data: st.DataObject
) -> None:
    """The fence-table search finds what a binary search finds, equal keys and the ends included."""
    k = np.sort(np.array(keys, dtype=np.uint64))
    taken = data.draw(st.lists(st.sampled_from(keys), max_size=40)) if keys else []
    probes = np.array(taken + extra + [0, 2**64 - 1], dtype=np.uint64)
    lo, hi = key_ranges(k, probes)
    assert lo.tolist() == np.searchsorted(k, probes, side="left").tolist()
    assert hi.tolist() == np.searchsorted(k, probes, side="right").tolist()


def test_key_fences_point_at_the_first_key_of_each_top_bits_value() -> None:
    rng = np.random.default_rng(0)
    k = np.sort(rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True))
    fences, bits = key_fences(k)
    assert bits == 10 and len(fences) == 2**bits + 1  # an eighth to a quarter as many as keys
    starts = np.arange(2**bits + 1, dtype=object) << (64 - bits)
    want = [int(np.searchsorted(k.astype(object), s)) for s in starts]
    assert fences.tolist() == want


def test_lookup_searches_a_run_again_after_it_is_replaced() -> None:
    """A run merged into a new one under the same first row is searched with fresh fences."""
    lsh = LshRuns()
    lsh.runs[0] = (1, np.array([5, 9], dtype=np.uint64), np.array([0, 1], dtype=np.int64))
    lsh.runs[2] = (2, np.array([7], dtype=np.uint64), np.array([2], dtype=np.int64))
    assert lsh.lookup(np.array([7, 9], dtype=np.uint64))[1].tolist() == [1, 2]
    keys = np.arange(64, dtype=np.uint64) << np.uint64(58)  # spread over the top bits
    lsh.runs = {0: (2, keys, np.arange(64, dtype=np.int64))}
    pos, rows = lsh.lookup(np.array([keys[40], 9, keys[3]], dtype=np.uint64))
    assert pos.tolist() == [0, 2] and rows.tolist() == [40, 3]
