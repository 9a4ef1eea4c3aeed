"""The HTML report: one self-contained file with the stories as data (the page is tested in
test_browser.py)."""

from __future__ import annotations

import itertools
import json
import re
import runpy
import time
from pathlib import Path
from typing import Any

import pytest

import storyclust
from storyclust.cli import main
from storyclust.report import render_html, shared_spans, write_html
from storyclust.settings import Settings

from .report_data import DEMO, demo_result, synthetic_result

DATA = re.compile(r'<script type="application/json" id="storyclust-data">(.*?)</script>', re.DOTALL)


def page_data(page: str) -> dict[str, Any]:
    """The JSON the page is drawn from."""
    match = DATA.search(page)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def result() -> storyclust.StoryResult:
    return demo_result()


@pytest.fixture(scope="module")
def page(result: storyclust.StoryResult) -> str:
    return render_html(result)


def test_page_loads_nothing_from_outside(page: str) -> None:
    outside_data = DATA.sub("", page).lower()
    for needle in ("<script src", "<link", "<img", "<iframe", "http://", "https://"):
        assert needle not in outside_data
    for needle in ("fetch(", "xmlhttprequest", "websocket", "import(", "eventsource"):
        assert needle not in outside_data
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style is not None and "url(" not in style.group(1) and "@import" not in style.group(1)
    assert "default-src 'none'" in page  # the browser is told to fetch nothing, too
    assert page.count("<script") == 2  # the data and the inline script


def test_stories_are_listed_largest_first(page: str, result: storyclust.StoryResult) -> None:
    data = page_data(page)
    stories = data["stories"]
    assert [s["size"] for s in stories] == sorted((s.size for s in result.stories), reverse=True)
    assert sorted(s["id"] for s in stories) == list(range(result.n_stories))
    assert data["n_articles"] == len(result.articles) and data["n_stories"] == result.n_stories
    ids = data["articles"]["id"]
    for s in stories:
        story = result.stories[s["id"]]
        assert s["title"] == story.title and s["keywords"] == story.keywords
        assert s["outlets"] == story.outlets
        assert sorted(ids[p] for p in s["articles"]) == sorted(story.article_ids)
        assert ids[s["articles"][0]] == story.representative_id == ids[s["rep"]]
        assert s["first"] == (story.first_seen.isoformat() if story.first_seen else None)


def test_articles_carry_text_and_score_to_representative(
    page: str, result: storyclust.StoryResult
) -> None:
    arts = page_data(page)["articles"]
    assert arts["text"] == [a.text for a in result.articles]
    assert arts["source"] == [a.source for a in result.articles]
    story = result.stories[1]
    a = next(i for i in story.article_ids if i != story.representative_id)
    link = result.explain(a, story.representative_id)["link"]
    k = arts["id"].index(a)
    assert arts["to_rep"][k] == (None if link is None else pytest.approx(link["score"], abs=1e-3))
    assert arts["to_rep"][arts["id"].index(story.representative_id)] is None


def test_markup_in_the_data_cannot_break_out() -> None:
    evil = "</script><script>alert(1)</script> <!-- & <b>bold</b>"
    res = storyclust.cluster(
        [
            {"id": "x", "title": evil, "text": "Quake hits the Chile coast " + evil},
            {"id": "y", "title": "Chile quake", "text": "Quake hits the Chile coast today"},
        ],
        progress=False,
    )
    page = render_html(res, title="<Quakes> & more")
    assert "<title>&lt;Quakes&gt; &amp; more</title>" in page
    assert "alert(1)</script>" not in page and "<b>bold" not in page and "<!--" not in page
    arts = page_data(page)["articles"]
    assert arts["title"][0] == evil and arts["text"][0].endswith(evil)


def test_same_result_same_page(result: storyclust.StoryResult, page: str) -> None:
    assert render_html(result) == page


def test_options(result: storyclust.StoryResult) -> None:
    data = page_data(render_html(result, title="Demo", ngram=3, page_size=10, max_text_chars=50))
    assert data["title"] == "Demo" and data["ngram"] == 3 and data["page_size"] == 10
    assert max(len(t) for t in data["articles"]["text"]) <= 50 + len(" […]")
    with pytest.raises(ValueError, match="ngram must be an integer >= 1; got 0"):
        render_html(result, ngram=0)
    with pytest.raises(ValueError, match="page_size must be an integer >= 1; got True"):
        render_html(result, page_size=True)
    with pytest.raises(ValueError, match="max_text_chars must be None or an integer >= 1; got -1"):
        render_html(result, max_text_chars=-1)
    with pytest.raises(TypeError, match=r"render_html takes a StoryResult .*; got dict"):
        render_html({})  # type: ignore[arg-type]


