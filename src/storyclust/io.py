"""Reading articles from JSON Lines and CSV files, and writing JSON Lines.

The readers stream the file line by line, decode each line on its own and hand
the records to the same validation as :func:`storyclust.articles.to_articles`,
so every error names the file and the 1-based line it is on::

    data.jsonl, line 7: malformed JSON (Expecting ',' delimiter at column 31); ...

With ``errors="skip"`` a bad line is left out and listed in the report of the
returned :class:`~storyclust.articles.Articles` instead. Files whose name ends
in ``.gz`` are read and written through gzip.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import gzip
import io
import json
import math
import os
import re
import secrets
import stat
import sys
import threading
import zlib
from collections.abc import Generator, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Final

import numpy as np

from .articles import (
    FIELD_ALIASES,
    Article,
    Articles,
    LoadReport,
    _check_errors,
    _coerce_records,
    _fold_key,
    _reject,
    _short_repr,
)
from .errors import InputError, InputTypeError, SettingsError

__all__ = ["article_to_dict", "read_articles", "read_csv", "read_jsonl", "write_jsonl"]

PathArg = str | os.PathLike[str]

_JSONL_SUFFIXES: Final = (".jsonl", ".ndjson", ".json-lines")
_CSV_SUFFIXES: Final = {".csv": ",", ".tsv": "\t"}
_JSON_TYPE_NAMES: Final = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
_MAIN_KEYS: Final = ("id", "title", "text", "source", "published", "url")
# Encodings whose line breaks are not the byte 0x0A: the file is decoded whole.
_WIDE_CODECS: Final = frozenset(
    {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
)
_CHUNK: Final = 1 << 16
_LINE_BREAK: Final = re.compile(rb"\r\n?|\n")
# Stands in for a CR inside a CSV line (the csv module ends an unquoted cell at a CR).
_CR_STAND_IN: Final = "\uffff"
# The longest CSV cell read: as long as a JSON Lines line could hold in practice. The csv
# module's default, 131072 characters, is short for a long article.
_CSV_FIELD_LIMIT: Final = 2**31 - 1  # the largest a C long holds on every platform
# Added to a line's problem when it is raised rather than skipped.
_SKIP_HINT: Final = " or pass errors='skip' to leave it out"


class _LineError(Exception):
    """A line that cannot be decoded or parsed; the caller adds where it is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def read_jsonl(
    path: PathArg,
    *,
    errors: str = "raise",
    encoding: str = "utf-8",
) -> Articles:
    """Read articles from a JSON Lines file: one JSON object per line.

    Parameters
    ----------
    path : str or os.PathLike
        The file. A name ending in ``.gz`` is decompressed with gzip.
    errors : {"raise", "skip"}, default "raise"
        Raise at the first bad line, or leave bad lines out and list them in
        ``result.report.skipped``.
    encoding : str, default "utf-8"
        Text encoding of the file: ASCII-compatible (UTF-8, cp1252,
        Latin-1, ...) or UTF-16/32 (``"utf-16"`` reads the byte-order mark
        Excel's "Unicode Text" files start with). A UTF-8 byte-order mark at
        the start is ignored. When a line cannot be decoded, the error
        suggests an encoding that reads it.

    Returns
    -------
    Articles
        The articles in file order. Keys are matched to fields as described
        in :func:`storyclust.articles.to_articles`; an article without an id
        gets its line number as id.

    Raises
    ------
    InputError
        With ``errors="raise"``, for the first bad line: undecodable bytes,
        malformed JSON, a JSON value that is not an object, or a record that
        fails validation (no title or text, bad date, duplicate id...). The
        message starts with the file name and the 1-based line number. Always
        for a corrupt gzip stream, since nothing after it can be read.
    SettingsError
        If `errors` or `encoding` is not usable.
    OSError
        If the file cannot be opened (``FileNotFoundError`` when missing).

    Notes
    -----
    Blank lines are ignored and do not count as records. Lines are split on
    ``\\n`` only, so ``\\r\\n`` files read fine and U+2028 inside a string is
    kept (a file whose first line ends in a lone ``\\r`` has its lines split
    on ``\\r`` too).

    ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON but which
    Python's :mod:`json` writes, are missing values (``None``) wherever they
    are, as ``NaN`` is in a DataFrame (see
    :func:`storyclust.articles.to_articles`); so is a number too large for a
    float, such as ``1e999``. They would otherwise make the output unwritable.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "news.jsonl")
    ...     with open(path, "w", encoding="utf-8") as f:
    ...         _ = f.write('{"id": "a", "title": "Quake hits Chile"}\\n')
    ...         _ = f.write('\\n')
    ...         _ = f.write('{"id": "b", "headline": "Tsunami warning", "lang": "en"}\\n')
    ...         _ = f.write('{"id": "c", oops}\\n')
    ...     arts = read_jsonl(path, errors="skip")
    >>> arts.ids, arts[1].extra
    (['a', 'b'], {'lang': 'en'})
    >>> print(arts.report)  # doctest: +ELLIPSIS
    read 3 records, loaded 2, skipped 1 (line 4: malformed JSON (Expecting ...); fix the line)
    """
    _check_errors(errors)
    codec = _check_encoding(encoding)
    name = _path_name(path)
    report = LoadReport(path=name)
    records = _jsonl_records(name, codec, errors, report)
    return _coerce_records(records, errors=errors, path=name, report=report)


