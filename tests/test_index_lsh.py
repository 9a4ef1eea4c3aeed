"""StoryIndex LSH runs: lookup against a plain loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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
