"""Story quality with default settings on the labelled files in ../shared/data.

The floors are the pairwise F1 targets of the story-quality issue (ECB+ 0.88, AllSides
crawl 0.58, UCI headlines 0.70), all met by the defaults; the figures themselves are in
README.md (benchmarks/bench_quality.py). The data lives outside the repository (its licences
forbid shipping most of it): set STORYCLUST_DATA to its folder, or keep
../shared/data beside the checkout, as CI does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import storyclust
from storyclust.metrics import evaluate

DATA = Path(
    os.environ.get("STORYCLUST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
FLOORS = {"ecbplus": 0.88, "allsides_neus_public": 0.58, "uci_news_aggregator_sample": 0.70}

needs_data = pytest.mark.skipif(
    not DATA.is_dir() and not os.environ.get("CI"), reason=f"labelled data not found at {DATA}"
)


@needs_data
@pytest.mark.parametrize("name", sorted(FLOORS))
def test_default_settings_reach_the_floor(name: str) -> None:
    articles = storyclust.read_jsonl(DATA / f"{name}.jsonl")
    gold = [a.extra["story"] for a in articles]
    result = storyclust.cluster(articles, progress=False)
    scores = evaluate(gold, result.labels)
    assert scores["pairwise_f1"] >= FLOORS[name], scores
    # chain control: no runaway story
    largest_gold = int(np.unique(gold, return_counts=True)[1].max())
    assert max(s.size for s in result.stories) <= 3 * largest_gold
    # None of them is read as an undated archive: ECB+ is mostly undated, but its stories
    # of one event sit about twice as close inside their re-cut pieces as across.
    recut = result.recut_counts()
    assert recut is not None and not recut["archive"] and recut["stories"] == 0
    if name == "ecbplus":
        assert recut["qualifying"] >= 5 and recut["separation"] < 2.5


@needs_data
def test_the_undated_probe_is_read_as_an_archive_and_no_story_runs_away() -> None:
    """AllSides roundups without dates, title and lead only: many gold stories of three
    are reports of one running issue followed over years. Read as an archive of running
    issues, every story the re-cut looks at is cut again by its own rarer words."""
    articles = storyclust.read_jsonl(DATA / "allsides_neus_probe_public.jsonl")
    gold = [a.extra["story"] for a in articles]
    result = storyclust.cluster(articles, progress=False)
    largest_gold = int(np.unique(gold, return_counts=True)[1].max())
    assert max(s.size for s in result.stories) <= 3 * largest_gold == 9
    recut = result.recut_counts()
    assert recut is not None and recut["archive"] and recut["separation"] > 3.4
    assert evaluate(gold, result.labels)["pairwise_f1"] > 0.5
    # Judged story by story instead, it keeps stories of 24.
    alone = storyclust.cluster(articles, progress=False, recut_archive=float("inf"))
    assert max(s.size for s in alone.stories) > 9


@needs_data
def test_stream_assignments_name_each_story_merged_or_split_once() -> None:
    """ECB+ streamed one article a call (undated first, then by date): a re-cut can give one
    story parts of several others; the assignment names it once, the events each part. And
    every story id an add handed out still resolves (a story moved whole by a re-cut was
    logged as a split of score 0, not a merge, and its id then resolved to nothing)."""
    articles = list(storyclust.read_jsonl(DATA / "ecbplus.jsonl"))
    articles.sort(key=lambda a: (a.published is not None, a.published or 0))
    index = storyclust.StoryIndex()
    repeated = 0
    handed_out = set()
    for article in articles:
        seq = max((e.seq for e in index.events()), default=0)
        (done,) = index.add([article])
        handed_out.add(done.story_id)
        events = index.events(since=seq)
        for kind, named in (("split", done.split), ("merge", done.merged)):
            others = [e.other_id for e in events if e.kind == kind]
            assert list(named) == list(dict.fromkeys(others)), (kind, named, others)
            repeated += len(others) - len(set(others))
    assert repeated > 0  # the case arose: some story took parts of two re-cut stories
    assert all(e.score > 0 for e in index.events())
    for sid in handed_out:
        index.get(sid)  # merged ids resolve to the story they joined
