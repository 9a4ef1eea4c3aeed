"""The article record, and turning dicts, DataFrames and strings into articles.

Everything that enters storyclust passes through :func:`to_articles` (the file
readers in :mod:`storyclust.io` share its validation), so the rest of the
package can rely on these facts about an :class:`Articles`:

- every ``id`` is a non-blank ``str`` and ids are unique;
- ``title`` and ``text`` are ``str`` and at least one of them is not blank;
- ``published`` is ``None`` or a timezone-aware ``datetime`` in UTC;
- strings hold no lone surrogate code points (they are replaced by U+FFFD).

Bad records are never dropped silently: with ``errors="raise"`` the first one
raises :class:`~storyclust.errors.InputError`; with ``errors="skip"`` it is
left out and listed in :attr:`Articles.report`.
"""

from __future__ import annotations

import email.utils
import functools
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final, overload

import numpy as np

from .errors import InputError, InputTypeError, SettingsError, _where

__all__ = ["Article", "Articles", "LoadReport", "SkippedRecord", "to_articles"]

#: Field name -> the record keys that may hold it, primary name first.
FIELD_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "id": ("id", "_id", "article_id", "uuid"),
    "title": ("title", "headline"),
    "text": ("text", "body", "content", "description", "summary"),
    "source": ("source", "outlet", "site", "publisher", "domain"),
    "published": (
        "published",
        "date",
        "published_at",
        "publish_date",
        "datetime",
        "timestamp",
        "time",
        "publishedat",  # NewsAPI's publishedAt
        "pubdate",  # RSS's pubDate
        "datepublished",  # schema.org's datePublished
        "pub_date",
        "date_published",
    ),
    "url": ("url", "link"),
}
# Names that look like a file the readers take (a path given where articles belong).
_FILE_SUFFIXES: Final = tuple(
    f"{stem}{gz}" for stem in (".jsonl", ".ndjson", ".json", ".csv", ".tsv") for gz in ("", ".gz")
)
_ALL_ALIASES: Final = frozenset(a for names in FIELD_ALIASES.values() for a in names)
_UTC: Final = timezone.utc
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=_UTC)
# Above this magnitude a POSIX number is taken as milliseconds: 1e11 s is the
# year 5138, while 1e11 ms is 1973.
_MS_THRESHOLD: Final = 1e11
_MAX_REASONS_SHOWN: Final = 5
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_KEY_SEPARATORS: Final = re.compile(r"[\s\-]+")
_ISO_DATETIME: Final = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:
        [Tt\ ](?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?
        \s*(?P<tz>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.VERBOSE | re.ASCII,
)
# POSIX seconds written as text (CSV cells): 9 digits or more, so from 1973 on, never a
# compact date such as '20140310'.
_POSIX_TEXT: Final = re.compile(r"\d{9,}(?:\.\d+)?")
# ISO 8601 basic format and its digits-only kin (GDELT's YYYYMMDDHHMMSS): read as a
# date before any POSIX reading, when it is a valid date of the years 1900 to 2099.
_COMPACT: Final = re.compile(
    r"(?P<year>(?:19|20)\d{2})(?P<month>\d{2})(?P<day>\d{2})"
    r"(?:T?(?P<hour>\d{2})(?P<minute>\d{2})(?P<second>\d{2})?(?P<tz>Z|[+-]\d{4})?)?",
    re.ASCII,
)
# The zone names RFC 2822 (and the standard library) know; any other trailing letters
# would be read silently as UTC.
_RFC2822_ZONES: Final = frozenset(
    ("UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT")
)
_DATE_FORMATS_HINT: Final = (
    "expected ISO 8601 ('2014-03-10', '2014-03-10T16:52:50Z', "
    "'2014-03-10 16:52:50.123+01:00', '20140310', '20140310165250'), "
    "RFC 2822 ('Mon, 10 Mar 2014 16:52:50 GMT'), "
    "a datetime or date, or POSIX seconds (a number, or 9 or more digits as text)"
)


@dataclass(frozen=True, slots=True)
class Article:
    """One news article.

    Parameters
    ----------
    id : str
        Unique identifier within a collection.
    title : str, default ""
        Headline.
    text : str, default ""
        Body text (or a summary of it).
    source : str, default ""
        Outlet that published the article.
    published : datetime or None, default None
        Publication time. :func:`to_articles` always gives a timezone-aware
        ``datetime`` in UTC.
    url : str or None, default None
        Link to the article.
    extra : Mapping[str, Any], default {}
        Every other field of the input record. It is copied into a new
        ``dict`` on construction; treat it as read-only. It is ignored by
        ``hash()`` (but not by ``==``).

    Examples
    --------
    >>> a = Article(id="a1", title="Flight MH370 missing", text="Search widens.")
    >>> a.content
    'Flight MH370 missing\\nSearch widens.'
    >>> Article(id="a2", text="Only a body.").content
    'Only a body.'
    """

    id: str
    title: str = ""
    text: str = ""
    source: str = ""
    published: datetime | None = None
    url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        """Copy ``extra`` so later changes to the caller's mapping cannot leak in."""
        if isinstance(self.extra, Mapping):
            object.__setattr__(self, "extra", dict(self.extra))

    @property
    def content(self) -> str:
        """Title and text joined by a newline, leaving out empty parts."""
        return "\n".join(part for part in (self.title, self.text) if part)


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record left out by ``errors="skip"``, and why.

    Parameters
    ----------
    line : int or None
        1-based line number in a file, or 0-based position in an in-memory
        sequence; ``None`` when unknown.
    field : str or None
        The field to blame, if one is.
    reason : str
        What was wrong and how to fix it.
    last_line : int or None, default None
        The last line of a CSV row that runs over several lines (a quoted
        cell holding line breaks, or an unclosed quote that swallowed the
        lines after it); every line from `line` to `last_line` was left out.

    Examples
    --------
    >>> SkippedRecord(line=3, field="title", reason="title must be a string; got int 5")
    SkippedRecord(line=3, field='title', reason='title must be a string; got int 5', last_line=None)
    """

    line: int | None
    field: str | None
    reason: str
    last_line: int | None = None


@dataclass
class LoadReport:
    """What happened while loading articles.

    Parameters
    ----------
    n_read : int
        Records seen (blank lines in files are not records).
    n_loaded : int
        Records turned into articles.
    skipped : list of SkippedRecord
        Records left out by ``errors="skip"``, in input order.
    path : str or None, default None
        The file read, if any; decides whether ``str()`` says "line" (files)
        or "record" (in-memory positions).

    Examples
    --------
    >>> report = LoadReport(
    ...     n_read=3, n_loaded=2, skipped=[SkippedRecord(2, None, "malformed JSON")], path="a.jsonl"
    ... )
    >>> report.n_skipped
    1
    >>> print(report)
    read 3 records, loaded 2, skipped 1 (line 2: malformed JSON)
    """

    n_read: int = 0
    n_loaded: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)
    path: str | None = None

    @property
    def n_skipped(self) -> int:
        """Number of records left out."""
        return len(self.skipped)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and skipped records (the ``input`` of saved metadata)."""
        return {
            "n_read": self.n_read,
            "n_loaded": self.n_loaded,
            "n_skipped": self.n_skipped,
            "skipped": [
                {"line": s.line, "last_line": s.last_line, "field": s.field, "reason": s.reason}
                for s in self.skipped
            ],
        }

    def __str__(self) -> str:
        """One-line summary naming the first few reasons for skipping."""
        noun = "record" if self.n_read == 1 else "records"
        text = f"read {self.n_read} {noun}, loaded {self.n_loaded}, skipped {self.n_skipped}"
        if not self.skipped:
            return text
        in_file = self.path is not None
        reasons = [
            f"{_where(s.line, s.last_line, in_file=in_file)}: {s.reason}"
            if s.line is not None
            else s.reason
            for s in self.skipped[:_MAX_REASONS_SHOWN]
        ]
        if self.n_skipped > _MAX_REASONS_SHOWN:
            reasons.append(f"and {self.n_skipped - _MAX_REASONS_SHOWN} more")
        return f"{text} ({'; '.join(reasons)})"


class Articles(Sequence[Article]):
    """An immutable sequence of articles with unique ids, and its load report.

    Build one with :func:`to_articles` or the readers in :mod:`storyclust.io`,
    which validate every field. The constructor checks only that the items
    are :class:`Article` objects with unique ids.

    Parameters
    ----------
    items : iterable of Article, default ()
        The articles, in order.
    report : LoadReport or None, default None
        How they were loaded; by default a report of ``len(items)`` records
        read and loaded.

    Attributes
    ----------
    report : LoadReport
        The report of the load these articles came from. Slices keep the
        report of the whole load.

    Raises
    ------
    InputTypeError
        If an item is not an :class:`Article`.
    InputError
        If two articles share an id.

    Examples
    --------
    >>> arts = Articles([Article(id="a", title="One"), Article(id="b", title="Two")])
    >>> len(arts), arts[0].title, arts.ids
    (2, 'One', ['a', 'b'])
    >>> arts[1:]
    Articles(n=1, ids=['b'])
    """

    __slots__ = ("_items", "report")

    _items: tuple[Article, ...]
    report: LoadReport

    def __init__(self, items: Iterable[Article] = (), report: LoadReport | None = None) -> None:
        checked = tuple(items)
        seen: dict[str, int] = {}
        for pos, item in enumerate(checked):
            if not isinstance(item, Article):
                raise InputTypeError(
                    f"Articles holds only Article objects; item {pos} is "
                    f"{type(item).__name__}; use to_articles() to convert other records"
                )
            if item.id in seen:
                raise InputError(
                    f"duplicate id {_short_repr(item.id)} (first used by record {seen[item.id]}); "
                    f"ids must be unique; {_duplicate_fix(item)}",
                    line=pos,
                    field="id",
                    value=item.id,
                )
            seen[item.id] = pos
        self._items = checked
        self.report = report if report is not None else LoadReport(len(checked), len(checked))

    @classmethod
    def _trusted(cls, items: tuple[Article, ...], report: LoadReport) -> Articles:
        """Build without re-checking items already validated by the caller."""
        new = cls.__new__(cls)
        new._items = items
        new.report = report
        return new

    @overload
    def __getitem__(self, index: int) -> Article: ...

    @overload
    def __getitem__(self, index: slice) -> Articles: ...

    def __getitem__(self, index: int | slice) -> Article | Articles:
        """Article at a position, or an :class:`Articles` for a slice."""
        if isinstance(index, slice):
            return Articles._trusted(self._items[index], self.report)
        return self._items[index]

    def __len__(self) -> int:
        """Number of articles."""
        return len(self._items)

    def __iter__(self) -> Iterator[Article]:
        """Iterate over the articles in order."""
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        """Equal to another :class:`Articles` holding equal articles in the same order."""
        if not isinstance(other, Articles):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        """Hash of the articles (their ``extra`` is not hashed)."""
        return hash(self._items)

    def __repr__(self) -> str:
        """Count, skips and the first few ids."""
        ids = [a.id for a in self._items[:5]]
        more = ", ..." if len(self._items) > 5 else ""
        skipped = f", skipped={self.report.n_skipped}" if self.report.n_skipped else ""
        return f"Articles(n={len(self._items)}{skipped}, ids={str(ids)[:-1]}{more}])"

    @property
    def ids(self) -> list[str]:
        """The article ids, in order."""
        return [a.id for a in self._items]


class _RecordError(Exception):
    """A problem with one record; the caller adds where it is."""

    def __init__(self, reason: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.value = value


class _ItemTypeError(_RecordError):
    """An item that is not a str, mapping or Article; raised as InputTypeError."""


def to_articles(
    data: object,
    *,
    errors: str = "raise",
    path: str | os.PathLike[str] | None = None,
) -> Articles:
    """Turn records of many shapes into validated :class:`Articles`.

    Parameters
    ----------
    data : Articles, iterable, pandas.DataFrame or numpy.ndarray
        The records. An :class:`Articles` is returned as it is. Otherwise an
        iterable whose items may be mixed:

        - :class:`Article` objects (checked, and kept when already valid);
        - mappings such as dicts, whose keys are matched to fields as below;
        - strings, each the text of one article.

        A ``pandas.DataFrame`` is read row by row (pandas is never imported by
        storyclust itself); a ``numpy.ndarray`` item by item.
    errors : {"raise", "skip"}, default "raise"
        What to do with a bad record: raise at the first, or leave it out and
        list it in ``result.report.skipped``.
    path : str, os.PathLike or None, default None
        Where the data came from; only used in error messages and the report.

    Returns
    -------
    Articles
        The articles in input order, with ``.report`` saying how many records
        were read, loaded and skipped.

    Raises
    ------
    InputTypeError
        If `data` is a bare ``str`` or ``bytes``, a single mapping or
        :class:`Article`, a set, or not iterable; or (with ``errors="raise"``)
        if an item is not a ``str``, mapping or :class:`Article`.
    InputError
        With ``errors="raise"``, at the first bad record: a record with
        neither title nor text, a field of the wrong type, an unreadable date,
        a duplicate id.
    SettingsError
        If `errors` is not "raise" or "skip".

    Notes
    -----
    **Field names.** The keys of a mapping are matched to fields in this order,
    the first that holds a non-blank value winning:

    =========  ==========================================================
    id         id, _id, article_id, uuid
    title      title, headline
    text       text, body, content, description, summary
    source     source, outlet, site, publisher, domain
    published  published, date, published_at, publish_date, datetime,
               timestamp, time
    url        url, link
    =========  ==========================================================

    A key that matches a name exactly wins over one that matches only after
    case-folding and turning spaces and hyphens into ``_`` (``"Published At"``
    matches ``published_at``). Every other key goes into ``Article.extra``,
    and so do unused alias keys that hold a value (a record with both ``text``
    and ``summary`` keeps ``summary`` in ``extra``); blank unused aliases are
    dropped. Missing values are ``None``, ``NaN``, pandas ``NaT``/``NA`` and
    whitespace-only strings; in DataFrame rows they become ``None`` in
    ``extra`` too.

    **Values.** ``title``, ``text``, ``source`` and ``url`` must be strings
    (a ``source`` may also be a mapping with a ``"name"`` or ``"title"``).
    ``id`` may be a string or an integer (an integral float, as pandas makes
    of an integer column with gaps, is accepted too); a missing id becomes the
    record's position: the 0-based index here, the 1-based line in a file.
    Lone surrogate code points in strings are replaced by U+FFFD; values in
    ``extra`` are kept as they are, except a missing value (``NaN``, ``NaT``,
    pandas ``NA``), which becomes ``None`` as in DataFrame rows.

    **Dates.** ``published`` accepts ``datetime`` (naive means UTC; aware is
    converted to UTC), ``date`` (midnight UTC), pandas ``Timestamp``,
    ``numpy.datetime64``, ISO 8601 strings (``"2014-03-10"``,
    ``"2014-03-10T16:52:50Z"``, ``"2014-03-10 16:52:50.123456789+05:30"``;
    1 to 9 fractional digits, truncated to microseconds), RFC 2822 strings
    (``"Mon, 10 Mar 2014 16:52:50 GMT"``; a zone name other than UT, UTC, GMT,
    Z and the US zones is an error, not UTC: write its offset) and numbers of
    POSIX seconds. A number whose magnitude exceeds 1e11 is taken as
    **milliseconds** (1e11 seconds would be the year 5138). Digits that form a
    valid date of the years 1900 to 2099 as ``YYYYMMDD``, ``YYYYMMDDHHMM`` or
    ``YYYYMMDDHHMMSS`` (ISO 8601 basic format, GDELT's dates), as a string or a
    number, are that date: ``20140310`` is 10 March 2014, not 1970-08-22.
    Booleans, infinities and times outside the years 1 to 9999 are errors; a
    float ``NaN`` is a missing date.

    Examples
    --------
    >>> arts = to_articles([
    ...     {"id": "a", "headline": "Quake hits Chile", "date": "2014-04-01T23:46:47Z"},
    ...     {"id": 7, "title": "Rescue", "body": "Teams arrive.", "lang": "en"},
    ...     "A bare text becomes an article too.",
    ... ])
    >>> arts.ids
    ['a', '7', '2']
    >>> arts[0].published
    datetime.datetime(2014, 4, 1, 23, 46, 47, tzinfo=datetime.timezone.utc)
    >>> arts[1].text, arts[1].extra
    ('Teams arrive.', {'lang': 'en'})

    Bad records raise, or with ``errors="skip"`` are reported:

    >>> try:
    ...     to_articles([{"id": "x", "title": ""}])
    ... except InputError as exc:
    ...     print(exc)
    record 0: record has neither title nor text; give at least one of 'title' or 'text'
    >>> arts = to_articles([{"title": "ok"}, {"title": 5}], errors="skip")
    >>> print(arts.report)  # doctest: +ELLIPSIS
    read 2 records, loaded 1, skipped 1 (record 1: field 'title' must be a string; ...)
    """
    _check_errors(errors)
    where = None if path is None else os.fspath(path)
    if isinstance(data, Articles):
        return data
    return _coerce_records(_positioned(data), errors=errors, path=where)


def _check_errors(errors: object) -> None:
    """Raise SettingsError unless `errors` is 'raise' or 'skip'."""
    if not isinstance(errors, str) or errors not in ("raise", "skip"):
        raise SettingsError(
            f"errors must be 'raise' or 'skip'; got {_short_repr(errors)}; "
            "use 'skip' to leave out bad records and list them in the report"
        )


def _positioned(data: object) -> Iterator[tuple[int | None, object]]:
    """Check the container and yield (0-based position, item) pairs."""
    if isinstance(data, os.PathLike) or (
        isinstance(data, str) and "\n" not in data and data.lower().endswith(_FILE_SUFFIXES)
    ):
        raise InputTypeError(
            f"expected a list of articles; got a file name ({os.fspath(data)!r}); read the file "
            "first: storyclust.read_articles(path) (or read_jsonl / read_csv)"
        )
    if isinstance(data, (str, bytes, bytearray)):
        raise InputTypeError(
            f"expected a list of articles; got a bare {type(data).__name__}; "
            "wrap a single text in a list: to_articles([text])"
        )
    if isinstance(data, Mapping):
        raise InputTypeError(
            "expected a list of articles; got a single mapping "
            f"({type(data).__name__}); pass a list of dicts: to_articles([record])"
        )
    if isinstance(data, Article):
        raise InputTypeError(
            "expected a list of articles; got a single Article; pass a list: to_articles([article])"
        )
    if isinstance(data, (set, frozenset)):
        raise InputTypeError(
            f"expected an ordered sequence of articles; got a {type(data).__name__}, "
            "whose order is arbitrary; pass a list"
        )
    if _is_dataframe(data):
        return _frame_rows(data)
    if isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise InputTypeError(
                "expected a 1-D array of texts; got an array of shape "
                f"{data.shape}; pass a 1-D array or a list"
            )
        return enumerate(data.tolist())
    try:
        items = iter(data)  # type: ignore[call-overload]
    except TypeError:
        raise InputTypeError(
            "expected a list of articles (str, dict or Article items), a DataFrame "
            f"or an array; got {type(data).__name__}; wrap your records in a list"
        ) from None
    return enumerate(items)


def _from_pandas(value: object) -> bool:
    """Whether `value` is an instance of a pandas class (pandas is not imported)."""
    module = getattr(type(value), "__module__", None)
    return isinstance(module, str) and module.startswith("pandas")


def _is_dataframe(data: object) -> bool:
    """Whether `data` looks like a pandas DataFrame."""
    return (
        _from_pandas(data)
        and type(data).__name__ == "DataFrame"
        and hasattr(data, "to_dict")
        and hasattr(data, "columns")
    )


def _frame_rows(frame: Any) -> Iterator[tuple[int | None, object]]:
    """Rows of a DataFrame as dicts, missing cells as None, keyed by 0-based row."""
    columns = list(frame.columns)
    if len(set(columns)) != len(columns):
        dupes = sorted({str(c) for c in columns if columns.count(c) > 1})
        raise InputError(
            f"DataFrame has duplicate column names {dupes}; rename them so each is unique",
            field=dupes[0],
        )
    for pos, row in enumerate(frame.to_dict("records")):
        yield pos, {k: (None if _is_missing(v) else v) for k, v in row.items()}


def _coerce_records(
    records: Iterable[tuple[int | None, object]],
    *,
    errors: str,
    path: str | None,
    report: LoadReport | None = None,
) -> Articles:
    """Validate (line or position, item) pairs into Articles; shared with storyclust.io."""
    _check_errors(errors)
    if report is None:
        report = LoadReport(path=path)
    seen: dict[str, int] = {}
    loaded: list[Article] = []
    where = "line" if path is not None else "record"
    for index, (line, item) in enumerate(records):
        report.n_read += 1
        position = index if line is None else line
        try:
            article = _to_article(item, position)
            if article.id in seen:
                first = seen[article.id]
                hint = (
                    (
                        "; a record without an id gets its line number as id"
                        if path is not None
                        else "; a record without an id gets its position (from 0) as id"
                    )
                    if article.id in (str(position), str(first))
                    else ""
                )
                raise _RecordError(
                    f"duplicate id {_short_repr(article.id)} (first used by {where} {first}"
                    f"{hint}); ids must be unique; {_duplicate_fix(article)}",
                    "id",
                    article.id,
                )
        except _ItemTypeError as exc:
            if errors == "raise":
                raise InputTypeError(f"{where} {position}: {exc.reason}") from None
            report.skipped.append(SkippedRecord(position, None, exc.reason))
            continue
        except _RecordError as exc:
            err = InputError(exc.reason, path=path, line=position, field=exc.field, value=exc.value)
            _reject(err, errors, report)
            continue
        seen[article.id] = position
        loaded.append(article)
    report.n_loaded = len(loaded)
    return Articles._trusted(tuple(loaded), report)


def _duplicate_fix(article: Article) -> str:
    """How to fix a duplicate id; for a piece of split_page, which ids it makes."""
    if "page_role" in article.extra:
        return (
            "split_page made this id (from one page split twice, or from two pages given "
            "the same id_prefix): drop the repeated page or give each page its own id_prefix"
        )
    return "drop the duplicate or give each record its own id"


def _reject(err: InputError, errors: str, report: LoadReport, *, hint: str = "") -> None:
    """Raise `err` (its message ending in `hint`), or with errors='skip' note it in the report."""
    if errors == "raise":
        if hint:
            err = InputError(
                f"{err.reason}{hint}",
                path=err.path,
                line=err.line,
                field=err.field,
                value=err.value,
                last_line=err.last_line,
            )
        raise err from None
    report.skipped.append(SkippedRecord(err.line, err.field, err.reason, err.last_line))


def _to_article(item: object, position: int) -> Article:
    """One item (Article, str or mapping) as a validated Article."""
    if isinstance(item, Article):
        return _check_article(item)
    if isinstance(item, str):
        text = _clean(str(item))
        if not text.strip():
            raise _RecordError(
                "record is an empty string; give each text some content or drop it", "text", item
            )
        return Article(id=_default_id(position), text=text)
    if isinstance(item, Mapping):
        return _from_mapping(item, position)
    raise _ItemTypeError(
        f"expected a str (the text), a dict or an Article; got "
        f"{type(item).__name__} {_short_repr(item)}; convert it or drop it"
    )


def _check_article(article: Article) -> Article:
    """Validate an Article built by the user; return it unchanged when already valid."""
    fields: dict[str, Any] = {}
    for name in ("title", "text", "source"):
        fields[name] = _text_field(getattr(article, name), name)
    _require_content(fields["title"], fields["text"])
    if not isinstance(article.id, str) or not article.id.strip():
        raise _RecordError(
            f"Article.id must be a non-blank string; got {type(article.id).__name__} "
            f"{_short_repr(article.id)}; give each article its own id",
            "id",
            article.id,
        )
    new = Article(
        id=_clean(article.id),
        title=fields["title"],
        text=fields["text"],
        source=fields["source"],
        published=_published_field(article.published, "published"),
        url=_url_field(article.url, "url"),
        extra=_extra_field(article.extra),
    )
    return article if new == article else new


def _extra_field(extra: object) -> Mapping[str, Any]:
    """Check that an Article's extra is a mapping."""
    if not isinstance(extra, Mapping):
        raise _RecordError(
            f"field 'extra' must be a mapping; got {type(extra).__name__}; pass a dict",
            "extra",
            extra,
        )
    return extra


def _from_mapping(record: Mapping[Any, Any], position: int) -> Article:
    """Build an Article from one mapping, resolving field aliases."""
    folded: dict[str, list[str]] = {}
    for key in record:
        if not isinstance(key, str):
            raise _RecordError(
                f"field names must be strings; got {type(key).__name__} {_short_repr(key)}; "
                "rename the key or column",
                None,
                key,
            )
        folded.setdefault(_fold_key(key), []).append(key)

    used: set[str] = set()
    found: dict[str, tuple[str, Any]] = {}
    for name, aliases in FIELD_ALIASES.items():
        hit = _find_field(record, folded, aliases)
        if hit is not None:
            found[name] = hit
            used.add(hit[0])

    title_key, title_value = found.get("title", ("title", None))
    text_key, text_value = found.get("text", ("text", None))
    title = _text_field(title_value, title_key)
    text = _text_field(text_value, text_key)
    if not any(a in folded for a in (*FIELD_ALIASES["title"], *FIELD_ALIASES["text"])):
        fields = ", ".join(_short_repr(k) for k in list(record)[:12])
        raise _RecordError(
            f"record has no title or text field (its fields: {fields or 'none'}); name the "
            f"headline 'title' and the body 'text' (aliases: {', '.join(FIELD_ALIASES['title'])}; "
            f"{', '.join(FIELD_ALIASES['text'])})",
            "text",
        )
    _require_content(title, text)
    id_key, id_value = found.get("id", ("id", None))
    source_key, source_value = found.get("source", ("source", None))
    published_key, published_value = found.get("published", ("published", None))
    url_key, url_value = found.get("url", ("url", None))
    # NaN and NaT are missing values: None, as in DataFrame rows and JSON Lines.
    extra = {
        k: None if _is_missing(v) else v
        for k, v in record.items()
        if k not in used and not (_fold_key(k) in _ALL_ALIASES and _is_blank(v))
    }
    return Article(
        id=_id_field(id_value, position, id_key),
        title=title,
        text=text,
        source=_source_field(source_value, source_key),
        published=_published_field(published_value, published_key),
        url=_url_field(url_value, url_key),
        extra=extra,
    )


@functools.lru_cache(maxsize=4096)  # the same few keys in every record
def _fold_key(key: str) -> str:
    """Key in the loose form used to match aliases ('Published At' -> 'published_at')."""
    return _KEY_SEPARATORS.sub("_", key.strip().casefold())


def _find_field(
    record: Mapping[Any, Any], folded: Mapping[str, list[str]], aliases: tuple[str, ...]
) -> tuple[str, Any] | None:
    """First (key, value) among `aliases` with a non-blank value; exact keys first."""
    for alias in aliases:
        if alias in record and not _is_blank(record[alias]):
            return alias, record[alias]
        for key in folded.get(alias, ()):
            if key != alias and not _is_blank(record[key]):
                return key, record[key]
    return None


def _require_content(title: str, text: str) -> None:
    """Raise unless title or text has some non-whitespace content."""
    if not title.strip() and not text.strip():
        raise _RecordError(
            "record has neither title nor text; give at least one of 'title' or 'text'",
            "text",
        )


def _default_id(position: int) -> str:
    """The id given to a record without one: its position."""
    return str(position)


def _id_field(value: Any, position: int, key: str = "id") -> str:
    """A record's id as a non-blank str; its position when missing."""
    if _is_blank(value):
        return _default_id(position)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        try:
            return str(int(value))
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            raise _RecordError(
                f"field {key!r} is an integer too large to write out; use a string id",
                key,
                None,
            ) from None
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value.is_integer():
        # pandas turns an integer column with gaps into floats: 7.0 means id 7.
        return str(int(value))
    raise _RecordError(
        f"field {key!r} must be a string or an integer; got {type(value).__name__} "
        f"{_short_repr(value)}; give each record a string id or leave it out",
        key,
        value,
    )


def _text_field(value: Any, key: str) -> str:
    """A title/text/source value as str ('' when missing)."""
    if _is_blank(value):
        return ""
    if isinstance(value, str):
        return _clean(value)
    raise _RecordError(
        f"field {key!r} must be a string; got {type(value).__name__} {_short_repr(value)}; "
        f"give {key!r} as text or leave it out",
        key,
        value,
    )


def _source_field(value: Any, key: str) -> str:
    """The outlet name; a mapping such as {'name': 'BBC'} gives its name or title."""
    if isinstance(value, Mapping):
        for sub in ("name", "title"):
            inner = value.get(sub)
            if isinstance(inner, str) and inner.strip():
                return _clean(inner)
        raise _RecordError(
            f"field {key!r} is a mapping without a 'name' or 'title' string; "
            f"got {_short_repr(value)}; give the outlet name as a string",
            key,
            value,
        )
    return _text_field(value, key)


def _url_field(value: Any, key: str) -> str | None:
    """The url as str, or None when missing."""
    if _is_blank(value):
        return None
    if isinstance(value, str):
        return _clean(value)
    raise _RecordError(
        f"field {key!r} must be a string; got {type(value).__name__} {_short_repr(value)}; "
        "give the link as text or leave it out",
        key,
        value,
    )


def _published_field(value: Any, key: str) -> datetime | None:
    """Parse a publication time into an aware UTC datetime (None when missing)."""
    if _is_blank(value):
        return None
    try:
        return _parse_datetime(value)
    except _DateError as exc:
        raise _RecordError(
            f"field {key!r} has {exc.problem}: {_short_repr(value)}; {_DATE_FORMATS_HINT}",
            key,
            value,
        ) from None


class _DateError(Exception):
    """A value that is not a usable date; `problem` says how."""

    def __init__(self, problem: str = "an unrecognised date") -> None:
        super().__init__(problem)
        self.problem = problem


def _parse_datetime(value: Any) -> datetime:
    """Any accepted date value (not missing) as an aware UTC datetime."""
    if isinstance(value, datetime):
        if _from_pandas(value) and hasattr(value, "to_pydatetime"):
            value = _pandas_timestamp(value)
        return _to_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=_UTC)
    if isinstance(value, np.datetime64):
        return _from_datetime64(value)
    if isinstance(value, (bool, np.bool_)):
        raise _DateError("a boolean, not a date")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, (int, np.integer)) or float(value).is_integer():
            compact = _from_compact(str(int(value)))
            if compact is not None:  # 20140310 is a day, not 1970-08-22
                return compact
        return _from_posix(value)
    if isinstance(value, str):
        return _from_string(value)
    raise _DateError(f"a value of type {type(value).__name__}, not a date")


