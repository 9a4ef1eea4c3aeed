"""Seeded synthetic article records for the scale benchmark and the Ray tests.

The corpus of :mod:`synthetic` (originals, reprints with edits and outlet
boilerplate) as article records: an id, a headline, a text, an outlet name and a
publication time. Originals are spread over ``days`` days; a reprint appears
within a day of its original.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import make_corpus

__all__ = ["records", "write_corpus"]

_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


def records(n: int, *, seed: int = 0, days: float = 30.0) -> list[dict[str, Any]]:
    """`n` article records (dicts with id, title, text, source, published, family)."""
    corpus = make_corpus(n, seed=seed)
    rng = np.random.Generator(np.random.PCG64(seed + 1))
    start = rng.random(n) * days
    lag = rng.random(n)
    out = []
    for i in range(n):
        f = int(corpus.family[i])
        day = start[f] + (lag[i] if f != i else 0.0)
        out.append(
            {
                "id": f"a{i}",
                "title": corpus.titles[i],
                "text": corpus.bodies[i],
                "source": f"outlet{int(corpus.source[i])}",
                "published": (_EPOCH + timedelta(days=float(day))).isoformat(),
                "family": f,
            }
        )
    return out


def write_corpus(path: Path, n: int, *, seed: int = 0) -> np.ndarray:
    """Write `n` records (without their family) to a JSONL file; return the families.

    The families are the generator's ground truth (reprints of one original), kept
    apart so the clustering run reads only what a user's file would hold.
    """
    import json

    recs = records(n, seed=seed)
    family = np.array([r.pop("family") for r in recs], dtype=np.int64)
    with Path(path).open("w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    return family
