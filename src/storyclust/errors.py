"""The exceptions storyclust raises on purpose.

Every error that bad input can cause is one of these. They subclass the built-in
exception a Python user would expect (``ValueError`` for a bad value, ``TypeError``
for the wrong kind of object), so ``except ValueError`` keeps working.

``StoryclustError``
    Base class of everything below.
``InputError(StoryclustError, ValueError)``
    A record or file that cannot be read: a malformed JSON line, a record with
    neither title nor text, a bad date, a duplicate id. Carries ``path``,
    ``line``, ``field`` and ``value`` where they are known.
``InputTypeError(StoryclustError, TypeError)``
    The wrong kind of object where articles were expected (a bare ``str``
    instead of a list of texts, a number instead of a record).
``SettingsError(StoryclustError, ValueError)``
    A setting outside its allowed range ("threshold must be a number in (0, 1]; got 1.5").
"""

from __future__ import annotations

from typing import Any

__all__ = ["InputError", "InputTypeError", "SettingsError", "StoryclustError"]


class StoryclustError(Exception):
    """Base class of all errors storyclust raises on purpose."""


class InputError(StoryclustError, ValueError):
    """A record or file that cannot be turned into articles.

    Attributes
    ----------
    path : str or None
        The file being read, if any.
    line : int or None
        1-based line number in that file (JSONL, CSV) or 0-based position in
        an in-memory sequence, if known.
    last_line : int or None
        For a CSV row that runs over several lines (a quoted cell holding line
        breaks), the last line it took; the message then says
        ``lines 2-3``. ``None`` for a row on one line.
    field : str or None
        The offending field, if one is to blame.
    value : object
        The offending value (``None`` when not applicable).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        value: Any = None,
        last_line: int | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(_where(line, last_line, in_file=path is not None))
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.reason = message
        self.path = path
        self.line = line
        self.field = field
        self.value = value
        self.last_line = last_line if last_line != line else None


def _where(line: int, last_line: int | None, *, in_file: bool) -> str:
    """'line 2', 'lines 2-3' (a row over two lines) or 'record 2' (in memory)."""
    if not in_file:
        return f"record {line}"
    if last_line is not None and last_line != line:
        return f"lines {line}-{last_line}"
    return f"line {line}"


class InputTypeError(StoryclustError, TypeError):
    """The wrong kind of object where articles were expected."""


class SettingsError(StoryclustError, ValueError):
    """A setting outside its allowed range or of the wrong kind."""