def read_csv(
    path: PathArg,
    *,
    errors: str = "raise",
    encoding: str = "utf-8",
    delimiter: str = ",",
    quotechar: str | None = '"',
) -> Articles:
    """Read articles from a CSV file with a header row.

    Parameters
    ----------
    path : str or os.PathLike
        The file. A name ending in ``.gz`` is decompressed with gzip.
    errors : {"raise", "skip"}, default "raise"
        Raise at the first bad row, or leave bad rows out and list them in
        ``result.report.skipped``.
    encoding : str, default "utf-8"
        Text encoding of the file, as for :func:`read_jsonl`.
    delimiter : str, default ","
        The one-character cell separator (``"\\t"`` for TSV). Any file name
        is read as CSV with it, whatever its suffix (``.txt``, ``.tab``, ...).
    quotechar : str or None, default '"'
        The character that quotes a cell holding the delimiter, a line break
        or itself (doubled). ``None`` turns quoting off: every character is
        text, as in a TSV file whose cells may start with a quotation mark
        (``"We will rebuild," the mayor said.``); a cell can then hold neither
        the delimiter nor a line break.

    Returns
    -------
    Articles
        The articles in file order. Column names are matched to fields as in
        :func:`storyclust.articles.to_articles`; other columns go to
        ``extra``. Empty cells are missing values (``None`` in ``extra``). An
        article without an id gets the line number its row starts on.

    Raises
    ------
    InputError
        For a header that cannot be used, whatever `errors` says: undecodable,
        duplicate column names, or no column for the title or text. With
        ``errors="raise"``, for the first bad row: undecodable bytes, more
        cells than the header has columns, a value under a column with no
        name, broken quoting, or a record that fails validation. Messages
        give the file and the 1-based line the row starts on, and for a row
        that runs over several lines its last line too (``lines 2-3``).
    SettingsError
        If `errors`, `encoding`, `delimiter` or `quotechar` is not usable.
    OSError
        If the file cannot be opened (``FileNotFoundError`` when missing).

    Notes
    -----
    The standard :mod:`csv` module parses the file (pandas is not needed),
    in strict mode so that broken quoting is reported rather than guessed at.
    Rows whose cells are all empty are ignored like blank lines. Rows with
    fewer cells than the header are padded with missing values.

    A cell may be as long as ``2**31 - 1`` characters (the csv module's own
    limit, 131072, is raised while the file is read and then put back, so
    other code sees it unchanged). Lines end at ``\\n`` or ``\\r\\n``; a file
    whose first line ends in a lone ``\\r`` (old Mac style) has its lines end
    at ``\\r`` too. Otherwise a lone ``\\r`` inside a line is kept as text of
    its cell, quoted or not.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "news.csv")
    ...     with open(path, "w", encoding="utf-8", newline="") as f:
    ...         _ = f.write('id,headline,body,date\\n')
    ...         _ = f.write('a,Quake hits Chile,"Magnitude 8.2,\\noff the coast",2014-04-01\\n')
    ...         _ = f.write(',Tsunami warning,,\\n')
    ...     arts = read_csv(path)
    >>> arts.ids
    ['a', '4']
    >>> arts[0].text
    'Magnitude 8.2,\\noff the coast'
    """
    _check_errors(errors)
    codec = _check_encoding(encoding)
    _check_quotechar(quotechar)
    _check_delimiter(delimiter, quotechar)
    name = _path_name(path)
    report = LoadReport(path=name)
    records = _csv_records(name, codec, delimiter, quotechar, errors, report)
    with _csv_field_limit(), contextlib.closing(records):
        return _coerce_records(records, errors=errors, path=name, report=report)


