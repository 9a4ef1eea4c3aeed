"""Tests of storyclust.io: JSON Lines and CSV in, JSON Lines out."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import storyclust.io as io_module
from storyclust.articles import Article, to_articles
from storyclust.errors import InputError, InputTypeError, SettingsError
from storyclust.io import article_to_dict, read_articles, read_csv, read_jsonl, write_jsonl

UTC = timezone.utc


def write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def jsonl(tmp_path: Path, *lines: str, name: str = "data.jsonl") -> str:
    return write_bytes(tmp_path / name, "".join(line + "\n" for line in lines).encode("utf-8"))


def at(path: str, line: int) -> str:
    """The start of an error message about `line` of `path`, as a regex."""
    return "^" + re.escape(f"{path}, line {line}: ")


# --- read_jsonl ---------------------------------------------------------------


def test_read_jsonl_basic_blank_lines_and_line_ids(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path,
        '{"id": "a", "headline": "Quake", "date": "2014-04-01T23:46:47Z", "lang": "en"}',
        "",
        "   ",
        '{"title": "No id here", "body": "Uses its line number."}',
    )
    arts = read_jsonl(path)
    assert arts.ids == ["a", "4"]
    assert arts[0].title == "Quake"
    assert arts[0].published == datetime(2014, 4, 1, 23, 46, 47, tzinfo=UTC)
    assert arts[0].extra == {"lang": "en"}
    assert arts[1].text == "Uses its line number."
    assert (arts.report.n_read, arts.report.n_loaded, arts.report.path) == (2, 2, path)


def test_read_jsonl_accepts_pathlike_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"title": "first"}\r\n{"title": "second"}')
    arts = read_jsonl(path)
    assert [a.title for a in arts] == ["first", "second"]


def test_read_jsonl_encoding(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "latin.jsonl", '{"title": "Café"}\n'.encode("latin-1"))
    assert read_jsonl(path, encoding="latin-1")[0].title == "Café"
    with pytest.raises(SettingsError, match="encoding 'cp037' is not ASCII-compatible"):
        read_jsonl(path, encoding="cp037")  # EBCDIC
    with pytest.raises(SettingsError, match="unknown text encoding 'klingon'"):
        read_jsonl(path, encoding="klingon")


@pytest.mark.parametrize(
    ("data", "advice"),
    [
        # Curly quotes and a dash: cp1252 reads them; Latin-1 would make them C1 controls.
        ("id,title\na,\u201cQuake\u201d \u2013 Chile\n".encode("cp1252"), "such as 'cp1252'"),
        (b"id,title\na,Caf\xe9 \x81\n", "such as 'latin-1'"),  # 0x81 is not in cp1252
    ],
)
def test_decode_error_suggests_an_encoding_that_reads_the_line(
    tmp_path: Path, data: bytes, advice: str
) -> None:
    path = write_bytes(tmp_path / "w.csv", data)
    message = f"pass the file's encoding= ({advice}, which reads this line), fix the line"
    with pytest.raises(InputError, match=at(path, 2) + ".*" + re.escape(message)):
        read_csv(path)
    assert "\x93" not in read_csv(path, encoding=advice.split("'")[1])[0].title


def test_utf16_files_are_named_and_read(tmp_path: Path) -> None:
    text = "id\ttitle\na\tQuake \u201chits\u201d Chile\n"
    excel = write_bytes(tmp_path / "excel.tsv", text.encode("utf-16"))  # with a BOM
    with pytest.raises(
        InputError, match=re.escape("('utf-16': the file starts with a UTF-16 byte")
    ):
        read_articles(excel)
    assert read_articles(excel, encoding="utf-16")[0].title == "Quake \u201chits\u201d Chile"
    bare = write_bytes(tmp_path / "bare.tsv", text.encode("utf-16-le"))  # no BOM: NULs
    with pytest.raises(
        InputError, match=re.escape("as UTF-16 text is: pass the file's encoding= ('utf-16-le')")
    ):
        read_articles(bare)
    assert read_articles(bare, encoding="utf-16-le").ids == ["a"]
    lines = write_bytes(
        tmp_path / "a.jsonl", '{"title": "x"}\n{"title": "y"}\n'.encode("utf-16-be")
    )
    with pytest.raises(InputError, match=re.escape("pass the file's encoding= ('utf-16-be')")):
        read_jsonl(lines)
    assert [a.title for a in read_jsonl(lines, encoding="utf-16-be")] == ["x", "y"]
    broken = write_bytes(tmp_path / "b.jsonl", '{"title": "x"}\n'.encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(InputError, match=at(broken, 2) + "cannot decode the file as utf-16-le"):
        read_jsonl(broken, encoding="utf-16-le")


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path, '{"title": "ok"}', "", '{"title": "broken" "text": "x"}')
    message = (
        "malformed JSON (Expecting ',' delimiter at column 20); fix the line "
        "or pass errors='skip' to leave it out"
    )
    with pytest.raises(InputError, match=at(path, 3) + re.escape(message)) as info:
        read_jsonl(path)
    assert (info.value.path, info.value.line) == (path, 3)


@pytest.mark.parametrize(
    ("line", "kind"),
    [("[1, 2]", "an array"), ('"text"', "a string"), ("3", "a number"), ("null", "null")],
)
def test_json_line_that_is_not_an_object(tmp_path: Path, line: str, kind: str) -> None:
    path = jsonl(tmp_path, '{"title": "ok"}', line)
    with pytest.raises(
        InputError,
        match=at(path, 2) + re.escape(f"expected a JSON object ({{...}}) on each line; got {kind}"),
    ):
        read_jsonl(path)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "bad.jsonl", b'{"title": "ok"}\n{"title": "\xff\xfe"}\n')
    message = "cannot decode the line as utf-8: byte 0xff at column 12 (invalid start byte)"
    with pytest.raises(InputError, match=at(path, 2) + re.escape(message)):
        read_jsonl(path)


def test_record_errors_in_files_name_the_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path, '{"title": "ok"}', '{"id": "x", "text": "  "}')
    with pytest.raises(InputError, match=at(path, 2) + "record has neither title nor text"):
        read_jsonl(path)
    path = jsonl(tmp_path, '{"title": "ok", "date": "tomorrow"}', name="date.jsonl")
    with pytest.raises(
        InputError, match=at(path, 1) + "field 'date' has an unrecognised date: 'tomorrow'"
    ):
        read_jsonl(path)


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path,
        '{"id": "a", "title": "x"}',
        '{"id": "b", "title": "y"}',
        '{"id": "a", "title": "z"}',
    )
    message = "duplicate id 'a' (first used by line 1); ids must be unique"
    with pytest.raises(InputError, match=at(path, 3) + re.escape(message)):
        read_jsonl(path)


def test_json_edge_values(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = jsonl(tmp_path, '{"title": "' + "x" * 10 + '", "n": ' + "9" * 5000 + "}", deep)
    arts = read_jsonl(path, errors="skip")
    assert len(arts) == 0
    reasons = [s.reason for s in arts.report.skipped]
    assert reasons[0].startswith("malformed JSON (Exceeds the limit (4300")
    assert reasons[1] == "JSON nested too deeply to read; fix the line"


def test_nan_and_infinity_in_jsonl_are_missing_values(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path,
        '{"id": "a", "title": "Quake hits Chile", "score": NaN, "published": NaN}',
        '{"id": "b", "title": NaN, "text": "Aftershock", "range": [Infinity, -Infinity, 1e999, 2.5]}',
    )
    arts = read_jsonl(path)
    assert arts[0].extra == {"score": None} and arts[0].published is None
    assert (arts[1].title, arts[1].extra) == ("", {"range": [None, None, None, 2.5]})
    out = tmp_path / "out.jsonl"
    assert write_jsonl(arts, out) == 2  # what was read can be written
    assert json.loads(out.read_text().splitlines()[0])["score"] is None


def test_skip_mode_jsonl(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path,
        '{"id": "a", "title": "one"}',
        "{broken",
        '{"id": "c", "title": ""}',
        "",
        "[]",
        '{"id": "e", "title": "five"}',
        '{"id": "a", "title": "dup"}',
    )
    arts = read_jsonl(path, errors="skip")
    assert arts.ids == ["a", "e"]
    report = arts.report
    assert (report.n_read, report.n_loaded, report.n_skipped) == (6, 2, 4)
    assert [s.line for s in report.skipped] == [2, 3, 5, 7]
    assert [s.field for s in report.skipped] == [None, "text", None, "id"]
    assert str(report).startswith("read 6 records, loaded 2, skipped 4 (line 2: malformed JSON")
    # The hint to pass errors='skip' is only in raised messages.
    assert all("errors='skip'" not in s.reason for s in report.skipped)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError):
        read_articles(tmp_path / "nope.csv")


def test_bad_path_type() -> None:
    with pytest.raises(InputTypeError, match=r"path must be a str or os\.PathLike; got int 3"):
        read_jsonl(3)  # type: ignore[arg-type]


def test_bad_errors_value_in_readers(tmp_path: Path) -> None:
    path = jsonl(tmp_path, '{"title": "x"}')
    with pytest.raises(SettingsError, match="errors must be 'raise' or 'skip'; got 'warn'"):
        read_jsonl(path, errors="warn")
    with pytest.raises(SettingsError, match="errors must be 'raise' or 'skip'"):
        read_csv(path, errors="warn")


# --- read_csv -----------------------------------------------------------------


def test_read_csv_multiline_cells_and_line_numbers(tmp_path: Path) -> None:
    data = (
        "id,Headline,body,published,section\n"
        'a,Quake,"line one\nline two, with comma",2014-04-01,world\n'
        "\n"
        ",Untitled id,,,\n"
        ",,,,\n"
        'b,"He said ""hi""",text,,\n'
    )
    path = write_bytes(tmp_path / "news.csv", data.encode("utf-8"))
    arts = read_csv(path)
    assert arts.ids == ["a", "5", "b"]  # the row after the two-line cell and a blank line
    assert arts[0].text == "line one\nline two, with comma"
    assert arts[0].published == datetime(2014, 4, 1, tzinfo=UTC)
    assert arts[0].extra == {"section": "world"}
    assert arts[1].text == ""
    assert arts[1].extra == {"section": None}  # empty cells are missing values
    assert arts[2].title == 'He said "hi"'
    assert arts.report.n_read == 3


