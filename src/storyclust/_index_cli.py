"""The ``storyclust index`` commands: add articles to an index file, list its stories, expire.

``storyclust index add DB IN.jsonl``
    Add the articles of a file (JSONL, CSV or TSV) to the index at DB, creating
    it with the given settings if it does not exist, in batches of
    ``--batch-size`` articles (each a transaction). ``-o`` writes one assignment
    per article as JSON lines.
``storyclust index stories DB``
    The story table as JSON lines (stdout, or ``-o``).
``storyclust index expire DB --before ISO``
    Remove the articles published before a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ._cli_common import check_outputs, error_text, together
from .errors import StoryclustError
from .index import Assignment, StoryIndex
from .io import read_articles

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``index`` command group to the subparsers of the ``storyclust`` parser.

    `add_common(parser)` adds the input file and the options shared with
    ``cluster`` (``--threshold``, ``--set KEY=VALUE``, ``--errors``, ``-q``).
    """
    p = sub.add_parser(
        "index",
        help="a story index kept in a file: add articles as they arrive, list stories, expire",
        description="A story index in an SQLite file: articles are added as they arrive, each "
        "joining a story or opening one; story ids stay stable.",
    )
    cmds = p.add_subparsers(dest="index_command", required=True)

    a = cmds.add_parser("add", help="add articles to an index (created if missing)")
    a.add_argument("db", help="index file (created with the given settings if missing)")
    add_common(a)
    a.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="articles per transaction (default 1000); boilerplate is learned per batch",
    )
    a.add_argument(
        "--max-story-members",
        type=int,
        help="most members of a story an article is scored against (stored; default 100)",
    )
    a.add_argument(
        "-o", "--output", help="write one assignment per article (.jsonl), or - for standard output"
    )

    s = cmds.add_parser("stories", help="print the story table as JSON lines")
    s.add_argument("db", help="index file")
    s.add_argument("-o", "--output", help="write to this file instead of standard output (-)")
    s.add_argument("--min-size", type=int, default=1, help="leave out smaller stories")

    e = cmds.add_parser("expire", help="remove the articles published before a time")
    e.add_argument("db", help="index file")
    e.add_argument(
        "--before",
        required=True,
        help="ISO 8601 time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z; undated articles go "
        "if they were added before it",
    )
    e.add_argument("-q", "--quiet", action="store_true", help="no summary")


def _assignment(a: Assignment) -> dict[str, Any]:
    """An assignment as a JSON-ready dict."""
    return {
        "id": a.article_id,
        "story": a.story_id,
        "new_story": a.new_story,
        "score": a.score,
        "link": a.link,
        "merged": list(a.merged),
        "split": list(a.split),
    }


def _add(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    """storyclust index add."""
    if args.batch_size < 1:
        raise StoryclustError(f"--batch-size must be >= 1; got {args.batch_size}")
    if args.output:
        kept = [("the input file", args.input), ("the index file", args.db)]
        check_outputs([("-o", args.output)], kept)
    if not Path(args.db).exists():  # named now, not as "not a storyclust index" by SQLite
        check_outputs([("the index file", args.db)], [("the input file", args.input)])
    articles = read_articles(
        args.input,
        errors=args.errors,
        encoding=args.encoding,
        delimiter=args.delimiter,
        quotechar=args.quotechar,
    )
    counts = {"new": 0, "joined": 0, "merged": 0, "split": 0}
    held: list[str] = []  # ids the index already had (skipped with --errors skip)
    to_stdout = args.output == "-"
    # The assignments file is opened before the index is made: a file that cannot be
    # written leaves no new, empty index behind.
    with together([args.output]) as temp, contextlib.ExitStack() as stack:
        out: TextIO | None = None
        if to_stdout:
            out = sys.stdout
        elif args.output:
            out = stack.enter_context(open(str(temp(args.output)), "w", encoding="utf-8"))
        index = stack.enter_context(
            StoryIndex(args.db, max_story_members=args.max_story_members, **settings)
        )
        if args.errors == "raise":
            # Every id checked before the first batch is committed: an id already held
            # stops the add with nothing added, not part-way through the file.
            index._new_only(articles, skip=False)
        for k in range(0, len(articles), args.batch_size):
            for a in index.add(articles[k : k + args.batch_size], errors=args.errors):
                counts["new" if a.new_story else "joined"] += 1
                counts["merged"] += len(a.merged)
                counts["split"] += len(a.split)
                if out is not None:
                    out.write(json.dumps(_assignment(a)) + "\n")
            held += [s.reason for s in index.last_report.skipped]  # the batch was loaded
        n_held, n_stories = len(index), len(index.stories())
    if not args.quiet:
        added = counts["new"] + counts["joined"]
        print(
            f"added {added} articles to {args.db}: {counts['joined']} joined a story, "
            f"{counts['new']} opened one; {counts['merged']} merges, {counts['split']} splits; "
            f"the index holds {n_held} articles in {n_stories} stories",
            file=sys.stderr,
        )
        if articles.report.n_skipped:
            print(f"skipped input: {error_text(str(articles.report))}", file=sys.stderr)
        if held:
            shown = "; ".join(held[:3]) + (f"; and {len(held) - 3} more" if len(held) > 3 else "")
            print(f"skipped {len(held)} articles: {shown}", file=sys.stderr)
    return 0


def _stories(args: argparse.Namespace) -> int:
    """storyclust index stories."""
    if args.output and args.output != "-":
        check_outputs([("-o", args.output)], [("the index file", args.db)])
    with StoryIndex.open(args.db, readonly=True) as index:
        lines = [json.dumps(s.to_dict()) + "\n" for s in index.stories(min_size=args.min_size)]
    if args.output and args.output != "-":
        with together([args.output]) as temp:
            Path(str(temp(args.output))).write_text("".join(lines), encoding="utf-8")
    else:
        sys.stdout.writelines(lines)
    return 0


def _expire(args: argparse.Namespace) -> int:
    """storyclust index expire."""
    with StoryIndex.open(args.db) as index:
        n = index.expire(args.before)
        left = len(index)
    if not args.quiet:
        print(f"removed {n} articles from {args.db}; {left} left", file=sys.stderr)
    return 0


def run(
    args: argparse.Namespace, settings_from: Callable[[argparse.Namespace], dict[str, Any]]
) -> int:
    """Run an ``index`` command; return the exit status.

    `settings_from(args)` collects the clustering settings of ``index add``.
    """
    try:
        if args.index_command == "add":
            return _add(args, settings_from(args))
        if args.index_command == "stories":
            return _stories(args)
        return _expire(args)
    except BrokenPipeError:
        raise  # the reader of standard output went away: storyclust.cli.main ends quietly
    except (StoryclustError, OSError, KeyError) as exc:
        print(f"storyclust: error: {error_text(exc)}", file=sys.stderr)
        return 2
