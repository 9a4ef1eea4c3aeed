"""Make docs/report.png: the demo data's report in headless Chromium, searched, one article open.

    python docs/screenshot_report.py

Needs the system's Chromium (Debian: apt-get install chromium) and the playwright package
(pip install -e '.[dev]'); no browser is downloaded.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

import storyclust
from storyclust.report import shared_spans

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(out: Path = ROOT / "docs" / "report.png") -> None:
    result = storyclust.cluster(
        storyclust.read_jsonl(ROOT / "examples" / "data" / "ecbplus_sample.jsonl"), progress=False
    )
    texts = {a.id: a.text for a in result.articles}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        page_path = result.to_html(Path(tmp) / "report.html")
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(page_path.as_uri())
        page.wait_for_function("() => window.storyclustReport && window.storyclustReport.ready")
        page.fill("#search", "tara reid")
        page.press("#search", "Enter")
        card = page.locator(".story").first
        story = result.stories[int(card.get_attribute("data-story") or 0)]
        rep = texts[story.representative_id]
        shown = card.locator(".article").evaluate_all("rows => rows.map(r => r.dataset.article)")

        # Open the article (of those shown) that shares the most text with the representative.
        def shared(i: str) -> int:
            return sum(e - s for s, e in shared_spans(texts[i], rep))

        best = max(shown[1:], key=shared)
        card.locator(f'.article[data-article="{best}"] .article-head').click()
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:2]))
