"""The HTML report in a real browser: headless Chromium (the system's) driven by Playwright.

Needs the Debian packages chromium and chromium-driver (.ci/run installs them) and the
Python package playwright; no browser is downloaded. Skipped when either is missing,
except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storyclust
from storyclust.report import _tokens, shared_spans, write_html

from .corpora import quake_reports
from .report_data import demo_result, synthetic_result

CHROMIUM = os.environ.get("STORYCLUST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The flags that keep Chromium off the (closed) network and working as root in a container.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


class Page:
    """A page of the report, with every console error and uncaught exception recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("request", lambda req: self.requests.append(req.url))
        t0 = time.perf_counter()
        self.page.goto(path.as_uri())
        self.page.wait_for_function(
            "() => window.storyclustReport && window.storyclustReport.ready"
        )
        self.seconds_to_ready = time.perf_counter() - t0

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning"):
            self.errors.append(f"console {msg.type}: {msg.text}")

    def count(self) -> dict[str, int]:
        """Stories that match the search, and how many of them are drawn."""
        data = self.page.locator("#count").evaluate("e => ({...e.dataset})")
        return {k: int(v) for k, v in data.items()}

    def story_ids(self) -> list[int]:
        return [
            int(x)
            for x in self.page.locator(".story").evaluate_all(
                "cards => cards.map(c => c.dataset.story)"
            )
        ]

    def search(self, words: str) -> None:
        self.page.fill("#search", words)
        self.page.press("#search", "Enter")


@pytest.fixture(scope="module")
def demo() -> storyclust.StoryResult:
    return demo_result()


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory, demo: storyclust.StoryResult) -> Path:
    return write_html(demo, tmp_path_factory.mktemp("report") / "demo.html")


def _order(result: storyclust.StoryResult) -> list[int]:
    return [s.story_id for s in sorted(result.stories, key=lambda s: (-s.size, s.story_id))]


def test_demo_report_shows_every_story_without_errors(
    browser: Any, demo_page: Path, demo: storyclust.StoryResult
) -> None:
    page = Page(browser, demo_page)
    assert page.count() == {"matching": demo.n_stories, "drawn": demo.n_stories}
    assert page.story_ids() == _order(demo)
    first = demo.stories[_order(demo)[0]]
    card = page.page.locator(".story").first
    heading = (card.locator("h2").text_content() or "").removesuffix("…")
    assert heading and " ".join(first.title.split()).startswith(heading)
    # A title made from the text already ends in one ellipsis where cut: the page adds none.
    headings = page.page.locator(".story h2").all_text_contents()
    untitled = [
        s.title
        for s in demo.stories
        if not demo.articles[demo._position(s.representative_id)].title
    ]
    assert any(t.endswith("…") for t in untitled)  # the demo has such a story
    assert not any(h.endswith("……") for h in headings), headings
    assert card.locator(".kw").all_text_contents() == first.keywords
    assert f"{first.size} articles" in (card.locator(".facts").text_content() or "")
    rows = card.locator(".article").evaluate_all("rows => rows.map(r => r.dataset.article)")
    assert rows[0] == first.representative_id and set(rows) <= set(first.article_ids)
    assert page.errors == []
    assert all(url.startswith("file:") for url in page.requests), page.requests


def _matching(result: storyclust.StoryResult, words: str) -> set[int]:
    """Stories that have, for every query word, a word starting with it (the page's rule)."""
    query = [w for _, _, w in _tokens(words)]
    arts = {a.id: a for a in result.articles}
    out = set()
    for s in result.stories:
        parts = [s.title, " ".join(s.keywords), " ".join(s.outlets)]
        for i in s.article_ids:
            parts += [arts[i].title, arts[i].source, arts[i].text]
        vocab = {w for _, _, w in _tokens("\n".join(parts))}
        if all(any(v.startswith(q) for v in vocab) for q in query):
            out.add(s.story_id)
    return out


@pytest.mark.parametrize("words", ["lohan", "Lohan REHAB", "earthquake", "zzzqqq"])
def test_search_filters_stories(
    browser: Any, demo_page: Path, demo: storyclust.StoryResult, words: str
) -> None:
    page = Page(browser, demo_page)
    page.search(words)
    expected = _matching(demo, words)
    assert page.count()["matching"] == len(expected)
    assert set(page.story_ids()) == expected
    assert page.page.locator("#none").is_visible() == (not expected)
    assert len(expected) < demo.n_stories
    page.page.press("#search", "Escape")
    assert page.count()["matching"] == demo.n_stories
    assert page.errors == []