def _pandas_timestamp(value: Any) -> datetime:
    """pandas Timestamp as a datetime, dropping nanoseconds without a warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = value.to_pydatetime()
    if not isinstance(result, datetime):
        raise _DateError()
    return result


def _to_utc(value: datetime) -> datetime:
    """Naive -> UTC; aware -> converted to UTC."""
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=_UTC)
        return value.astimezone(_UTC)
    except (OverflowError, ValueError, TypeError):
        raise _DateError("a time outside the years 1 to 9999 once converted to UTC") from None


def _from_datetime64(value: np.datetime64) -> datetime:
    """numpy datetime64 (any unit) as a UTC datetime."""
    try:
        micros = int(value.astype("datetime64[us]").astype(np.int64))
        return _EPOCH + timedelta(microseconds=micros)
    except (OverflowError, ValueError):
        raise _DateError("a time outside the years 1 to 9999") from None


def _from_posix(value: float | np.integer[Any] | np.floating[Any]) -> datetime:
    """POSIX seconds (or milliseconds above 1e11) as a UTC datetime."""
    number: int | float = int(value) if isinstance(value, (int, np.integer)) else float(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise _DateError("an infinite timestamp")
    try:
        if abs(number) > _MS_THRESHOLD:
            return _EPOCH + timedelta(milliseconds=number)
        return _EPOCH + timedelta(seconds=number)
    except OverflowError:
        raise _DateError(
            "a timestamp outside the years 1 to 9999 (numbers above 1e11 are read as milliseconds)"
        ) from None


def _from_string(value: str) -> datetime:
    """ISO 8601 (lenient about 'Z' and fraction length) or RFC 2822 text as UTC."""
    text = value.strip()
    match = _ISO_DATETIME.fullmatch(text)
    if match is not None:
        return _from_iso_match(match)
    compact = _from_compact(text)
    if compact is not None:
        return compact
    if _POSIX_TEXT.fullmatch(text):  # a CSV cell of POSIX seconds (or milliseconds)
        return _from_posix(float(text) if "." in text else int(text))
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except Exception:  # Python 3.10 raises TypeError, later versions ValueError
        raise _DateError() from None
    if not isinstance(parsed, datetime):
        raise _DateError()
    zone = re.sub(r"\s*\([^()]*\)\s*$", "", text).rsplit(None, 1)[-1]
    if zone.isalpha() and zone.upper() not in _RFC2822_ZONES:
        # The standard library reads a zone it does not know as UTC, silently.
        raise _DateError(
            f"a time zone name RFC 2822 does not define, {zone!r} (write its offset, such "
            "as '+0100', instead)"
        )
    return _to_utc(parsed)


def _from_compact(text: str) -> datetime | None:
    """ISO 8601 basic ('20140310', '20140310T165250Z') or digits-only
    'YYYYMMDDHHMM[SS]' as UTC; None unless `text` is one and a valid date."""
    match = _COMPACT.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, tz = match.groups()
    try:
        return _datetime_of(year, month, day, hour, minute, second, None, tz)
    except _DateError:  # month 13, day 32, hour 25: not a compact date
        return None


def _from_iso_match(match: re.Match[str]) -> datetime:
    """Build the datetime for a match of _ISO_DATETIME."""
    return _datetime_of(*match.groups())


def _datetime_of(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    fraction: str | None,
    tz: str | None,
) -> datetime:
    """The UTC datetime of a date's matched parts (`tz`: Z, UTC, GMT, +hh, +hhmm, +hh:mm)."""
    tzinfo: timezone = _UTC
    try:
        if tz and tz[0] in "+-":
            digits = tz[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            if offset:
                tzinfo = timezone(-offset if tz[0] == "-" else offset)
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "").ljust(6, "0")[:6]),
            tzinfo=tzinfo,
        )
    except ValueError as exc:  # day 31 in April, hour 25, offset of 24 hours or more
        raise _DateError(f"an impossible date ({exc})") from None
    return parsed if tzinfo is _UTC else _to_utc(parsed)  # UTC already: nothing to convert


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas NA."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(value != value)
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return _from_pandas(value) and type(value).__name__ in ("NaTType", "NAType")


def _is_blank(value: Any) -> bool:
    """Missing, or a whitespace-only string."""
    if isinstance(value, str):
        return not value.strip()
    return _is_missing(value)


def _clean(text: str) -> str:
    """Plain str with lone surrogates replaced by U+FFFD."""
    text = str(text)
    # isascii() is a flag test; a surrogate is never ASCII, so only other texts are searched.
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    # Pairs of surrogates become the character they encode; lone ones U+FFFD.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _short_repr(value: object, limit: int = 60) -> str:
    """repr() cut to `limit` characters, never raising."""
    try:
        text = repr(value)
    except Exception:  # huge ints, objects whose __repr__ raises
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
