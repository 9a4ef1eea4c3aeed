"""The ``storyclust`` command: ``cluster``, ``evaluate``, ``report`` and ``index``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _index_cli
from ._cli_common import check_outputs, error_text, together
from .articles import Articles, LoadReport, SkippedRecord
from .errors import StoryclustError
from .io import read_articles
from .metrics import evaluate
from .pipeline import cluster, estimate_memory
from .result import StoryResult, renamed_input_field
from .settings import Settings

__all__ = ["main"]


def _setting_value(text: str) -> Any:
    """Parse a --set value: JSON if it parses (numbers, true), else the string ("inf" is
    read by :class:`Settings`, as when settings saved with a run are replayed)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """Collect the clustering settings given on the command line."""
    out: dict[str, Any] = {}
    for name in ("threshold", "time_window_days", "seed"):
        v = getattr(args, name)
        if v is not None:
            out[name] = v
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise StoryclustError(f"--set takes KEY=VALUE; got {item!r}")
        key = key.strip().replace("-", "_")
        if key in out:
            raise StoryclustError(
                f"setting {key!r} is given twice (--{key.replace('_', '-')} or --set); give it once"
            )
        out[key] = _setting_value(value.strip())
    Settings.from_kwargs(**out)  # check before reading a large file
    return out


def _delimiter(text: str) -> str:
    """--delimiter as typed in a shell: 'tab' and a backslash escape ('\\t') are a tab."""
    return {"tab": "\t", "\\t": "\t", "TAB": "\t"}.get(text, text)


def _quotechar(text: str) -> str | None:
    """--quotechar: 'none' (or an empty value) turns quoting off."""
    return None if text.lower() in ("none", "") else text


