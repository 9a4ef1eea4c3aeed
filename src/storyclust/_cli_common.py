"""What the ``storyclust`` commands share: error text for the command line, output checks."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import StoryclustError
from .io import check_writable

__all__ = ["check_outputs", "error_text", "same_file", "together"]

#: Python-side fixes in error messages, as the command line spells them.
_CLI_FIXES = (
    ("pass errors='skip'", "pass --errors skip"),
    ("pass the file's encoding=", "pass the file's --encoding"),
    ("check the file's encoding=", "check the file's --encoding"),
    ("pass quotechar=None", "pass --quotechar none"),
    ("or '\\t') to read it as CSV", "or tab) to read it as CSV"),
    ("pass delimiter=", "pass --delimiter "),
    ("StoryIndex(path) creates one", "'storyclust index add' creates one"),
    ("(label_field=..., or --label-field on the command line)", "(--label-field)"),
)


def error_text(exc: BaseException | str) -> str:
    """An error's message (or a report's text) with its fix spelled as command-line options."""
    text = str(exc)
    for python, cli in _CLI_FIXES:
        text = text.replace(python, cli)
    return text


def same_file(a: str, b: str) -> bool:
    """True if the two paths name one file (existing or not); ``-`` is never a file."""
    if a == "-" or b == "-":
        return False
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.samefile(pb)
    return pa.resolve() == pb.resolve()


def check_outputs(outputs: Sequence[tuple[str, str]], kept: Sequence[tuple[str, str]]) -> None:
    """Check, before any work, the files a command will write: (option, path) each.

    None may be one of `kept` (what, path: the input, say) or another output; each
    gets its missing folders and must be writable (not a directory). ``-``
    (standard output) passes.
    """
    for k, (option, path) in enumerate(outputs):
        for what, other in kept:
            if same_file(path, other):
                raise StoryclustError(
                    f"{option} {path!r} is {what}; writing it would destroy it: give another name"
                )
        for other_option, earlier in outputs[:k]:
            if same_file(path, earlier):
                raise StoryclustError(
                    f"{option} {path!r} is also {other_option}; give the two different names"
                )
        if path != "-":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            check_writable(path)
            check_permission(path)
        elif option != "-o" and any(o == "-" for _, o in outputs[:k]):
            raise StoryclustError(
                f"{option} - and -o - would both write to standard output; give {option} a file"
            )


def check_permission(path: str) -> None:
    """Raise PermissionError, before any work, if `path` could not be written (or created)."""
    target = Path(path)
    if target.exists():
        if not os.access(target, os.W_OK):
            raise PermissionError(f"cannot write {path!r}: no permission to replace it")
    elif not os.access(target.parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write {path!r}: no permission to create files in {str(target.parent)!r}"
        )


@contextlib.contextmanager
def together(paths: Sequence[str | None]) -> Iterator[Callable[[str | None], str | None]]:
    """Write several outputs as one: all are replaced, or (on any error) none.

    Yields ``temp(path)``: the name to write `path` under (a hidden file beside it,
    ending in its name, so ``.gz`` still compresses); ``-`` and None pass through.
    On leaving without an error, each is renamed over its path (keeping the mode of
    a file it replaces); on an error, the temporary files are removed.
    """
    temps: dict[str, str] = {}
    for path in paths:
        if path is not None and path != "-":
            folder, base = os.path.split(os.path.abspath(path))
            temps[path] = os.path.join(folder, f".{secrets.token_hex(6)}.{base}")

    def temp(path: str | None) -> str | None:
        return temps.get(path, path) if path is not None else None

    try:
        yield temp
        for path, tmp in temps.items():
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
