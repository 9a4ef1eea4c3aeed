"""Results for the report and plot tests: the demo data clustered, and a large synthetic result."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

import storyclust
from storyclust.links import Links
from storyclust.result import Story
from storyclust.settings import Settings

DEMO = Path(__file__).resolve().parents[1] / "examples" / "data" / "ecbplus_sample.jsonl"


@lru_cache(maxsize=1)
def demo_result() -> storyclust.StoryResult:
    """The 187 ECB+ demo articles, clustered with the defaults."""
    return storyclust.cluster(storyclust.read_jsonl(DEMO), progress=False)


def synthetic_result(n_articles: int = 10_000, seed: int = 0) -> storyclust.StoryResult:
    """A result of `n_articles` made-up articles, built directly (no clustering).

    Story sizes are heavy-tailed, as in real news: a few large stories, many
    single articles. Each story's articles share one sentence with each other,
    so the report has passages to highlight.
    """
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{k}" for k in range(3000)])
    outlets = np.array([f"outlet{k}.example" for k in range(60)])
    sizes: list[int] = []
    left = n_articles
    while left:
        size = min(left, int(rng.zipf(1.8)))
        size = min(size, 400)
        sizes.append(size)
        left -= size
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    articles: list[storyclust.Article] = []
    members: list[list[int]] = []
    for story, size in enumerate(sizes):
        shared = " ".join(rng.choice(vocab, 12))
        day = start + timedelta(days=int(rng.integers(0, 365)))
        idx = []
        for _ in range(size):
            pos = len(articles)
            words = rng.choice(vocab, 70)
            cut = int(rng.integers(10, 60))
            text = " ".join(words[:cut]) + ". " + shared + ". " + " ".join(words[cut:]) + "."
            articles.append(
                storyclust.Article(
                    id=f"s{story}-a{pos}",
                    title=f"Story {story} headline {' '.join(rng.choice(vocab, 5))}",
                    text=text,
                    source=str(rng.choice(outlets)),
                    published=day + timedelta(hours=int(rng.integers(0, 72))),
                    url=f"https://news.example/{pos}",
                )
            )
            idx.append(pos)
        members.append(idx)
    # Shuffle so that stories are interleaved, then number them by first appearance.
    order = rng.permutation(len(articles))
    articles = [articles[int(p)] for p in order]
    new_pos = np.empty(len(order), dtype=np.int64)
    new_pos[order] = np.arange(len(order))
    raw = np.empty(len(articles), dtype=np.int64)
    for story, idx in enumerate(members):
        raw[new_pos[idx]] = story
    first: dict[int, int] = {}
    for lab in raw.tolist():
        first.setdefault(lab, len(first))
    labels = np.array([first[lab] for lab in raw.tolist()], dtype=np.int64)
    by_story: list[list[int]] = [[] for _ in range(len(first))]
    for pos, lab in enumerate(labels.tolist()):
        by_story[lab].append(pos)
    stories = []
    for sid, idx in enumerate(by_story):
        arts = [articles[p] for p in idx]
        dates = [a.published for a in arts if a.published is not None]
        stories.append(
            Story(
                story_id=sid,
                size=len(idx),
                representative_id=arts[0].id,
                title=arts[0].title,
                outlets=sorted({a.source for a in arts}),
                first_seen=min(dates),
                last_seen=max(dates),
                keywords=arts[0].title.split()[3:6],
                cohesion=0.5 if len(idx) > 1 else 1.0,
                article_ids=[a.id for a in arts],
                n_reports=len(idx),
            )
        )
    empty_f = np.zeros(0, dtype=np.float64)
    links = Links(
        pairs=np.zeros((0, 2), dtype=np.int64),
        score=empty_f,
        jaccard=empty_f,
        cosine=empty_f,
        headline=empty_f,
        names=empty_f,
        time_factor=empty_f,
        near_duplicate=np.zeros(0, dtype=np.bool_),
    )
    arts = storyclust.Articles(articles)
    return storyclust.StoryResult(
        articles=arts,
        labels=labels,
        stories=stories,
        link_arrays=links,
        settings=Settings().to_dict(),
        report=arts.report,
    )