def test_click_opens_an_article_with_shared_passages_highlighted(
    browser: Any, demo_page: Path, demo: storyclust.StoryResult
) -> None:
    page = Page(browser, demo_page)
    card = page.page.locator(".story").first
    story = demo.stories[int(card.get_attribute("data-story") or -1)]
    arts = {a.id: a for a in demo.articles}
    rep = arts[story.representative_id]
    shown = card.locator(".article").evaluate_all("rows => rows.map(r => r.dataset.article)")
    # An article among those shown that shares passages with the representative.
    aid = next(i for i in shown[1:] if shared_spans(arts[i].text, rep.text))
    row = card.locator(f'.article[data-article="{aid}"]')
    assert row.locator(".article-body").count() == 0  # bodies are built on demand
    row.locator(".article-head").click()
    body = row.locator(".article-body")
    assert body.is_visible()
    assert row.locator(".article-head").get_attribute("aria-expanded") == "true"
    mine, theirs = body.locator(".col").all()
    text = arts[aid].text
    assert mine.locator(".text").text_content() == text
    assert mine.locator("mark").all_text_contents() == [
        text[s:e] for s, e in shared_spans(text, rep.text)
    ]
    assert theirs.locator("mark").all_text_contents() == [
        rep.text[s:e] for s, e in shared_spans(rep.text, text)
    ]
    assert "Shares" in (body.locator(".shared-stats").text_content() or "")
    row.locator(".article-head").click()  # and closes again
    assert not body.is_visible()
    assert row.locator(".article-head").get_attribute("aria-expanded") == "false"
    assert page.errors == []


def test_ten_thousand_articles_load_quickly(browser: Any, tmp_path: Path) -> None:
    big = synthetic_result(10_000)
    path = write_html(big, tmp_path / "big.html")
    page = Page(browser, path)
    assert page.seconds_to_ready < 5, page.seconds_to_ready
    assert page.page.evaluate("window.storyclustReport.msToFirstPage") < 2000
    # Drawn a page at a time: the first 50 stories, then 50 more on request.
    assert page.count() == {"matching": big.n_stories, "drawn": 50}
    assert page.story_ids() == _order(big)[:50]
    page.page.mouse.wheel(0, 100_000)  # scrolling to the end draws the next page
    page.page.wait_for_function("() => document.getElementById('count').dataset.drawn === '100'")
    assert page.story_ids() == _order(big)[:100]
    page.page.locator("#more").dispatch_event("click")  # so does the button
    assert page.count()["drawn"] == 150
    # Search runs over every story, not only the ones drawn.
    t0 = time.perf_counter()
    page.search("w17 w2999")
    expected = _matching(big, "w17 w2999")
    assert page.count()["matching"] == len(expected)
    assert time.perf_counter() - t0 < 3
    drawn = page.story_ids()
    assert set(drawn) <= expected and len(drawn) == min(50, len(expected))
    # The largest story (400 articles) draws 5 rows, then all of them on request.
    page.page.press("#search", "Escape")
    card = page.page.locator(".story").first
    assert card.locator(".article").count() == 5
    card.locator(".show-all").click()
    assert card.locator(".article").count() == big.stories[_order(big)[0]].size
    card.locator(".article-head").nth(3).click()
    assert card.locator(".article-body mark").count() >= 2  # the shared sentence, both sides
    assert page.errors == []


def test_notes_are_shown_above_the_stories(browser: Any, tmp_path: Path) -> None:
    weekly = quake_reports(30)
    noted = storyclust.cluster(weekly, progress=False)
    assert len(noted.notes) == 1
    page = Page(browser, write_html(noted, tmp_path / "noted.html"))
    items = page.page.locator("#notes li")
    assert items.all_text_contents() == [f"Note: {noted.notes[0]}"]
    assert items.first.is_visible()
    plain = Page(
        browser, write_html(storyclust.cluster(weekly[:29], progress=False), tmp_path / "p.html")
    )
    assert plain.page.locator("#notes li").count() == 0
    assert not plain.page.locator("#notes").is_visible()
    assert page.errors == [] and plain.errors == []