def test_csv_short_rows_are_padded_and_bom_crlf_accepted(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "short.csv", b"\xef\xbb\xbfid,title,lang\r\n1,Hello\r\n")
    (article,) = read_csv(path)
    assert (article.id, article.title, dict(article.extra)) == ("1", "Hello", {"lang": None})


def test_csv_extra_cells(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "extra.csv", b"id,title\n1,ok\n2,too,many\n")
    message = (
        "the row has 3 cells but the header has 2 columns; quote cells that contain the "
        "delimiter ',', fix the row or pass errors='skip' to leave it out"
    )
    with pytest.raises(InputError, match=at(path, 3) + re.escape(message)):
        read_csv(path)
    arts = read_csv(path, errors="skip")
    assert arts.ids == ["1"]
    assert arts.report.skipped[0].line == 3


def test_csv_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "bad.csv", b'id,title\n1,"multi\nline \xff"\n2,fine\n')
    with pytest.raises(
        InputError, match=at(path, 3) + "cannot decode the line as utf-8: byte 0xff"
    ):
        read_csv(path)
    arts = read_csv(path, errors="skip")
    assert arts.ids == ["2"]
    assert [s.line for s in arts.report.skipped] == [3]


def test_csv_broken_quoting(tmp_path: Path) -> None:
    big = "x" * 200_000  # longer than the csv module's default field limit, 131072
    data = f'title\n"bad"quote\nok\n{big}\n"unterminated\n'.encode()
    path = write_bytes(tmp_path / "quotes.csv", data)
    with pytest.raises(
        InputError, match=at(path, 2) + re.escape("unreadable CSV row (',' expected after '\"')")
    ):
        read_csv(path)
    arts = read_csv(path, errors="skip")
    assert [a.title for a in arts] == ["ok", big]
    assert [s.line for s in arts.report.skipped] == [2, 5]
    assert (arts.report.n_read, arts.report.n_loaded) == (4, 2)
    assert "unexpected end of data" in arts.report.skipped[1].reason