def test_to_html_and_write_html(result: storyclust.StoryResult, tmp_path: Path) -> None:
    out = result.to_html(tmp_path / "new" / "report.html", title="T")
    assert out == tmp_path / "new" / "report.html"
    assert out.read_text(encoding="utf-8") == render_html(result, title="T")
    assert write_html(result, tmp_path / "w.html").read_text(encoding="utf-8") == render_html(
        result
    )


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(DEMO), "-o", str(out), "--threshold", "0.3", "--title", "ECB+"]) == 0
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["title"] == "ECB+" and data["settings"]["threshold"] == 0.3
    # Every setting and the seed are recorded in the page, as beside any output.
    recorded = data["recorded"]
    assert recorded["settings"] == {**Settings(threshold=0.3).to_dict()}
    assert recorded["storyclust_version"] == storyclust.__version__
    assert recorded["input"]["n_loaded"] == 187 and "timings" not in recorded
    assert data["n_articles"] == 187
    assert f"wrote {out}" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.jsonl"), "-o", str(out), "-q"]) == 2
    assert "storyclust: error:" in capsys.readouterr().err


def test_ten_thousand_articles_render_fast_and_small() -> None:
    big = synthetic_result(10_000)
    t0 = time.perf_counter()
    page = render_html(big)
    assert time.perf_counter() - t0 < 5
    data = page_data(page)
    assert data["n_articles"] == 10_000 and len(data["stories"]) == big.n_stories
    # The data is the texts plus little else: no per-story copies of the articles.
    texts = sum(len(a.text) + len(a.title) for a in big.articles)
    assert len(page.encode()) < 1.6 * texts


def test_shared_spans_examples() -> None:
    rep = "The ECB raised rates by a quarter point on Thursday, Lagarde said."
    text = "On Thursday the ECB raised rates by a quarter point. Markets fell."
    spans = shared_spans(text, rep, n=4)
    assert [text[s:e] for s, e in spans] == ["the ECB raised rates by a quarter point"]
    assert shared_spans(rep, rep) == [(0, len(rep) - 1)]  # all of it but the full stop
    assert shared_spans("THE ECB RAISED RATES", "the ecb raised rates") == [(0, 20)]
    assert shared_spans("one two three", "one two three", n=4) == []
    assert shared_spans("", rep) == [] and shared_spans(rep, "") == []
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        shared_spans(text, rep, n=0)


def test_shared_spans_cover_exactly_the_shared_ngrams() -> None:
    # A naive check over word positions: a word is covered when some n-gram holding it is
    # in the other text.
    text = "a b c d x a b c y c d e f g"
    other = "c d e f g h a b c"
    n = 3
    words, theirs = text.split(), other.split()
    grams = {tuple(theirs[i : i + n]) for i in range(len(theirs) - n + 1)}
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n]) in grams:
            covered[i : i + n] = [True] * n
    marked = set()
    for s, e in shared_spans(text, other, n=n):
        marked |= {k for k, m in enumerate(re.finditer(r"\w+", text)) if s <= m.start() < e}
    assert marked == {k for k, c in enumerate(covered) if c}
    spans = shared_spans(text, other, n=n)
    assert spans == sorted(spans) and all(a[1] < b[0] for a, b in itertools.pairwise(spans))


def test_shared_spans_unspaced_scripts_by_character() -> None:
    assert shared_spans("東京で地震があった", "大阪と東京で地震", n=2) == [(0, 5)]  # 東京で地震


def test_example_script_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = DEMO.parents[1] / "cluster_and_report.py"
    main_of_script = runpy.run_path(str(script), run_name="example")["main"]
    main_of_script([str(DEMO), str(tmp_path / "report.html"), "--threshold", "0.3"])
    data = page_data((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert data["n_articles"] == 187 and data["settings"]["threshold"] == 0.3
    assert "wrote " in capsys.readouterr().out
