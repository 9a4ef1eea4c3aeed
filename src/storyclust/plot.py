"""Plots of a :class:`~storyclust.StoryResult` (needs matplotlib: ``pip install 'storyclust[plot]'``).

Every function takes a result, draws on `ax` (or on a new figure when `ax` is
None) and returns the Axes; ``ax.figure`` is the Figure. Nothing here calls
``show()`` or picks a backend, so the functions work the same under Agg, in a
notebook and in a window.

- :func:`story_sizes`: how many stories there are of each size;
- :func:`timeline`: articles per outlet over time, for one story or the largest;
- :func:`link_scores`: the distribution of link scores, with the threshold;
- :func:`lsh_curve`: the LSH S-curve for the bands and rows the result used.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from .result import StoryResult

__all__ = ["candidate_probability", "link_scores", "lsh_curve", "story_sizes", "timeline"]

_NO_OUTLET = "(no outlet)"
_SAME = "#1f77b4"
_APART = "#ff7f0e"
_MARK = "#d62728"


def _pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError that names the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "storyclust.plot needs matplotlib, which is not installed; "
            "install it with: pip install 'storyclust[plot]'"
        ) from exc
    return plt


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """`ax`, or the Axes of a new figure (through pyplot, so notebooks show it)."""
    plt = _pyplot()
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new  # type: ignore[no-any-return]


def _check_result(result: object, name: str) -> StoryResult:
    """The result, or a TypeError saying what was expected."""
    from .result import StoryResult

    if not isinstance(result, StoryResult):
        raise TypeError(
            f"{name} takes a StoryResult (what storyclust.cluster returns); "
            f"got {type(result).__name__}"
        )
    return result


def candidate_probability(
    similarity: float | npt.ArrayLike, bands: int, rows: int
) -> npt.NDArray[np.float64]:
    """Probability that two sets become an LSH candidate pair: ``1 - (1 - s**rows)**bands``.

    Two sets with Jaccard similarity `s` agree on one band of `rows` MinHash
    values with probability ``s**rows``, and are candidates when they agree on
    at least one of the `bands` bands.

    Parameters
    ----------
    similarity : float or array_like of float
        True Jaccard similarity, in [0, 1].
    bands, rows : int
        LSH bands, and rows (signature values) per band; both >= 1.

    Returns
    -------
    ndarray of float64
        The probability, with the shape of `similarity`.

    Raises
    ------
    ValueError
        If `bands` or `rows` is below 1, or a similarity is outside [0, 1].

    Examples
    --------
    >>> candidate_probability([0.0, 0.5, 1.0], bands=9, rows=13).round(4).tolist()
    [0.0, 0.0011, 1.0]
    """
    if isinstance(bands, bool) or not isinstance(bands, (int, np.integer)) or bands < 1:
        raise ValueError(f"bands must be an integer >= 1; got {bands!r}")
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be an integer >= 1; got {rows!r}")
    s = np.asarray(similarity, dtype=np.float64)
    if np.any((s < 0) | (s > 1)) or np.any(np.isnan(s)):
        raise ValueError("similarity must be in [0, 1]")
    return 1.0 - (1.0 - s**rows) ** bands


def story_sizes(
    result: StoryResult, *, count: str = "stories", log: bool = False, ax: Axes | None = None
) -> Axes:
    """Bar chart of story sizes: one bar per distinct size.

    Parameters
    ----------
    result : StoryResult
        What :func:`storyclust.cluster` returned.
    count : {"stories", "articles"}, default "stories"
        Bar height: the number of stories of that size, or the number of
        articles in stories of that size.
    log : bool, default False
        Logarithmic bar heights (useful when single-article stories dominate).
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If `count` is neither "stories" nor "articles".

    Examples
    --------
    >>> import storyclust, storyclust.plot
    >>> result = storyclust.cluster(["Quake hits Chile coast", "Chile coast hit by quake", "Vote"])
    >>> ax = storyclust.plot.story_sizes(result)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '2']
    """
    result = _check_result(result, "story_sizes")
    if count not in ("stories", "articles"):
        raise ValueError(f"count must be 'stories' or 'articles'; got {count!r}")
    ax = _axes(ax, (6.4, 3.6))
    by_size = Counter(s.size for s in result.stories)
    sizes = sorted(by_size)
    heights = [by_size[k] * (k if count == "articles" else 1) for k in sizes]
    bars = ax.bar(range(len(sizes)), heights, color=_SAME, log=log)
    ax.bar_label(bars, fontsize="small")
    ax.set_xticks(range(len(sizes)), [str(k) for k in sizes])
    ax.set_xlabel("story size (articles)")
    ax.set_ylabel("stories" if count == "stories" else "articles in stories of this size")
    ax.set_title(f"{result.n_stories} stories of {len(result.articles)} articles")
    return ax


def _short(text: str, n: int = 40) -> str:
    """`text` cut to `n` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def timeline(
    result: StoryResult,
    story: int | None = None,
    *,
    n_stories: int = 10,
    ax: Axes | None = None,
) -> Axes:
    """When the articles were published: one lane per outlet, or per story.

    With `story`, each lane is an outlet of that story and each dot one of its
    articles. Without, each lane is one of the `n_stories` largest stories that
    have a dated article. Undated articles cannot be placed; the title says how
    many were left out (of the story, or of the whole result, naming how many
    stories have no date at all).

    Parameters
    ----------
    result : StoryResult
        What :func:`storyclust.cluster` returned.
    story : int, optional
        A story id (``Story.story_id``); by default the largest stories.
    n_stories : int, default 10
        How many stories to show when `story` is None.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If `story` is not a story id of the result, or `n_stories` < 1.

    Examples
    --------
    >>> import storyclust, storyclust.plot
    >>> result = storyclust.cluster([
    ...     {"title": "Quake hits Chile", "source": "AP", "published": "2024-03-01T08:00Z"},
    ...     {"title": "Chile hit by quake", "source": "AFP", "published": "2024-03-01T11:00Z"},
    ... ])
    >>> ax = storyclust.plot.timeline(result, story=0)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['AFP', 'AP']
    """
    result = _check_result(result, "timeline")
    if isinstance(n_stories, bool) or not isinstance(n_stories, int) or n_stories < 1:
        raise ValueError(f"n_stories must be an integer >= 1; got {n_stories!r}")
    if story is not None and not (
        isinstance(story, (int, np.integer))
        and not isinstance(story, bool)
        and 0 <= story < result.n_stories
    ):
        raise ValueError(
            f"story must be a story id in 0..{result.n_stories - 1} (Story.story_id); got {story!r}"
        )
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # not annotated in matplotlib

    articles = result.articles
    lanes: list[str] = []
    points: list[tuple[int, datetime]] = []  # (lane, published)
    undated = 0
    if story is not None:
        members = [articles[int(p)] for p in np.flatnonzero(result.labels == story)]
        outlets = sorted({a.source or _NO_OUTLET for a in members if a.published is not None})
        lanes = outlets
        lane_of = {o: k for k, o in enumerate(outlets)}
        for a in members:
            if a.published is None:
                undated += 1
            else:
                points.append((lane_of[a.source or _NO_OUTLET], a.published))
        title = f"story {story}: {_short(result.stories[story].title, 50)}"
    else:
        dated: dict[int, list[datetime]] = {}
        for a, lab in zip(articles, result.labels):
            if a.published is not None:
                dated.setdefault(int(lab), []).append(a.published)
        top = sorted(dated, key=lambda s: (-result.stories[s].size, s))[:n_stories]
        for k, s in enumerate(top):
            st = result.stories[s]
            lanes.append(f"#{s} {_short(st.title)} ({st.size})")
            points.extend((k, when) for when in dated[s])
        title = f"the {len(top)} largest stories with dates"
        # Every undated article of the result, not only those of the stories drawn.
        undated = sum(1 for a in articles if a.published is None)
        never = result.n_stories - len(dated)
        if never:
            title += f" ({never} stor{'ies' if never != 1 else 'y'} with no date at all)"
    ax = _axes(ax, (8.0, 1.2 + 0.35 * max(len(lanes), 1)))
    if points:
        x = mdates.date2num([when for _, when in points])
        y = np.array([lane for lane, _ in points], dtype=np.float64)
        ax.scatter(x, y, s=36, alpha=0.7, color=_SAME, edgecolors="none")
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        if np.ptp(x) == 0:  # a single instant: give the axis some width
            ax.set_xlim(x[0] - 0.5, x[0] + 0.5)
    else:
        ax.text(0.5, 0.5, "no dated articles", ha="center", va="center", transform=ax.transAxes)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(-0.5, max(len(lanes), 1) - 0.5)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("published (UTC)")
    if undated:
        title += f"\n({undated} undated article{'s' if undated != 1 else ''} not shown)"
    ax.set_title(title, fontsize="medium")
    return ax


