"""Large undated stories re-cut by the rarity of their words inside the story.

On the undated AllSides probe, storyclust's stories run together into their running
issues (weekly jobless claims, a confirmation fight, North Korea talks: largest story
90 against a gold largest of 3). Inside such a story, the words every member shares
("jobless", "claims") say nothing about which week a report is about; what is left
(the figures, the names of the week) does. This script measures a re-cut of large
stories that weighs each term again by its IDF among the story's own articles:

- :func:`storyclust.stories.recut_undated` (the ``recut_size`` setting): each story
  of storyclust's own cut (:func:`cut_rules.groups`, average linkage at
  ``threshold``) of at least ``size`` articles, at least half of them undated and
  fewer than half headlines alone, is cut again by average linkage at ``recut`` over
  the cosines of its TF-IDF rows weighed again by the terms' IDF among its own
  articles (:func:`storyclust.stories.local_idf_cosines`);
- a story of m articles is re-cut only when its
  :func:`storyclust.stories.local_cohesion` (the mean of those cosines over its
  pairs) is below ``cohesion * sqrt(max(m, 10) / 10)`` (``recut_cohesion``: one
  event told in detail stays whole; 1 re-cuts every story that qualifies);
- the re-cut is kept only when no piece holds more than ``rho`` of the story (one
  event with a few outlying reports stays whole);
- unless the corpus is read as an archive of running issues (``recut_archive``): at
  least 5 stories qualify and the median of their
  :func:`storyclust.stories.separation` (how much more alike a story's articles are
  inside the re-cut's pieces than across them) is at least ``archive``; then every
  qualifying story is re-cut, whatever its cohesion and largest piece.

Every file is scored whole and, with ``--subsample``, on ``--repeats`` seeded corpora
of a fraction of its stories, beside the plain cut at higher thresholds; the AllSides
crawl and UCI are also scored with their dates removed (the crawl then runs together
as the probe does), and ECB+ cut down to its leads (the title and the first sentences
of the text, 25 to 60 words: one-event stories as short as the probe's, to check that
text length alone does not make a corpus read as an archive). The median separation of
each corpus is reported. Prints a table; writes JSON and Markdown (``--out``).
Deterministic.

    python benchmarks/local_idf.py --data ../shared/data --subsample 0.5 0.2
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import storyclust
from storyclust.metrics import evaluate
from storyclust.settings import Settings
from storyclust.stories import recut_plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cut_rules
from bench_quality import story_subsets

I64 = npt.NDArray[np.int64]

#: name -> ("threshold", t): the plain cut at t (no re-cut), or
#: ("recut", size, recut, rho, cohesion, archive): the plain cut at the pipeline's threshold,
#: then :func:`storyclust.stories.recut_plan` (``recut_size``, ``recut_threshold``,
#: ``max_share``, ``recut_cohesion``) and its choice at ``recut_archive``
INF = float("inf")
VARIANTS: dict[str, tuple[Any, ...]] = {
    "storyclust (re-cut size 10, cohesion 0.06, archive 3.4)": ("recut", 10, 0.15, 0.5, 0.06, 3.4),
    "no re-cut (threshold 0.25)": ("threshold", 0.25),
    "threshold 0.35": ("threshold", 0.35),
    "threshold 0.4": ("threshold", 0.4),
    "no archive reading (cohesion 0.06 alone)": ("recut", 10, 0.15, 0.5, 0.06, INF),
    "archive 3.0": ("recut", 10, 0.15, 0.5, 0.06, 3.0),
    "archive 3.8": ("recut", 10, 0.15, 0.5, 0.06, 3.8),
    "re-cut size 10, cohesion 0.05": ("recut", 10, 0.15, 0.5, 0.05, INF),
    "re-cut size 10, cohesion 0.07": ("recut", 10, 0.15, 0.5, 0.07, INF),
    "re-cut size 10, cohesion 0.08": ("recut", 10, 0.15, 0.5, 0.08, INF),
    "re-cut size 6, cohesion 0.06": ("recut", 6, 0.15, 0.5, 0.06, INF),
    "re-cut size 10, cohesion 1": ("recut", 10, 0.15, 0.5, 1.0, INF),
    "re-cut size 10, cohesion 1, rho 1": ("recut", 10, 0.15, 1.0, 1.0, INF),
    "re-cut size 10, cohesion 1, at 0.2": ("recut", 10, 0.2, 0.5, 1.0, INF),
    "re-cut size 15, cohesion 1": ("recut", 15, 0.15, 0.5, 1.0, INF),
    "re-cut size 20, cohesion 1": ("recut", 20, 0.15, 0.5, 1.0, INF),
    "re-cut size 30, cohesion 1": ("recut", 30, 0.15, 0.5, 1.0, INF),
}
#: The variant whose plan's separations each corpus reports (the default re-cut).
DEFAULT = "storyclust (re-cut size 10, cohesion 0.06, archive 3.4)"


def score_corpus(
    articles: Sequence[storyclust.Article], gold: Sequence[Any], settings: Settings
) -> dict[str, Any]:
    """Pairwise F1 and largest story of every variant on one corpus, and the default
    re-cut's verdict (``"verdict"``: :func:`storyclust.stories.archive_verdict`)."""
    pieces, order = cut_rules.groups(articles, settings)
    canon = [articles[int(p)] for p in order]
    g = [str(gold[int(p)]) for p in order]
    feats = cut_rules.corpus_features(canon, settings)
    base = cut_rules.labels(pieces, len(canon), cut_rules.plain, settings.threshold)
    out: dict[str, Any] = {}
    plans: dict[tuple[Any, ...], Any] = {}
    for name, v in VARIANTS.items():
        if v[0] == "threshold":
            lab = cut_rules.labels(pieces, len(canon), cut_rules.plain, v[1])
        else:
            if v[1:5] not in plans:  # the archive bar only chooses between a plan's two ways
                plans[v[1:5]] = recut_plan(
                    base,
                    feats.tfidf,
                    feats.days,
                    feats.lengths,
                    min_size=v[1],
                    threshold=v[2],
                    headline_only_words=settings.headline_only_words,
                    max_share=v[3],
                    cohesion=v[4],
                )
            lab, _, verdict = plans[v[1:5]].choose(v[5])
            if name == DEFAULT:
                out["verdict"] = verdict
        out[name] = {
            "pairwise_f1": evaluate(g, lab)["pairwise_f1"],
            "largest": int(np.unique(lab, return_counts=True)[1].max()),
        }
    return out


