"""The stories of a StoryIndex, as :class:`~storyclust.Story` records read from its file.

Private to :mod:`storyclust.index`. Plain functions of the rows the index stores
(and of the settings and document frequencies in force): the representative as
``representative`` says, the keywords, the cohesion from the centralities, the
distinct reports by stored MinHash signature, and the stories merged into each.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._index_kernels import components
from ._index_state import term_ids
from ._index_store import SCORE, stored_array
from .errors import InputError
from .result import Story, title_from_text
from .settings import Settings
from .text import STOP_WORDS, hash_strings, tokenize

__all__ = ["STORY_COLUMNS", "merged_ids", "resolve", "story_from_rows"]

F64 = npt.NDArray[np.float64]

# The columns story_from_rows reads, in its order.
STORY_COLUMNS: Final = (
    f"story, row, id, title, snippet, source, day, title_words, n_tokens, {SCORE}, "
    "has_shingles, signature"
)


def merged_ids(conn: sqlite3.Connection) -> dict[int, list[int]]:
    """For each story, the stories merged into it (directly or through others)."""
    parent = {
        int(a): int(b)
        for a, b in conn.execute(
            "SELECT id, merged_into FROM stories WHERE merged_into IS NOT NULL"
        )
    }
    out: dict[int, list[int]] = {}
    for a in parent:
        root = a
        for _ in range(len(parent) + 1):
            if root not in parent:
                break
            root = parent[root]
        out.setdefault(root, []).append(a)
    return {k: sorted(v) for k, v in out.items()}


def resolve(conn: sqlite3.Connection, sid: int, path: str | None) -> int:
    """The story that `sid` was merged into, if any (else `sid`)."""
    for _ in range(1_000_000):
        row = conn.execute("SELECT merged_into FROM stories WHERE id = ?", (sid,)).fetchone()
        if row is None or row[0] is None:
            return sid
        sid = int(row[0])
    raise InputError("damaged index: a cycle of merged stories", path=path)


def story_from_rows(
    rows: list[Any],
    merged: list[int],
    settings: Settings,
    lg: F64,
    n_docs: int,
    path: str | None,
) -> Story:
    """One story from its rows (columns as in ``STORY_COLUMNS``).

    `lg` and `n_docs`: the log document frequencies of the TF-IDF terms and the
    number of articles held, which weigh the keywords.
    """
    policy = settings.representative
    days = [math.inf if r[6] is None else float(r[6]) for r in rows]
    first = [0] * len(rows)
    if isinstance(policy, tuple):
        rank = {src: k for k, src in enumerate(policy)}
        first = [rank.get(str(r[5]), len(policy)) for r in rows]
    if policy == "earliest":
        primary = days
    elif policy == "longest":
        primary = [-float(r[8]) for r in rows]
    else:
        primary = [-float(r[9]) for r in rows]
    rep = rows[
        min(range(len(rows)), key=lambda k: (first[k], primary[k], days[k], int(rows[k][1])))
    ]
    dated = [float(x[6]) for x in rows if x[6] is not None]
    n = len(rows)
    return Story(
        story_id=int(rep[0]),
        size=len(rows),
        representative_id=str(rep[2]),
        title=str(rep[3]) or title_from_text(str(rep[4])),
        outlets=sorted({str(x[5]) for x in rows if x[5]}),
        first_seen=_from_day(min(dated)) if dated else None,
        last_seen=_from_day(max(dated)) if dated else None,
        keywords=_keywords(rows, settings, lg, n_docs),
        # score_sum counts each pair the index scored once from each side.
        cohesion=1.0 if n < 2 else sum(float(x[9]) for x in rows) / (n * (n - 1)),
        article_ids=[str(x[2]) for x in rows],
        n_reports=_n_reports(rows, settings, path),
        merged_ids=merged,
    )


def _n_reports(rows: list[Any], settings: Settings, path: str | None) -> int:
    """Distinct texts of a story: near-duplicates (by their stored signatures) count once."""
    p = settings.num_perm
    sh = np.array([bool(r[10]) for r in rows], dtype=np.bool_)
    if sh.sum() < 2:
        return len(rows)
    sig = np.stack([stored_array(r[11], "<u4", p, path, "signature") for r in rows])
    m = len(rows)
    near = np.zeros((m, m), dtype=np.bool_)
    for r in range(0, m, 64):  # blocks bound the (rows, m, num_perm) comparison
        jac = (sig[r : r + 64, None, :] == sig[None, :, :]).mean(axis=2)
        near[r : r + 64] = jac >= settings.near_duplicate_threshold
    near &= sh[:, None] & sh[None, :]
    return len(set(components(near).tolist()))


def _keywords(rows: list[Any], settings: Settings, lg: F64, n_docs: int) -> list[str]:
    """Content words of the story's titles (or text starts), frequent in it and rare overall."""
    k = settings.n_keywords
    counts: Counter[str] = Counter()
    for r in rows:
        words = str(r[7]).split() or [w for w in tokenize(str(r[4])) if w not in STOP_WORDS]
        counts.update(set(words))
    if k == 0 or not counts:
        return []
    words = sorted(counts)
    held = lg[term_ids(hash_strings(words))]
    c = math.log1p(n_docs) + 1.0
    weight = {w: counts[w] * (c - g) for w, g in zip(words, held.tolist())}
    return sorted(words, key=lambda w: (-weight[w], w))[:k]


def _from_day(day: float) -> datetime:
    """Days since the epoch as a UTC datetime."""
    return datetime.fromtimestamp(day * 86400.0, tz=timezone.utc)
