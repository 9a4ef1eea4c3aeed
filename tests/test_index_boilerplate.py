"""StoryIndex boilerplate learning by line hashes, against storyclust.find_boilerplate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust
from storyclust import Article, find_boilerplate
from storyclust._index_state import learn_boilerplate
from storyclust.text import hash_strings

DATA = Path("/work/shared/data")

# Lines the compiled hashing covers, and some it leaves to Python (Greek, CJK, a
# full-width letter NFKC folds), with spaces, case and line breaks of every kind.
_LINES = [
    "Related Articles",
    "related  ARTICLES",
    "Sign up for our newsletter",
    "Share this:",
    "  ",
    "",
    "Café au lait — “quoted”…",
    "Ελληνικά νέα",
    "東京のニュース",
    "Ｔｏｋｙｏ STRASSE",
    "A long paragraph of news text that goes on for more than twelve words in a row here.",
    "Reuters",
    "\u00a0No-break\u2009spaces",
]
_BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"]


def _want(articles: list[Article], known: frozenset[str]) -> dict[int, str]:
    found = sorted(find_boilerplate(articles) - known)
    return dict(zip(hash_strings(found).view(np.int64).tolist(), found))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.sampled_from(_LINES), st.sampled_from(_BREAKS)), max_size=8),
            st.sampled_from(["", "a", "b", "c"]),
        ),
        min_size=2,
        max_size=12,
    ),
    st.sets(st.sampled_from(["related articles", "reuters", "share this:"])),
)
def test_learned_lines_are_find_boilerplates(
    docs: list[tuple[list[tuple[str, str]], str]], known: set[str]
) -> None:
    articles = [
        Article(id=str(k), text="".join(x + b for x, b in lines) + "end", source=src or None)
        for k, (lines, src) in enumerate(docs)
    ]
    got = learn_boilerplate(articles, frozenset(known))
    want = _want(articles, frozenset(known))
    assert got == want and list(got) == list(want)


@pytest.mark.parametrize("name", ["ecbplus", "allsides_neus_public", "uci_news_aggregator_sample"])
def test_learned_lines_on_the_labelled_files(name: str) -> None:
    path = DATA / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not here")
    articles = list(storyclust.read_jsonl(path))
    for size in (50, 1000):
        for lo in range(0, len(articles), size):
            part = articles[lo : lo + size]
            assert learn_boilerplate(part, frozenset()) == _want(part, frozenset())