def undated_copy(articles: Sequence[storyclust.Article]) -> list[storyclust.Article]:
    """The articles with their publication times removed."""
    return [dataclasses.replace(a, published=None) for a in articles]


def leads_copy(articles: Sequence[storyclust.Article]) -> list[storyclust.Article]:
    """The articles cut down to their leads: sentences of the text up to at least 25 words
    (at most 60, unless the first sentence alone is longer)."""
    out = []
    for a in articles:
        lead = ""
        for sentence in re.split(r"(?<=[.!?])\s+", a.text or ""):
            if lead and len(f"{lead} {sentence}".split()) > 60:
                break
            lead = f"{lead} {sentence}".strip()
            if len(lead.split()) >= 25:
                break
        out.append(dataclasses.replace(a, text=lead))
    return out


def score_file(
    articles: Sequence[storyclust.Article],
    settings: Settings,
    fractions: Sequence[float],
    repeats: int,
) -> dict[str, Any]:
    """The whole file, then `repeats` seeded corpora per fraction of its stories."""
    gold = np.asarray([str(a.extra["story"]) for a in articles])
    out: dict[str, Any] = {
        "gold_largest": int(np.unique(gold, return_counts=True)[1].max()),
        "whole": score_corpus(articles, gold.tolist(), settings),
    }
    for frac in fractions:
        runs = [
            score_corpus([articles[int(i)] for i in idx], gold[idx].tolist(), settings)
            for idx in story_subsets(gold, fraction=frac, repeats=repeats)
        ]
        seps = [r["verdict"]["separation"] for r in runs if r["verdict"]["separation"] is not None]
        out[f"subsample {frac}"] = {
            name: {
                "mean": float(np.mean([r[name]["pairwise_f1"] for r in runs])),
                "min": float(np.min([r[name]["pairwise_f1"] for r in runs])),
                "largest": int(max(r[name]["largest"] for r in runs)),
            }
            for name in VARIANTS
        }
        out[f"subsample {frac}"]["verdict"] = {
            "separation_min": min(seps) if seps else None,
            "separation_max": max(seps) if seps else None,
            "archive": sum(bool(r["verdict"]["archive"]) for r in runs),
            "corpora": len(runs),
            "qualifying_min": min(r["verdict"]["qualifying"] for r in runs),
        }
    return out


