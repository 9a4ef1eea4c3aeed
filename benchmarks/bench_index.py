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

Each size runs in a fresh process so memory figures are its own. By default the
sizes run one after another; with ``--interleave`` their processes are filled one
after another and then timed a batch at a time in turn (round r starts with size
r mod k), the others waiting, so that a slow or fast spell of the machine falls
on every size alike. The rate of each size over the smallest's in the same round
(median and quartiles over the rounds) is then reported beside the ratio of the
medians: the figure to read for whether the cost per article is flat.

    python benchmarks/bench_index.py                 # 10k and 100k
    python benchmarks/bench_index.py --large         # and 1M (20 minutes on a quiet 2-CPU machine)
    python benchmarks/bench_index.py --large --interleave   # the sizes timed in turn
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


class Sized:
    """One size's index, filled, then timed a batch at a time: the steps of ``run_size``.

    Kept apart so that ``--interleave`` can alternate sizes batch by batch, each in
    its own process (``--serve``), the others waiting.
    """

    def __init__(self, n: int, *, batch: int, repeats: int, seed: int, folder: Path) -> None:
        self.n, self.batch = n, batch
        self.path = folder / f"index-{n}.db"
        self.path.unlink(missing_ok=True)
        self.index = storyclust.StoryIndex(self.path)
        self.articles = stream(n + (repeats + 1) * batch + 1, seed=seed)
        self.rates: list[float] = []
        self.cpu: list[float] = []
        self.main_cpu: list[float] = []
        self.gold: list[int] = []
        self.ids: list[str] = []
        self.fill_s = self.gen_s = 0.0
        self.load_start = _loadavg()

    def fill(self) -> None:
        """Add the first `n` articles of the stream (the generation of the stream is not timed)."""
        t0 = time.perf_counter()
        filled = 0
        while filled < self.n:
            g = time.perf_counter()
            chunk = [next(self.articles) for _ in range(min(self.batch, self.n - filled))]
            self.gen_s += time.perf_counter() - g
            self.index.add(chunk)
            filled += len(chunk)
        self.fill_s = time.perf_counter() - t0 - self.gen_s
        self.index.save()

    def step(self, *, timed: bool = True) -> dict[str, float]:
        """Add the stream's next batch; its rate and CPU ms an article (process, calling thread)."""
        chunk = [next(self.articles) for _ in range(self.batch)]
        t, c, m = time.perf_counter(), time.process_time(), time.thread_time()
        self.index.add(chunk)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        dm = time.thread_time() - m
        out = {
            "rate": self.batch / dt,
            "cpu": dc / self.batch * 1e3,
            "main_cpu": dm / self.batch * 1e3,
        }
        if timed:  # else the warm-up
            self.rates.append(out["rate"])
            self.cpu.append(out["cpu"])
            self.main_cpu.append(out["main_cpu"])
            self.gold += [a["story"] for a in chunk]
            self.ids += [a["id"] for a in chunk]
        return out

    def finish(self) -> dict[str, Any]:
        """Time a query, check the stories, close and delete the file; the size's results."""
        index, path, n = self.index, self.path, self.n
        probe = next(self.articles)  # the next article of the stream: a realistic query
        t = time.perf_counter()
        for _ in range(20):
            index.query(probe)
        query_ms = (time.perf_counter() - t) / 20 * 1e3
        index.save()
        f1 = evaluate(self.gold, index.labels(self.ids))["pairwise_f1"]
        rates = self.rates
        out = {
            "n_held": n,
            "batch": self.batch,
            "add_articles_per_s_median": round(statistics.median(rates), 1),
            "add_articles_per_s_min": round(min(rates), 1),
            "add_articles_per_s_quartiles": [round(float(q), 1) for q in _quartiles(rates)],
            "add_articles_per_s_each": [round(x) for x in rates],
            "add_ms_per_article_median": round(1e3 / statistics.median(rates), 3),
            "add_cpu_ms_per_article_median": round(statistics.median(self.cpu), 3),
            "add_main_thread_cpu_ms_per_article_median": round(statistics.median(self.main_cpu), 3),
            "fill_articles_per_s": round(n / self.fill_s, 1),
            "query_ms": round(query_ms, 2),
            "peak_rss_mb": round(_rss_mb(), 1),
            "file_mb": round(_file_mb(path), 1),
            "file_kb_per_article": round(_file_mb(path) * 1e3 / len(index), 2),
            "stream_pairwise_f1": round(float(f1), 4),
            "generate_ms_per_article": round(self.gen_s / n * 1e3, 3),
            "loadavg_start_end": [self.load_start, _loadavg()],
        }
        index.close()
        path.unlink(missing_ok=True)
        return out