def test_csv_cell_as_long_as_a_json_line_reads_and_the_limit_is_put_back(tmp_path: Path) -> None:
    big = "word " * 60_000  # 300,000 characters: over the csv module's 131072
    path = write_bytes(tmp_path / "big.csv", f"id,text\na,{big}\n".encode())
    before = csv.field_size_limit()
    assert read_csv(path)[0].text == big
    assert csv.field_size_limit() == before
    bad = write_bytes(tmp_path / "bad.csv", f"id,text\na,{big}\nb,\n".encode())
    with pytest.raises(InputError, match="neither title nor text"):
        read_csv(bad)  # an error part way through puts the limit back too
    assert csv.field_size_limit() == before


def test_csv_over_the_field_limit_is_not_called_a_quoting_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io_module, "_CSV_FIELD_LIMIT", 10)
    before = csv.field_size_limit(10)
    try:
        path = write_bytes(tmp_path / "long.csv", b"id,text\na,short\nb,much too long\n")
        arts = read_csv(path, errors="skip")
    finally:
        csv.field_size_limit(before)
    assert arts.ids == ["a"]
    reason = arts.report.skipped[0].reason
    assert reason.startswith("unreadable CSV row (field larger than field limit (10)): a cell is")
    assert "quot" not in reason


@pytest.mark.parametrize("name", ["mac.csv", "mac.csv.gz"])
def test_csv_with_cr_line_endings(tmp_path: Path, name: str) -> None:
    data = b'id,title,text\ra,A,x\rb,B,"two\rlines"\r,,\rc,C,"unclosed\r'
    path = write_bytes(tmp_path / name, gzip.compress(data) if name.endswith(".gz") else data)
    arts = read_csv(path, errors="skip")
    assert [(a.id, a.text) for a in arts] == [("a", "x"), ("b", "two\rlines")]
    assert [(s.line, s.last_line) for s in arts.report.skipped] == [(6, None)]
    with pytest.raises(InputError, match=at(path, 6) + "unreadable CSV row"):
        read_csv(path)
    jsonl_path = write_bytes(tmp_path / "mac.jsonl", b'{"title": "T"}\r\r{"title": "U"}\r')
    assert read_jsonl(jsonl_path).ids == ["1", "3"]