def _add_common(p: argparse.ArgumentParser) -> None:
    """Arguments shared by the subcommands that cluster."""
    p.add_argument("input", help="articles: .jsonl, .csv or .tsv (optionally .gz)")
    p.add_argument("--threshold", type=float, help="story cut-off in (0, 1] (default 0.25)")
    p.add_argument("--time-window-days", type=float, dest="time_window_days", help="default 2")
    p.add_argument("--seed", type=int, help="MinHash seed (default 1)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any other setting of storyclust.cluster, e.g. --set linkage=single (repeatable)"
        + (
            "; an undated archive of running issues is detected (recut_archive, default 3.4;"
            " inf: never), --set recut_cohesion=1 re-cuts its large stories when it is not"
            if p.prog.split()[-1] != "add"
            else ""
        ),
    )
    p.add_argument(
        "--errors",
        choices=("raise", "skip"),
        default="raise",
        help="on a bad record: stop with its line number (raise), or skip and count it",
    )
    p.add_argument("--encoding", default="utf-8", help="text encoding of the input (default utf-8)")
    p.add_argument(
        "--delimiter",
        type=_delimiter,
        help="column separator of a CSV input (default: ',' for .csv, tab for .tsv; 'tab' or "
        "'\\t' for a tab); given, an input of any other name (.txt) is read as CSV",
    )
    p.add_argument(
        "--quotechar",
        type=_quotechar,
        default='"',
        help="quotation mark of a CSV input (default \"); 'none' when quotation marks in the "
        "cells are plain text",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="storyclust", description="Group news articles into stories."
    )
    parser.add_argument("--version", action="version", version=f"storyclust {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("cluster", help="cluster articles into stories")
    _add_common(c)
    c.add_argument("-o", "--output", required=True, help="articles with their story id (.jsonl)")
    c.add_argument(
        "--stories",
        help="story table (.jsonl); default: OUTPUT with .stories.jsonl; settings and seeds go "
        "to OUTPUT with .meta.json (with -o -: no story table unless given, the settings "
        "beside it)",
    )
    c.add_argument(
        "--label-field",
        default="story",
        help="field of OUTPUT that holds each article's story id (default: story); an input "
        "field of that name is kept as <label-field>_input",
    )

    e = sub.add_parser("evaluate", help="cluster labelled articles and score against the labels")
    _add_common(e)
    e.add_argument(
        "--gold-field", default="story", help="field holding the gold story (default: story)"
    )
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")

    r = sub.add_parser("report", help="cluster articles and write a self-contained HTML report")
    _add_common(r)
    r.add_argument(
        "-o", "--output", required=True, help="the report (.html), or - for standard output"
    )
    r.add_argument(
        "--title", help="page title (default: storyclust report: N articles in K stories)"
    )
    _index_cli.add_parser(sub, _add_common)
    return parser


def _sibling(path: str, suffix: str) -> Path:
    """OUTPUT.jsonl (or .ndjson, either gzipped) -> OUTPUT<suffix>."""
    p = Path(path)
    ends = [e for e in _OUTPUT_SUFFIXES if p.name.lower().endswith(e)]
    stem = p.name[: -len(max(ends, key=len))] if ends else p.name
    return p.with_name(stem + suffix)


def _summary(result: StoryResult, articles: Articles) -> str:
    """One human summary line (and the skipped-records report if any)."""
    sizes = [s.size for s in result.stories]
    multi = sum(1 for s in sizes if s > 1)
    line = (
        f"{len(articles)} articles -> {result.n_stories} stories "
        f"({multi} with 2+ articles, largest {max(sizes, default=0)}), "
        f"{len(result.link_arrays)} links, {sum(result.timings.values()):.1f}s"
    )
    if articles.report.n_skipped:
        line += f"\nskipped input: {error_text(str(articles.report))}"
    recut = result.recut_counts()
    if recut and recut["stories"]:
        s = result.settings
        k = recut["stories"]
        how = (
            f"read as an archive of running issues: median separation "
            f"{recut['separation']:.2f} over {recut['qualifying']} stories, recut_archive "
            f"{s.get('recut_archive')}"
            if recut.get("archive")
            else f"recut_cohesion {s.get('recut_cohesion')}"
        )
        line += (
            f"\nre-cut: {k} large undated {'story' if k == 1 else 'stories'}, into "
            f"{recut['pieces']} (recut_size {s.get('recut_size')}, {how})"
        )
    for note in result.notes:
        line += f"\nnote: {note}"
    return line


_OUTPUT_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


def _cluster_paths(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """Where ``cluster`` writes the story table and the metadata (None: not written).

    Beside OUTPUT by default; with ``-o -`` (standard output) only where --stories
    says, the metadata beside the story table.
    """
    if args.output != "-":
        stories = args.stories or str(_sibling(args.output, ".stories.jsonl"))
        return stories, str(_sibling(args.output, ".meta.json"))
    if args.stories is None or args.stories == "-":
        return args.stories, None
    return args.stories, str(_sibling(args.stories, ".meta.json"))


def _outputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The files the command will write, (option, path), checked before any work.

    Each must differ from the input and from the others, be a file (not a
    directory) and, for JSON lines, end in .jsonl; missing directories are created.
    """
    if args.command == "cluster":
        if args.output != "-" and not args.output.lower().endswith(_OUTPUT_SUFFIXES):
            raise StoryclustError(
                f"-o {args.output!r}: the output is JSON lines; give a name ending in .jsonl "
                "(or .jsonl.gz), or - for standard output"
            )
        stories, meta = _cluster_paths(args)
        outs = [("-o", args.output)]
        if stories is not None:
            outs.append(("--stories", stories))
        if meta is not None:
            outs.append(("the metadata file", meta))
    elif args.command == "report":
        outs = [("-o", args.output)]
    else:
        return []
    check_outputs(outs, [("the input file", args.input)])
    return outs


def _gold(articles: Articles, field: str, errors: str) -> tuple[Articles, list[Any]]:
    """The articles to score and the gold label of each.

    An article without a label (field missing or empty) is an error naming it, or
    with ``--errors skip`` is left out and counted in the articles' report.
    """
    labels: list[Any] = []
    kept: list[Any] = []
    missing: list[SkippedRecord] = []
    for k, a in enumerate(articles):
        value = a.extra.get(field, getattr(a, field, None) if field in ("source", "url") else None)
        if value is None or value == "":
            reason = f"article {a.id!r} has no gold label in field {field!r}"
            if errors == "raise":
                fix = (
                    "give it one, or pass --errors skip to score the others"
                    if any(field in b.extra for b in articles)
                    else "pass --gold-field with the field that holds the story label"
                )
                raise StoryclustError(
                    f"{reason} (article {k + 1} of the {len(articles)} read); {fix}"
                )
            missing.append(SkippedRecord(None, field, reason))
            continue
        kept.append(a)
        labels.append(value if isinstance(value, (str, int)) else json.dumps(value, sort_keys=True))
    if not kept:
        raise StoryclustError(
            f"nothing to score: {articles.report}"
            + (f"; none has a gold label in field {field!r}" if len(articles) else "")
        )
    if missing:
        r = articles.report
        report = LoadReport(r.n_read, len(kept), [*r.skipped, *missing], r.path)
        articles = Articles(kept, report=report)
    return articles, labels


#: Inputs from this many articles get a memory estimate printed before the run.
ESTIMATE_FROM = 10_000


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # The reader of standard output went away (| head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\nstoryclust: interrupted; no output was written", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "index":
        return _index_cli.run(args, _settings_from)
    progress = False if args.quiet else None
    try:
        settings = _settings_from(args)
        _outputs(args)
        articles = read_articles(
            args.input,
            errors=args.errors,
            encoding=args.encoding,
            delimiter=args.delimiter,
            quotechar=args.quotechar,
        )
        if args.command == "cluster":
            renamed_input_field(articles, args.label_field)  # its errors before the run
        gold = None
        if args.command == "evaluate":
            articles, gold = _gold(articles, args.gold_field, args.errors)
        if not args.quiet and len(articles) >= ESTIMATE_FROM:
            est = estimate_memory(articles)
            print(
                f"storyclust: {len(articles)} articles ({est['articles_mib']:.0f} MiB of text "
                f"held); the run should need about {est['run_mib']:.0f} MiB more",
                file=sys.stderr,
            )
        result = cluster(articles, progress=progress, **settings)
    except (StoryclustError, OSError) as exc:
        print(f"storyclust: error: {error_text(exc)}", file=sys.stderr)
        return 2
    if args.command == "cluster":
        stories, meta = _cluster_paths(args)
        try:
            kept_as = result.renamed_input_field(args.label_field)
            with together([args.output, stories, meta]) as temp:  # all replaced, or none
                out = temp(args.output)
                assert out is not None
                result.to_jsonl(out, stories_path=temp(stories), label_field=args.label_field)
                meta_tmp = temp(meta)
                if meta_tmp is not None:
                    result.write_metadata(meta_tmp, args.label_field)
        except BrokenPipeError:
            raise  # main ends quietly
        except (StoryclustError, OSError) as exc:
            print(f"storyclust: error: cannot write output: {error_text(exc)}", file=sys.stderr)
            return 2
        if not args.quiet:
            print(_summary(result, articles), file=sys.stderr)
            if kept_as is not None:
                print(
                    f"note: the input's own {args.label_field!r} field is written as "
                    f"{kept_as!r}; the story ids are under {args.label_field!r}",
                    file=sys.stderr,
                )
            wrote = [p for p in (args.output, stories, meta) if p is not None and p != "-"]
            where = " and ".join(wrote) if wrote else "nothing to files"
            print(
                f"wrote {where}"
                + ("; the articles went to standard output" if args.output == "-" else ""),
                file=sys.stderr,
            )
        return 0
    if args.command == "report":
        try:
            if args.output == "-":
                from .report import render_html

                sys.stdout.write(render_html(result, title=args.title))
                sys.stdout.flush()
            else:
                with together([args.output]) as temp:  # no half-written page left behind
                    result.to_html(str(temp(args.output)), title=args.title)
        except BrokenPipeError:
            raise
        except OSError as exc:
            print(f"storyclust: error: cannot write the report: {exc}", file=sys.stderr)
            return 2
        if not args.quiet:
            print(_summary(result, articles), file=sys.stderr)
            if args.output != "-":
                print(f"wrote {args.output}", file=sys.stderr)
        return 0
    assert gold is not None
    scores = evaluate(gold, result.labels)
    if args.json:
        print(
            json.dumps(
                {
                    "file": args.input,
                    **scores,
                    "input": articles.report.to_dict(),
                    "settings": result.settings,
                },
                indent=2,
            )
        )
    else:
        print(f"{args.input}: {_summary(result, articles)}")
        for key, value in scores.items():
            print(
                f"  {key:<20} {value:.4f}" if isinstance(value, float) else f"  {key:<20} {value}"
            )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
