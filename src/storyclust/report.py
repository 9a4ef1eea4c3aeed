"""A self-contained HTML report of a :class:`~storyclust.StoryResult`.

One file, no network: the stories and articles are embedded as JSON, the page is
drawn by a small script and styled by inline CSS that ship with this module
(``_report/``). Stories are listed largest first with their representative
headline, outlets, time span, keywords and articles. Clicking an article opens
it beside the representative, with the passages the two share highlighted (the
word n-grams they have in common, found in the browser by the same rule as
:func:`shared_spans`). A search box filters stories by words.

The page draws only what is on screen: stories a page at a time (more on scroll),
articles of a story a few at a time, article bodies when opened, so a report of
10,000 articles opens in about half a second.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .result import StoryResult

__all__ = ["render_html", "shared_spans", "write_html"]

# Scripts written without spaces between words: each character is a token (as in
# storyclust.text.tokenize). The page's script uses the same classes.
_UNSPACED = (
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002fa1f"
)
_TOKEN = re.compile(rf"[{_UNSPACED}]|(?:(?![{_UNSPACED}])\w)+")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# The settings worth showing in the page header, in this order.
_SHOWN_SETTINGS = (
    "threshold",
    "link_threshold",
    "linkage",
    "time_window_days",
    "near_duplicate_threshold",
    "representative",
)


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, lower-cased word) of each word of `text`."""
    return [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]


def shared_spans(text: str, other: str, *, n: int = 4) -> list[tuple[int, int]]:
    """Character spans of `text` that are covered by word `n`-grams also in `other`.

    Words are runs of letters, digits and underscores (single characters in
    scripts written without spaces), compared case-insensitively. Every run of
    `n` consecutive words of `text` that also occurs in `other` is marked, and
    overlapping or adjacent marks are merged into one passage. The report page
    highlights passages by this rule.

    Parameters
    ----------
    text : str
        The text to mark.
    other : str
        The text to compare with (the story's representative, in the report).
    n : int, default 4
        Words per n-gram; >= 1.

    Returns
    -------
    list of (int, int)
        ``(start, end)`` character offsets into `text`, sorted and disjoint;
        ``text[start:end]`` is a shared passage.

    Raises
    ------
    ValueError
        If `n` is not an integer >= 1.

    Examples
    --------
    >>> a = "Lohan checked into rehab on Thursday, her lawyer said."
    >>> b = "Her lawyer said Lindsay Lohan checked into rehab on Thursday night."
    >>> [a[s:e] for s, e in shared_spans(a, b, n=3)]
    ['Lohan checked into rehab on Thursday, her lawyer said']
    >>> shared_spans("nothing in common", b)
    []
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    words = _tokens(text)
    theirs = [w for _, _, w in _tokens(other)]
    if len(words) < n or len(theirs) < n:
        return []
    grams = {" ".join(theirs[i : i + n]) for i in range(len(theirs) - n + 1)}
    mine = [w for _, _, w in words]
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        if " ".join(mine[i : i + n]) in grams:
            covered[i : i + n] = [True] * n
    spans: list[tuple[int, int]] = []
    for k, (start, end, _) in enumerate(words):
        if not covered[k]:
            continue
        if k and covered[k - 1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _iso(value: Any) -> str | None:
    """ISO-8601 text of a datetime, or None."""
    return None if value is None else str(value.isoformat())


def _report_data(
    result: StoryResult, *, title: str, ngram: int, page_size: int, max_text_chars: int | None
) -> dict[str, Any]:
    """Everything the page shows, as one JSON-ready dict (articles column by column)."""
    from . import __version__

    articles = result.articles
    n = len(articles)
    ids = articles.ids
    position = {a: i for i, a in enumerate(ids)}
    reps = [position[s.representative_id] for s in result.stories]
    rep_of = [reps[int(lab)] for lab in result.labels]
    # The direct link of each article to its representative, if it was scored.
    lk = result.link_arrays
    to_rep: list[float | None] = [None] * n
    for (a, b), score in zip(lk.pairs.tolist(), lk.score.tolist()):
        if rep_of[a] == b:
            to_rep[a] = round(score, 3)
        elif rep_of[b] == a:
            to_rep[b] = round(score, 3)

    def body(text: str) -> str:
        if max_text_chars is None or len(text) <= max_text_chars:
            return text
        return text[:max_text_chars] + " […]"

    def reading_order(story_rep: int, members: list[int]) -> list[int]:
        # The representative first, then by publication time (undated last), then input order.
        rest = [p for p in members if p != story_rep]
        rest.sort(key=lambda p: (articles[p].published is None, _iso(articles[p].published) or ""))
        return [story_rep, *rest]

    stories = sorted(result.stories, key=lambda s: (-s.size, s.story_id))
    settings = result.settings
    return {
        "title": title,
        "version": __version__,
        "n_articles": n,
        "n_stories": result.n_stories,
        "n_links": len(lk),
        "ngram": ngram,
        "page_size": page_size,
        "settings": {k: settings[k] for k in _SHOWN_SETTINGS if k in settings},
        # Everything the run used, as saved with any output (not shown; timings left out
        # so that the page is the same for the same input).
        "recorded": {k: v for k, v in result.metadata().items() if k not in ("timings", "memory")},
        "articles": {
            "id": ids,
            "title": [a.title for a in articles],
            "source": [a.source for a in articles],
            "published": [_iso(a.published) for a in articles],
            "url": [a.url for a in articles],
            "text": [body(a.text) for a in articles],
            "to_rep": to_rep,
        },
        "stories": [
            {
                "id": s.story_id,
                "size": s.size,
                "rep": reps[s.story_id],
                "title": s.title,
                "outlets": s.outlets,
                "first": _iso(s.first_seen),
                "last": _iso(s.last_seen),
                "keywords": s.keywords,
                "cohesion": round(s.cohesion, 3),
                "n_reports": s.n_reports,
                "articles": reading_order(reps[s.story_id], [position[i] for i in s.article_ids]),
            }
            for s in stories
        ],
    }


def _asset(name: str) -> str:
    """The text of one of the page's parts shipped in ``_report/``."""
    return (
        resources.files("storyclust").joinpath("_report").joinpath(name).read_text(encoding="utf-8")
    )