def test_csv_stray_cr_inside_a_cell_is_text(tmp_path: Path) -> None:
    data = b'id,title,text\na,A,x\ry\nb,B,"q\rz"\r\nc,C\rD,z\n'
    arts = read_csv(write_bytes(tmp_path / "stray.csv", data))
    assert [(a.id, a.title, a.text) for a in arts] == [
        ("a", "A", "x\ry"),
        ("b", "B", "q\rz"),
        ("c", "C\rD", "z"),
    ]


def test_csv_row_swallowed_by_a_stray_quote_names_its_lines(tmp_path: Path) -> None:
    # The unclosed quote on line 2 makes line 3 (record b) part of its cell: both go, and say so.
    data = 'id,title,text\na,A,"oops unclosed\nb,B,"fine, quoted"\nc,C,plain\nd,D,"also quoted"\n'
    path = write_bytes(tmp_path / "stray.csv", data.encode())
    arts = read_csv(path, errors="skip")
    assert arts.ids == ["c", "d"]
    (skipped,) = arts.report.skipped
    assert (skipped.line, skipped.last_line) == (2, 3)
    assert "a quoted cell that starts on line 2 runs on to line 3" in skipped.reason
    assert str(arts.report).startswith(
        "read 3 records, loaded 2, skipped 1 (lines 2-3: unreadable CSV row"
    )
    with pytest.raises(InputError, match="^" + re.escape(f"{path}, lines 2-3: unreadable")) as info:
        read_csv(path)
    assert (info.value.line, info.value.last_line) == (2, 3)