def read_articles(
    path: PathArg,
    *,
    errors: str = "raise",
    encoding: str = "utf-8",
    delimiter: str | None = None,
    quotechar: str | None = '"',
) -> Articles:
    """Read articles from a file, choosing the format by its suffix.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.jsonl``, ``.ndjson`` or ``.json-lines`` file (read with
        :func:`read_jsonl`), or a ``.csv`` or ``.tsv`` file (read with
        :func:`read_csv`), each optionally followed by ``.gz``. The suffix is
        matched without regard to case.
    errors : {"raise", "skip"}, default "raise"
        See :func:`read_jsonl`.
    encoding : str, default "utf-8"
        Text encoding of the file.
    delimiter : str or None, default None
        For CSV/TSV only: the cell separator; by default ``","`` for ``.csv``
        and ``"\\t"`` for ``.tsv``. Given, a file of any other suffix (``.txt``)
        is read as CSV with it.
    quotechar : str or None, default '"'
        For CSV/TSV only: see :func:`read_csv`; ``None`` turns quoting off.

    Returns
    -------
    Articles
        As from :func:`read_jsonl` or :func:`read_csv`.

    Raises
    ------
    SettingsError
        If the suffix is not one of those above and no `delimiter` is given
        (with one, a file of any other name is read as CSV), or `delimiter` or
        `quotechar` is given for a JSON Lines file; and as the reader called.
    InputError, OSError
        As the reader called.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "news.tsv")
    ...     with open(path, "w", encoding="utf-8") as f:
    ...         _ = f.write("id\\ttitle\\nx\\tHello, world\\n")
    ...     arts = read_articles(path)
    >>> arts[0].title
    'Hello, world'
    """
    name = _path_name(path)
    stem, suffix = os.path.splitext(name)
    if suffix.lower() == ".gz":
        suffix = os.path.splitext(stem)[1]
    suffix = suffix.lower()
    if suffix in _JSONL_SUFFIXES:
        if delimiter is not None:
            raise SettingsError(
                f"delimiter applies only to CSV and TSV files; got delimiter={delimiter!r} "
                f"for the JSON Lines file {name!r}; leave it out"
            )
        if quotechar != '"':
            raise SettingsError(
                f"quotechar applies only to CSV and TSV files; got quotechar={quotechar!r} "
                f"for the JSON Lines file {name!r}; leave it out"
            )
        return read_jsonl(path, errors=errors, encoding=encoding)
    if suffix in _CSV_SUFFIXES or delimiter is not None:  # a delimiter given: CSV, any name
        sep = _CSV_SUFFIXES[suffix] if delimiter is None else delimiter
        return read_csv(path, errors=errors, encoding=encoding, delimiter=sep, quotechar=quotechar)
    supported = ", ".join((*_JSONL_SUFFIXES, *_CSV_SUFFIXES))
    raise SettingsError(
        f"cannot tell the format of {name!r} from its suffix {suffix or '(none)'!r}; "
        f"supported suffixes are {supported}, each optionally followed by .gz; rename the "
        "file, or pass delimiter=',' (or '\\t') to read it as CSV (or TSV)"
    )


def write_jsonl(records: Iterable[Mapping[str, Any] | Article], path: PathArg) -> int:
    """Write records as JSON Lines, replacing the file atomically.

    Parameters
    ----------
    records : iterable of Mapping or Article
        One JSON object per record; an :class:`Article` is written as
        :func:`article_to_dict` gives it. Values may be JSON types,
        ``datetime``/``date`` (written in ISO 8601), numpy scalars and arrays,
        sets (written as lists) and nested mappings.
    path : str or os.PathLike
        The file to write; ``"-"`` writes to standard output. A name ending in
        ``.gz`` is gzip-compressed.

    Returns
    -------
    int
        The number of lines written.

    Raises
    ------
    InputTypeError
        If `records` is a single mapping or string, a record is not a mapping
        or Article, or a value cannot be written as JSON.
    InputError
        If a value is NaN or infinite (not valid JSON), or a record refers to
        itself. The message names the record, counted from 1 ("the 2nd
        record"), its id and the field; ``.field`` and ``.value`` hold them.
    OSError
        If the file cannot be written (``FileNotFoundError`` when its
        directory does not exist).

    Notes
    -----
    The lines go to a temporary file in the same directory, which replaces
    `path` only once every record is written, so a failure leaves any old
    file as it was and no temporary file behind. A new file gets the usual
    permissions (``0o666`` less the umask); a replaced file keeps its own.
    Text is UTF-8 (``ensure_ascii=False``); a lone surrogate is written as
    its ``\\udXXX`` JSON escape so that nothing is lost.

    Standard output is written as each record is serialised, so an error part
    way leaves the lines before it written.

    Examples
    --------
    >>> import os, tempfile
    >>> from datetime import datetime, timezone
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "out.jsonl")
    ...     when = datetime(2014, 3, 10, 16, 52, 50, tzinfo=timezone.utc)
    ...     write_jsonl([{"id": "a", "title": "Hi", "published": when}], path)
    ...     with open(path, encoding="utf-8") as f:
    ...         print(f.read(), end="")
    1
    {"id": "a", "title": "Hi", "published": "2014-03-10T16:52:50+00:00"}
    """
    if isinstance(records, (str, bytes, bytearray, Mapping, Article)):
        raise InputTypeError(
            f"records must be an iterable of dicts or Articles; got a single "
            f"{type(records).__name__}; wrap it in a list: write_jsonl([record], path)"
        )
    name = _path_name(path)
    lines = (_dump_line(record, index) for index, record in enumerate(records))
    if name == "-":
        return _write_stdout(lines)
    return _write_atomic(lines, name)


