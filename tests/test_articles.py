"""Tests of storyclust.articles: the Article record and to_articles()."""

from __future__ import annotations

import pickle
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storyclust.articles import Article, Articles, LoadReport, SkippedRecord, to_articles
from storyclust.errors import InputError, InputTypeError, SettingsError
from storyclust.io import read_jsonl

UTC = timezone.utc


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """A UTC datetime."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def one(record: Any) -> Article:
    """The single article made from one record."""
    (article,) = to_articles([record])
    return article


# --- Article, LoadReport, Articles -------------------------------------------


def test_article_content_joins_non_empty_parts() -> None:
    assert Article(id="a", title="T", text="B").content == "T\nB"
    assert Article(id="a", title="T").content == "T"
    assert Article(id="a", text="B").content == "B"


def test_article_is_frozen_hashable_and_copies_extra() -> None:
    extra = {"lang": "en"}
    article = Article(id="a", title="T", extra=extra)
    extra["lang"] = "fr"
    assert article.extra == {"lang": "en"}
    with pytest.raises(AttributeError):
        article.title = "other"  # type: ignore[misc]
    assert hash(article) == hash(Article(id="a", title="T", extra={"x": [1]}))
    assert article != Article(id="a", title="T", extra={"lang": "fr"})


def test_articles_pickle_round_trip() -> None:
    arts = to_articles([{"id": "a", "title": "T", "published": "2014-03-10", "k": [1]}])
    back = pickle.loads(pickle.dumps(arts))
    assert back == arts
    assert back.report.n_loaded == 1


def test_load_report_str() -> None:
    report = LoadReport(
        n_read=10,
        n_loaded=8,
        skipped=[SkippedRecord(3, "title", "bad title"), SkippedRecord(7, None, "bad JSON")],
        path="data.jsonl",
    )
    assert report.n_skipped == 2
    assert (
        str(report) == "read 10 records, loaded 8, skipped 2 (line 3: bad title; line 7: bad JSON)"
    )
    assert str(LoadReport(1, 1)) == "read 1 record, loaded 1, skipped 0"


def test_load_report_str_truncates_after_five_reasons() -> None:
    skipped = [SkippedRecord(i, None, f"reason {i}") for i in range(8)]
    text = str(LoadReport(n_read=8, n_loaded=0, skipped=skipped))
    assert text.startswith("read 8 records, loaded 0, skipped 8 (record 0: reason 0; ")
    assert "record 4: reason 4; and 3 more)" in text
    assert "reason 5" not in text


def test_articles_sequence_behaviour() -> None:
    arts = to_articles(["one", "two", "three"])
    assert len(arts) == 3
    assert arts.ids == ["0", "1", "2"]
    assert arts[-1].text == "three"
    assert isinstance(arts[1:], Articles)
    assert arts[1:].ids == ["1", "2"]
    assert [a.text for a in arts] == ["one", "two", "three"]
    assert arts[1] in arts
    assert repr(arts) == "Articles(n=3, ids=['0', '1', '2'])"
    assert arts == to_articles(["one", "two", "three"])
    many = to_articles([str(i) for i in range(7)])
    assert repr(many) == "Articles(n=7, ids=['0', '1', '2', '3', '4', ...])"


def test_articles_constructor_checks_items_and_ids() -> None:
    with pytest.raises(InputTypeError, match="item 1 is str; use to_articles"):
        Articles([Article(id="a", title="T"), "text"])  # type: ignore[list-item]
    with pytest.raises(InputError, match=r"record 1: duplicate id 'a' \(first used by record 0\)"):
        Articles([Article(id="a", title="T"), Article(id="a", title="U")])
    assert Articles().report.n_read == 0


# --- container shapes ---------------------------------------------------------


def test_list_of_strings_gets_positions_as_ids() -> None:
    arts = to_articles(["first text", "second text"])
    assert arts.ids == ["0", "1"]
    assert arts[0] == Article(id="0", text="first text")
    assert str(arts.report) == "read 2 records, loaded 2, skipped 0"


def test_numpy_array_of_strings() -> None:
    arts = to_articles(np.array(["alpha", "beta"]))
    assert arts.ids == ["0", "1"]
    assert arts[1].text == "beta"
    assert type(arts[1].text) is str


def test_generator_and_mixed_items() -> None:
    items = iter([{"title": "A"}, "bare text", Article(id="x", title="B")])
    arts = to_articles(items)
    assert arts.ids == ["0", "1", "x"]


def test_articles_returned_as_is() -> None:
    arts = to_articles(["a"])
    assert to_articles(arts) is arts


def test_valid_article_passes_through_unchanged() -> None:
    article = Article(id="a", title="T", published=utc(2014, 3, 10))
    assert to_articles([article])[0] is article


def test_article_items_are_normalised_and_checked() -> None:
    naive = Article(id="a", title="T", published=datetime(2014, 3, 10, 12))
    assert one(naive).published == utc(2014, 3, 10, 12)
    with pytest.raises(InputError, match="neither title nor text"):
        to_articles([Article(id="a")])
    with pytest.raises(InputError, match=r"Article\.id must be a non-blank string; got int 5"):
        to_articles([Article(id=5, title="T")])  # type: ignore[arg-type]


def test_pandas_dataframe_with_missing_cells() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "id": [10, 11, None],
            "headline": ["Quake", None, "Flood"],
            "body": [np.nan, "Rescue under way", "Rivers rise"],
            "published": pd.to_datetime(["2014-04-01 23:46:47", None, "2014-04-02 00:00:00"]),
            "score": [1.5, np.nan, 2.0],
        }
    )
    arts = to_articles(frame)
    # pandas stores the id column as floats because of the gap: 10.0 -> "10".
    assert arts.ids == ["10", "11", "2"]
    assert arts[0].title == "Quake"
    assert arts[0].text == ""
    assert arts[1].title == ""
    assert arts[1].published is None
    assert arts[0].published == utc(2014, 4, 1, 23, 46, 47)
    assert arts[1].extra == {"score": None}
    assert arts[2].extra == {"score": 2.0}


def test_pandas_dataframe_duplicate_columns() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame([["a", "b"]], columns=["title", "title"])
    with pytest.raises(InputError, match=r"duplicate column names \['title'\]"):
        to_articles(frame)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("just a text", r"got a bare str; wrap a single text in a list: to_articles\(\[text\]\)"),
        (b"bytes", "got a bare bytes; wrap a single text in a list"),
        ({"title": "T"}, r"got a single mapping \(dict\); pass a list of dicts"),
        (Article(id="a", title="T"), r"got a single Article; pass a list"),
        ({"a", "b"}, "got a set, whose order is arbitrary; pass a list"),
        (42, "got int; wrap your records in a list"),
        (None, "got NoneType"),
        (np.array([["a", "b"]]), r"1-D array of texts; got an array of shape \(1, 2\)"),
    ],
)
def test_wrong_container_types(data: object, message: str) -> None:
    with pytest.raises(InputTypeError, match=message):
        to_articles(data)


def test_bad_item_type_raises_naming_position_and_type() -> None:
    with pytest.raises(
        InputTypeError,
        match=r"record 1: expected a str \(the text\), a dict or an Article; got int 5",
    ):
        to_articles(["ok", 5])


def test_bad_item_type_is_skipped_and_reported() -> None:
    arts = to_articles(["ok", 5, b"raw", "fine"], errors="skip")
    assert arts.ids == ["0", "3"]
    assert [(s.line, s.field) for s in arts.report.skipped] == [(1, None), (2, None)]
    assert "got bytes b'raw'" in arts.report.skipped[1].reason


@pytest.mark.parametrize("errors", ["ignore", "Raise", None, True])
def test_bad_errors_value(errors: Any) -> None:
    with pytest.raises(SettingsError, match=r"errors must be 'raise' or 'skip'; got"):
        to_articles(["a"], errors=errors)


# --- field names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("_id", "id"),
        ("article_id", "id"),
        ("uuid", "id"),
        ("headline", "title"),
        ("body", "text"),
        ("content", "text"),
        ("description", "text"),
        ("summary", "text"),
        ("outlet", "source"),
        ("site", "source"),
        ("publisher", "source"),
        ("domain", "source"),
        ("link", "url"),
    ],
)
def test_aliases(key: str, field: str) -> None:
    record = {"title": "T", "text": "B"}
    record.pop(field, None)
    record[key] = "value"
    article = one(record)
    assert getattr(article, field) == "value"
    assert key not in article.extra


@pytest.mark.parametrize(
    "key", ["date", "published_at", "publish_date", "datetime", "timestamp", "time"]
)
def test_date_aliases(key: str) -> None:
    assert one({"title": "T", key: "2014-03-10"}).published == utc(2014, 3, 10)


def test_loose_key_matching_and_exact_match_wins() -> None:
    article = one({"Headline": "loose", "Published At": "2014-03-10", " URL ": "http://x"})
    assert article.title == "loose"
    assert article.published == utc(2014, 3, 10)
    assert article.url == "http://x"
    assert article.extra == {}
    both = one({"Title": "loose", "title": "exact"})
    assert both.title == "exact"
    assert both.extra == {"Title": "loose"}


def test_first_non_empty_alias_wins_and_unused_aliases_are_kept() -> None:
    article = one({"title": "  ", "headline": "H", "text": "T", "summary": "S", "body": ""})
    assert article.title == "H"
    assert article.text == "T"
    # Unused alias with a value is kept; blank unused aliases are dropped.
    assert article.extra == {"summary": "S"}


def test_extra_fields_kept() -> None:
    record = {"id": "a", "title": "T", "lang": "en", "tags": ["x", "y"], "n": None}
    assert one(record).extra == {"lang": "en", "tags": ["x", "y"], "n": None}


def test_source_mapping_gives_name() -> None:
    assert one({"title": "T", "source": {"id": "bbc", "name": "BBC News"}}).source == "BBC News"
    assert one({"title": "T", "source": {"title": "CNN"}}).source == "CNN"
    with pytest.raises(InputError, match="field 'source' is a mapping without a 'name' or 'title'"):
        to_articles([{"title": "T", "source": {"id": "bbc"}}])


def test_non_string_keys_rejected() -> None:
    with pytest.raises(InputError, match="field names must be strings; got int 1"):
        to_articles([{"title": "T", 1: "x"}])


# --- values -------------------------------------------------------------------


def test_a_record_without_title_or_text_fields_names_the_fields_it_has() -> None:
    with pytest.raises(
        InputError,
        match=re.escape(
            "record 0: record has no title or text field (its fields: 'headline_text', 'story_body'); "
            "name the headline 'title' and the body 'text' (aliases: title, headline; text, body"
        ),
    ):
        to_articles([{"headline_text": "Quake", "story_body": "A quake hit."}])


@pytest.mark.parametrize("key", ["publishedAt", "pubDate", "datePublished", "pub_date"])
def test_common_feed_date_fields_are_read(key: str) -> None:
    art = one({"title": "T", key: "2025-06-20T10:00:00Z"})
    assert art.published == utc(2025, 6, 20, 10) and art.extra == {}


def test_neither_title_nor_text() -> None:
    message = "record 1: record has neither title nor text; give at least one of 'title' or 'text'"
    with pytest.raises(InputError, match=re.escape(message)) as info:
        to_articles([{"title": "ok"}, {"id": "b", "title": " ", "text": None, "lang": "en"}])
    assert info.value.line == 1
    assert info.value.field == "text"


def test_empty_string_item() -> None:
    with pytest.raises(InputError, match="record 0: record is an empty string"):
        to_articles(["  "])


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": 5}, "field 'title' must be a string; got int 5; give 'title' as text"),
        ({"text": ["a"]}, r"field 'text' must be a string; got list \['a'\]"),
        ({"headline": 1.5}, "field 'headline' must be a string; got float 1.5"),
        ({"title": "T", "source": 3}, "field 'source' must be a string; got int 3"),
        ({"title": "T", "url": 3}, "field 'url' must be a string; got int 3"),
        ({"title": "T", "id": 1.5}, "field 'id' must be a string or an integer; got float 1.5"),
        ({"title": "T", "id": True}, "field 'id' must be a string or an integer; got bool True"),
        ({"title": "T", "id": 10**5000}, "field 'id' is an integer too large to write out"),
    ],
)
def test_wrong_value_types(record: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=f"^record 0: {message}"):
        to_articles([record])


def test_ids() -> None:
    arts = to_articles(
        [{"id": 7, "title": "a"}, {"id": np.int64(8), "title": "b"}, {"id": 9.0, "title": "c"}]
    )
    assert arts.ids == ["7", "8", "9"]
    assert to_articles([{"title": "a"}, {"id": "", "title": "b"}]).ids == ["0", "1"]


def test_duplicate_id_names_both_positions() -> None:
    message = (
        "record 2: duplicate id 'a' (first used by record 0); ids must be unique; "
        "drop the duplicate or give each record its own id"
    )
    with pytest.raises(InputError, match=re.escape(message)) as info:
        to_articles(
            [{"id": "a", "title": "x"}, {"id": "b", "title": "y"}, {"id": "a", "title": "z"}]
        )
    assert (info.value.line, info.value.field, info.value.value) == (2, "id", "a")


def test_duplicate_of_a_position_id_explains_why() -> None:
    with pytest.raises(
        InputError, match=r"a record without an id gets its position \(from 0\) as id"
    ):
        to_articles([{"title": "x"}, {"id": 0, "title": "y"}])


def test_duplicate_of_a_line_number_id_explains_why(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"title": "a"}\n{"id": "3", "title": "b"}\n{"title": "c"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="a record without an id gets its line number as id"):
        read_jsonl(path)


def test_lone_surrogates_replaced() -> None:
    article = one({"title": "a\ud800b", "text": "pair \ud83d\ude00", "lang": "x\udc80"})
    assert article.title == "a\ufffdb"
    assert article.text == "pair \U0001f600"
    assert article.extra == {"lang": "x\udc80"}  # extra is kept as given


# --- dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-03-10T16:52:50Z", utc(2014, 3, 10, 16, 52, 50)),
        ("2014-03-10T16:52:50z", utc(2014, 3, 10, 16, 52, 50)),
        ("2014-03-10 16:52:50", utc(2014, 3, 10, 16, 52, 50)),
        ("2014-03-10T16:52", utc(2014, 3, 10, 16, 52)),
        ("2014-03-10", utc(2014, 3, 10)),
        ("  2014-03-10  ", utc(2014, 3, 10)),
        ("2014-03-10T16:52:50.1Z", utc(2014, 3, 10, 16, 52, 50, 100000)),
        ("2014-03-10T16:52:50.123Z", utc(2014, 3, 10, 16, 52, 50, 123000)),
        ("2014-03-10T16:52:50,123Z", utc(2014, 3, 10, 16, 52, 50, 123000)),
        ("2014-03-10T16:52:50.123456Z", utc(2014, 3, 10, 16, 52, 50, 123456)),
        ("2014-03-10T16:52:50.123456789Z", utc(2014, 3, 10, 16, 52, 50, 123456)),
        ("2014-03-10T16:52:50+05:30", utc(2014, 3, 10, 11, 22, 50)),
        ("2014-03-10T16:52:50.5-0800", utc(2014, 3, 11, 0, 52, 50, 500000)),
        ("2014-03-10T16:52:50+01", utc(2014, 3, 10, 15, 52, 50)),
        ("2014-03-10T16:52:50.067364+00:00", utc(2014, 3, 10, 16, 52, 50, 67364)),
        ("2014-03-10T16:52:50-00", utc(2014, 3, 10, 16, 52, 50)),
        ("0001-01-01T00:30:00+00:00", utc(1, 1, 1, 0, 30)),
        ("2014-03-10 16:52:50 UTC", utc(2014, 3, 10, 16, 52, 50)),
        ("Mon, 10 Mar 2014 16:52:50 GMT", utc(2014, 3, 10, 16, 52, 50)),
        ("Mon, 10 Mar 2014 16:52:50 +0100", utc(2014, 3, 10, 15, 52, 50)),
        ("10 Mar 2014 16:52:50 -0000", utc(2014, 3, 10, 16, 52, 50)),
        (datetime(2014, 3, 10, 16, 52, 50), utc(2014, 3, 10, 16, 52, 50)),
        (
            datetime(2014, 3, 10, 16, 52, 50, tzinfo=timezone(timedelta(hours=-5))),
            utc(2014, 3, 10, 21, 52, 50),
        ),
        (date(2014, 3, 10), utc(2014, 3, 10)),
        (np.datetime64("2014-03-10T16:52:50.123456789"), utc(2014, 3, 10, 16, 52, 50, 123456)),
        (np.datetime64("2014-03-10"), utc(2014, 3, 10)),
        (1394470370, utc(2014, 3, 10, 16, 52, 50)),
        (1394470370.25, utc(2014, 3, 10, 16, 52, 50, 250000)),
        (np.int64(1394470370), utc(2014, 3, 10, 16, 52, 50)),
        (1394470370123, utc(2014, 3, 10, 16, 52, 50, 123000)),  # above 1e11: milliseconds
        (0, utc(1970, 1, 1)),
        (-86400, utc(1969, 12, 31)),
        # ISO 8601 basic format and GDELT's digits: a day, not POSIX seconds of 1970
        ("20140310", utc(2014, 3, 10)),
        (20140310, utc(2014, 3, 10)),
        (20140310.0, utc(2014, 3, 10)),  # an integer column with gaps, through pandas
        (np.int64(20140310), utc(2014, 3, 10)),
        ("201403101652", utc(2014, 3, 10, 16, 52)),
        ("20140310165250", utc(2014, 3, 10, 16, 52, 50)),
        (20140310165250, utc(2014, 3, 10, 16, 52, 50)),
        ("20140310T165250Z", utc(2014, 3, 10, 16, 52, 50)),
        ("20140310T1652+0100", utc(2014, 3, 10, 15, 52)),
        (12345678, utc(1970, 5, 23, 21, 21, 18)),  # not a valid YYYYMMDD: seconds
        ("Mon, 10 Mar 2014 16:52:50 +0100 (CET)", utc(2014, 3, 10, 15, 52, 50)),
        ("Mon, 10 Mar 2014 16:52:50 est", utc(2014, 3, 10, 21, 52, 50)),
        ("Mon, 10 Mar 2014 16:52:50", utc(2014, 3, 10, 16, 52, 50)),  # no zone: UTC
    ],
)
def test_published_formats(value: object, expected: datetime) -> None:
    published = one({"title": "T", "published": value}).published
    assert published == expected
    assert published is not None and published.tzinfo is UTC


def test_published_pandas_timestamp() -> None:
    pd = pytest.importorskip("pandas")
    stamp = pd.Timestamp("2014-03-10 16:52:50.123456789", tz="Europe/Paris")
    assert one({"title": "T", "published": stamp}).published == utc(2014, 3, 10, 15, 52, 50, 123456)
    assert one({"title": "T", "published": pd.NaT}).published is None


@pytest.mark.parametrize("value", [None, "", "   ", float("nan"), np.datetime64("NaT")])
def test_published_missing(value: object) -> None:
    assert one({"title": "T", "published": value}).published is None


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("published", "yesterday", "an unrecognised date: 'yesterday'"),
        (
            "date",
            "2014-02-30",
            r"an impossible date \(day is out of range for month\): '2014-02-30'",
        ),
        ("published", "2014-03-10T25:00", r"an impossible date \(hour must be in 0..23\)"),
        ("published", "2014-03-10T10:00+24:00", "an impossible date"),
        ("published", "20141310", "an unrecognised date: '20141310'"),  # month 13
        ("published", "2014031", "an unrecognised date: '2014031'"),
        (
            "published",
            "Mon, 10 Mar 2014 16:52:50 JST",
            "a time zone name RFC 2822 does not define, 'JST' \\(write its offset, such as "
            "'\\+0100', instead\\): 'Mon, 10 Mar 2014 16:52:50 JST'",
        ),
        (
            "published",
            "10 Mar 2014 16:52 CEST",
            "a time zone name RFC 2822 does not define, 'CEST'",
        ),
        ("published", True, "a boolean, not a date: True"),
        ("published", float("inf"), "an infinite timestamp: inf"),
        ("timestamp", 10**20, "a timestamp outside the years 1 to 9999"),
        ("published", -1e11 * 1000, "a timestamp outside the years 1 to 9999"),
        ("published", [2014, 3, 10], r"a value of type list, not a date: \[2014, 3, 10\]"),
        (
            "published",
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            "a time outside the years 1 to 9999 once converted to UTC",
        ),
    ],
)
def test_bad_dates_name_field_value_and_formats(key: str, value: object, problem: str) -> None:
    with pytest.raises(InputError, match=f"^record 0: field '{key}' has {problem}") as info:
        to_articles([{"title": "T", key: value}])
    assert "expected ISO 8601 ('2014-03-10'" in str(info.value)
    assert "RFC 2822 ('Mon, 10 Mar 2014 16:52:50 GMT')" in str(info.value)
    assert info.value.field == key


# --- errors="skip" ------------------------------------------------------------


def test_skip_reports_every_bad_record_and_keeps_order() -> None:
    records: list[Any] = [
        {"id": "a", "title": "one"},
        {"id": "b", "title": ""},
        {"id": "c", "title": "three", "date": "soon"},
        "four",
        {"id": "a", "title": "dup"},
        {"id": "f", "text": "six"},
    ]
    arts = to_articles(records, errors="skip")
    assert arts.ids == ["a", "3", "f"]
    report = arts.report
    assert (report.n_read, report.n_loaded, report.n_skipped) == (6, 3, 3)
    assert [(s.line, s.field) for s in report.skipped] == [(1, "text"), (2, "date"), (4, "id")]
    assert str(report).startswith("read 6 records, loaded 3, skipped 3 (record 1: record has")
