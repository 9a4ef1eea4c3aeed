"""What the ``storyclust`` commands share: error text for the command line, output checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import StoryclustError
from .io import check_writable

__all__ = ["check_outputs", "error_text", "same_file"]

#: Python-side fixes in error messages, as the command line spells them.
_CLI_FIXES = (
    ("pass errors='skip'", "pass --errors skip"),
    ("pass the file's encoding=", "pass the file's --encoding"),
    ("pass delimiter=", "pass --delimiter "),
    ("StoryIndex(path) creates one", "'storyclust index add' creates one"),
    ("(label_field=..., or --label-field on the command line)", "(--label-field)"),
)


def error_text(exc: BaseException) -> str:
    """An error's message with its fix spelled as command-line options."""
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