def run_size(n: int, *, batch: int, repeats: int, seed: int, folder: Path) -> dict[str, Any]:
    """Fill an index with `n` articles, then time adding more; one size, this process."""
    sized = Sized(n, batch=batch, repeats=repeats, seed=seed, folder=folder)
    sized.fill()
    for r in range(repeats + 1):
        sized.step(timed=r > 0)  # the first batch is the warm-up
    return sized.finish()


def serve(n: int, *, batch: int, repeats: int, seed: int, folder: Path) -> None:
    """Worker of ``--interleave``: fill, then one command a line on stdin, one JSON line back.

    ``warm`` and ``step`` add a batch (untimed, timed); ``finish`` reports and ends.
    """
    sized = Sized(n, batch=batch, repeats=repeats, seed=seed, folder=folder)
    sized.fill()
    print(json.dumps({"ready": n}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "finish":
            print(json.dumps(sized.finish()), flush=True)
            return
        print(json.dumps(sized.step(timed=cmd == "step")), flush=True)


def interleave(
    sizes: list[int], *, batch: int, repeats: int, seed: int, folder: Path
) -> list[dict[str, Any]]:
    """Every size in its own process, filled one after another, then timed batch by batch in turn.

    Round r times one batch of each size, starting with size ``r % len(sizes)``, while
    the other processes wait: a slow or fast spell of a shared machine falls on every
    size alike. Each size's row gets ``rate_vs_smallest_paired``: the median over the
    rounds of its rate over the smallest size's rate in the same round.
    """
    sizes = sorted(set(sizes))
    workers: list[subprocess.Popen[str]] = []
    try:
        for n in sizes:
            cmd = _worker("--serve", n, batch=batch, repeats=repeats, seed=seed, folder=folder)
            w = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            workers.append(w)
            _ask(w, None)  # filled: the next one fills alone
        for w in workers:
            _ask(w, "warm")
        per_round: list[list[float]] = []
        for r in range(repeats):
            rates = [0.0] * len(sizes)
            for k in range(len(sizes)):
                at = (r + k) % len(sizes)
                rates[at] = _ask(workers[at], "step")["rate"]
            per_round.append(rates)
        rows = [_ask(w, "finish") for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
            w.wait()
    for k, row in enumerate(rows):
        ratios = [each[k] / each[0] for each in per_round]
        row["rate_vs_smallest_paired"] = round(statistics.median(ratios), 3)
        row["rate_vs_smallest_paired_quartiles"] = [round(q, 3) for q in _quartiles(ratios)]
        row["interleaved"] = True
    return rows


def _worker(mode: str, n: int, *, batch: int, repeats: int, seed: int, folder: Path) -> list[str]:
    """The command line of this script as a worker for size `n` (`mode`: --one or --serve)."""
    return [
        *(sys.executable, __file__, mode, str(n), "--batch", str(batch), "--repeats", str(repeats)),
        *("--seed", str(seed), "--folder", str(folder)),
    ]


def _ask(worker: subprocess.Popen[str], cmd: str | None) -> dict[str, Any]:
    """Send `cmd` (None: nothing) to a ``--serve`` worker and read its JSON answer."""
    assert worker.stdin is not None and worker.stdout is not None
    if cmd is not None:
        worker.stdin.write(cmd + "\n")
        worker.stdin.flush()
    line = worker.stdout.readline()
    if not line:
        raise RuntimeError(f"bench_index worker ended early (exit code {worker.wait()})")
    answer: dict[str, Any] = json.loads(line)
    return answer


def main(argv: list[str] | None = None) -> int:
    """Run each size in its own process; print a table and write JSON and Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--large", action="store_true", help="also 1,000,000 articles")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folder", default=None, help="where the index files go (default: a temp dir)")
    ap.add_argument(
        "--interleave",
        action="store_true",
        help="time the sizes batch by batch in turn (each in its own process) instead of one after another",
    )
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # worker mode
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)  # --interleave's
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
    if args.serve is not None:
        serve(args.serve, batch=args.batch, repeats=args.repeats, seed=args.seed, folder=folder)
        return 0
    sizes = [*args.sizes, *([1_000_000] if args.large else [])]
    how = {"batch": args.batch, "repeats": args.repeats, "seed": args.seed, "folder": folder}
    if args.interleave:
        rows = interleave(sizes, **how)
    else:
        rows = []
        for n in sizes:
            cmd = _worker("--one", n, **how)
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
        "interleaved": bool(args.interleave),
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


def _paired(r: dict[str, Any]) -> str:
    """ "; paired r (q1-q3)" of a row of an interleaved run, or nothing."""
    p = r.get("rate_vs_smallest_paired")
    if p is None:
        return ""
    q = r["rate_vs_smallest_paired_quartiles"]
    return f" (paired {p}; {q[0]}-{q[1]})"


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
        f"({r['add_cpu_ms_per_article_median']}{_calling_thread(r)}) | {r['rate_vs_smallest']}{_paired(r)} "
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
