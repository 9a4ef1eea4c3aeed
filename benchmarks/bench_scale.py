"""Scale benchmark: storyclust.cluster and storyclust.ray.cluster on a seeded synthetic corpus.

Each measurement runs in its own process (so peak memory, ``ru_maxrss``, is that
run's alone): the single-machine pipeline, then the Ray path with 1 and 2 worker
CPUs on the same corpus. Reported per run: wall time per stage, peak resident
memory of the (driver) process, candidate pairs and links per article, ARI
against the reprint families of the generator, and whether the Ray stories equal
the single-machine ones. Corpus generation is not timed.

    python benchmarks/bench_scale.py                 # 10k
    python benchmarks/bench_scale.py --sizes 10000 100000
    python benchmarks/bench_scale.py --sizes 1000000 --no-ray

Writes benchmarks/results/scale.json and scale.md. One run a configuration (a
100k run takes minutes); the seed fixes the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))


def _peak_mib() -> float:
    """Peak resident memory of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _corpus(n: int, seed: int, workdir: Path) -> tuple[Path, Path, float]:
    """The corpus as a JSONL file and its families as .npy, made once per (n, seed)."""
    from scale_corpus import write_corpus

    path = workdir / f"synthetic_{n}_{seed}.jsonl"
    fam = workdir / f"synthetic_{n}_{seed}.family.npy"
    if path.exists() and fam.exists():
        return path, fam, 0.0
    t0 = time.perf_counter()
    family = write_corpus(path, n, seed=seed)
    np.save(fam, family)
    return path, fam, time.perf_counter() - t0


def _child_single(n: int, seed: int, labels_path: str, corpus: str, family: str) -> dict[str, Any]:
    """One single-machine run (in a child process): read the JSONL file, then cluster."""
    import storyclust
    from storyclust import pipeline
    from storyclust.metrics import evaluate

    counted: dict[str, int] = {}
    find = pipeline.find_candidates

    def counting(features: Any, settings: Any) -> Any:
        pairs = find(features, settings)
        counted["candidates"] = len(pairs)
        return pairs

    pipeline.find_candidates = counting  # type: ignore[assignment]
    # Compile (or load the cached) numba kernels first: a user pays that once.
    t0 = time.perf_counter()
    with open(corpus, encoding="utf-8") as f:
        head = [json.loads(line) for _, line in zip(range(200), f)]
    storyclust.cluster(head, progress=False)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    articles = storyclust.read_articles(corpus)
    read = time.perf_counter() - t0
    read_mib = _peak_mib()
    t0 = time.perf_counter()
    result = storyclust.cluster(articles, progress=False)
    wall = time.perf_counter() - t0
    # The peak of reading and clustering, before the benchmark's own evaluation.
    peak = _peak_mib()
    np.save(labels_path, result.labels)
    q = evaluate(np.load(family), result.labels)
    return {
        "engine": "single",
        "workers": 2,
        "n": n,
        "wall_s": read + wall,
        "stages_s": {"read": read, **result.timings},
        "peak_mib": peak,
        "peak_after_read_mib": read_mib,
        "peak_with_evaluation_mib": _peak_mib(),
        "warm_up_s": warm,
        "candidates_per_article": counted.get("candidates", 0) / n,
        "links_per_article": len(result.link_arrays) / n,
        "n_stories": int(result.labels.max() + 1) if n else 0,
        "ari": q["ari"],
    }


