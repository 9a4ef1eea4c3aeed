"""Split a scraped news page into the articles it carries.

A scraped page is often one article followed by teaser blocks of other stories
("Related Articles", "More from ...": outlet, age, headline, text) and page
furniture ("Hashtags", "Comments", share buttons). Clustering the page whole would
glue unrelated stories together; :func:`split_page` cuts it into one article per
story, each with its outlet where the page names one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from .articles import Articles, to_articles
from .errors import InputTypeError

__all__ = ["split_page"]

# Lines that open the block of other stories.
_SECTION = re.compile(
    r"^\s*(related( articles| stories| content| news)?|more from\b.*|more stories|read more|"
    r"recommended( for you| stories)?|you may also like|you might also like|most (read|popular)|"
    r"trending( now)?|top stories|latest( news| stories)?|also read|see also|what to read next)\s*:?\s*$",
    re.IGNORECASE,
)
# Furniture: whole lines that carry no article text.
_FURNITURE = re.compile(
    r"^\s*(hashtags|comments?|no comments yet\W*|share( this( article| story)?)?|advertisement|"
    r"try our ai features|explore what .{1,40} can do for you:?|sign up.{0,80}|subscribe.{0,60}|"
    r"follow us.{0,60}|print|email|facebook|twitter|whatsapp|linkedin|copy link|\d+ comments?)\s*$",
    re.IGNORECASE,
)
_AGE = re.compile(
    r"^\s*(\d+|an?|one)\s+(second|minute|min|hour|hr|day|week|month|year)s?\s+ago\s*$|^\s*(yesterday|today|just now)\s*$",
    re.IGNORECASE,
)
_DASH_OUTLET = re.compile(r"^\s*[-–—•]\s*(.{1,60}?)\s*$")
# An image credit: short, mostly capitals ("REUTERS", "REUTERS/Marton Monus", "AP Photo").
_CREDIT = re.compile(r"^\s*(?:photo:?\s*)?[A-Z][A-Z&.\- ]{1,30}(?:/[\w .\-]{1,40})?\s*$")
_CREDIT_WORDS = re.compile(
    r"^\s*(reuters|ap|afp|getty images|ap photo|epa|bloomberg|pa)(\s*/.*)?\s*$", re.I
)


@dataclass
class _Piece:
    """An article being assembled from page lines."""

    role: str
    title: str = ""
    source: str = ""
    age: str = ""
    lines: list[str] = field(default_factory=list)


def _is_credit(line: str) -> bool:
    """A line that credits an image, not text of an article."""
    return bool(_CREDIT.match(line) and sum(c.isupper() for c in line) >= 2) or bool(
        _CREDIT_WORDS.match(line)
    )


def _paragraphs(lines: list[str]) -> list[list[str]]:
    """Stripped non-empty lines, grouped into paragraphs at blank lines."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _clean_main(lines: list[str]) -> list[str]:
    """Drop furniture, image captions (a paragraph ending in a credit) and repeated lines."""
    paragraphs = _paragraphs(lines)
    out: list[str] = []
    seen: set[str] = set()
    for k, para in enumerate(paragraphs):
        if k > 0 and len(para) > 1 and _is_credit(para[-1]):
            continue  # an image caption and its credit
        for s in para:
            if _FURNITURE.match(s) or _is_credit(s) or s in seen:
                continue
            seen.add(s)
            out.append(s)
    return out


