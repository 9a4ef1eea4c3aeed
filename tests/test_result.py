"""StoryResult: the story table, links, explain, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import storyclust

from .corpora import CORPUS, quake_reports, weekly_headlines


@pytest.fixture(scope="module")
def result() -> storyclust.StoryResult:
    return storyclust.cluster(CORPUS, progress=False)


def test_story_table_covers_every_article_once(result: storyclust.StoryResult) -> None:
    ids = [i for s in result.stories for i in s.article_ids]
    assert sorted(ids) == sorted(a["id"] for a in CORPUS)
    for s in result.stories:
        assert s.size == len(s.article_ids)
        assert s.representative_id in s.article_ids
        assert all(result.labels[result._position(i)] == s.story_id for i in s.article_ids)


def test_links_carry_ids_and_signals(result: storyclust.StoryResult) -> None:
    links = result.links
    assert links, "the corpus has linked articles"
    ids = {a["id"] for a in CORPUS}
    for link in links:
        assert link["a"] in ids and link["b"] in ids and link["a"] != link["b"]
        assert 0 <= link["score"] <= 1 and 0 <= link["cosine"] <= 1 and 0 <= link["jaccard"] <= 1
        assert link["headline"] is None or 0 <= link["headline"] <= 1


def test_explain_gives_direct_link_and_path(result: storyclust.StoryResult) -> None:
    e = result.explain("wire-ecb", "daily-ecb")
    assert e["same_story"] and e["link"]["score"] > 0.3
    assert e["path"] and e["path"][0]["a"] == "wire-ecb" and e["path"][-1]["b"] == "daily-ecb"
    apart = result.explain("wire-ecb", "sport-1")
    assert not apart["same_story"] and apart["path"] == []
    assert apart["weights"]["threshold"] == 0.25
    with pytest.raises(KeyError, match="no article with id 'nope'"):
        result.explain("wire-ecb", "nope")
    json.dumps(apart)  # plain Python values (its "recut" flag was a numpy bool)


def test_explain_link_follows_the_call_not_the_input_order() -> None:
    forward = storyclust.cluster(CORPUS, progress=False)
    backward = storyclust.cluster(CORPUS[::-1], progress=False)
    for r in (forward, backward):
        for a, b in (("wire-ecb", "daily-ecb"), ("daily-ecb", "wire-ecb")):
            link = r.explain(a, b)["link"]
            assert (link["a"], link["b"]) == (a, b)
    # All but the story numbers, which follow the input order (first appearance).
    same = [
        {k: v for k, v in r.explain("wire-ecb", "daily-ecb").items() if not k.startswith("story_")}
        for r in (forward, backward)
    ]
    assert same[0] == same[1]


def test_explain_names_a_split_at_max_component_size() -> None:
    """A linkage group over max_component_size is split on its weakest links first: that
    parted them, not the linkage cut."""
    r = storyclust.cluster(CORPUS, progress=False, max_component_size=2)
    ecb = [r.story_of(i).story_id for i in ("wire-ecb", "daily-ecb", "courier-ecb")]
    assert len(set(ecb)) == 2  # three reports of one story, in pieces of at most 2
    a, b = next(
        (x, y)
        for x in ("wire-ecb", "daily-ecb", "courier-ecb")
        for y in ("wire-ecb", "daily-ecb", "courier-ecb")
        if r.story_of(x).story_id < r.story_of(y).story_id
    )
    apart = r.explain(a, b)["apart"]
    assert apart["same_linkage_group"] and not apart["recut"]
    assert apart["reason"].startswith(
        "their linkage group of 3 articles is larger than max_component_size (2), so it was "
        "first split on its weakest links"
    )


def test_to_jsonl_round_trips(result: storyclust.StoryResult, tmp_path: Path) -> None:
    out, table = tmp_path / "a.jsonl", tmp_path / "s.jsonl"
    assert result.to_jsonl(out, stories_path=table) == len(CORPUS)
    back = storyclust.read_jsonl(out)
    assert back.ids == result.articles.ids
    assert [a.extra["story"] for a in back] == result.labels.tolist()
    assert back[0].published == result.articles[0].published
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    assert [r["story"] for r in rows] == list(range(result.n_stories))


def test_to_pandas_tables(result: storyclust.StoryResult) -> None:
    pytest.importorskip("pandas")
    arts = result.to_pandas()
    assert list(arts["story"]) == result.labels.tolist()
    assert str(arts["published"].dtype).startswith("datetime64")
    stories = result.to_pandas("stories")
    assert len(stories) == result.n_stories and stories["size"].sum() == len(CORPUS)
    links = result.to_pandas("links")
    assert len(links) == len(result.links)
    assert list(links.columns) == list(result.links[0])  # every field of a link, in order
    # The same dtypes however many articles: an empty result's were float64 and seconds.
    none = storyclust.cluster([], progress=False).to_pandas()
    assert none.dtypes.to_dict() == arts.dtypes.to_dict() and len(none) == 0
    empty = storyclust.cluster(["Quake hits Tokyo"], progress=False).to_pandas("links")
    assert len(empty) == 0 and list(empty.columns) == list(links.columns)
    with pytest.raises(ValueError, match="what must be 'articles', 'stories' or 'links'"):
        result.to_pandas("nope")


def test_metadata_records_settings_and_version(result: storyclust.StoryResult) -> None:
    meta = result.metadata()
    assert meta["settings"]["seed"] == 1 and meta["settings"]["num_perm"] == 128
    assert meta["storyclust_version"] == storyclust.__version__
    assert "storyclust_commit" in meta  # the checkout's commit, or None when installed
    assert set(meta["timings"]) == {"features", "candidates", "links", "stories"}
    assert "StoryResult" in repr(result)


def test_source_commit_is_read_from_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyclust import result as result_module

    # A fake checkout: the package file inside it, HEAD on a branch, the branch packed.
    pkg = tmp_path / "src" / "storyclust"
    pkg.mkdir(parents=True)
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    sha = "0123456789abcdef0123456789abcdef01234567"
    (git / "packed-refs").write_text(f"# pack-refs\n{sha} refs/heads/main\n")
    monkeypatch.setattr(result_module, "__file__", str(pkg / "result.py"))
    result_module.source_commit.cache_clear()
    try:
        assert result_module.source_commit() == sha
        (git / "refs" / "heads" / "main").write_text("f" * 40 + "\n")  # a loose ref wins
        result_module.source_commit.cache_clear()
        assert result_module.source_commit() == "f" * 40
        (git / "HEAD").write_text("e" * 40)  # detached
        result_module.source_commit.cache_clear()
        assert result_module.source_commit() == "e" * 40
    finally:
        result_module.source_commit.cache_clear()


def test_a_title_from_text_is_cut_at_a_word() -> None:
    from storyclust.result import title_from_text

    text = (
        "Perennial party girl Tara Reid checked herself into Promises Treatment Center, her rep "
        * 3
    )
    title = title_from_text(text)
    assert len(title) <= 120 and title.endswith("…")
    assert text.startswith(title[:-1]) and text[len(title) - 1] == " "  # ends at a whole word
    assert title_from_text("  Short\n text ") == "Short text"
    assert title_from_text("x" * 300) == "x" * 119 + "…"
    r = storyclust.cluster([{"id": "a", "text": text}], progress=False)
    assert r.stories[0].title == title


def test_notes_name_future_dates_and_large_undated_stories() -> None:
    quake = quake_reports(30)
    res = storyclust.cluster(quake, progress=False)
    assert max(s.size for s in res.stories) == 30  # alike enough for the re-cut to leave whole
    (note,) = res.notes
    assert note.startswith("30 of 30 articles have no date and the largest story holds 30")
    assert "recut_cohesion=1 (--set recut_cohesion=1) cuts such stories" in note
    assert res.metadata()["notes"] == res.notes
    assert storyclust.cluster(quake[:29], progress=False).notes == []  # largest 29
    (off,) = storyclust.cluster(quake, progress=False, recut_size=0).notes
    assert "--set recut_size=10 --set recut_cohesion=1" in off
    assert storyclust.cluster(quake, progress=False, recut_cohesion=1.0).notes == []
    # Headlines alone: no setting would re-cut them, so none is suggested.
    weekly = weekly_headlines(30)
    assert max(s.size for s in storyclust.cluster(weekly, progress=False).stories) == 30
    assert storyclust.cluster(weekly, progress=False).notes == []
    dated = [dict(a, published="2021-03-01T12:00:00Z") for a in weekly]
    dated[3]["published"] = "2201-03-01T12:00:00Z"  # a mistyped year
    (note,) = storyclust.cluster(dated, progress=False).notes
    assert note.startswith("1 articles are dated after tomorrow (the latest, 'w3': 2201-03-01")
    # 0 written for an unknown date: 1970-01-01, which splits the article from its story.
    dated[3]["published"] = 0
    res = storyclust.cluster(dated, progress=False)
    (note,) = res.notes
    assert note.startswith(
        "1 articles are dated in 1970 (the first, 'w3': 1970-01-01T00:00:00+00:00)"
    )
    assert "give null (None) instead" in note
    dated[3]["published"] = "1971-01-01T00:00:00Z"
    assert storyclust.cluster(dated, progress=False).notes == []


def test_exports_are_copies_and_the_story_table_is_whole(result: storyclust.StoryResult) -> None:
    """Changing what metadata() or to_dict() returned changed the result itself."""
    meta = result.metadata()
    meta["settings"]["num_perm"] = 64
    assert result.settings["num_perm"] == 128 and result.metadata()["lsh"] == {
        "bands": 16,
        "rows": 6,
    }
    row = result.stories[0].to_dict()
    row["article_ids"].append("x")
    row["keywords"].append("x")
    assert "x" not in result.stories[0].article_ids and "x" not in result.stories[0].keywords
    table = result.to_pandas("stories")
    assert list(table.columns) == list(result.stories[0].to_dict())  # merged_ids too


def test_nan_in_an_extra_field_of_a_dict_is_a_missing_value(tmp_path: Path) -> None:
    r = storyclust.cluster(
        [
            {"id": "a", "title": "Quake hits Tokyo", "score": float("nan")},
            {"id": "b", "title": "Budget"},
        ],
        progress=False,
    )
    assert r.articles[0].extra == {"score": None}
    r.to_jsonl(tmp_path / "x.jsonl")  # it failed: NaN is not JSON
    assert json.loads((tmp_path / "x.jsonl").read_text().splitlines()[0])["score"] is None