def article_to_dict(article: Article) -> dict[str, Any]:
    """An article as a flat dict, ready for JSON.

    Parameters
    ----------
    article : Article
        The article.

    Returns
    -------
    dict
        ``id``, ``title``, ``text``, ``source``, ``published`` (an ISO 8601
        string, or ``None``) and ``url``, followed by the keys of
        ``article.extra``. An ``extra`` key that has the name of one of those
        six is left out, so it never overwrites them.

    Raises
    ------
    InputTypeError
        If `article` is not an :class:`Article`.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> a = Article(id="a", title="Hi", published=datetime(2014, 3, 10, tzinfo=timezone.utc),
    ...             extra={"lang": "en"})
    >>> article_to_dict(a)  # doctest: +NORMALIZE_WHITESPACE
    {'id': 'a', 'title': 'Hi', 'text': '', 'source': '',
     'published': '2014-03-10T00:00:00+00:00', 'url': None, 'lang': 'en'}
    """
    if not isinstance(article, Article):
        raise InputTypeError(
            f"expected an Article; got {type(article).__name__}; "
            "convert records with to_articles() first"
        )
    published = article.published
    result: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "text": article.text,
        "source": article.source,
        "published": published.isoformat() if published is not None else None,
        "url": article.url,
    }
    for key, value in article.extra.items():
        if key not in _MAIN_KEYS:
            result[key] = value
    return result


# --- reading ---------------------------------------------------------------


def _path_name(path: object) -> str:
    """The path as a str for opening and for messages."""
    try:
        return os.fsdecode(os.fspath(path))  # type: ignore[call-overload]
    except TypeError:
        raise InputTypeError(
            f"path must be a str or os.PathLike; got {type(path).__name__} {_short_repr(path)}"
        ) from None


def _check_encoding(encoding: object) -> str:
    """Canonical codec name of an ASCII-compatible encoding or UTF-16/32, or SettingsError."""
    problem = None
    name = ""
    if not isinstance(encoding, str):
        problem = f"encoding must be a str; got {type(encoding).__name__}"
    else:
        try:
            name = codecs.lookup(encoding).name
            probe = '\n,"{}'
            encoded = probe.encode(name)
            if name not in _WIDE_CODECS and encoded not in (
                probe.encode("ascii"),
                codecs.BOM_UTF8 + probe.encode("ascii"),
            ):
                problem = f"encoding {encoding!r} is not ASCII-compatible"
        except (LookupError, UnicodeError, TypeError):
            problem = f"unknown text encoding {encoding!r}"
    if problem is not None:
        raise SettingsError(
            f"{problem}; use an ASCII-compatible text encoding such as 'utf-8' or 'cp1252', "
            "or 'utf-16' or 'utf-32' (convert files in other encodings to UTF-8 first)"
        )
    return name


def _check_delimiter(delimiter: object, quotechar: str | None = '"') -> None:
    """Raise SettingsError unless `delimiter` is one usable character."""
    if (
        not isinstance(delimiter, str)
        or len(delimiter) != 1
        or delimiter in "\r\n"
        or delimiter == quotechar
        or delimiter.isalnum()
    ):
        raise SettingsError(
            f"delimiter must be one character other than a letter, digit, the quotechar or "
            f"a line break; got {_short_repr(delimiter)}; use ',' for CSV or '\\t' for TSV"
        )


