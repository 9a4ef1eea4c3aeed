"""Fuzz the readers: any input gives articles or a documented storyclust error.

Every failure must be an InputError / InputTypeError (never a KeyError,
UnicodeDecodeError, OverflowError...), and with errors="skip" bad content never
raises and every record read is either loaded or reported.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyclust.articles import FIELD_ALIASES, Article, Articles, to_articles
from storyclust.errors import InputError, InputTypeError, StoryclustError
from storyclust.io import read_csv, read_jsonl

FUZZ = settings(
    deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KEYS = sorted({alias for aliases in FIELD_ALIASES.values() for alias in aliases})


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # One directory for the whole module: Hypothesis reuses a function-scoped tmp_path.
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def check_report(arts: Articles) -> None:
    report = arts.report
    assert report.n_read == report.n_loaded + report.n_skipped
    assert report.n_loaded == len(arts)
    assert len(set(arts.ids)) == len(arts)
    for article in arts:
        assert isinstance(article.id, str) and article.id.strip()
        assert (article.title + article.text).strip()
        assert article.published is None or article.published.tzinfo is timezone.utc


def run(read: Callable[[], Articles], *, skip: bool) -> None:
    """Call a reader: it returns valid articles or raises a documented error."""
    try:
        arts = read()
    except StoryclustError as exc:
        assert isinstance(exc, (InputError, InputTypeError)), type(exc)
        str(exc)  # the message itself must be printable
        if skip:
            raise AssertionError(f"errors='skip' raised for file content: {exc}") from exc
        return
    check_report(arts)


# --- strategies -----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2014-03-10", "2014-03-10T16:52:50.123Z", "Mon, 10 Mar 2014 16:52:50 GMT"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=8,
)
json_records = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), json_values, max_size=6)


class Odd:
    """An object of no known kind."""


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr fails")


odd_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([5000, -400, 63]).map(lambda e: 10**e if e > 0 else -(10**-e))
    | st.floats()  # includes nan and +-inf
    | st.text(max_size=10)
    | st.sampled_from(
        ["\ud800", "a\udfffb", "\x00", "   ", "2014-02-30", "9999-12-31T23:59:59-01:00"]
    )
    | st.binary(max_size=10)
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.dates()
    | st.timedeltas()
    | st.frozensets(st.integers(), max_size=3)
    | st.builds(Odd)
    | st.builds(BadRepr)
    | st.just(Article(id="a", title="T"))
    | st.just(Article(id="", title="T"))
    | st.just(Article(id="b", published=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2)))))
)
odd_values = st.recursive(
    odd_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.sets(st.integers(), max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=5)
        | st.dictionaries(st.integers() | st.none(), children, max_size=2)
    ),
    max_leaves=10,
)
odd_records = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), odd_values, max_size=6)


# --- files of random bytes --------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300), skip=st.booleans())
def test_random_bytes_jsonl(workdir: Path, data: bytes, skip: bool) -> None:
    path = workdir / "fuzz.jsonl"
    path.write_bytes(data)
    run(lambda: read_jsonl(path, errors="skip" if skip else "raise"), skip=skip)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_csv(workdir: Path, data: bytes) -> None:
    path = workdir / "fuzz.csv"
    path.write_bytes(data)
    try:
        arts = read_csv(path)
    except InputError:
        return
    check_report(arts)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_csv_skip_only_header_errors_raise(workdir: Path, data: bytes) -> None:
    # A header that cannot be used stops the read whatever errors= says; nothing else may.
    path = workdir / "fuzz.csv"
    path.write_bytes(data)
    try:
        arts = read_csv(path, errors="skip")
    except InputError as exc:
        assert "header" in exc.reason, exc
        return
    check_report(arts)


@FUZZ
@given(
    header=st.sampled_from([b"id,title,text,date\n", b"\xef\xbb\xbftitle\r\n", b"body;x\n"]),
    body=st.binary(max_size=300),
    pieces=st.lists(
        st.sampled_from([b",", b'"', b"\n", b"\r\n", b"\xff", b"\x00", b"a", b"2014-03-10", b";"]),
        max_size=30,
    ),
)
def test_csv_with_valid_header_and_random_body_never_raises_when_skipping(
    workdir: Path, header: bytes, body: bytes, pieces: list[bytes]
) -> None:
    path = workdir / "fuzz.csv"
    path.write_bytes(header + body + b"".join(pieces))
    delimiter = ";" if header.startswith(b"body") else ","
    run(lambda: read_csv(path, errors="skip", delimiter=delimiter), skip=True)


# --- JSON lines of random JSON values ---------------------------------------------


@FUZZ
@given(
    lines=st.lists(json_values | json_records, max_size=6),
    skip=st.booleans(),
    blank=st.booleans(),
)
def test_random_json_lines(workdir: Path, lines: list[Any], skip: bool, blank: bool) -> None:
    path = workdir / "fuzz.jsonl"
    text = "".join(json.dumps(value) + ("\n\n" if blank else "\n") for value in lines)
    path.write_text(text, encoding="utf-8")
    run(lambda: read_jsonl(path, errors="skip" if skip else "raise"), skip=skip)


# --- odd Python objects -----------------------------------------------------------


@FUZZ
@given(data=odd_values | st.lists(odd_values | odd_records, max_size=6), skip=st.booleans())
def test_to_articles_odd_objects(data: Any, skip: bool) -> None:
    try:
        arts = to_articles(data, errors="skip" if skip else "raise")
    except (InputError, InputTypeError) as exc:
        str(exc)
        # With errors="skip" only the container itself may be refused, never an item.
        if skip:
            assert isinstance(exc, InputTypeError) and not isinstance(data, list), exc
        return
    check_report(arts)


@FUZZ
@given(records=st.lists(odd_records | odd_scalars, max_size=8))
def test_to_articles_skip_accounts_for_every_record(records: list[Any]) -> None:
    arts = to_articles(records, errors="skip")
    check_report(arts)
    assert arts.report.n_read == len(records)
    positions = [s.line for s in arts.report.skipped]
    assert None not in positions
    assert positions == sorted(p for p in positions if p is not None)
