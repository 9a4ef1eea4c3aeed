"""StoryIndex throughput: articles/s for add() into an index already holding N articles.

For each size N (10k and 100k; 1M with --large) an index file is filled with the
first N articles of the seeded stream (``stream_corpus.py``, 3,000 articles a
day), in batches of ``--batch`` articles. Then the next articles are added in
batches of the same size: one warm-up batch, then ``--repeats`` timed batches
(median, quartiles and min reported: batches differ in what they ask of the
index, and on this shared 2-CPU machine the same batch varies by 15-20% from run
to run, so 20 batches by default). Also reported: the CPU time of the calling
thread, which runs the assignment loop and limits the rate (the other threads
search, pack and write beside it), per article; the peak resident memory of the
process (ru_maxrss), the file size (after folding the WAL), the fill rate
(without the time spent generating the stream, reported apart), the load
average of the machine at the start and end of the size, the
cost of a query, and how well the stories match the stream's own story labels
(pairwise F1 over the measured batches, a sanity check rather than a quality
benchmark: see tests/test_index.py for the labelled sets).

Each size runs in a fresh process so memory figures are its own.

    python benchmarks/bench_index.py                 # 10k and 100k
    python benchmarks/bench_index.py --large         # and 1M (20 minutes on a quiet 2-CPU machine)
    python benchmarks/bench_index.py --sizes 2000    # a quick check
    python benchmarks/bench_index.py --merge a.json b.json   # one table from separate runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_corpus import stream

import storyclust
from storyclust.metrics import evaluate

RESULTS = Path(__file__).resolve().parent / "results"


def _rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss is kB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _loadavg() -> float:
    """The 1-minute load average (the machine is shared: other jobs slow the timings)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:  # not on Linux
        return float("nan")


