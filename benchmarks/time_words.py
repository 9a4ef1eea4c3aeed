"""Weekdays, months and years named in the text, as a stand-in for missing dates.

storyclust's time signal needs publication dates; the AllSides probe file has
none, and its stories (one AllSides roundup each, gold largest 3) run together
into their running issues (largest story 90). Leads often name the day of the
event ("President Trump on Monday slammed..."). This script measures, on every
labelled file at once, whether those words can stand in for the date:

- how many articles name a weekday, a month or a year in the title and the
  first ``--lead`` characters of the text;
- among pairs that name one on both sides, how often they name the same one:
  for the gold same-story pairs, and for the pairs storyclust puts in one story
  that the gold splits (its wrong merges);
- what a penalty does: a pair whose weekdays conflict (both name one, none in
  common) has its score multiplied by ``factor``, on every pair or only on pairs
  with an undated article, and storyclust's own linkage groups
  (:func:`cut_rules.groups`) are cut again by average linkage at ``threshold``.

Prints a table; writes JSON and Markdown (``--out``). Deterministic.

    python benchmarks/time_words.py --data ../shared/data --out benchmarks/results/time_words
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import storyclust
from storyclust.metrics import evaluate
from storyclust.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cut_rules

I64 = npt.NDArray[np.int64]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
KINDS = {
    "weekday": re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b"),
    "month": re.compile(r"\b(" + "|".join(MONTHS) + r")\b"),
    "year": re.compile(r"\b(199\d|20[0-4]\d)\b"),  # 60 values: one bit each in an int64
}


def marks(title: str, text: str, kind: str, lead: int) -> frozenset[str]:
    """The weekdays, months or years (`kind`) named in the title and the first `lead` characters."""
    return frozenset(KINDS[kind].findall(f"{title}\n{text[:lead]}"))


def as_bits(sets: Sequence[frozenset[str]]) -> I64:
    """Each set as a bit mask (bit k: the k-th distinct value, sorted); 0 for an empty set."""
    values = {v: k for k, v in enumerate(sorted(set().union(*sets)))}
    if len(values) > 62:
        raise ValueError(f"{len(values)} distinct values do not fit an int64 mask")
    return np.array([sum(1 << values[v] for v in s) for s in sets], dtype=np.int64)


def conflicts(bits: I64) -> npt.NDArray[np.bool_]:
    """Pair matrix: both name one, and none in common."""
    named = bits != 0
    out: npt.NDArray[np.bool_] = np.outer(named, named) & ((bits[:, None] & bits[None, :]) == 0)
    return out


def agreement(
    groups: Sequence[I64], bits: I64, gold: npt.NDArray[Any]
) -> dict[str, dict[str, float]]:
    """Over the pairs inside `groups`, split by gold same story or not: how many name one on both
    sides (share of pairs) and how many of those name the same one."""
    count = {k: np.zeros(3) for k in ("same story", "different stories")}
    for members in groups:
        if len(members) < 2:
            continue
        b, g = bits[members], gold[members]
        upper = np.triu(np.ones((len(b), len(b)), dtype=bool), 1)
        named = np.outer(b != 0, b != 0) & upper
        agree = named & ((b[:, None] & b[None, :]) != 0)
        same = g[:, None] == g[None, :]
        for key, mask in (("same story", same), ("different stories", ~same)):
            count[key] += [(upper & mask).sum(), (named & mask).sum(), (agree & mask).sum()]
    return {
        key: {
            "pairs": int(n),
            "both_name_one": float(both / max(n, 1)),
            "same_one_of_those": float(agree / max(both, 1)),
        }
        for key, (n, both, agree) in count.items()
    }


def penalised(
    pieces: list[Any], n: int, bits: I64, factor: float, undated_only: bool, t: float
) -> I64:
    """storyclust's groups cut again at `t`, a weekday conflict multiplying a pair's score by `factor`."""
    out = np.arange(n, dtype=np.int64) + n
    nxt = 0
    for members, sim, undated in pieces:
        sim = np.asarray(sim, dtype=np.float64).copy()
        hit = conflicts(bits[members])
        if undated_only:
            hit &= np.logical_or.outer(undated, undated)
        sim[hit] *= factor
        sub = cut_rules.plain(sim, t)
        out[members] = nxt + sub - 1
        nxt += int(sub.max())
    return out


def by_label(labels: I64) -> list[I64]:
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts)


def score_file(
    articles: Sequence[storyclust.Article],
    settings: Settings,
    *,
    lead: int,
    factors: Sequence[float],
) -> dict[str, Any]:
    """Mention rates, agreement and the penalty grid on one corpus."""
    pieces, order = cut_rules.groups(articles, settings)
    canon = [articles[int(p)] for p in order]
    gold = np.asarray([str(a.extra["story"]) for a in canon])
    n = len(canon)
    found = {k: [marks(a.title, a.text, k, lead) for a in canon] for k in KINDS}
    bits = {k: as_bits(v) for k, v in found.items()}
    plain = cut_rules.labels(pieces, n, cut_rules.plain, settings.threshold)
    ours, gold_groups = by_label(plain), by_label(np.unique(gold, return_inverse=True)[1])
    out: dict[str, Any] = {
        "articles": n,
        "gold_largest": int(np.unique(gold, return_counts=True)[1].max()),
        "share_naming": {k: float((b != 0).mean()) for k, b in bits.items()},
        "gold_pairs": {k: agreement(gold_groups, b, gold)["same story"] for k, b in bits.items()},
        "storyclust_pairs": {k: agreement(ours, b, gold) for k, b in bits.items()},
        "penalty": {},
    }
    for factor in factors:
        for undated_only in (False, True) if factor != 1.0 else (False,):
            lab = penalised(pieces, n, bits["weekday"], factor, undated_only, settings.threshold)
            m = evaluate(gold.tolist(), lab)
            name = (
                "none"
                if factor == 1.0
                else f"x{factor}" + (", undated pairs" if undated_only else "")
            )
            values, counts = np.unique(lab, return_counts=True)
            big = lab == values[counts.argmax()]
            out["penalty"][name] = {
                "pairwise_f1": m["pairwise_f1"],
                "largest": int(counts.max()),
                "largest_gold_stories": len(np.unique(gold[big])),
                "largest_naming_weekday": float((bits["weekday"][big] != 0).mean()),
            }
    return out


def table(results: dict[str, Any], given: Sequence[str]) -> str:
    stems = list(results)
    lines = [
        f"Produced by `{' '.join(['python benchmarks/time_words.py', *given])}`.",
        "",
        "Articles naming a weekday / month / year in the title and lead:",
        "",
        "| file | " + " | ".join(KINDS) + " |",
        "|---|" + "---|" * len(KINDS),
    ]
    for s in stems:
        cells = [f"{results[s]['share_naming'][k]:.1%}" for k in KINDS]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Pairs naming one on both sides (share of pairs), and of those the share naming the same one:",
        "gold same-story pairs, and the pairs storyclust joins that the gold splits.",
        "",
        "| file | kind | gold same story: both / same | storyclust's wrong merges: both / same |",
        "|---|---|---|---|",
    ]
    for s in stems:
        for k in KINDS:
            g = results[s]["gold_pairs"][k]
            w = results[s]["storyclust_pairs"][k]["different stories"]
            lines.append(
                f"| {s} | {k} | {g['both_name_one']:.1%} / {g['same_one_of_those']:.1%} "
                f"| {w['both_name_one']:.1%} / {w['same_one_of_those']:.1%} ({w['pairs']:,} pairs) |"
            )
    names = list(next(iter(results.values()))["penalty"])
    lines += [
        "",
        "Pairwise F1 / largest story with the score of a pair whose weekdays conflict multiplied by a",
        "factor (gold largest story in the header):",
        "",
        "| penalty | " + " | ".join(f"{s} ({results[s]['gold_largest']})" for s in stems) + " |",
        "|---|" + "---|" * len(stems),
    ]
    lines += _penalty_rows(results, names, lambda p: f"{p['pairwise_f1']:.3f} / {p['largest']}")
    lines += [
        "",
        "The largest story under each penalty: how many gold stories it holds, and the share of its",
        "articles naming a weekday:",
        "",
        "| penalty | " + " | ".join(stems) + " |",
        "|---|" + "---|" * len(stems),
    ]
    lines += _penalty_rows(
        results, names, lambda p: f"{p['largest_gold_stories']} / {p['largest_naming_weekday']:.0%}"
    )
    return "\n".join(lines) + "\n"


def _penalty_rows(
    results: dict[str, Any], names: list[str], cell: Callable[[dict[str, Any]], str]
) -> list[str]:
    """A table row per penalty, a cell per file."""
    return [
        f"| {name} | " + " | ".join(cell(results[s]["penalty"][name]) for s in results) + " |"
        for name in names
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--files", nargs="*", help="file stems (default: every *.jsonl)")
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "time_words")
    )
    ap.add_argument("--lead", type=int, default=300, help="characters of text read after the title")
    ap.add_argument("--factors", nargs="*", type=float, default=[1.0, 0.9, 0.7, 0.5, 0.0])
    args = ap.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    files = cut_rules.labelled_files(args.data, args.files)
    settings = Settings()
    factors = [1.0] + [f for f in args.factors if f != 1.0]
    results = {}
    for path in files:
        arts = storyclust.read_jsonl(path)
        results[path.stem] = score_file(arts, settings, lead=args.lead, factors=factors)
        print(f"{path.stem}: done", file=sys.stderr)
    extra = {"lead": args.lead, "files": results}
    cut_rules.write_results(Path(args.out), table(results, given), settings, given, extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
