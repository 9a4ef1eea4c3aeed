"""StoryIndex writes: what is stored of each article, and the write-ahead log folded on another thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust._index_store
from storyclust import StoryIndex
from storyclust._index_state import N_TERMS, encode_terms, pack_rows

_WORDS = ["quake", "flood", "vote", "market", "storm", "court", "strike", "fire", "rally", "trial"]


def _batch(b: int, size: int = 40) -> list[dict[str, str]]:
    return [
        {
            "id": f"b{b}-{k}",
            "title": f"{_WORDS[k % 10]} report {b} {k}",
            "text": " ".join(_WORDS[(k + j) % 10] + str((b * size + k) % 97) for j in range(60)),
        }
        for k in range(size)
    ]


def _log_bytes(path: Path) -> int:
    log = Path(str(path) + "-wal")
    return log.stat().st_size if log.exists() else 0


def test_the_log_starts_over_after_each_add_once_it_must(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no room for the log, each add waits for the checkpoint of the one before it
    # before it begins, so the log starts over: it stays the size of one add's writes.
    monkeypatch.setattr(storyclust._index_store, "_MAX_LOG_FRAMES", 0)
    path = tmp_path / "log.db"
    index = StoryIndex(path)
    index.add(_batch(0))
    index.add(_batch(1))
    two = _log_bytes(path)
    for b in range(2, 14):
        index.add(_batch(b))
    assert 0 < _log_bytes(path) <= 1.5 * two
    index.close()
    # Unbounded, as SQLite's own checkpoints are off: the log grows with every add.
    grown = tmp_path / "grown.db"
    index = StoryIndex(grown)
    monkeypatch.setattr(index, "_checkpoint_later", lambda: None)
    for b in range(14):
        index.add(_batch(b))
    assert _log_bytes(grown) > 3 * two
    index.close()


def test_the_file_holds_the_adds_once_their_checkpoint_is_done(tmp_path: Path) -> None:
    path = tmp_path / "folded.db"
    index = StoryIndex(path)
    for b in range(3):
        index.add(_batch(b))
    index._checkpointed()  # the checkpoint after the last add
    # The main file alone, without its log, holds every committed article.
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 3 * 40
    conn.close()
    index.close()
    assert len(StoryIndex.open(path)) == 3 * 40


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sets(st.integers(0, N_TERMS - 1), max_size=30),
            st.sets(st.integers(0, N_TERMS - 1), max_size=5),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 2**32 - 1),
)
def test_packed_rows_are_each_vector_encoded_alone(
    rows: list[tuple[set[int], set[int]]], seed: int
) -> None:
    rng = np.random.default_rng(seed)

    def csr(sets: list[set[int]]) -> tuple[Any, Any, Any]:
        ptr = np.cumsum([0, *(len(x) for x in sets)]).astype(np.int64)
        idx = np.array([t for x in sets for t in sorted(x)], dtype=np.int32)
        return ptr, idx, rng.integers(1, 65536, len(idx)).astype(np.uint16)

    tf, nm = csr([a for a, _ in rows]), csr([b for _, b in rows])
    sig = rng.integers(0, 2**32, (len(rows), 4)).astype(np.uint32)
    batch = SimpleNamespace(
        tf_ptr=tf[0], tf_idx=tf[1], tf_cnt=tf[2], nm_ptr=nm[0], nm_idx=nm[1], nm_cnt=nm[2], sig=sig
    )
    packed = pack_rows(batch)  # type: ignore[arg-type]
    for k, (t, m, s) in enumerate(packed):
        a, b = tf[0][k], tf[0][k + 1]
        assert t == encode_terms(tf[1][a:b], tf[2][a:b])
        a, b = nm[0][k], nm[0][k + 1]
        assert m == encode_terms(nm[1][a:b], nm[2][a:b])
        assert s == sig[k].astype("<u4").tobytes()