def _child_ray(n: int, seed: int, workers: int, labels_path: str, corpus: str) -> dict[str, Any]:
    """One Ray run with `workers` CPUs (in a child process)."""
    import ray

    import storyclust.ray as sray
    from storyclust.settings import Settings

    path = Path(corpus)
    file_ids = [json.loads(line)["id"] for line in path.open(encoding="utf-8")]
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    init = time.perf_counter() - t0
    ray.data.DataContext.get_current().enable_progress_bars = False
    from ray.data.context import DataContext, ShuffleStrategy

    DataContext.get_current().shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    timings: dict[str, float] = {}
    stats: dict[str, float] = {}
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    ds = ray.data.read_json(str(path), lines=True)
    ids, labels = sray._stories(ds, Settings(), 1024, None, timings, stats)
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    ray.shutdown()
    pos = {i: k for k, i in enumerate(ids)}
    in_order = np.array([labels[pos[i]] for i in file_ids], dtype=np.int64)
    np.save(labels_path, in_order)
    return {
        "engine": "ray",
        "workers": workers,
        "n": n,
        "wall_s": wall,
        "ray_init_s": init,
        "stages_s": timings,
        "peak_mib": _peak_mib(),
        "n_stories": int(in_order.max() + 1) if n else 0,
        "work": stats,
        # Other jobs share the machine: the 1-minute load average before and after.
        "load_avg": [round(load_before[0], 2), round(load_after[0], 2)],
    }


def _run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child and return its JSON line."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RAY_DEDUP_LOGS": "0", "TQDM_DISABLE": "1"},
    )
    if out.returncode:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _table(rows: list[dict[str, Any]]) -> str:
    stages = sorted({k for r in rows for k in r["stages_s"]}, key=lambda k: k)
    head = "| engine | CPUs | n | wall s | ms / article | peak MiB (driver) | cand. / art. | same stories | ARI | stages (s) |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        st = ", ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
        lines.append(
            f"| {r['engine']} | {r['workers']} | {r['n']:,} | {r['wall_s']:.1f} | "
            f"{1000 * r['wall_s'] / r['n']:.2f} | {r['peak_mib']:.0f} | "
            f"{r.get('candidates_per_article', float('nan')):.1f} | {r.get('same_as_single', '')} | "
            f"{r.get('ari', float('nan')):.3f} | {st} |"
        )
    del stages
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ray-workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "scale")
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        help="keep the generated corpora here and reuse them (default: a temporary directory)",
    )
    args = parser.parse_args()
    if args.child:
        kind, n, seed, path, corpus, *rest = args.child
        if kind == "single":
            res = _child_single(int(n), int(seed), path, corpus, rest[0])
        else:
            res = _child_ray(int(n), int(seed), int(rest[0]), path, corpus)
        print(json.dumps(res))
        return

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            workdir = args.corpus_dir or Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            corpus, family, made = _corpus(n, args.seed, workdir)
            print(f"corpus of {n:,}: {corpus} ({made:.0f} s to generate)", flush=True)
            single_path = str(Path(tmp) / f"single{n}.npy")
            single = _run_child(
                ["single", str(n), str(args.seed), single_path, str(corpus), str(family)]
            )
            rows.append(single)
            print(_table([single]).splitlines()[-1], flush=True)
            if args.no_ray:
                continue
            base = np.load(single_path)
            for w in args.ray_workers:
                p = str(Path(tmp) / f"ray{n}_{w}.npy")
                r = _run_child(["ray", str(n), str(args.seed), p, str(corpus), str(w)])
                r["same_as_single"] = _same_partition(base, np.load(p))
                r["overhead_x"] = r["wall_s"] / single["wall_s"]
                rows.append(r)
                print(_table([r]).splitlines()[-1], flush=True)
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "seed": args.seed,
        "note": "one run a configuration; generation not timed; Ray wall time excludes ray.init",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2))
    md = [
        "# Scale benchmark",
        "",
        f"`python benchmarks/bench_scale.py --sizes {' '.join(map(str, args.sizes))}` on "
        f"{meta['cpus']} CPUs ({meta['machine']}); seed {args.seed}; one run a configuration.",
        "",
        _table(rows),
        "",
        "Ray overhead over single-machine (wall time ratio): "
        + ", ".join(
            f"{r['n']:,} articles, {r['workers']} CPU(s): {r['overhead_x']:.2f}x"
            for r in rows
            if "overhead_x" in r
        ),
        "",
        *[
            f"- Ray, {r['n']:,} articles, {r['workers']} CPU(s): load average "
            f"{r['load_avg'][0]} -> {r['load_avg'][1]}; "
            + ", ".join(f"{k} {v:,.0f}" for k, v in r.get("work", {}).items())
            for r in rows
            if r["engine"] == "ray"
        ],
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md))
    print(f"wrote {args.out.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
