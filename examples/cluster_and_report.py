"""Cluster a JSONL file of news articles into stories and write the HTML report.

    python examples/cluster_and_report.py examples/data/ecbplus_sample.jsonl out/report.html

Open the report in any browser; it needs no network. The same as
``storyclust report IN.jsonl -o out/report.html``, written out in Python.
"""

from __future__ import annotations

import argparse

import storyclust


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="articles, one JSON object a line")
    parser.add_argument("output", nargs="?", default="out/report.html", help="the report")
    parser.add_argument("--threshold", type=float, help="story cut-off in (0, 1]; default 0.25")
    args = parser.parse_args(argv)

    articles = storyclust.read_jsonl(args.input, errors="skip")
    print(articles.report)
    settings = {} if args.threshold is None else {"threshold": args.threshold}
    result = storyclust.cluster(articles, **settings)
    print(result)
    for story in sorted(result.stories, key=lambda s: -s.size)[:5]:
        print(f"{story.size:4d} articles, {story.n_outlets:3d} outlets: {story.title[:70]}")
    path = result.to_html(args.output)
    print(f"wrote {path}: open it in a browser")


if __name__ == "__main__":
    main()
