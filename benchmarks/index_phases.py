"""Where StoryIndex.add spends its time: each phase's wall and calling-thread CPU time per article.

``bench_index.py`` gives the rate; this script says where it goes. It opens an
index file filled from the seeded stream (``stream_corpus.py``) by
``bench_index.py`` or by ``--fill N`` here, copies it (the file given is not
changed), and adds the stream's next articles in batches: one warm-up batch,
then ``--batches`` timed ones. Each phase of ``add`` (the methods named in
``PHASES``) is wrapped and timed on the calling thread, which runs the
assignment loop: its wall time less its CPU time is what it spent waiting (for
the neighbour search, the writer, the feature threads or the GIL).

    python benchmarks/index_phases.py --fill 100000             # fill a file first
    python benchmarks/index_phases.py --index /tmp/index-1000000.db --batches 12

Prints a table (ms an article) and writes JSON beside it (``--out``).
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_corpus import stream

import storyclust
from storyclust.index import StoryIndex

# Nested: add > _add > (_prepare, _assign > (_count, _tfidf_candidates, _assign_each
# > (_score_stories, _recut), _write)); _signals is the pair kernel inside the last two.
PHASES = (
    "add",
    "_prepare",
    "_tfidf_candidates",
    "_assign_each",
    "_score_stories",
    "_recut",
    "_signals",
    "_write",
)


def _wrapped(fn: Callable[..., Any], name: str, acc: dict[str, list[float]]) -> Callable[..., Any]:
    """`fn`, adding its wall and calling-thread CPU seconds to acc[name]."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[name][0] += time.perf_counter() - t
            acc[name][1] += time.thread_time() - c

    return timed


def fill(n: int, path: Path, *, batch: int, seed: int) -> Path:
    """An index file at `path` holding the first `n` articles of the stream."""
    index = StoryIndex(path)
    articles = stream(n, seed=seed)
    for _ in range(0, n, batch):
        index.add([a for _, a in zip(range(batch), articles)])
    index.save()
    index.close()
    return path


def run(path: Path, *, batches: int, batch: int, seed: int) -> dict[str, Any]:
    """Time each phase of `batches` adds of `batch` articles into a copy of `path`."""
    work = Path(tempfile.mkdtemp(prefix="index-phases-")) / "index.db"
    shutil.copy(path, work)
    index = StoryIndex.open(work)
    held = len(index)
    articles = stream((batches + 1) * batch, seed=seed, start=held)
    acc: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    # Most phases are inherited (from storyclust._index_assign and _index_store): the
    # wrappers are set on StoryIndex, then deleted again, or replaced by its own methods.
    own = {name: StoryIndex.__dict__.get(name) for name in PHASES}
    rates = []
    try:
        for name in PHASES:
            setattr(StoryIndex, name, _wrapped(getattr(StoryIndex, name), name, acc))
        for k in range(batches + 1):
            chunk = [a for _, a in zip(range(batch), articles)]
            t = time.perf_counter()
            index.add(chunk)
            if k:
                rates.append(batch / (time.perf_counter() - t))
            else:  # the first batch is the warm-up
                acc.clear()
    finally:
        for name, fn in own.items():
            if fn is not None:
                setattr(StoryIndex, name, fn)
            elif name in StoryIndex.__dict__:
                delattr(StoryIndex, name)
        index.close()
        shutil.rmtree(work.parent, ignore_errors=True)
    per = batches * batch / 1e3  # seconds -> ms an article
    return {
        "held": held,
        "batches": batches,
        "batch": batch,
        "articles_per_s_median": round(statistics.median(rates), 1),
        "phases_ms_per_article": {
            name: {
                "wall": round(acc[name][0] / per, 4),
                "cpu": round(acc[name][1] / per, 4),
                "wait": round((acc[name][0] - acc[name][1]) / per, 4),
            }
            for name in PHASES
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Fill or take an index file, time the phases of add, print and write the result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default=None, help="an index file filled from the stream")
    ap.add_argument("--fill", type=int, default=None, help="fill a file with N articles first")
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="JSON results (default: print only)")
    args = ap.parse_args(argv)
    if (args.index is None) == (args.fill is None):
        ap.error("give one of --index PATH or --fill N")
    if args.fill is not None:
        path = Path(tempfile.mkdtemp(prefix="index-phases-fill-")) / f"index-{args.fill}.db"
        fill(args.fill, path, batch=args.batch, seed=args.seed)
    else:
        path = Path(args.index)
    res = run(path, batches=args.batches, batch=args.batch, seed=args.seed)
    res["storyclust_version"] = storyclust.__version__
    res["seed"] = args.seed
    print(f"{res['held']:,} held, {res['articles_per_s_median']:,.0f} articles/s (median)")
    print("| phase | wall ms/article | CPU ms/article (calling thread) | waiting |")
    print("|---|---|---|---|")
    for name, v in res["phases_ms_per_article"].items():
        print(f"| {name} | {v['wall']:.3f} | {v['cpu']:.3f} | {v['wait']:.3f} |")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