def _script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no "</script>", no "<!--")."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(
    result: StoryResult,
    *,
    title: str | None = None,
    ngram: int = 4,
    page_size: int = 50,
    max_text_chars: int | None = None,
) -> str:
    """The report of `result` as one self-contained HTML page.

    Parameters
    ----------
    result : StoryResult
        What :func:`storyclust.cluster` returned.
    title : str, optional
        Page title; by default "storyclust report: N articles in K stories".
    ngram : int, default 4
        Words per n-gram when highlighting the passages an article shares with
        its story's representative (see :func:`shared_spans`).
    page_size : int, default 50
        Stories drawn at first, and drawn more each time the reader scrolls to
        the end of the list.
    max_text_chars : int, optional
        Cut article texts to this many characters to keep the file small; by
        default texts are kept whole.

    Returns
    -------
    str
        The HTML document. Same result and options give the same text.

    Raises
    ------
    TypeError
        If `result` is not a StoryResult.
    ValueError
        If `ngram`, `page_size` or `max_text_chars` is not a positive integer.

    Examples
    --------
    >>> import storyclust
    >>> from storyclust.report import render_html
    >>> result = storyclust.cluster(["Quake hits Chile coast", "Chile coast hit by quake"])
    >>> page = render_html(result)
    >>> page.startswith("<!DOCTYPE html>"), "<script src" in page
    (True, False)
    """
    from .result import StoryResult

    if not isinstance(result, StoryResult):
        raise TypeError(
            "render_html takes a StoryResult (what storyclust.cluster returns); "
            f"got {type(result).__name__}"
        )
    for name, value in (("ngram", ngram), ("page_size", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if max_text_chars is not None and (
        isinstance(max_text_chars, bool)
        or not isinstance(max_text_chars, int)
        or max_text_chars < 1
    ):
        raise ValueError(f"max_text_chars must be None or an integer >= 1; got {max_text_chars!r}")
    if title is None:
        title = (
            f"storyclust report: {len(result.articles)} articles in {result.n_stories} "
            f"{'story' if result.n_stories == 1 else 'stories'}"
        )
    data = _report_data(
        result, title=title, ngram=ngram, page_size=page_size, max_text_chars=max_text_chars
    )
    values = {
        "title": html.escape(title),
        "css": _asset("report.css"),
        "script": _asset("report.js"),
        "data": _script_json(data),
    }
    # One pass, so nothing inserted is read again as a placeholder.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("page.html"))


def write_html(
    result: StoryResult,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    ngram: int = 4,
    page_size: int = 50,
    max_text_chars: int | None = None,
) -> Path:
    """Write the report of `result` to `path` (see :func:`render_html` for the options).

    Parent folders are created as needed.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import storyclust, tempfile, pathlib
    >>> result = storyclust.cluster(["Quake hits Chile coast", "Chile coast hit by quake"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_html(result, pathlib.Path(tmp) / "report.html")
    ...     out.stat().st_size > 1000
    True
    """
    page = render_html(
        result, title=title, ngram=ngram, page_size=page_size, max_text_chars=max_text_chars
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