def _check_quotechar(quotechar: object) -> None:
    """Raise SettingsError unless `quotechar` is None or one usable character."""
    if quotechar is not None and (
        not isinstance(quotechar, str)
        or len(quotechar) != 1
        or quotechar in "\r\n"
        or quotechar.isalnum()
        or quotechar.isspace()
    ):
        raise SettingsError(
            f"quotechar must be one character other than a letter, digit, space or line "
            f"break, or None to turn quoting off; got {_short_repr(quotechar)}; "
            "use '\"' (the default) or None"
        )


def _line_codec(codec: str) -> str:
    """The codec of the lines _numbered_lines yields for a file in `codec`."""
    return "utf-8" if codec in _WIDE_CODECS else codec


def _numbered_lines(name: str, codec: str) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw bytes) of each line, through gzip for '.gz'.

    Lines end at ``\\n``; in a file whose first line ends in a lone ``\\r`` (old Mac
    style) they end at ``\\r``, ``\\r\\n`` or ``\\n``. A UTF-16/32 file is decoded here
    and its lines yielded in UTF-8 (see _line_codec).
    """
    compressed = name.lower().endswith(".gz")
    lineno = 0
    with gzip.open(name, "rb") if compressed else open(name, "rb") as fh:
        try:
            if codec in _WIDE_CODECS:
                text = io.TextIOWrapper(fh, encoding=codec, newline="\n")
                lines: Iterable[bytes] = (line.encode("utf-8") for line in text)
            else:
                lines = _cr_lines(fh) if _ends_in_cr(fh.peek(_CHUNK)) else fh
            for lineno, raw in enumerate(lines, start=1):
                yield lineno, raw
        except UnicodeDecodeError as exc:  # from a UTF-16/32 file only
            raise InputError(
                f"cannot decode the file as {codec} after line {lineno} ({exc.reason}); "
                "check the file's encoding= or convert the file to UTF-8",
                path=name,
                line=lineno + 1,
            ) from None
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InputError(
                f"not a valid gzip file ({exc}); decompress it to check it, or drop the .gz "
                "suffix if it is not compressed",
                path=name,
                line=lineno + 1,
            ) from None


def _ends_in_cr(head: bytes) -> bool:
    """Whether the first line break in `head` is a lone CR."""
    head = head[:_CHUNK]
    cr, lf = head.find(b"\r"), head.find(b"\n")
    return cr != -1 and (lf == -1 or cr < lf) and head[cr + 1 : cr + 2] not in (b"\n", b"")


def _cr_lines(fh: Any) -> Iterator[bytes]:
    """Lines of a binary file ending at CR, CRLF or LF, each with its line break."""
    pending = b""
    while chunk := fh.read(_CHUNK):
        data = pending + chunk
        start = 0
        for match in _LINE_BREAK.finditer(data):
            if match.end() == len(data) and data.endswith(b"\r"):
                break  # may be the first half of a CRLF split between chunks
            yield data[start : match.end()]
            start = match.end()
        pending = data[start:]
    if pending:
        yield pending


def _decode(raw: bytes, lineno: int, codec: str) -> str:
    """Decode one line; a UTF-8 byte-order mark on line 1 is dropped."""
    if lineno == 1 and codec.startswith("utf-8") and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1]
        raise _LineError(
            f"cannot decode the line as {codec}: byte 0x{bad.hex()} at column {exc.start + 1} "
            f"({exc.reason}); pass the file's encoding= ({_encoding_advice(raw, lineno, codec)}), "
            "fix the line"
        ) from None


def _encoding_advice(raw: bytes, lineno: int, codec: str) -> str:
    """Which encoding= to try for a line that `codec` cannot decode."""
    if lineno == 1 and raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "'utf-32': the file starts with a UTF-32 byte-order mark"
    if lineno == 1 and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "'utf-16': the file starts with a UTF-16 byte-order mark"
    if raw.count(0) * 4 >= len(raw) > 2:
        return f"{_utf16_name(raw, lineno)}: the line is full of NUL bytes, as UTF-16 text is"
    # Windows-1252 is Latin-1 with printable characters (curly quotes, dashes, the euro)
    # where Latin-1 has C1 controls: suggest it whenever the bytes allow.
    for suggestion in ("cp1252", "latin-1"):
        if codecs.lookup(suggestion).name != codec:
            try:
                raw.decode(suggestion)
            except UnicodeDecodeError:
                continue
            return f"such as '{suggestion}', which reads this line"
    return "such as 'utf-8', 'cp1252' or 'utf-16'"


def _utf16_name(line: bytes | str, lineno: int) -> str:
    """'utf-16-le' or 'utf-16-be' for line 1 of a BOM-less UTF-16 file, else 'utf-16'."""
    if lineno != 1 or len(line) < 2:
        return "'utf-16'"
    first, second = line[0] in (0, "\x00"), line[1] in (0, "\x00")
    if second and not first:
        return "'utf-16-le'"
    if first and not second:
        return "'utf-16-be'"
    return "'utf-16'"


def _nul_hint(text: str, lineno: int) -> str:
    """A hint that a line of NUL characters is UTF-16 read as something else, or ''."""
    if text.count("\x00") * 4 < len(text) or len(text) < 3:
        return ""
    return (
        f"; the line is full of NUL characters, as UTF-16 text is: pass the file's "
        f"encoding= ({_utf16_name(text, lineno)})"
    )


def _jsonl_records(
    name: str, codec: str, errors: str, report: LoadReport
) -> Iterator[tuple[int | None, object]]:
    """(line, parsed object) for each non-blank line; bad lines raise or are noted."""
    line_codec = _line_codec(codec)
    for lineno, raw in _numbered_lines(name, codec):
        text = ""
        try:
            text = _decode(raw, lineno, line_codec)
            if not text.strip():
                continue
            record = _parse_json_object(text)
        except _LineError as exc:
            report.n_read += 1
            reason = exc.reason + _nul_hint(text, lineno)
            _reject(InputError(reason, path=name, line=lineno), errors, report, hint=_SKIP_HINT)
            continue
        yield lineno, record


def _finite_or_none(literal: str) -> float | None:
    """A JSON number as a float; None for one too large for a float (1e999)."""
    value = float(literal)
    return value if math.isfinite(value) else None


# NaN, Infinity and -Infinity are not JSON, but Python's json writes them: read them as
# missing values, as NaN is in a DataFrame, so they never reach the output.
_JSON_DECODER: Final = json.JSONDecoder(
    parse_constant=lambda _name: None, parse_float=_finite_or_none
)


def _parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object on one line, or _LineError."""
    try:
        value = _JSON_DECODER.decode(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise _LineError(
            f"malformed JSON ({exc.msg} at column {exc.colno}); fix the line"
        ) from None
    except RecursionError:
        raise _LineError("JSON nested too deeply to read; fix the line") from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise _LineError(f"malformed JSON ({exc}); fix the line") from None
    if not isinstance(value, dict):
        kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
        raise _LineError(
            f"expected a JSON object ({{...}}) on each line; got {kind}; "
            f'write each record as an object such as {{"title": ..., "text": ...}} '
        )
    return value


def _csv_records(
    name: str,
    codec: str,
    delimiter: str,
    quotechar: str | None,
    errors: str,
    report: LoadReport,
) -> Generator[tuple[int | None, object], None, None]:
    """(start line, row dict) for each non-blank CSV row; bad rows raise or are noted."""
    undecodable: dict[int, str] = {}

    stray_cr: set[int] = set()  # lines whose inner CRs were replaced by _CR_STAND_IN

    line_codec = _line_codec(codec)

    def text_lines() -> Iterator[str]:
        for lineno, raw in _numbered_lines(name, codec):
            try:
                text = _decode(raw, lineno, line_codec)
            except _LineError as exc:
                # Parse a stand-in so the row boundaries stay right; the row is rejected.
                undecodable[lineno] = exc.reason
                text = raw.decode(line_codec, "replace")
            body = text.rstrip("\r\n")
            if "\r" in body and _CR_STAND_IN not in text:
                # A CR inside the line is text of its cell: hide it from the csv module.
                stray_cr.add(lineno)
                text = body.replace("\r", _CR_STAND_IN) + text[len(body) :]
            yield text

    reader = csv.reader(
        text_lines(),
        delimiter=delimiter,
        quotechar=quotechar,
        quoting=csv.QUOTE_NONE if quotechar is None else csv.QUOTE_MINIMAL,  # MINIMAL: default
        strict=True,
    )
    rows = _csv_rows(reader, undecodable, quotechar)
    header: list[str] | None = None
    for start, end, row, problem in rows:
        if stray_cr and not stray_cr.isdisjoint(range(start, end + 1)):
            row = [cell.replace(_CR_STAND_IN, "\r") for cell in row]
        if header is None:
            if problem is not None:
                raise InputError(
                    f"cannot read the header row: {problem}", path=name, line=start, last_line=end
                )
            header = _check_header(row, name, start, delimiter)
            continue
        try:
            if problem is not None:
                raise _LineError(problem)
            record = _row_record(header, row, delimiter)
        except _LineError as exc:
            report.n_read += 1  # rows that are yielded are counted by _coerce_records
            err = InputError(exc.reason, path=name, line=start, last_line=end)
            _reject(err, errors, report, hint=_SKIP_HINT)
            continue
        yield start, record


def _csv_rows(
    reader: Any, undecodable: Mapping[int, str], quotechar: str | None
) -> Iterator[tuple[int, int, list[str], str | None]]:
    """(first line, last line, cells, problem or None) for each CSV row that is not blank."""
    end = 0
    while True:
        try:
            row: list[str] = next(reader)
            problem = None
        except StopIteration:
            return
        except csv.Error as exc:
            row, problem = [], str(exc)
        start, previous_end, end = end + 1, end, reader.line_num
        bad = [line for line in range(start, end + 1) if line in undecodable]
        if bad:
            start, problem = bad[0], undecodable[bad[0]]
        elif problem is not None:
            problem = _csv_problem(problem, quotechar, start, end)
        if problem is not None:
            yield start, end, row, problem
            if end == previous_end:  # the reader cannot move past this error
                return
        elif any(cell.strip() for cell in row):
            yield start, end, row, None


def _csv_problem(error: str, quotechar: str | None, start: int, end: int) -> str:
    """The reason for a row the csv module could not read, with the fix that applies."""
    problem = f"unreadable CSV row ({_printable(error)})"
    if "field limit" in error:
        return (
            f"{problem}: a cell is longer than {_CSV_FIELD_LIMIT} characters; split the text "
            "or save the file as JSON Lines"
        )
    if quotechar is None or not ("expected after" in error or "end of data" in error):
        return f"{problem}; fix the row"
    if end > start:
        # A quote left open makes the rows after it part of one cell: say which went.
        problem += (
            f"; a quoted cell that starts on line {start} runs on to line {end}, "
            "so these lines were read as one row"
        )
    return (
        f"{problem}; if the quotation marks in this file are plain text, pass quotechar=None; "
        f"else fix the quoting (a quoted cell is {quotechar}...{quotechar}, each "
        f"{quotechar} inside it doubled)"
    )


class _FieldLimit:
    """Raises ``csv.field_size_limit`` while any reader needs it, then puts it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = csv.field_size_limit()
                csv.field_size_limit(max(self._saved, _CSV_FIELD_LIMIT))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    csv.field_size_limit(self._saved)


_csv_field_limit: Final = _FieldLimit()


def _printable(text: str) -> str:
    """`text` with tabs and other control characters written as escapes ('\\t')."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _check_header(row: list[str], name: str, line: int, delimiter: str) -> list[str]:
    """Stripped column names, or InputError if they cannot be used."""
    header = [cell.strip() for cell in row]
    named = [h for h in header if h]
    duplicates = sorted({h for h in named if named.count(h) > 1})
    if duplicates:
        raise InputError(
            f"the header has duplicate column names {duplicates}; rename them so each "
            "column has its own name",
            path=name,
            line=line,
            field=duplicates[0],
        )
    content_names = {*FIELD_ALIASES["title"], *FIELD_ALIASES["text"]}
    if not any(_fold_key(h) in content_names for h in named):
        shown = _short_repr(header, 120)
        # One cell holding the names joined by another separator: the wrong delimiter.
        other = [
            sep
            for sep in ("\t", ";", "|", ",")
            if sep != delimiter
            and len(header) == 1
            and any(_fold_key(h.strip()) in content_names for h in header[0].split(sep))
        ]
        hint = (
            f"; the columns look separated by {other[0]!r}, not {delimiter!r}: pass "
            f"delimiter={other[0]!r}"
            if other
            else _nul_hint(delimiter.join(row), line) or "; a CSV file needs a header row"
        )
        raise InputError(
            f"the header has no title or text column (got {shown}); name one column "
            f"'title' or 'text', or one of {sorted(content_names - {'title', 'text'})}{hint}",
            path=name,
            line=line,
        )
    return header


def _row_record(header: list[str], row: list[str], delimiter: str) -> dict[str, Any]:
    """One data row as a dict keyed by column name; empty cells become None."""
    if len(row) > len(header):
        raise _LineError(
            f"the row has {len(row)} cells but the header has {len(header)} columns; "
            f"quote cells that contain the delimiter {delimiter!r}, fix the row"
        )
    record: dict[str, Any] = {}
    for column, (key, cell) in enumerate(zip(header, row, strict=False), start=1):
        if not key:
            if cell.strip():
                raise _LineError(
                    f"cell {column} holds {_short_repr(cell)} but its column has no name in "
                    f"the header; name the column, fix the row"
                )
            continue
        record[key] = cell if cell else None
    for key in header[len(row) :]:
        if key:
            record[key] = None
    return record


# --- writing ---------------------------------------------------------------


def _dump_line(record: object, index: int) -> bytes:
    """One record as a UTF-8 JSON line (with the trailing newline)."""
    if isinstance(record, Article):
        record = article_to_dict(record)
    elif isinstance(record, Mapping):
        record = dict(record)
    else:
        raise InputTypeError(
            f"{_which(index, None)}: expected a dict or an Article; got {type(record).__name__} "
            f"{_short_repr(record)}; convert it to a dict"
        )
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False, default=_json_default)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _dump_error(record, index, exc) from None
    # A lone surrogate has no UTF-8 form; written as '\udXXX' it is its own JSON escape.
    return (text + "\n").encode("utf-8", "backslashreplace")


