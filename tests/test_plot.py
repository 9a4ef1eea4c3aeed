"""storyclust.plot: what each figure shows, checked from the artists it draws."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

import storyclust
from storyclust.settings import Settings

from .report_data import DEMO, demo_result

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

plot = storyclust.plot

DATED = [
    {
        "id": "a",
        "title": "Quake hits Chile coast",
        "source": "AP",
        "published": "2024-03-01T08:00Z",
    },
    {
        "id": "b",
        "title": "Chile coast hit by quake",
        "source": "AFP",
        "published": "2024-03-01T11:00Z",
    },
    {
        "id": "c",
        "title": "Quake hits Chile coast again",
        "source": "AP",
        "published": "2024-03-02T09:00Z",
    },
    {"id": "d", "title": "Chile quake hits coast", "source": "", "published": None},
]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def result() -> storyclust.StoryResult:
    return demo_result()


def _bars(ax: plt.Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_story_sizes_one_bar_per_distinct_size(result: storyclust.StoryResult) -> None:
    ax = plot.story_sizes(result)
    by_size = Counter(s.size for s in result.stories)
    bars = _bars(ax)
    assert len(bars) == len(by_size)
    assert [b.get_height() for b in bars] == [by_size[k] for k in sorted(by_size)]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in sorted(by_size)]
    assert ax.get_title() == f"{result.n_stories} stories of {len(result.articles)} articles"


def test_story_sizes_by_articles_sums_to_all_articles(result: storyclust.StoryResult) -> None:
    ax = plot.story_sizes(result, count="articles", log=True)
    assert sum(b.get_height() for b in _bars(ax)) == len(result.articles)
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="count must be 'stories' or 'articles'; got 'pairs'"):
        plot.story_sizes(result, count="pairs")


def test_plots_draw_on_the_given_axes(result: storyclust.StoryResult) -> None:
    fig, axes = plt.subplots(2, 2)
    drawn = [
        plot.story_sizes(result, ax=axes[0, 0]),
        plot.timeline(result, ax=axes[0, 1]),
        plot.link_scores(result, ax=axes[1, 0]),
        plot.lsh_curve(result, ax=axes[1, 1]),
    ]
    assert drawn == list(axes.ravel())
    assert len(plt.get_fignums()) == 1
    fig.canvas.draw()  # renders under Agg without error


def test_timeline_of_one_story_has_a_lane_per_outlet() -> None:
    res = storyclust.cluster(DATED, progress=False)
    (story,) = {int(x) for x in res.labels}
    ax = plot.timeline(res, story=story)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["AFP", "AP"]
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    offsets = dots.get_offsets()
    dated = [a for a in res.articles if a.published is not None]
    assert len(offsets) == len(dated) == 3
    assert np.allclose(offsets[:, 0], mdates.date2num([a.published for a in dated]))
    lanes = {"AFP": 0, "AP": 1}
    assert offsets[:, 1].tolist() == [lanes[a.source] for a in dated]
    assert "(1 undated article not shown)" in ax.get_title()


def test_timeline_of_the_largest_stories(result: storyclust.StoryResult) -> None:
    ax = plot.timeline(result, n_stories=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert 1 <= len(labels) <= 3
    dated_stories = {
        int(lab) for a, lab in zip(result.articles, result.labels) if a.published is not None
    }
    biggest = sorted(dated_stories, key=lambda s: (-result.stories[s].size, s))[: len(labels)]
    assert [lab.split()[0] for lab in labels] == [f"#{s}" for s in biggest]
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    n_dated = sum(
        1
        for a, lab in zip(result.articles, result.labels)
        if a.published is not None and int(lab) in biggest
    )
    assert len(dots.get_offsets()) == n_dated


def test_timeline_counts_every_undated_article(result: storyclust.StoryResult) -> None:
    """Without a story: the title counts all undated articles, those of stories with no date
    at all too, and says how many such stories there are."""
    n_undated = sum(1 for a in result.articles if a.published is None)
    never = sum(1 for s in result.stories if s.first_seen is None)
    assert never >= 1 and n_undated > 0
    title = plot.timeline(result, n_stories=1).get_title()
    assert f"({never} stor" in title and "with no date at all" in title
    assert f"({n_undated} undated article" in title
    undated = storyclust.cluster(["Quake hits Chile coast", "Budget passes"], progress=False)
    title = plot.timeline(undated).get_title()
    assert (
        title
        == "the 0 largest stories with dates (2 stories with no date at all)\n(2 undated articles not shown)"
    )


def test_timeline_without_dates_says_so(result: storyclust.StoryResult) -> None:
    undated = next(s for s in result.stories if s.first_seen is None)
    ax = plot.timeline(result, story=undated.story_id)
    assert [t.get_text() for t in ax.texts] == ["no dated articles"]
    assert f"({undated.size} undated" in ax.get_title()


def test_timeline_checks_its_arguments(result: storyclust.StoryResult) -> None:
    k = result.n_stories
    with pytest.raises(ValueError, match=rf"story must be a story id in 0\.\.{k - 1} .*got {k}"):
        plot.timeline(result, story=k)
    with pytest.raises(ValueError, match="n_stories must be an integer >= 1; got 0"):
        plot.timeline(result, n_stories=0)
    with pytest.raises(TypeError, match=r"timeline takes a StoryResult .*; got list"):
        plot.timeline([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [0.25, 0.4])
def test_link_scores_mark_the_threshold(threshold: float) -> None:
    res = storyclust.cluster(storyclust.read_jsonl(DEMO), threshold=threshold, progress=False)
    ax = plot.link_scores(res, bins=20)
    (line,) = ax.get_lines()
    assert line.get_xdata()[0] == line.get_xdata()[1] == threshold
    assert line.get_label() == f"threshold {threshold:g}"
    assert sum(b.get_height() for b in _bars(ax)) == len(res.link_arrays)
    same = sum(1 for link in res.links if link["same_story"])
    assert ax.get_legend_handles_labels()[1][0] == f"inside a story ({same})"


def test_lsh_curve_follows_the_formula(result: storyclust.StoryResult) -> None:
    bands, rows = Settings().lsh_bands_rows
    assert (bands, rows) == (result.metadata()["lsh"]["bands"], result.metadata()["lsh"]["rows"])
    ax = plot.lsh_curve(result)
    curve, mark = ax.get_lines()
    s = np.asarray(curve.get_xdata())
    assert np.allclose(curve.get_ydata(), 1 - (1 - s**rows) ** bands)
    assert curve.get_label() == f"b = {bands} bands × r = {rows} rows"
    assert mark.get_xdata()[0] == 0.8
    p = 1 - (1 - 0.8**rows) ** bands
    assert p >= 0.99  # the pipeline's bands and rows find near-duplicates at the threshold
    assert mark.get_label() == f"near-duplicate threshold 0.8 (P = {p:.2f})"


def test_lsh_curve_without_a_result() -> None:
    ax = plot.lsh_curve(bands=20, rows=5)
    (curve,) = ax.get_lines()
    s = np.asarray(curve.get_xdata())
    assert np.allclose(curve.get_ydata(), 1 - (1 - s**5) ** 20)
    with pytest.raises(ValueError, match="lsh_curve needs a StoryResult, or both bands and rows"):
        plot.lsh_curve(bands=20)


def test_candidate_probability() -> None:
    s = np.linspace(0, 1, 11)
    assert np.allclose(plot.candidate_probability(s, 4, 3), 1 - (1 - s**3) ** 4)
    assert plot.candidate_probability(1.0, 1, 1) == 1.0
    with pytest.raises(ValueError, match="bands must be an integer >= 1; got 0"):
        plot.candidate_probability(0.5, 0, 3)
    with pytest.raises(ValueError, match=r"rows must be an integer >= 1; got 2\.5"):
        plot.candidate_probability(0.5, 3, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"similarity must be in \[0, 1\]"):
        plot.candidate_probability([0.5, 1.5], 3, 2)


def test_missing_matplotlib_names_the_extra(
    result: storyclust.StoryResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"needs matplotlib.*pip install 'storyclust\[plot\]'"):
        plot.story_sizes(result)
