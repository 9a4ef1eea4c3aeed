"""Story quality on the labelled files: storyclust defaults beside the baselines.

Runs, on every labelled file (default ../shared/data/*.jsonl), in one process:

- storyclust.cluster with default settings (no per-file tuning);
- TF-IDF (1-2-gram) cosine + single-link (connected components), threshold chosen
  on each file itself from a grid (optimistic: it peeks at the answers);
- the same with average linkage (skipped above --max-dense articles);
- datasketch MinHash (128 perm, word 5-shingles) + MinHashLSH(threshold 0.5) +
  connected components, as a datasketch user would build it.

Prints pairwise P/R/F1, B-cubed F1, ARI and seconds per file and method, the
macro-average, sweeps of storyclust's ``threshold`` and other settings, and with
``--subsample`` its F1 on seeded corpora made of a share of each file's stories. Writes JSON and a
Markdown table (``--out``). Seeded and deterministic.

    python benchmarks/bench_quality.py --data ../shared/data --out benchmarks/results/quality \\
        --subsample 0.5 --readme README.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer

import storyclust
from storyclust.metrics import evaluate

GRID = [round(x, 2) for x in np.arange(0.02, 0.961, 0.02)]
# Each setting varied alone, the others at their defaults: how sensitive is each?
SWEEPS: dict[str, list[Any]] = {
    "threshold": [0.15, 0.2, 0.25, 0.3, 0.35, 0.4],
    "headline_weight": [0.0, 0.1, 0.2, 0.3, 0.4],
    "headline_only_weight": [0.2, 0.3, 0.4, 0.5],
    "names_weight": [0.0, 0.1, 0.2, 0.3],
    "time_window_days": [0.5, 1.0, 2.0, 4.0, float("inf")],
    "recut_cohesion": [0.0, 0.04, 0.06, 0.08, 0.1, 1.0],
    "recut_archive": [3.0, 3.4, 3.8, float("inf")],
}
KEYS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1", "ari")


def _texts(articles: Sequence[storyclust.Article]) -> list[str]:
    return [f"{a.title}\n{a.text}" for a in articles]


def _best(gold: list[Any], labelings: dict[float, np.ndarray]) -> tuple[float, dict[str, float]]:
    """The grid threshold with the best pairwise F1 (the oracle choice)."""
    scored = {t: evaluate(gold, lab) for t, lab in labelings.items()}
    t = max(scored, key=lambda k: (scored[k]["pairwise_f1"], -k))
    return t, scored[t]


def tfidf_single_link(articles: Sequence[storyclust.Article], gold: list[Any]) -> dict[str, Any]:
    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(_texts(articles))
    sim = sp.csr_matrix(x @ x.T)
    out = {}
    for t in GRID:
        g = sim.multiply(sim >= t)
        out[t] = connected_components(g, directed=False)[1]
    t, m = _best(gold, out)
    return {**m, "threshold": t}


def tfidf_average_link(articles: Sequence[storyclust.Article], gold: list[Any]) -> dict[str, Any]:
    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(_texts(articles))
    d = 1.0 - (x @ x.T).toarray()
    np.fill_diagonal(d, 0.0)
    z = linkage(squareform(np.clip(d, 0, 1), checks=False), method="average")
    out = {t: fcluster(z, t=1 - t, criterion="distance") for t in GRID}
    t, m = _best(gold, out)
    return {**m, "threshold": t}


def datasketch_lsh(articles: Sequence[storyclust.Article], gold: list[Any]) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    sigs = []
    for k, text in enumerate(_texts(articles)):
        toks = text.lower().split()
        sh = {" ".join(toks[i : i + 5]) for i in range(max(1, len(toks) - 4))}
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode("utf-8") for s in sh])
        lsh.insert(str(k), m)
        sigs.append(m)
    rows, cols = [], []
    for k, m in enumerate(sigs):
        for other in lsh.query(m):
            rows.append(k)
            cols.append(int(other))
    n = len(articles)
    g = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return evaluate(gold, connected_components(g, directed=False)[1])


def run_storyclust(
    articles: Sequence[storyclust.Article], gold: list[Any], **kw: Any
) -> dict[str, Any]:
    r = storyclust.cluster(articles, progress=False, **kw)
    m = evaluate(gold, r.labels)
    gold_max = max(np.unique(np.asarray(gold, dtype=str), return_counts=True)[1])
    return {
        **m,
        "largest_story": max(s.size for s in r.stories),
        "largest_gold_story": int(gold_max),
    }


def story_subsets(
    gold: npt.NDArray[np.str_], *, fraction: float, repeats: int, seed: int = 0
) -> Iterator[npt.NDArray[np.intp]]:
    """`repeats` seeded corpora, each the positions of the articles of a random
    `fraction` of the gold stories (at least one), in input order."""
    stories = np.unique(gold)
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        pick = rng.choice(stories, max(1, round(len(stories) * fraction)), replace=False)
        yield np.flatnonzero(np.isin(gold, pick))


def subsample_f1(
    articles: Sequence[storyclust.Article],
    gold: list[Any],
    *,
    fraction: float,
    repeats: int,
    seed: int = 0,
) -> dict[str, Any]:
    """storyclust's pairwise F1 (defaults) on `repeats` corpora, each the articles of a
    random `fraction` of the gold stories (seeded): how the defaults hold on corpora of
    another size, as held-out data may be."""
    g = np.asarray(gold, dtype=str)
    f1 = [
        run_storyclust([articles[int(i)] for i in idx], g[idx].tolist())["pairwise_f1"]
        for idx in story_subsets(g, fraction=fraction, repeats=repeats, seed=seed)
    ]
    return {
        "fraction": fraction,
        "repeats": repeats,
        "seed": seed,
        "pairwise_f1": f1,
        "mean": float(np.mean(f1)),
        "min": float(np.min(f1)),
        "max": float(np.max(f1)),
    }


def _largest(v: dict[str, Any], r: dict[str, Any]) -> str:
    """'largest (gold largest)' for storyclust rows, the gold largest alone for the others."""
    if "largest_story" in v:
        return f"{v['largest_story']} (gold {v['largest_gold_story']})"
    return ""


def timed(fn: Callable[..., dict[str, Any]], *args: Any, **kw: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--files", nargs="*", help="file stems (default: every *.jsonl)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "quality"))
    ap.add_argument(
        "--max-dense", type=int, default=7000, help="skip average-linkage baseline above this"
    )
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--sweep", default=",".join(SWEEPS), help="settings to sweep (comma-separated)")
    ap.add_argument(
        "--subsample",
        nargs="*",
        type=float,
        default=[],
        help="also storyclust's F1 on corpora of these fractions of each file's stories",
    )
    ap.add_argument("--repeats", type=int, default=8, help="corpora per subsample fraction")
    ap.add_argument(
        "--readme", help="also write the table into this README between its quality-table markers"
    )
    args = ap.parse_args(argv)

    data = Path(args.data)
    files = (
        [data / f"{s}.jsonl" for s in args.files] if args.files else sorted(data.glob("*.jsonl"))
    )
    results: dict[str, dict[str, Any]] = {}
    for path in files:
        arts = storyclust.read_jsonl(path)
        gold = [a.extra["story"] for a in arts]
        res: dict[str, Any] = {"n_articles": len(arts), "n_stories": len(set(gold))}
        res["storyclust"] = timed(run_storyclust, arts, gold)
        if not args.no_baselines:
            res["tfidf_single_oracle"] = timed(tfidf_single_link, arts, gold)
            if len(arts) <= args.max_dense:
                res["tfidf_average_oracle"] = timed(tfidf_average_link, arts, gold)
            res["datasketch_lsh_cc"] = timed(datasketch_lsh, arts, gold)
        if not args.no_sweep:
            res["sweeps"] = {
                name: {
                    str(v): run_storyclust(arts, gold, **{name: v})["pairwise_f1"]
                    for v in SWEEPS[name]
                }
                for name in args.sweep.split(",")
            }
        if args.subsample:
            res["subsample"] = [
                subsample_f1(arts, gold, fraction=f, repeats=args.repeats) for f in args.subsample
            ]
        results[path.stem] = res
        print(
            f"{path.stem}: storyclust pairwise F1 {res['storyclust']['pairwise_f1']:.3f}",
            file=sys.stderr,
        )

    methods = ["storyclust", "tfidf_single_oracle", "tfidf_average_oracle", "datasketch_lsh_cc"]
    macro = {}
    for m in methods:
        vals = [r[m] for r in results.values() if m in r]
        if vals and len(vals) == len(results):
            macro[m] = {k: float(np.mean([v[k] for v in vals])) for k in KEYS}
    payload = {
        "storyclust_version": storyclust.__version__,
        "python": platform.python_version(),
        "settings": "defaults",
        "files": results,
        "macro": macro,
    }
    lines = [
        "| file | method | pairwise P | pairwise R | pairwise F1 | B-cubed F1 | ARI | largest story | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for m in methods:
            if m not in r:
                continue
            v = r[m]
            label = m + (f" (t={v['threshold']})" if "threshold" in v else "")
            big = _largest(v, r)
            lines.append(
                f"| {name} | {label} | {v['pairwise_precision']:.3f} | {v['pairwise_recall']:.3f} | "
                f"**{v['pairwise_f1']:.3f}** | {v['bcubed_f1']:.3f} | {v['ari']:.3f} | {big} | {v['seconds']} |"
                if m == "storyclust"
                else f"| {name} | {label} | {v['pairwise_precision']:.3f} | {v['pairwise_recall']:.3f} | "
                f"{v['pairwise_f1']:.3f} | {v['bcubed_f1']:.3f} | {v['ari']:.3f} | {big} | {v['seconds']} |"
            )
    for m, v in macro.items():
        lines.append(
            f"| macro-average | {m} | {v['pairwise_precision']:.3f} | {v['pairwise_recall']:.3f} | "
            f"{v['pairwise_f1']:.3f} | {v['bcubed_f1']:.3f} | {v['ari']:.3f} | | |"
        )
    if not args.no_sweep:
        for name in args.sweep.split(","):
            values = SWEEPS[name]
            lines += [
                "",
                f"storyclust pairwise F1 by `{name}` (other settings default):",
                "",
                "| file | " + " | ".join(map(str, values)) + " |",
                "|---|" + "---|" * len(values),
            ]
            for fname, r in results.items():
                lines.append(
                    f"| {fname} | "
                    + " | ".join(f"{r['sweeps'][name][str(v)]:.3f}" for v in values)
                    + " |"
                )
    for k, fraction in enumerate(args.subsample):
        lines += [
            "",
            f"storyclust pairwise F1 (defaults) on {args.repeats} corpora of a random {fraction:g} "
            "of each file's stories (seeded): mean (lowest to highest):",
            "",
            "| file | mean | lowest | highest |",
            "|---|---|---|---|",
        ]
        for fname, r in results.items():
            v = r["subsample"][k]
            lines.append(f"| {fname} | {v['mean']:.3f} | {v['min']:.3f} | {v['max']:.3f} |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    out.with_suffix(".md").write_text(table + "\n")
    if args.readme:
        _fill_readme(Path(args.readme), results, macro, methods)
    return 0


def _fill_readme(
    path: Path,
    results: dict[str, dict[str, Any]],
    macro: dict[str, dict[str, float]],
    methods: list[str],
) -> None:
    """Replace the table between <!-- quality-table --> markers with the figures of this run."""
    rows = [
        "| file | method | pairwise P | pairwise R | pairwise F1 | B-cubed F1 | ARI | largest story |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for m in methods:
            if m in r:
                v = r[m]
                label = m + (f" (t={v['threshold']})" if "threshold" in v else "")
                f1 = (
                    f"**{v['pairwise_f1']:.3f}**"
                    if m == "storyclust"
                    else f"{v['pairwise_f1']:.3f}"
                )
                rows.append(
                    f"| {name} | {label} | {v['pairwise_precision']:.3f} | {v['pairwise_recall']:.3f} | "
                    f"{f1} | {v['bcubed_f1']:.3f} | {v['ari']:.3f} | {_largest(v, r)} |"
                )
    for m, v in macro.items():
        rows.append(
            f"| macro-average | {m} | {v['pairwise_precision']:.3f} | {v['pairwise_recall']:.3f} | "
            f"{v['pairwise_f1']:.3f} | {v['bcubed_f1']:.3f} | {v['ari']:.3f} | |"
        )
    text = path.read_text()
    start, end = "<!-- quality-table -->", "<!-- /quality-table -->"
    a, b = text.index(start) + len(start), text.index(end)
    path.write_text(text[:a] + "\n" + "\n".join(rows) + "\n" + text[b:])


if __name__ == "__main__":
    sys.exit(main())