def test_tsv_cell_starting_with_a_quote_reads_with_quoting_off(tmp_path: Path) -> None:
    data = b'id\ttitle\ttext\na\tMayor\t"We will rebuild," the mayor said.\n'
    path = write_bytes(tmp_path / "q.tsv", data)
    # The message shows the tab as '\t' (not a raw tab) and offers the way out.
    message = (
        "unreadable CSV row ('\\t' expected after '\"'); if the quotation marks in this file "
        "are plain text, pass quotechar=None; else fix the quoting"
    )
    with pytest.raises(InputError, match=at(path, 2) + re.escape(message)):
        read_articles(path)
    said = '"We will rebuild," the mayor said.'
    assert read_articles(path, quotechar=None)[0].text == said
    # Any suffix reads as CSV through read_csv, with the same settings.
    txt = write_bytes(tmp_path / "q.txt", data)
    assert read_csv(txt, delimiter="\t", quotechar=None)[0].text == said
    # Another quote character: a cell quoted with it may hold the delimiter.
    semi = write_bytes(tmp_path / "s.csv", b"title;text\n'a;b';\"c\"\n")
    (article,) = read_csv(semi, delimiter=";", quotechar="'")
    assert (article.title, article.text) == ("a;b", '"c"')


@pytest.mark.parametrize("bad", ["", "ab", "x", " ", "\n", 5])
def test_bad_quotechar(tmp_path: Path, bad: Any) -> None:
    path = write_bytes(tmp_path / "a.csv", b"title\nx\n")
    with pytest.raises(SettingsError, match="quotechar must be one character other than"):
        read_csv(path, quotechar=bad)


def test_quotechar_is_for_csv_only_and_may_not_be_the_delimiter(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="quotechar applies only to CSV and TSV files"):
        read_articles(jsonl(tmp_path, '{"title": "T"}'), quotechar=None)
    path = write_bytes(tmp_path / "a.csv", b'title"x\nT"1\n')
    with pytest.raises(SettingsError, match="delimiter must be one character other than"):
        read_csv(path, delimiter="|", quotechar="|")
    assert read_csv(path, delimiter='"', quotechar=None)[0].extra == {"x": "1"}


def test_csv_value_under_unnamed_column(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "unnamed.csv", b"title,\nok,\nbad,value\n")
    with pytest.raises(
        InputError, match=at(path, 3) + "cell 2 holds 'value' but its column has no name"
    ):
        read_csv(path)
    assert read_csv(path, errors="skip").ids == ["2"]


@pytest.mark.parametrize(
    ("header", "where", "message"),
    [
        (b"title,title\n", "line 1", r"the header has duplicate column names \['title'\]"),
        (
            b"foo,bar\n",
            "line 1",
            r"the header has no title or text column \(got \['foo', 'bar'\]\)",
        ),
        (b"ti\xfftle\n", "line 1", "cannot read the header row: cannot decode the line"),
        (
            b'"title\n',
            "lines 1-2",  # the open quote takes the row after the header too
            r"cannot read the header row: unreadable CSV row \(unexpected end of data\)",
        ),
    ],
)
def test_csv_bad_header_raises_even_when_skipping(
    tmp_path: Path, header: bytes, where: str, message: str
) -> None:
    path = write_bytes(tmp_path / "header.csv", header + b"x,y\n")
    for errors in ("raise", "skip"):
        with pytest.raises(InputError, match="^" + re.escape(f"{path}, {where}: ") + message):
            read_csv(path, errors=errors)


def test_csv_empty_file_gives_no_articles(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "empty.csv", b"\n\n")
    arts = read_csv(path)
    assert len(arts) == 0
    assert arts.report.n_read == 0


def test_csv_delimiter_and_encoding(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "semi.csv", "title;lang\nCafé, bar;fr\n".encode("cp1252"))
    (article,) = read_csv(path, delimiter=";", encoding="cp1252")
    assert (article.title, dict(article.extra)) == ("Café, bar", {"lang": "fr"})
    for bad in (";;", "", "a", '"', "\n", 5):
        with pytest.raises(SettingsError, match="delimiter must be one character"):
            read_csv(path, delimiter=bad)  # type: ignore[arg-type]


