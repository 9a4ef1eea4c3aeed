"""Other ways to cut storyclust's linkage groups, scored on the labelled files.

storyclust cuts each group of linked articles (the components of the links at
``threshold``) by average linkage over the exact pair scores, at ``threshold``.
This script scores the same groups, with the same pair scores, cut other ways,
so that rules meant to keep stories small (README: the AllSides probe file, whose
largest story holds 90 articles against a gold largest of 3) are measured on
every file at once:

- ``threshold t``: the same dendrogram cut higher (exact: the groups at the
  default threshold hold those at any higher one);
- ``size-aware b, m0``: a story of m > m0 articles must have a mean pair score
  of at least ``threshold + b * log2(m / m0)``, or it is split into the two
  clusters its last merge joined (and so on down);
- ``contrast rho (ref)``: a merge of clusters A and B at average score h is
  refused if ``h < rho * ref``, ref being the mean pair score inside A and B
  (``min`` or ``max`` of the two, or ``pooled`` over both; clusters of one
  article have none); a refused merge refuses every merge above it. It asks
  that a story be as close to its new part as each part is to itself.

Also measured (``--idf``): TF-IDF with the IDF raised to a power p (p > 1
favours rare terms), as nearest-neighbour hit rate with scikit-learn's
vectoriser: does favouring rare words tell a story from its running issue?

Prints a table of pairwise F1 and largest story per file and rule; writes JSON
and Markdown (``--out``). Deterministic (the pipeline's default seed).

    python benchmarks/cut_rules.py --data ../shared/data --out benchmarks/results/cut_rules
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_quality import story_subsets
from scipy.spatial.distance import squareform

import storyclust
from storyclust.links import find_candidates, score_links
from storyclust.metrics import evaluate
from storyclust.pipeline import _canonical_order
from storyclust.settings import Settings
from storyclust.similarity import average_linkage, flat_clusters
from storyclust.stages import GroupScores, corpus_features
from storyclust.stories import _cut_distance, group_links

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Cut = Callable[[F64, float, npt.NDArray[np.bool_]], I64]
BASE = "storyclust (average linkage)"  # the plain cut, which every other rule is set against


def groups(articles: Sequence[storyclust.Article], settings: Settings) -> tuple[list[Any], I64]:
    """Every linkage group of two or more articles, with its pair scores (canonical order).

    The groups and scores :func:`storyclust.cluster` cuts with `settings`, taken
    as its stories stage asks for them (:func:`storyclust.stages.partition`'s call
    of :func:`storyclust.stories.group_links`). Returns ``[(members, scores as a
    float32 matrix, undated mask), ...]`` and the canonical order.
    """
    order = _canonical_order(articles)
    canon = [articles[int(p)] for p in order]
    feats = corpus_features(canon, settings)
    links = score_links(feats, find_candidates(feats, settings), settings)
    scores = GroupScores(feats, links, settings)
    undated = np.isnan(feats.days)
    out: list[Any] = []

    def dense(members: I64) -> F64:
        sim = scores(members)
        out.append((members.copy(), sim.astype(np.float32), undated[members]))
        return sim

    def condensed(members: I64) -> F64:
        flat = scores.condensed(members)
        sim = squareform(flat, checks=False).astype(np.float32)
        out.append((members.copy(), sim, undated[members]))
        return flat

    group_links(
        len(canon),
        links,
        threshold=settings.threshold,
        method=settings.linkage,
        max_component_size=settings.max_component_size,
        similarity=dense,
        condensed=condensed,
        groups=scores.component,
    )
    return out, order


def _dendrogram(sim: F64) -> F64:
    flat = squareform(np.asarray(sim, dtype=np.float64), checks=False)
    np.clip(1.0 - flat, 0.0, 1.0, out=flat)
    z: F64 = average_linkage(flat, len(sim))
    return z


def plain(sim: F64, t: float, undated: npt.NDArray[np.bool_] | None = None) -> I64:
    """storyclust's own cut: average linkage at `t` (cluster numbers from 1)."""
    if len(sim) == 2:
        return np.array([1, 1] if sim[0, 1] >= t - 1e-12 else [1, 2], dtype=np.int64)
    return flat_clusters(_dendrogram(sim), len(sim), _cut_distance(t))