def link_scores(result: StoryResult, *, bins: int = 40, ax: Axes | None = None) -> Axes:
    """Histogram of link scores, links inside a story apart from links between stories.

    The vertical line marks ``threshold``: stories are cut where the *average*
    score between two groups falls below it, so single links on either side of
    it are expected. Links scoring below ``link_threshold`` were dropped before
    clustering and do not appear.

    Parameters
    ----------
    result : StoryResult
        What :func:`storyclust.cluster` returned.
    bins : int, default 40
        Number of bins over [0, 1].
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import storyclust, storyclust.plot
    >>> result = storyclust.cluster(["Quake hits Chile coast", "Chile coast hit by quake"])
    >>> ax = storyclust.plot.link_scores(result)
    >>> [line.get_xdata()[0] for line in ax.get_lines()]
    [0.25]
    """
    result = _check_result(result, "link_scores")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}")
    ax = _axes(ax, (6.4, 3.6))
    links = result.link_arrays
    labels = result.labels
    same = labels[links.pairs[:, 0]] == labels[links.pairs[:, 1]]
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.hist(
        [links.score[same], links.score[~same]],
        bins=edges.tolist(),
        stacked=True,
        color=[_SAME, _APART],
        label=[f"inside a story ({int(same.sum())})", f"between stories ({int((~same).sum())})"],
    )
    threshold = float(result.settings.get("threshold", 0.25))
    ax.axvline(threshold, color=_MARK, linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("link score")
    ax.set_ylabel("links")
    ax.set_title(f"{len(links)} scored links", fontsize="medium")
    ax.legend(fontsize="small")
    return ax


def lsh_curve(
    result: StoryResult | None = None,
    *,
    bands: int | None = None,
    rows: int | None = None,
    threshold: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The LSH S-curve: probability of becoming a candidate pair against true Jaccard.

    The bands and rows are those :func:`storyclust.cluster` derived from the
    result's ``near_duplicate_threshold`` and ``num_perm``; pass `bands` and
    `rows` (and optionally `threshold`) instead of a result to draw any curve.
    Rewrites (different words, same story) are found by the TF-IDF neighbours,
    not by this curve.

    Parameters
    ----------
    result : StoryResult, optional
        What :func:`storyclust.cluster` returned.
    bands, rows : int, optional
        LSH bands and rows per band; required without `result`, and override it.
    threshold : float, optional
        Jaccard threshold to mark; the result's ``near_duplicate_threshold`` by default.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If neither a result nor both `bands` and `rows` are given.

    Examples
    --------
    >>> import storyclust.plot
    >>> ax = storyclust.plot.lsh_curve(bands=9, rows=13, threshold=0.8)
    >>> ax.get_lines()[0].get_label()
    'b = 9 bands × r = 13 rows'
    """
    if result is not None:
        result = _check_result(result, "lsh_curve")
        s = result.settings
        if threshold is None:
            threshold = float(s.get("near_duplicate_threshold", 0.8))
        if bands is None or rows is None:
            lsh = result.metadata()["lsh"]
            b0, r0 = int(lsh["bands"]), int(lsh["rows"])
            bands = b0 if bands is None else bands
            rows = r0 if rows is None else rows
    if bands is None or rows is None:
        raise ValueError(
            "lsh_curve needs a StoryResult, or both bands and rows: "
            "lsh_curve(result) or lsh_curve(bands=9, rows=13)"
        )
    ax = _axes(ax, (6.4, 3.6))
    x = np.linspace(0.0, 1.0, 201)
    ax.plot(
        x,
        candidate_probability(x, bands, rows),
        color=_SAME,
        label=f"b = {bands} bands × r = {rows} rows",
    )
    if threshold is not None:
        p = float(candidate_probability(threshold, bands, rows))
        ax.axvline(
            threshold,
            color=_MARK,
            linestyle="--",
            label=f"near-duplicate threshold {threshold:g} (P = {p:.2f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("true Jaccard similarity of the word shingles")
    ax.set_ylabel("P(candidate pair)")
    ax.set_title("LSH S-curve: 1 − (1 − sʳ)ᵇ", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    return ax