def _which(index: int, record: Mapping[str, Any] | None, field: str | None = None) -> str:
    """'the 2nd record (id 'b'), field 'score'': which record of the input, counted from 1."""
    n = index + 1
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    text = f"the {n}{suffix} record"
    if record is not None and isinstance(record.get("id"), (str, int)):
        text += f" (id {_short_repr(record['id'])})"
    return text if field is None else f"{text}, field {field!r}"


def _dump_error(record: dict[str, Any], index: int, exc: BaseException) -> Exception:
    """The error for a record json.dumps refused, naming the record and the field."""
    field = value = None
    for key, item in record.items():
        try:
            json.dumps({key: item}, allow_nan=False, default=_json_default)
        except (TypeError, ValueError, RecursionError):
            field, value = key, item
            break
    where = _which(index, record, field if isinstance(field, str) else None)
    if isinstance(exc, TypeError):
        return InputTypeError(
            f"{where}: cannot write as JSON ({exc}); convert the value to a string, number, "
            "list or dict"
        )
    if isinstance(exc, RecursionError):
        reason = "nested too deeply; flatten the value"
    elif "Out of range float" in str(exc):
        shown = _short_repr(value)
        what = (
            f"is {shown}"
            if isinstance(value, (float, np.floating))
            else f"holds NaN or inf ({shown})"
        )
        reason = (
            f"the value {what}, and JSON has no NaN or infinite numbers; replace it with None "
            "(null) or a finite number"
        )
    elif "Circular reference" in str(exc):
        reason = "the value contains itself; remove the self-reference"
    else:  # an integer with more digits than Python converts
        reason = f"{exc}; write the value as a string"
    err = InputError(f"{where}: cannot write as JSON: {reason}", field=field, value=value)
    err.line = index  # 0-based, as for other in-memory records
    return err


