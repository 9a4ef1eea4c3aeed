"""split_page on written pages and on the two real scraped pages in ../shared/data/pages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import storyclust
from storyclust import split_page

PAGES = (
    Path(os.environ.get("STORYCLUST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "pages"
)
needs_pages = pytest.mark.skipif(
    not PAGES.is_dir() and not os.environ.get("CI"), reason="no pages folder"
)

WRITTEN = """Storm floods coastal towns
Heavy rain flooded three coastal towns on Monday, officials said.
Hashtags
Comments
No comments yet...
Related Articles

Daily Planet
2 hours ago
- Daily Planet
Minister resigns over budget row
The finance minister resigned after a dispute over the budget.

Morning Post
a day ago
- Morning Post
Local team wins cup final
The local team won the cup final 2-1 on Saturday.
"""


def test_written_page_splits_into_main_and_teasers() -> None:
    arts = split_page(WRITTEN, source="Coast News", published="2024-01-01")
    assert [a.title for a in arts] == [
        "Storm floods coastal towns",
        "Minister resigns over budget row",
        "Local team wins cup final",
    ]
    assert [a.source for a in arts] == ["Coast News", "Daily Planet", "Morning Post"]
    assert arts[0].text == "Heavy rain flooded three coastal towns on Monday, officials said."
    assert "Comments" not in arts[0].text and "Hashtags" not in arts[0].text
    assert arts[0].published is not None and arts[1].published is None
    assert arts[1].extra["age"] == "2 hours ago" and arts[1].extra["page_role"] == "related"
    assert arts[0].extra["page_role"] == "main"


def test_page_without_related_block_is_one_article() -> None:
    arts = split_page("Headline\nBody line one.\nBody line two.")
    assert (
        len(arts) == 1
        and arts[0].title == "Headline"
        and arts[0].text == "Body line one.\nBody line two."
    )


def test_split_page_rejects_non_text() -> None:
    with pytest.raises(
        storyclust.InputTypeError, match="split_page takes the page as a str; got bytes"
    ):
        split_page(b"page")  # type: ignore[arg-type]


@needs_pages
def test_real_page_with_related_outlets() -> None:
    arts = split_page(
        (PAGES / "004_8464ab11a53f5992.txt").read_text(encoding="utf-8"), id_prefix="p4"
    )
    assert [a.source for a in arts[1:]] == ["The Independent", "Times", "Reuters"]
    assert arts[0].title.startswith("Cuban diplomat defends foreign medical missions")
    assert "Try Our AI Features" not in arts[0].text and "No comments yet" not in arts[0].text
    result = storyclust.cluster(arts, progress=False)
    by_source = {a.source: result.labels[k] for k, a in enumerate(arts)}
    assert by_source["The Independent"] == by_source["Reuters"]  # the Japan rewrites
    assert len({by_source["The Independent"], by_source["Times"], result.labels[0]}) == 3


@needs_pages
def test_real_page_with_captioned_teasers() -> None:
    arts = split_page(
        (PAGES / "000_5d8d097d9a1da0a3.txt").read_text(encoding="utf-8"), id_prefix="p0"
    )
    assert len(arts) == 4
    assert arts[0].title == "Cuba tells Russia to back off"
    assert arts[0].text.startswith("Russia needs soldiers")  # the image caption and credit are gone
    assert all(a.source == "GZERO Media" for a in arts)
    result = storyclust.cluster(arts, progress=False)
    assert result.n_stories == 4  # four different stories


@needs_pages
def test_both_pages_together() -> None:
    arts = [
        *split_page(
            (PAGES / "000_5d8d097d9a1da0a3.txt").read_text(encoding="utf-8"), id_prefix="p0"
        ),
        *split_page(
            (PAGES / "004_8464ab11a53f5992.txt").read_text(encoding="utf-8"), id_prefix="p4"
        ),
    ]
    result = storyclust.cluster(arts, progress=False)
    japan = result.story_of("p4-1")
    assert set(japan.article_ids) == {"p4-1", "p4-3"}
    assert sum(s.size for s in result.stories if s.size > 1) == 2