def table(results: dict[str, Any], given: Sequence[str], fractions: Sequence[float]) -> str:
    stems = list(results)
    lines = [
        f"Produced by `{' '.join(['python benchmarks/local_idf.py', *given])}`.",
        "",
        "Pairwise F1 / largest story on each whole file (gold largest story in the header):",
        "",
        "| variant | " + " | ".join(f"{s} ({results[s]['gold_largest']})" for s in stems) + " |",
        "|---|" + "---|" * len(stems),
    ]
    for name in VARIANTS:
        cells = [
            f"{results[s]['whole'][name]['pairwise_f1']:.3f} / {results[s]['whole'][name]['largest']}"
            for s in stems
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    def whole_verdict(v: dict[str, Any]) -> str:
        sep = v["separation"]
        return f"{'archive' if v['archive'] else 'no'}: {v['qualifying']}, " + (
            f"{sep:.2f}" if sep is not None else "-"
        )

    lines += [
        "",
        "Read as an archive by the default (`recut_archive` 3.4)? Stories the re-cut looks at,",
        "and the median of their separations:",
        "",
        "| corpus | " + " | ".join(stems) + " |",
        "|---|" + "---|" * len(stems),
        "| whole | "
        + " | ".join(whole_verdict(results[s]["whole"]["verdict"]) for s in stems)
        + " |",
    ]
    for frac in fractions:
        cells = []
        for s in stems:
            v = results[s][f"subsample {frac}"]["verdict"]
            rng = (
                f"{v['separation_min']:.2f}-{v['separation_max']:.2f}"
                if v["separation_min"] is not None
                else "-"
            )
            cells.append(f"{v['archive']} of {v['corpora']}: {v['qualifying_min']}+, {rng}")
        lines.append(f"| {frac:.0%} of the stories | " + " | ".join(cells) + " |")
    for frac in fractions:
        key = f"subsample {frac}"
        lines += [
            "",
            f"Corpora of {frac:.0%} of each file's stories: mean pairwise F1 (lowest) / largest story:",
            "",
            "| variant | " + " | ".join(stems) + " |",
            "|---|" + "---|" * len(stems),
        ]
        for name in VARIANTS:
            cells = [
                f"{results[s][key][name]['mean']:.3f} ({results[s][key][name]['min']:.3f}) / "
                f"{results[s][key][name]['largest']}"
                for s in stems
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--files", nargs="*", help="file stems (default: every *.jsonl)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "local_idf"))
    ap.add_argument("--subsample", nargs="*", type=float, default=[], help="e.g. 0.5 0.2")
    ap.add_argument("--repeats", type=int, default=8, help="corpora per subsample fraction")
    ap.add_argument(
        "--undated",
        nargs="*",
        default=["allsides_neus_public", "uci_news_aggregator_sample"],
        help="files also scored with their dates removed",
    )
    ap.add_argument(
        "--leads",
        nargs="*",
        default=["ecbplus"],
        help="files also scored cut down to their leads (25 to 60 words of text)",
    )
    args = ap.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    results = {}
    for path in cut_rules.labelled_files(args.data, args.files):
        arts = storyclust.read_jsonl(path)
        results[path.stem] = score_file(arts, settings, args.subsample, args.repeats)
        print(f"{path.stem}: done", file=sys.stderr)
        if path.stem in args.undated:
            results[f"{path.stem} (undated)"] = score_file(
                undated_copy(arts), settings, args.subsample, args.repeats
            )
        if path.stem in args.leads:
            results[f"{path.stem} (leads)"] = score_file(
                leads_copy(arts), settings, args.subsample, args.repeats
            )
    extra = {"subsample": args.subsample, "repeats": args.repeats, "files": results}
    cut_rules.write_results(
        Path(args.out), table(results, given, args.subsample), settings, given, extra
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
