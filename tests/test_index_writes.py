"""StoryIndex writes: the write-ahead log is folded into the file on another thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import storyclust.index
from storyclust import StoryIndex

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
    monkeypatch.setattr(storyclust.index, "_MAX_LOG_FRAMES", 0)
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