def _split_related(lines: list[str], site: str) -> list[_Piece]:
    """Cut the lines after a section marker into teaser pieces."""
    pieces: list[_Piece] = []
    ages = [k for k, line in enumerate(lines) if _AGE.match(line)]
    if ages:
        # Blocks "Outlet / age / - Outlet / Headline / text ...", each anchored on its age line.
        starts: list[int] = []
        for k in ages:
            prev = next((p for p in range(k - 1, -1, -1) if lines[p].strip()), None)
            starts.append(prev if prev is not None and (not starts or prev > starts[-1]) else k)
        for n, (start, k) in enumerate(zip(starts, ages)):
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            source = lines[start].strip() if start != k else ""
            body = [x.strip() for x in lines[k + 1 : end] if x.strip() and not _FURNITURE.match(x)]
            if body and (m := _DASH_OUTLET.match(body[0])):
                source = source or m.group(1)
                body = body[1:]
            if not body:
                continue
            pieces.append(
                _Piece(
                    "related", title=body[0], source=source, age=lines[k].strip(), lines=body[1:]
                )
            )
        return pieces
    # Paragraph blocks: a caption ended by an image credit is dropped; each other
    # paragraph is one teaser of the site's own.
    paragraphs = _paragraphs(lines)
    for para in paragraphs:
        credit = max((k for k, x in enumerate(para) if _is_credit(x)), default=-1)
        text = [x for x in para[credit + 1 :] if not _FURNITURE.match(x)]
        if text:
            pieces.append(_Piece("related", source=site, lines=text))
    return pieces


def split_page(
    text: str,
    *,
    source: str = "",
    published: datetime | str | None = None,
    id_prefix: str | None = None,
) -> Articles:
    """Split a scraped page into its main article and the teasers of other stories.

    Parameters
    ----------
    text : str
        The page as plain text, one block a line.
    source : str, default ""
        The outlet of the page (the main article's source, and the source of teasers
        that name no outlet of their own; "More from X" names X).
    published : datetime or str, optional
        Publication time of the main article.
    id_prefix : str or None, default None
        Pieces get ids ``{id_prefix}-0`` (the main article), ``{id_prefix}-1``,
        ... (numbered by their place on the page, so a dropped empty piece
        leaves a gap). By default the prefix is ``page-`` and the first 12 hex
        digits of the SHA-256 of `text`: the same page always gets the same
        ids, and different pages get different ones, so the pieces of many
        pages can be clustered together. Pass your own (the page's file name
        or URL) for readable ids.

    Returns
    -------
    Articles
        The main article first, then each teaser in page order. ``extra`` holds
        ``page_role`` ("main" or "related"), and ``age`` ("13 hours ago") where
        the page gives one. The first line of the main article is its title; a
        teaser's headline is its title where the page marks one.

    Raises
    ------
    storyclust.InputTypeError
        If `text` is not a str.

    Examples
    --------
    >>> page = '''Main headline
    ... Main text of the article.
    ... Comments
    ... Related Articles
    ... The Independent
    ... 13 hours ago
    ... - The Independent
    ... Other headline
    ... Other text.'''
    >>> [(a.id, a.title, a.source) for a in split_page(page, source="Daily8", id_prefix="p1")]
    [('p1-0', 'Main headline', 'Daily8'), ('p1-1', 'Other headline', 'The Independent')]
    >>> split_page(page).ids
    ['page-29faf05c5447-0', 'page-29faf05c5447-1']
    """
    if not isinstance(text, str):
        raise InputTypeError(f"split_page takes the page as a str; got {type(text).__name__}")
    if id_prefix is None:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        id_prefix = f"page-{digest[:12]}"
    elif not isinstance(id_prefix, str):
        raise InputTypeError(
            f"id_prefix must be a str or None; got {type(id_prefix).__name__}; "
            "pass a str such as the page's file name"
        )
    lines = text.splitlines()
    cut = next((k for k, line in enumerate(lines) if _SECTION.match(line)), len(lines))
    site = source
    if cut < len(lines) and (m := re.match(r"^\s*more from\s+(.+?)\s*$", lines[cut], re.I)):
        site = m.group(1)
        source = source or site
    main = _clean_main(lines[:cut])
    pieces = [_Piece("main", title=main[0] if main else "", source=source, lines=main[1:])]
    pieces += _split_related(lines[cut + 1 :], site)
    records = []
    for k, p in enumerate(pieces):
        if not p.title and not p.lines:
            continue
        rec: dict[str, object] = {
            "id": f"{id_prefix}-{k}",
            "title": p.title,
            "text": "\n".join(p.lines),
        }
        rec.update(source=p.source, page_role=p.role)
        if p.age:
            rec["age"] = p.age
        if p.role == "main" and published is not None:
            rec["published"] = published
        records.append(rec)
    return to_articles(records)
