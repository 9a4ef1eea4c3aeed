"""split_page on written pages and on the two real scraped pages in ../shared/data/pages."""

from __future__ import annotations

import os
import re
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


def test_default_ids_differ_between_pages_and_are_stable() -> None:
    other = WRITTEN.replace("Storm floods coastal towns", "Bridge reopens after repairs")
    first, second = split_page(WRITTEN), split_page(other)
    assert len({*first.ids, *second.ids}) == len(first) + len(second) == 6
    assert first.ids == split_page(WRITTEN).ids  # the same page, the same ids
    assert all(re.fullmatch(r"page-[0-9a-f]{12}-\d", i) for i in first.ids)
    # The README's pattern: the pieces of several pages clustered together.
    result = storyclust.cluster([*first, *second], progress=False)
    assert len(result.labels) == 6
    assert split_page(WRITTEN, id_prefix="coast").ids == ["coast-0", "coast-1", "coast-2"]


def test_duplicate_split_page_ids_mention_id_prefix() -> None:
    fix = "drop the repeated page or give each page its own id_prefix"
    with pytest.raises(storyclust.InputError, match="split_page made this id .*" + fix):
        storyclust.cluster([*split_page(WRITTEN), *split_page(WRITTEN)], progress=False)
    with pytest.raises(storyclust.InputError, match="duplicate id 'p-0' .*" + fix):
        storyclust.Articles(
            [*split_page(WRITTEN, id_prefix="p"), *split_page("A\nB", id_prefix="p")]
        )
    with pytest.raises(storyclust.InputTypeError, match="id_prefix must be a str or None; got int"):
        split_page(WRITTEN, id_prefix=3)  # type: ignore[arg-type]


@needs_pages
def test_real_pages_with_default_ids_cluster_together() -> None:
    pages = [p.read_text(encoding="utf-8") for p in sorted(PAGES.glob("*.txt"))]
    arts = [a for page in pages for a in split_page(page)]
    result = storyclust.cluster(arts, progress=False)
    assert len(result.labels) == len(arts) == 8


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