def _json_default(value: Any) -> Any:
    """JSON form of the extra types write_jsonl accepts."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    raise TypeError(f"{type(value).__name__} {_short_repr(value)} is not JSON serializable")


def _write_stdout(lines: Iterable[bytes]) -> int:
    """Write lines to standard output; return how many."""
    count = 0
    buffer = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()
    for line in lines:
        if buffer is not None:
            buffer.write(line)
        else:
            sys.stdout.write(line.decode("utf-8"))
        count += 1
    if buffer is not None:
        buffer.flush()
    sys.stdout.flush()
    return count


def _write_atomic(lines: Iterable[bytes], name: str) -> int:
    """Write lines to a temporary file beside `name`, then rename it over `name`."""
    check_writable(name)
    directory, base = os.path.split(os.path.abspath(name))
    tmp, fd = create_temp(directory, base)
    count = 0
    try:
        with open(fd, "wb") as raw:
            if name.lower().endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="wb", filename=base[:-3], mtime=0) as gz:
                    for line in lines:
                        gz.write(line)
                        count += 1
            else:
                for line in lines:
                    raw.write(line)
                    count += 1
            raw.flush()
            os.fsync(raw.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(name).st_mode))
        os.replace(tmp, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count


def check_writable(path: PathArg) -> None:
    """Raise the error writing `path` would meet for want of its directory, before any work.

    ``FileNotFoundError`` when the directory does not exist, ``IsADirectoryError``
    when `path` is a directory, each naming `path` and the fix; ``"-"`` (standard
    output) always passes.
    """
    name = _path_name(path)
    if name == "-":
        return
    if name.endswith(("/", os.sep)) or os.path.isdir(name):
        raise IsADirectoryError(
            errno.EISDIR, f"{name!r} is a directory; give a file name inside it", name
        )
    directory = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT,
            f"cannot write {name!r}: its directory {directory!r} does not exist; create it first",
            name,
        )


def create_temp(directory: str, base: str) -> tuple[str, int]:
    """Create a new hidden temp file in `directory`; mode 0o666 less the umask."""
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