# --- read_articles ------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.jsonl", "a.NDJSON", "a.json-lines", "a.jsonl.gz"])
def test_read_articles_jsonl_suffixes(tmp_path: Path, name: str) -> None:
    data = b'{"title": "T"}\n'
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert read_articles(path)[0].title == "T"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.csv", b"title,x\nT,1\n"),
        ("a.tsv", b"title\tx\nT\t1\n"),
        ("a.TSV.GZ", b"title\tx\nT\t1\n"),
    ],
)
def test_read_articles_csv_suffixes(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.lower().endswith(".gz") else data)
    (article,) = read_articles(path)
    assert (article.title, dict(article.extra)) == ("T", {"x": "1"})


def test_read_articles_delimiter_override_and_misuse(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "a.csv", b"title|x\nT|1\n")
    assert read_articles(path, delimiter="|")[0].extra == {"x": "1"}
    json_path = jsonl(tmp_path, '{"title": "T"}')
    with pytest.raises(SettingsError, match="delimiter applies only to CSV and TSV files"):
        read_articles(json_path, delimiter=",")


@pytest.mark.parametrize("name", ["a.json", "a.txt", "a.gz", "noext", "a.csv.zip"])
def test_read_articles_unsupported_suffix(tmp_path: Path, name: str) -> None:
    supported = (
        "supported suffixes are .jsonl, .ndjson, .json-lines, .csv, .tsv, "
        "each optionally followed by .gz"
    )
    with pytest.raises(SettingsError, match="^cannot tell the format of .*" + re.escape(supported)):
        read_articles(tmp_path / name)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "a.jsonl.gz", b"not gzip data")
    for errors in ("raise", "skip"):
        with pytest.raises(InputError, match=at(path, 1) + "not a valid gzip file"):
            read_articles(path, errors=errors)
    truncated = write_bytes(tmp_path / "b.jsonl.gz", gzip.compress(b'{"title": "T"}\n' * 50)[:-12])
    with pytest.raises(InputError, match="not a valid gzip file"):
        read_articles(truncated)


# --- writing ------------------------------------------------------------------


def test_article_to_dict_keeps_main_fields_first() -> None:
    article = Article(
        id="a",
        title="T",
        published=datetime(2014, 3, 10, 16, 52, 50, 123000, tzinfo=UTC),
        extra={"lang": "en", "title": "not me", "url": "nor me"},
    )
    assert article_to_dict(article) == {
        "id": "a",
        "title": "T",
        "text": "",
        "source": "",
        "published": "2014-03-10T16:52:50.123000+00:00",
        "url": None,
        "lang": "en",
    }
    with pytest.raises(InputTypeError, match="expected an Article; got dict"):
        article_to_dict({"id": "a"})  # type: ignore[arg-type]


def test_write_read_round_trip(tmp_path: Path) -> None:
    arts = to_articles(
        [
            {
                "id": "a",
                "title": "Quake ü",
                "text": "line\nbreak",
                "source": "BBC",
                "published": "2014-04-01T23:46:47.5+02:00",
                "url": "http://x",
                "tags": ["a", "b"],
                "meta": {"n": 1},
            },
            {"id": "b", "text": "no date \u2028 sep"},
        ]
    )
    path = tmp_path / "out.jsonl"
    assert write_jsonl(arts, path) == 2
    assert "ü" in path.read_text(encoding="utf-8")  # ensure_ascii=False
    back = read_jsonl(path)
    assert back == arts
    assert back[0].published == datetime(2014, 4, 1, 21, 46, 47, 500000, tzinfo=UTC)
    assert back[0].extra == {"tags": ["a", "b"], "meta": {"n": 1}}


def test_write_dicts_with_rich_values(tmp_path: Path) -> None:
    when = datetime(2014, 3, 10, tzinfo=UTC)
    records: list[Any] = [
        {
            "id": "a",
            "title": "T",
            "published": when,
            "n": np.int64(3),
            "v": np.array([1.5]),
            "s": {2, 1},
        },
        {"id": "b", "title": "lone \udc80 surrogate"},
    ]
    path = tmp_path / "rich.jsonl"
    assert write_jsonl(records, path) == 2
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first == {
        "id": "a",
        "title": "T",
        "published": "2014-03-10T00:00:00+00:00",
        "n": 3,
        "v": [1.5],
        "s": [1, 2],
    }
    assert second["title"] == "lone \udc80 surrogate"  # written as a JSON escape
    assert read_jsonl(path)[1].title == "lone \ufffd surrogate"