def _tree(z: F64, m: int, undated: npt.NDArray[np.bool_]) -> tuple[F64, F64, F64, I64, I64]:
    """Per node: size, sum of the pair scores inside, undated articles, children (leaves: -1)."""
    n = 2 * m - 1
    size, inside = np.ones(n), np.zeros(n)
    n_undated = np.r_[undated.astype(np.float64), np.zeros(m - 1)]
    left, right = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    for k, (a, b, dist, _) in enumerate(z):
        a, b, me = int(a), int(b), m + k
        size[me] = size[a] + size[b]
        inside[me] = inside[a] + inside[b] + (1.0 - dist) * size[a] * size[b]
        n_undated[me] = n_undated[a] + n_undated[b]
        left[me], right[me] = a, b
    return size, inside, n_undated, left, right


def _highest(accept: npt.NDArray[np.bool_], left: I64, right: I64, m: int) -> I64:
    """Cluster numbers from 1: the highest accepted nodes, walking down from the root
    through the nodes not accepted (leaves always are)."""
    lab = np.zeros(m, dtype=np.int64)
    tops, stack = [], [2 * m - 2]
    while stack:
        x = stack.pop()
        if x < m or accept[x]:
            tops.append(x)
        else:
            stack += [int(left[x]), int(right[x])]
    for c, top in enumerate(tops, start=1):
        stack = [top]
        while stack:
            x = stack.pop()
            if x < m:
                lab[x] = c
            else:
                stack += [int(left[x]), int(right[x])]
    return lab


def size_aware(b: float, m0: int, gate: str = "all") -> Cut:
    """Split, top down, every story of m > m0 whose mean pair score is under t + b log2(m/m0).

    `gate`: to which stories the rule applies: ``"all"``; ``"undated"``, those with
    no dated article; ``"mostly undated"``, those with more undated articles than dated.
    """

    def cut(sim: F64, t: float, undated: npt.NDArray[np.bool_]) -> I64:
        m = len(sim)
        if m <= 2:
            return plain(sim, t)
        z = _dendrogram(sim)
        size, inside, n_undated, left, right = _tree(z, m, undated)
        share = n_undated / size
        applies = {"all": share >= 0, "undated": share == 1, "mostly undated": share > 0.5}[gate]
        need = t + np.where((size > m0) & applies, b * np.log2(size / m0), 0.0)
        mean = inside / np.maximum(size * (size - 1) / 2, 1.0)
        height = np.r_[np.ones(m), 1.0 - z[:, 2]]
        return _highest((height >= t - 1e-12) & (mean >= need - 1e-12), left, right, m)

    return cut


def contrast(rho: float, ref: str) -> Cut:
    """Refuse a merge whose score is under `rho` times its parts' own mean score (bottom up)."""

    def cut(sim: F64, t: float, undated: npt.NDArray[np.bool_]) -> I64:
        m = len(sim)
        if m <= 2:
            return plain(sim, t)
        z = _dendrogram(sim)
        size, inside, _, left, right = _tree(z, m, undated)
        ok = np.ones(2 * m - 1, dtype=bool)
        for k in range(m - 1):
            me, a, b = m + k, int(left[m + k]), int(right[m + k])
            h = 1.0 - z[k, 2]
            good = bool(ok[a] and ok[b] and h >= t - 1e-12)
            parts = [x for x in (a, b) if size[x] >= 2]
            if good and parts:
                pairs = [size[x] * (size[x] - 1) / 2 for x in parts]
                means = [inside[x] / p for x, p in zip(parts, pairs)]
                level = {
                    "min": min(means),
                    "max": max(means),
                    "pooled": sum(inside[x] for x in parts) / sum(pairs),
                }[ref]
                good = h >= rho * level
            ok[me] = good
        return _highest(ok, left, right, m)

    return cut


def labels(pieces: list[Any], n: int, cut: Cut, t: float) -> I64:
    """A story number per article (canonical order) from each group cut by `cut`."""
    out = np.arange(n, dtype=np.int64) + n  # articles in no group stand alone
    nxt = 0
    for piece, sim, undated in pieces:
        sub = cut(sim, t, undated)
        out[piece] = nxt + sub - 1
        nxt += int(sub.max())
    return out


