"""End-to-end behaviour of storyclust.cluster and StoryClusterer on small written corpora."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

import storyclust
from storyclust import StoryClusterer, cluster
from storyclust.metrics import evaluate

from .corpora import (
    CHILE_QUAKE,
    CORPUS,
    ECB_WIRE,
    GOLD,
    JAPAN_INDEPENDENT,
    JAPAN_REUTERS,
    WEEKLY_CLAIMS,
    running_issues,
)


def _story(result: storyclust.StoryResult, article_id: str) -> int:
    return result.story_of(article_id).story_id


def _partition(result: storyclust.StoryResult) -> set[frozenset[str]]:
    return {frozenset(s.article_ids) for s in result.stories}


def test_rewrites_by_two_outlets_land_together() -> None:
    result = cluster(CORPUS, progress=False)
    assert _story(result, "reuters-japan") == _story(result, "independent-japan")
    # they are rewrites, not near-copies: the shingle Jaccard is low
    link = result.explain("reuters-japan", "independent-japan")["link"]
    assert link is not None and link["jaccard"] < 0.2 and not link["near_duplicate"]


def test_two_events_of_the_same_type_stay_apart() -> None:
    result = cluster(CORPUS, progress=False)
    assert _story(result, "ap-chile-quake") == _story(result, "bbc-chile-quake")
    assert _story(result, "afp-indonesia-quake") == _story(result, "guardian-indonesia-quake")
    assert _story(result, "ap-chile-quake") != _story(result, "afp-indonesia-quake")


def test_reprints_with_boilerplate_land_together_and_boilerplate_does_not_merge() -> None:
    result = cluster(CORPUS, progress=False)
    ecb = {_story(result, i) for i in ("wire-ecb", "daily-ecb", "courier-ecb")}
    assert len(ecb) == 1
    # the football piece shares the same boilerplate block but not the story
    assert _story(result, "sport-1") not in ecb
    link = result.explain("wire-ecb", "courier-ecb")["link"]
    assert link is not None and link["jaccard"] > 0.5 and link["cosine"] > 0.8


def test_whole_corpus_matches_gold() -> None:
    result = cluster(CORPUS, progress=False)
    gold = [GOLD[a["id"]] for a in CORPUS]
    assert evaluate(gold, result.labels)["ari"] == pytest.approx(1.0)


def test_labels_are_ints_by_first_appearance() -> None:
    result = cluster(CORPUS, progress=False)
    labels = result.labels.tolist()
    seen: list[int] = []
    for lab in labels:
        if lab not in seen:
            seen.append(lab)
    assert seen == list(range(len(seen)))
    assert result.labels.dtype == np.int64
    assert len(result.stories) == len(seen)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_same_stories_whatever_the_input_order(seed: int) -> None:
    base = _partition(cluster(CORPUS, progress=False))
    shuffled = list(CORPUS)
    random.Random(seed).shuffle(shuffled)
    assert _partition(cluster(shuffled, progress=False)) == base


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_story_table_and_explanations_do_not_depend_on_the_input_order(seed: int) -> None:
    # Five copies of one wire text tie at score 1.0 with each other and with a rewrite:
    # which tied link the spanning tree keeps must not follow the input order.
    copies = [{**ECB_WIRE, "id": f"copy-{k}", "source": f"Paper {k}"} for k in range(5)]
    corpus = [*CORPUS, *copies]

    def seen(records: list[dict[str, object]]) -> tuple[object, ...]:
        r = cluster(records, progress=False)
        table = sorted(
            (sorted(s.article_ids), s.representative_id, s.title, s.keywords, s.cohesion)
            for s in r.stories
        )
        story = r.story_of("copy-0").article_ids
        paths = {
            (a, b): [(h["a"], h["b"]) for h in r.explain(a, b)["path"]]
            for a in sorted(story)
            for b in sorted(story)
            if a < b
        }
        return table, paths

    shuffled = list(corpus)
    random.Random(seed).shuffle(shuffled)
    assert seen(shuffled) == seen(corpus)


def test_representative_table_and_outlets() -> None:
    result = cluster(CORPUS, progress=False)
    ecb = result.story_of("wire-ecb")
    assert ecb.size == 3
    assert ecb.outlets == ["Daily Herald", "Reuters", "The Courier"]
    assert ecb.representative_id in {"wire-ecb", "daily-ecb", "courier-ecb"}
    assert ecb.first_seen is not None and ecb.first_seen.isoformat() == "2021-10-28T12:00:00+00:00"
    assert ecb.last_seen is not None and ecb.last_seen.isoformat() == "2021-10-29T08:00:00+00:00"
    assert "ecb" in ecb.keywords or "lagarde" in ecb.keywords
    assert 0 < ecb.cohesion <= 1
    earliest = cluster(CORPUS, progress=False, representative="earliest").story_of("wire-ecb")
    assert earliest.representative_id == "wire-ecb"
    longest = cluster(CORPUS, progress=False, representative="longest").story_of("wire-ecb")
    assert longest.representative_id in {"daily-ecb", "courier-ecb"}


def test_time_window_separates_far_apart_rewrites() -> None:
    far = dict(JAPAN_INDEPENDENT, published="2021-12-30T09:30:00Z")
    near = cluster([JAPAN_REUTERS, JAPAN_INDEPENDENT], progress=False)
    apart = cluster([JAPAN_REUTERS, far], progress=False)
    assert near.labels.tolist() == [0, 0]
    assert apart.labels.tolist() == [0, 1]
    # time switched off: together again
    off = cluster([JAPAN_REUTERS, far], progress=False, time_window_days=math.inf)
    assert off.labels.tolist() == [0, 0]


def test_undated_articles_are_not_penalised() -> None:
    undated = dict(JAPAN_INDEPENDENT, published=None)
    assert cluster([JAPAN_REUTERS, undated], progress=False).labels.tolist() == [0, 0]


def test_near_duplicates_join_whatever_the_time_gap() -> None:
    # a light-edit reprint months later: still the same story
    late = dict(
        ECB_WIRE,
        id="late",
        source="Weekly",
        published="2022-03-01T00:00:00Z",
        text=ECB_WIRE["text"].replace("on Thursday", "last Thursday"),
    )
    result = cluster([*CORPUS, late], progress=False)
    assert _story(result, "late") == _story(result, "wire-ecb")
    link = result.explain("wire-ecb", "late")["link"]
    assert link["near_duplicate"] and link["time_factor"] < 0.01


def test_higher_threshold_never_merges_more() -> None:
    loose = cluster(CORPUS, progress=False, threshold=0.15).n_stories
    tight = cluster(CORPUS, progress=False, threshold=0.6).n_stories
    assert tight >= loose


def test_plain_strings_and_single_article_and_empty_input() -> None:
    r = cluster(["Quake hits Tokyo", "Budget passes parliament"], progress=False)
    assert r.labels.tolist() == [0, 1]
    assert [a.id for a in r.articles] == ["0", "1"]
    one = cluster([JAPAN_REUTERS], progress=False)
    assert one.labels.tolist() == [0] and one.stories[0].cohesion == 1.0
    empty = cluster([], progress=False)
    assert empty.labels.tolist() == [] and empty.stories == []


def test_articles_with_only_stop_words_or_non_latin_text() -> None:
    r = cluster(
        ["the and of", "東京で地震が発生した", "東京で地震が発生した。", "Москва"], progress=False
    )
    assert r.labels[1] == r.labels[2]
    assert len(r.labels) == 4


def test_errors_skip_counts_bad_records() -> None:
    bad = {"id": "x", "title": "", "text": ""}
    r = cluster([*CORPUS, bad], progress=False, errors="skip")
    assert len(r.articles) == len(CORPUS)
    assert r.report.n_skipped == 1
    assert r.metadata()["input"]["n_skipped"] == 1
    with pytest.raises(storyclust.InputError, match="neither title nor text"):
        cluster([*CORPUS, bad], progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, r"threshold must be a number in \(0, 1\]; got 1.5"),
        ({"threshold": 0}, r"threshold must be a number in \(0, 1\]; got 0"),
        ({"link_threshold": 0.5}, r"link_threshold must be <= threshold"),
        ({"headline_weight": -0.1}, r"headline_weight must be a number in \[0, 1\]"),
        ({"num_perm": 0}, r"num_perm must be an integer >= 1; got 0"),
        ({"seed": "x"}, r"seed must be an integer >= 0; got 'x'"),
        ({"shingle_size": 2.5}, r"shingle_size must be an integer >= 1"),
        ({"time_window_days": -1}, r"time_window_days must be a number >= 0"),
        (
            {"linkage": "ward"},
            r"linkage must be one of \('average', 'single', 'complete'\); got 'ward'",
        ),
        ({"representative": "best"}, r"representative must be one of"),
        ({"treshold": 0.3}, r"unknown setting\(s\) 'treshold'; known settings: .*threshold"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(storyclust.SettingsError, match=message):
        cluster(CORPUS, progress=False, **kwargs)


def test_bare_string_is_a_type_error() -> None:
    with pytest.raises(storyclust.InputTypeError, match="list"):
        cluster("just one text", progress=False)
    # A file name where articles belong points to the readers.
    for name in ("news.jsonl", Path("feeds/day.csv.gz")):
        with pytest.raises(
            storyclust.InputTypeError, match=r"got a file name .*read_articles\(path\)"
        ):
            cluster(name, progress=False)


def test_integer_ids_are_found_as_the_strings_they_became() -> None:
    r = cluster(
        [{"id": 1, "title": "Quake hits Tokyo"}, {"id": 2, "title": "Quake hits Tokyo"}],
        progress=False,
    )
    assert r.articles.ids == ["1", "2"]
    assert r.explain(1, 2)["same_story"] and r.story_of(1) is r.story_of("1")
    with pytest.raises(KeyError, match="no article with id 3"):
        r.explain(1, 3)


def test_story_clusterer_is_sklearn_shaped() -> None:
    model = StoryClusterer(threshold=0.3)
    assert model.get_params()["threshold"] == 0.3
    assert model.fit(CORPUS) is model
    assert model.labels_.tolist() == cluster(CORPUS, progress=False, threshold=0.3).labels.tolist()
    assert len(model.stories_) == int(model.labels_.max()) + 1
    assert all({"a", "b", "score"} <= set(link) for link in model.links_)
    assert model.set_params(threshold=0.9).get_params()["threshold"] == 0.9
    assert model.fit_predict(CORPUS).shape == (len(CORPUS),)
    # settings are checked in fit, not in __init__; unknown names at once
    bad = StoryClusterer(threshold=7)
    with pytest.raises(storyclust.SettingsError):
        bad.fit(CORPUS)
    with pytest.raises(storyclust.SettingsError, match=r"unknown setting.*'nonsense'"):
        StoryClusterer(nonsense=1)
    with pytest.raises(storyclust.SettingsError, match=r"unknown setting.*'nonsense'"):
        model.set_params(nonsense=1)
    # Settings read as attributes, defaults included; clone and repr as in scikit-learn.
    from sklearn.base import clone

    assert model.threshold == 0.9 and model.seed == storyclust.settings.Settings().seed
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = model.nope
    assert set(model.get_params()) >= {"progress", "errors", "seed", "linkage", "threshold"}
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "labels_")
    assert repr(StoryClusterer(threshold=0.3, seed=1)) == "StoryClusterer(threshold=0.3)"
    # A setting assigned as an attribute is the one fit uses, as in scikit-learn.
    model.threshold = 0.35
    assert model.get_params()["threshold"] == 0.35
    assert model.fit(CORPUS).result_.settings["threshold"] == 0.35


def test_story_clusterer_in_scikit_learn_tools() -> None:
    """Grid search, check_is_fitted and a Pipeline's display ask for scikit-learn's tags."""
    from sklearn.base import is_clusterer
    from sklearn.exceptions import NotFittedError
    from sklearn.metrics import adjusted_rand_score
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.utils.validation import check_is_fitted

    model = StoryClusterer(progress=False)
    assert is_clusterer(model)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    check_is_fitted(model.fit(CORPUS))
    gold = [GOLD[str(r["id"])] for r in CORPUS]
    search = GridSearchCV(
        StoryClusterer(progress=False),
        {"threshold": np.array([0.25, 0.9])},  # numpy numbers, as a grid is often made
        scoring=lambda est, x, y: adjusted_rand_score(y, est.fit_predict(x)),
        cv=KFold(2),
    ).fit(CORPUS, gold)
    assert search.best_params_["threshold"] == 0.25
    assert "StoryClusterer" in make_pipeline(FunctionTransformer(), model)._repr_html_()


def test_story_clusterer_labels_line_up_with_skipped_records() -> None:
    """With errors="skip", one label per record given: -1 for a skipped one."""
    bad = {"id": "x", "title": "", "text": ""}
    records = [CORPUS[0], bad, *CORPUS[1:], 5]
    labels = StoryClusterer(errors="skip", progress=False).fit_predict(records)
    assert labels.shape == (len(records),)
    assert labels[1] == -1 and labels[-1] == -1
    plain = cluster(CORPUS, progress=False).labels
    assert labels[[0, *range(2, len(records) - 1)]].tolist() == plain.tolist()
    # Articles already loaded: one label per article.
    arts = storyclust.to_articles(records, errors="skip")
    assert StoryClusterer(progress=False).fit_predict(arts).tolist() == plain.tolist()


def test_a_chain_of_weak_links_does_not_join_two_stories() -> None:
    # A Chile report that mentions the Sulawesi quake in one sentence links weakly to it.
    bridge = {
        "id": "bridge",
        "title": "Chile quake: Antofagasta mines unharmed",
        "text": CHILE_QUAKE["text"]
        + " The tremor came a day after a deadly earthquake killed eight people in Mamuju on "
        "Indonesia's Sulawesi island.",
        "source": "Weekly",
        "published": "2021-10-11T00:00:00Z",
    }
    r = cluster([*CORPUS, bridge], progress=False)
    assert _story(r, "bridge") == _story(r, "ap-chile-quake") == _story(r, "bbc-chile-quake")
    assert _story(r, "ap-chile-quake") != _story(r, "afp-indonesia-quake")
    explained = r.explain("bridge", "afp-indonesia-quake")
    assert not explained["same_story"] and explained["path"] == []
    assert explained["link"] is not None  # the weak link exists; linkage does not follow it
    # Why apart: the links between the two stories, counted from the result's own links.
    apart = explained["apart"]
    la, lb = explained["story_a"], explained["story_b"]
    between = [x["score"] for x in r.links if {_story(r, x["a"]), _story(r, x["b"])} == {la, lb}]
    assert apart["linked_pairs"] == len(between) >= 1
    assert apart["strongest_link"] == pytest.approx(max(between), abs=1e-4)  # links: 4 places
    assert apart["pairs_between"] == r.stories[la].size * r.stories[lb].size
    assert explained["cohesion_b"] == r.stories[lb].cohesion
    if apart["same_linkage_group"]:
        assert "mean score over all" in apart["reason"]
    else:
        assert (
            max(between) < r.settings["threshold"]
            and "never in one linkage group" in apart["reason"]
        )
    assert r.explain("bridge", "ap-chile-quake")["apart"] is None
    # single linkage follows the chain through the bridge: what average linkage avoids
    single = cluster([*CORPUS, bridge], progress=False, linkage="single")
    assert _story(single, "ap-chile-quake") == _story(single, "afp-indonesia-quake")


def test_outlet_priority_and_callable_representatives() -> None:
    by_priority = cluster(CORPUS, progress=False, representative=["The Courier", "Reuters"])
    assert by_priority.story_of("wire-ecb").representative_id == "courier-ecb"
    # outlets not in the list fall back to the central article
    assert by_priority.story_of("reuters-japan").representative_id in {
        "reuters-japan",
        "independent-japan",
    }

    def shortest_title(story: list[storyclust.Article]) -> storyclust.Article:
        return min(story, key=lambda a: (len(a.title), a.id))

    chosen = cluster(CORPUS, progress=False, representative=shortest_title).story_of("wire-ecb")
    assert chosen.representative_id == "wire-ecb"  # "ECB holds rates, slows bond buying"
    by_id = cluster(CORPUS, progress=False, representative=lambda story: story[-1].id)
    assert (
        by_id.story_of("wire-ecb").representative_id == by_id.story_of("wire-ecb").article_ids[-1]
    )
    assert by_id.metadata()["settings"]["representative"].startswith("callable:")


def test_bad_representative_is_named() -> None:
    with pytest.raises(
        storyclust.SettingsError, match=r"representative callable .* must return one of the story"
    ):
        cluster(CORPUS, progress=False, representative=lambda story: 99)
    with pytest.raises(storyclust.SettingsError, match="a list of outlets in order of preference"):
        cluster(CORPUS, progress=False, representative=3)


def test_cohesion_weakest_link_and_reports() -> None:
    result = cluster(CORPUS, progress=False)
    ecb = result.story_of("wire-ecb")
    assert 0.3 < ecb.cohesion <= 1
    assert ecb.weakest_link is not None
    a, b, score = ecb.weakest_link
    assert {a, b} <= set(ecb.article_ids) and 0 < score <= 1
    # the weakest link is no stronger than the cohesion-carrying links of the story
    assert score <= max(
        link["score"] for link in result.links if {link["a"], link["b"]} <= set(ecb.article_ids)
    )
    # three articles, but the courier copy is a near-duplicate reprint of the wire: two reports
    assert ecb.n_reports == 2 and ecb.n_outlets == 3
    single = result.story_of("sport-1")
    assert single.weakest_link is None and single.cohesion == 1.0 and single.n_reports == 1


def test_a_cold_kernel_cache_is_announced_on_a_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from storyclust import _kernel_scan
    from storyclust.pipeline import kernel_cache_cold

    cluster(CORPUS[:3], progress=False)  # compiled (and cached) by now
    assert not kernel_cache_cold()
    cache = _kernel_scan._minhash_range._cache
    monkeypatch.setattr(cache, "_cache_path", str(tmp_path))  # an empty cache folder
    assert kernel_cache_cold()
    cluster(CORPUS[:3], progress=True)
    assert "compiling the similarity kernel" in capsys.readouterr().err
    cluster(CORPUS[:3], progress=False)
    assert "compiling" not in capsys.readouterr().err


def test_recorded_settings_replay() -> None:
    first = cluster(CORPUS, progress=False, time_window_days=math.inf, threshold=0.3)
    saved = first.metadata()["settings"]
    assert saved["time_window_days"] == "inf"
    again = cluster(CORPUS, progress=False, **saved)
    assert again.labels.tolist() == first.labels.tolist() and again.settings == saved
    with pytest.raises(
        storyclust.SettingsError, match="how a function is saved; pass the function"
    ):
        cluster(CORPUS, progress=False, **{**saved, "representative": "callable:pick"})


def test_recut_size_parts_an_undated_running_issue_by_week() -> None:
    gold = [a["story"] for a in WEEKLY_CLAIMS]
    whole = cluster(WEEKLY_CLAIMS, progress=False, recut_size=0)
    assert whole.n_stories == 1 and whole.recut_from is None  # the shared words win
    # By default the re-cut looks at stories of 10 or more, but these twelve reports,
    # written from a handful of words, stay alike with their shared words discounted.
    kept = cluster(WEEKLY_CLAIMS, progress=False)
    assert kept.n_stories == 1 and kept.recut_from is not None and kept.recut_from.max() == -1
    res = cluster(WEEKLY_CLAIMS, progress=False, recut_size=6, recut_cohesion=1.0)
    assert evaluate(gold, res.labels)["pairwise_f1"] == 1.0
    assert res.recut_from is not None and len(set(res.recut_from.tolist())) == 1
    assert res.recut_from.min() >= 0
    assert res.settings["recut_size"] == 6 and res.settings["recut_threshold"] == 0.15
    assert res.settings["recut_cohesion"] == 1.0
    # The story table, cohesion and explain follow the re-cut stories.
    assert sorted(s.size for s in res.stories) == [3, 3, 3, 3]
    assert res.explain("w0-0", "w0-2")["same_story"]
    why = res.explain("w0-0", "w1-0")
    assert not why["same_story"] and why["apart"]["recut"] and why["apart"]["same_linkage_group"]
    assert why["apart"]["reason"].startswith("re-cut: story 0 (3 articles) and story 1 (3) were")
    assert why["weights"]["recut_size"] == 6 and why["weights"]["recut_cohesion"] == 1.0
    assert "recut_cohesion 1.0" in why["apart"]["reason"]
    # Any input order, the same stories; a story under recut_size, or dated, is not re-cut.
    every = {"recut_cohesion": 1.0}
    shuffled = WEEKLY_CLAIMS[::-1]
    assert _partition(cluster(shuffled, progress=False, recut_size=6, **every)) == _partition(res)
    assert cluster(WEEKLY_CLAIMS, progress=False, recut_size=13, **every).n_stories == 1
    dated = [dict(a, published="2021-03-04T12:00:00Z") for a in WEEKLY_CLAIMS]
    assert cluster(dated, progress=False, recut_size=6, **every).n_stories == 1
    assert StoryClusterer(recut_size=6, **every).fit_predict(WEEKLY_CLAIMS).max() == 3


def test_recut_cohesion_decides_which_undated_story_is_cut_again() -> None:
    from storyclust.settings import Settings
    from storyclust.stages import corpus_features
    from storyclust.stories import local_cohesion

    feats = corpus_features(storyclust.to_articles(WEEKLY_CLAIMS), Settings())
    c = local_cohesion(feats.tfidf)  # the twelve are one story: its cohesion
    assert 0 < c < 1
    # 12 articles: the bar is recut_cohesion * sqrt(12 / 10).
    bar = math.sqrt(1.2)
    cut = cluster(WEEKLY_CLAIMS, progress=False, recut_cohesion=(c + 1e-6) / bar)
    assert cut.n_stories == 4 and cut.recut_from is not None and cut.recut_from.min() == 0
    kept = cluster(WEEKLY_CLAIMS, progress=False, recut_cohesion=(c - 1e-6) / bar)
    assert kept.n_stories == 1
    assert cluster(WEEKLY_CLAIMS, progress=False).settings["recut_cohesion"] == 0.06


def test_an_undated_archive_of_running_issues_is_cut_by_week() -> None:
    """Five running issues, four weeks each: judged alone, each issue stays one story (its
    reports stay alike once their shared words are discounted); read together, every
    issue falls apart into its weeks, far apart inside each, and the corpus is an archive."""
    five = running_issues(5)
    gold = [a["story"] for a in five]
    res = cluster(five, progress=False)
    assert evaluate(gold, res.labels)["pairwise_f1"] == 1.0 and res.n_stories == 20
    counts = res.recut_counts()
    assert counts is not None and counts["archive"] and counts["qualifying"] == 5
    assert counts["stories"] == 5 and counts["pieces"] == 20
    assert counts["separation"] >= res.settings["recut_archive"] == 3.4
    assert res.metadata()["recut"] == counts
    why = res.explain("i0w0-0", "i0w1-0")
    assert (
        why["apart"]["recut"] and "read as an archive of running issues" in why["apart"]["reason"]
    )
    assert why["weights"]["recut_archive"] == 3.4
    assert res.notes == []  # nothing to suggest: the archive was read as one
    # Any input order, the same stories.
    assert _partition(cluster(five[::-1], progress=False)) == _partition(res)
    # Four issues are too few stories to read the corpus by; each stays whole, as does
    # every issue with the archive reading off.
    four = cluster(running_issues(4), progress=False)
    assert four.n_stories == 4 and not four.recut_info["archive"]  # type: ignore[index]
    off = cluster(five, progress=False, recut_archive=math.inf)
    assert off.n_stories == 5 and off.settings["recut_archive"] == "inf"
    assert cluster(five, progress=False, **off.settings).n_stories == 5  # replayed as saved
    # A bar above the median separation: not an archive.
    over = cluster(five, progress=False, recut_archive=counts["separation"] + 0.01)
    assert over.n_stories == 5
    assert cluster(five, progress=False, recut_size=0).recut_info is None
    # Pieces that share nothing give a separation of infinity: JSON has none, so the
    # metadata says "inf", as for settings.
    import dataclasses
    import json

    endless = dataclasses.replace(res, recut_info={**counts, "separation": math.inf})
    assert endless.recut_counts()["separation"] == "inf"  # type: ignore[index]
    json.dumps(endless.metadata(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recut_size": -1}, r"recut_size must be an integer >= 0; got -1"),
        ({"recut_size": 2.5}, r"recut_size must be an integer >= 0; got 2.5"),
        ({"recut_threshold": 0}, r"recut_threshold must be a number in \(0, 1\]; got 0"),
        ({"recut_cohesion": -0.1}, r"recut_cohesion must be a number in \[0, 1\]; got -0.1"),
        ({"recut_cohesion": "1"}, r"recut_cohesion must be a number in \[0, 1\]; got '1'"),
        ({"recut_archive": 0.5}, r"recut_archive must be a number >= 1 \(a separation; "),
        ({"recut_size": 2}, r"recut_size must be 0 \(no re-cut\) or an integer >= 3 .*; got 2"),
        ({"recut_archive": True}, r"recut_archive must be a number >= 1 .*; got True"),
        ({"recut_archive": math.nan}, r"recut_archive must be a number >= 1 .*; got nan"),
    ],
)
def test_bad_recut_settings_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(storyclust.SettingsError, match=message):
        cluster(WEEKLY_CLAIMS, progress=False, **kwargs)


def test_numpy_numbers_are_settings_like_python_numbers() -> None:
    """np.arange grids and values read from arrays: checked and saved as the numbers they are."""
    import json

    given = cluster(
        CORPUS,
        progress=False,
        threshold=np.float32(0.3),
        max_neighbors=np.int64(30),
        strip_boilerplate=np.bool_(True),
    )
    plain = cluster(CORPUS, progress=False, threshold=0.3, max_neighbors=30)
    assert given.labels.tolist() == plain.labels.tolist()
    saved = json.loads(json.dumps(given.metadata()["settings"]))
    assert saved["threshold"] == 0.3 and saved["max_neighbors"] == 30
    with pytest.raises(storyclust.SettingsError, match=r"max_neighbors must be an integer >= 1"):
        cluster(CORPUS, progress=False, max_neighbors=np.int64(0))