def test_write_gzip_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl.gz"
    write_jsonl([{"id": "a", "title": "T"}], path)
    assert gzip.decompress(path.read_bytes()) == b'{"id": "a", "title": "T"}\n'
    assert read_articles(path).ids == ["a"]


def test_write_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old content\n", encoding="utf-8")
    os.chmod(path, 0o640)

    def records() -> Any:
        yield {"id": "a", "title": "T"}
        yield {"id": "b", "bad": float("nan")}

    with pytest.raises(InputError, match=r"^the 2nd record \(id 'b'\), field 'bad': cannot write"):
        write_jsonl(records(), path)
    assert path.read_text(encoding="utf-8") == "old content\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]  # no temporary file left behind
    write_jsonl([{"id": "a"}], path)
    assert os.listdir(tmp_path) == ["out.jsonl"]
    assert path.read_text(encoding="utf-8") == '{"id": "a"}\n'
    assert os.stat(path).st_mode & 0o777 == 0o640  # a replaced file keeps its permissions


def test_write_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    write_jsonl([], path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert path.read_bytes() == b""


def test_write_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert write_jsonl([{"id": "a", "title": "é"}, Article(id="b", text="x")], "-") == 2
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[0]) == {"id": "a", "title": "é"}
    assert json.loads(out[1])["id"] == "b"


@pytest.mark.parametrize(
    ("records", "error", "message"),
    [
        ({"id": "a"}, InputTypeError, r"got a single dict; wrap it in a list"),
        ("text", InputTypeError, r"got a single str"),
        ([5], InputTypeError, r"^the 1st record: expected a dict or an Article; got int 5"),
        (
            [{"x": object()}],
            InputTypeError,
            r"^the 1st record, field 'x': cannot write as JSON \(object .* is not JSON serializ",
        ),
        (
            [{"a": 1}, {"id": "b", "x": float("inf")}],
            InputError,
            r"^the 2nd record \(id 'b'\), field 'x': cannot write as JSON: the value is inf, and "
            r"JSON has no NaN or infinite numbers; replace it with None",
        ),
        (
            [{"a": 1}] * 10 + [{"id": 7, "xs": [1.0, np.nan]}],
            InputError,
            r"^the 11th record \(id 7\), field 'xs': cannot write as JSON: the value holds NaN",
        ),
        ([{(1, 2): "tuple key"}], InputTypeError, r"^the 1st record: cannot write as JSON \(keys"),
    ],
)
def test_write_errors(tmp_path: Path, records: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        write_jsonl(records, tmp_path / "x.jsonl")
    assert os.listdir(tmp_path) == []


def test_write_error_for_an_article_with_nan_in_extra(tmp_path: Path) -> None:
    article = Article(id="q1", title="Quake", extra={"score": float("nan")})
    with pytest.raises(InputError, match=r"^the 1st record \(id 'q1'\), field 'score'") as info:
        write_jsonl([article], tmp_path / "x.jsonl")
    assert (info.value.field, info.value.line) == ("score", 0)


def test_write_into_missing_directory(tmp_path: Path) -> None:
    # The error names the directory and the fix, not a temporary file.
    with pytest.raises(
        FileNotFoundError, match=r"its directory '.*/no/such' does not exist; create"
    ):
        write_jsonl([{"id": "a"}], tmp_path / "no" / "such" / "dir.jsonl")
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match=r"is a directory; give a file name inside it"):
        write_jsonl([{"id": "a"}], tmp_path / "d")
    assert os.listdir(tmp_path) == ["d"] and os.listdir(tmp_path / "d") == []


def test_a_header_split_by_another_separator_suggests_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id\ttitle\tpublished\na\tQuake\t1700000000\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"look separated by '\\t', not ',': pass delimiter='\\t'"):
        read_csv(path)
    arts = read_csv(path, delimiter="\t")
    # A CSV cell of POSIX seconds is a time, as a JSON number is.
    assert arts[0].published == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