def rules(
    threshold: float, bs: Sequence[float] | None = None, m0s: Sequence[int] | None = None
) -> dict[str, tuple[Cut, float]]:
    out: dict[str, tuple[Cut, float]] = {BASE: (plain, threshold)}
    for t in (0.3, 0.35, 0.4, 0.45, 0.5):
        out[f"threshold {t}"] = (plain, t)
    for b, m0 in ((0.05, 8), (0.1, 8), (0.05, 4), (0.1, 4)):
        out[f"size-aware b={b}, m0={m0}"] = (size_aware(b, m0), threshold)
    for gate in ("undated", "mostly undated"):
        for b, m0 in itertools.product(bs or (0.04, 0.06, 0.08, 0.1, 0.15), m0s or (4, 8, 12)):
            out[f"size-aware b={b}, m0={m0}, {gate}"] = (size_aware(b, m0, gate), threshold)
    for ref in ("min", "pooled", "max"):
        for rho in (0.7, 0.75, 0.8, 0.85):
            out[f"contrast rho={rho} ({ref})"] = (contrast(rho, ref), threshold)
    return out


def idf_power_hits(articles: Sequence[storyclust.Article], gold: list[Any]) -> dict[str, float]:
    """Share of articles whose nearest TF-IDF neighbour is in their story, IDF raised to p."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import pairwise_distances_chunked

    def nearest(dist: F64, start: int) -> I64:
        dist[np.arange(len(dist)), np.arange(start, start + len(dist))] = np.inf  # not itself
        out: I64 = dist.argmin(axis=1)
        return out

    g = np.asarray(gold, dtype=str)
    vec = TfidfVectorizer(sublinear_tf=True, norm=None)
    x = vec.fit_transform([f"{a.title}\n{a.text}" for a in articles])
    out = {}
    for p in (0.5, 1.0, 1.5, 2.0, 3.0):
        xp = sp.csr_matrix(x.multiply(vec.idf_ ** (p - 1.0)))
        chunks = pairwise_distances_chunked(xp, metric="cosine", reduce_func=nearest)
        best = np.concatenate(list(chunks))
        out[str(p)] = round(float((g[best] == g).mean()), 4)
    return out


def score_rules(
    articles: Sequence[storyclust.Article],
    gold_in: Sequence[Any],
    settings: Settings,
    chosen: dict[str, tuple[Cut, float]],
) -> dict[str, dict[str, float]]:
    """Pairwise F1, B-cubed F1 and largest story of every rule in `chosen` on one corpus."""
    pieces, order = groups(articles, settings)
    gold = [gold_in[int(p)] for p in order]
    out = {}
    for name, (cut, t) in chosen.items():
        lab = labels(pieces, len(articles), cut, t)
        m = evaluate(gold, lab)
        out[name] = {
            "pairwise_f1": m["pairwise_f1"],
            "bcubed_f1": m["bcubed_f1"],
            "largest": int(np.unique(lab, return_counts=True)[1].max()),
        }
    return out


def subsample(
    articles: Sequence[storyclust.Article],
    gold: Sequence[Any],
    settings: Settings,
    chosen: dict[str, tuple[Cut, float]],
    *,
    fraction: float,
    repeats: int,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """How each rule's pairwise F1 moves against the plain cut on smaller corpora.

    `repeats` corpora, each the articles of a random `fraction` of the gold
    stories (seeded). Per rule: the mean, lowest and highest change of pairwise
    F1 against ``storyclust (average linkage)``, and in how many it rose or fell
    by more than 0.001.
    """
    g = np.asarray(gold, dtype=str)
    diffs: dict[str, list[float]] = {name: [] for name in chosen}
    for idx in story_subsets(g, fraction=fraction, repeats=repeats, seed=seed):
        scored = score_rules([articles[int(i)] for i in idx], g[idx].tolist(), settings, chosen)
        base = scored[BASE]["pairwise_f1"]
        for name in chosen:
            diffs[name].append(scored[name]["pairwise_f1"] - base)
    return {
        name: {
            "mean": float(np.mean(d)),
            "min": float(np.min(d)),
            "max": float(np.max(d)),
            "rose": int(np.sum(np.array(d) > 0.001)),
            "fell": int(np.sum(np.array(d) < -0.001)),
        }
        for name, d in diffs.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--files", nargs="*", help="file stems (default: every *.jsonl)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "cut_rules"))
    ap.add_argument("--idf", action="store_true", help="also the IDF-power neighbour check")
    ap.add_argument("--only", help="only the rules whose name contains this")
    ap.add_argument("--b", nargs="*", type=float, help="size-aware b values (default: a grid)")
    ap.add_argument("--m0", nargs="*", type=int, help="size-aware m0 values (default: a grid)")
    ap.add_argument(
        "--subsample",
        nargs="*",
        type=float,
        default=[],
        help="also score the rules on random fractions of each file's stories (e.g. 0.2 0.5)",
    )
    ap.add_argument("--repeats", type=int, default=12, help="corpora per subsample fraction")
    args = ap.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    files = labelled_files(args.data, args.files)
    settings = Settings()
    chosen = {
        name: rule
        for name, rule in rules(settings.threshold, args.b, args.m0).items()
        if not args.only or args.only in name or name == BASE
    }
    table: dict[str, dict[str, dict[str, float]]] = {}
    hits: dict[str, dict[str, float]] = {}
    moves: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for path in files:
        arts = storyclust.read_jsonl(path)
        gold_in = [a.extra["story"] for a in arts]
        gold_max = int(np.unique(np.asarray(gold_in, dtype=str), return_counts=True)[1].max())
        table[path.stem] = {"gold largest": {"largest": gold_max}}
        table[path.stem].update(score_rules(arts, gold_in, settings, chosen))
        for frac in args.subsample:
            moves.setdefault(str(frac), {})[path.stem] = subsample(
                arts, gold_in, settings, chosen, fraction=frac, repeats=args.repeats
            )
        if args.idf:
            hits[path.stem] = idf_power_hits(arts, gold_in)
        print(f"{path.stem}: done", file=sys.stderr)

    stems = list(table)
    names = list(chosen)
    lines = [
        f"Produced by `python benchmarks/cut_rules.py {' '.join(given)}`.",
        "",
        "Pairwise F1 / largest story, per file (gold largest story in the header).",
        "",
        "| rule | "
        + " | ".join(f"{s} ({table[s]['gold largest']['largest']})" for s in stems)
        + " |",
        "|---|" + "---|" * len(stems),
    ]
    for name in names:
        cells = [
            f"{table[s][name]['pairwise_f1']:.3f} / {table[s][name]['largest']}" for s in stems
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for frac, per_file in moves.items():
        lines += [
            "",
            f"Change of pairwise F1 against the plain cut on {args.repeats} corpora of a random "
            f"{frac} of each file's stories: mean (lowest to highest; rose / fell):",
            "",
            "| rule | " + " | ".join(per_file) + " |",
            "|---|" + "---|" * len(per_file),
        ]
        for name in names:
            if name == BASE:
                continue
            cells = [
                f"{v['mean']:+.3f} ({v['min']:+.3f} to {v['max']:+.3f}; {v['rose']} / {v['fell']})"
                for v in (per_file[s][name] for s in per_file)
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if hits:
        ps = list(next(iter(hits.values())))
        lines += ["", "Nearest TF-IDF neighbour in the same story, IDF raised to p:", ""]
        lines += ["| file | " + " | ".join(f"p={p}" for p in ps) + " |", "|---|" + "---|" * len(ps)]
        lines += [
            f"| {s} | " + " | ".join(f"{h[p]:.3f}" for p in ps) + " |" for s, h in hits.items()
        ]
    extra = {
        "files": table,
        "subsample": {"repeats": args.repeats, "seed": 0, "fractions": moves},
        "idf_power_nearest_neighbour_hits": hits,
    }
    write_results(Path(args.out), "\n".join(lines) + "\n", settings, given, extra)
    return 0


def labelled_files(data: str, stems: Sequence[str] | None) -> list[Path]:
    """The labelled files to score: `stems` in `data` (``.jsonl``), or every ``*.jsonl`` there."""
    folder = Path(data)
    return [folder / f"{s}.jsonl" for s in stems] if stems else sorted(folder.glob("*.jsonl"))


def write_results(
    out: Path, md: str, settings: Settings, given: Sequence[str], extra: dict[str, Any]
) -> None:
    """Print the Markdown; write it and a JSON of the run (version, settings, arguments, `extra`)."""
    print(md)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "storyclust_version": storyclust.__version__,
        "python": platform.python_version(),
        "settings": settings.to_dict(),
        "args": list(given),
        **extra,
    }
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    out.with_suffix(".md").write_text(md)


if __name__ == "__main__":
    raise SystemExit(main())