def _file_mb(path: Path) -> float:
    """Size of the index file and its WAL, in MB."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def _quartiles(xs: list[float]) -> tuple[float, float]:
    """The first and third quartiles of `xs` (inclusive method; the value itself for one)."""
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def run_size(n: int, *, batch: int, repeats: int, seed: int, folder: Path) -> dict[str, Any]:
    """Fill an index with `n` articles, then time adding more; one size, this process."""
    path = folder / f"index-{n}.db"
    path.unlink(missing_ok=True)
    index = storyclust.StoryIndex(path)
    articles = stream(n + (repeats + 1) * batch + 1, seed=seed)
    load_start = _loadavg()
    t0 = time.perf_counter()
    filled = 0
    gen_s = 0.0
    while filled < n:
        g = time.perf_counter()
        chunk = [next(articles) for _ in range(min(batch, n - filled))]
        gen_s += time.perf_counter() - g
        index.add(chunk)
        filled += len(chunk)
    fill_s = time.perf_counter() - t0 - gen_s
    index.save()
    rates: list[float] = []
    cpu: list[float] = []
    main_cpu: list[float] = []
    gold: list[int] = []
    ids: list[str] = []
    for r in range(repeats + 1):
        chunk = [next(articles) for _ in range(batch)]
        t, c, m = time.perf_counter(), time.process_time(), time.thread_time()
        index.add(chunk)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        dm = time.thread_time() - m
        if r:  # the first batch is the warm-up
            rates.append(batch / dt)
            cpu.append(dc / batch * 1e3)
            main_cpu.append(dm / batch * 1e3)
            gold += [a["story"] for a in chunk]
            ids += [a["id"] for a in chunk]
    probe = next(articles)  # the next article of the stream: a realistic query
    t = time.perf_counter()
    for _ in range(20):
        index.query(probe)
    query_ms = (time.perf_counter() - t) / 20 * 1e3
    index.save()
    f1 = evaluate(gold, index.labels(ids))["pairwise_f1"]
    out = {
        "n_held": n,
        "batch": batch,
        "add_articles_per_s_median": round(statistics.median(rates), 1),
        "add_articles_per_s_min": round(min(rates), 1),
        "add_articles_per_s_quartiles": [round(float(q), 1) for q in _quartiles(rates)],
        "add_articles_per_s_each": [round(x) for x in rates],
        "add_ms_per_article_median": round(1e3 / statistics.median(rates), 3),
        "add_cpu_ms_per_article_median": round(statistics.median(cpu), 3),
        "add_main_thread_cpu_ms_per_article_median": round(statistics.median(main_cpu), 3),
        "fill_articles_per_s": round(n / fill_s, 1),
        "query_ms": round(query_ms, 2),
        "peak_rss_mb": round(_rss_mb(), 1),
        "file_mb": round(_file_mb(path), 1),
        "file_kb_per_article": round(_file_mb(path) * 1e3 / len(index), 2),
        "stream_pairwise_f1": round(float(f1), 4),
        "generate_ms_per_article": round(gen_s / n * 1e3, 3),
        "loadavg_start_end": [load_start, _loadavg()],
    }
    index.close()
    path.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run each size in its own process; print a table and write JSON and Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--large", action="store_true", help="also 1,000,000 articles")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folder", default=None, help="where the index files go (default: a temp dir)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # worker mode
    ap.add_argument("--out", default=None, help="JSON results (default: results/index.json)")
    ap.add_argument(
        "--merge",
        nargs="+",
        default=None,
        help="write one table from the results of separate runs (JSON files) instead of running",
    )
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else RESULTS / "index.json"
    if args.merge:
        runs = [json.loads(Path(p).read_text()) for p in args.merge]
        merged = sorted((r for run in runs for r in run["results"]), key=lambda r: r["n_held"])
        meta = {**runs[0]["meta"], "runs": [run["meta"] for run in runs]}
        _write(merged, meta, out)
        return 0
    folder = Path(args.folder or tempfile.mkdtemp(prefix="bench-index-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.one is not None:
        res = run_size(
            args.one, batch=args.batch, repeats=args.repeats, seed=args.seed, folder=folder
        )
        print(json.dumps(res))
        return 0
    sizes = [*args.sizes, *([1_000_000] if args.large else [])]
    rows = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--batch", str(args.batch)]
        cmd += ["--repeats", str(args.repeats), "--seed", str(args.seed), "--folder", str(folder)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    meta = {
        "storyclust_version": storyclust.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "seed": args.seed,
        "corpus": "benchmarks/stream_corpus.py: 300-900-word articles, 3,000 a day",
    }
    _write(rows, meta, out)
    return 0


def _iqr(r: dict[str, Any]) -> str:
    """ "q1-q3; " of a result row, or nothing for rows of runs that did not record them."""
    q = r.get("add_articles_per_s_quartiles")
    return f"{q[0]:,.0f}-{q[1]:,.0f}; " if q else ""


def _calling_thread(r: dict[str, Any]) -> str:
    """ "; main-thread CPU ms" of a result row, or nothing for rows of runs that did not record it."""
    m = r.get("add_main_thread_cpu_ms_per_article_median")
    return f"; {m}" if m is not None else ""


def _write(rows: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> None:
    """Print the table of `rows` and write it as JSON and Markdown."""
    base = rows[0]["add_articles_per_s_median"]
    for r in rows:
        r["rate_vs_smallest"] = round(r["add_articles_per_s_median"] / base, 3)
    header = (
        "| articles held | add: articles/s (median; quartiles; min) | ms/article (CPU ms; main thread) "
        "| vs smallest | fill articles/s | query ms | peak RSS MB | file MB (kB/article) | stream F1 "
        "| load |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    table = header + "".join(
        f"| {r['n_held']:,} | {r['add_articles_per_s_median']:,.0f} "
        f"({_iqr(r)}{r['add_articles_per_s_min']:,.0f}) | {r['add_ms_per_article_median']} "
        f"({r['add_cpu_ms_per_article_median']}{_calling_thread(r)}) | {r['rate_vs_smallest']} "
        f"| {r['fill_articles_per_s']:,.0f} | {r['query_ms']} | {r['peak_rss_mb']:,.0f} "
        f"| {r['file_mb']:,.0f} ({r['file_kb_per_article']}) | {r['stream_pairwise_f1']} "
        f"| {r['loadavg_start_end'][0]}-{r['loadavg_start_end'][1]} |\n"
        for r in rows
    )
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(
        f"# StoryIndex add throughput\n\n{json.dumps(meta)}\n\n{table}"
    )


if __name__ == "__main__":
    sys.exit(main())
