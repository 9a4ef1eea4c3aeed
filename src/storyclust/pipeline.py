"""The whole pipeline: articles -> features -> candidates -> scored links -> stories."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClusterMixin
from tqdm.auto import tqdm

from .articles import Article, Articles, to_articles
from .errors import SettingsError
from .features import Features, term_strings
from .links import Links, find_candidates, score_links
from .result import StoryResult, build_stories
from .settings import Settings
from .stages import (
    BATCH_SIZE,
    canonical_order,
    corpus_features,
    partition,
    release_memory,
)
from .stories import cohesion, keywords, number_by_first_appearance, representatives
from .text import STOP_WORDS, tokenize

__all__ = ["StoryClusterer", "cluster", "estimate_memory"]

_STAGES = ("features", "candidates", "links", "stories")


_canonical_order = canonical_order  # the name the benchmarks and tests use


def estimate_memory(articles: Articles, settings: Settings | None = None) -> dict[str, float]:
    """Estimate, before a run, the memory :func:`cluster` will need beyond the articles.

    A model of what the run holds at its peak: per article its TF-IDF terms (8
    bytes each, counted on a sample of up to 200 articles), its signature (4 bytes
    a permutation) and about 500 bytes of other arrays and allocator slack; one
    batch of intermediate arrays (about 10 times the batch's text); and 200 MiB
    whatever the corpus (compiled code, thread pools). Fitted on the resident
    memory the run added, measured at 100k and 1M synthetic articles (723 and
    4,241 MiB at commit 5dacfa5; the model gives 715 and 4,261). The articles
    themselves are already in memory when this runs, and counted apart.

    Returns
    -------
    dict
        ``articles_mib`` (the text held, at least), ``run_mib`` (the estimate of what
        the run adds at its peak) and ``terms_per_article`` (the sample's mean).
    """
    s = settings or Settings()
    n = len(articles)
    if n == 0:
        return {"articles_mib": 0.0, "run_mib": 0.0, "terms_per_article": 0.0}
    step = max(1, n // 200)
    sample = [articles[k] for k in range(0, n, step)][:200]
    stop = STOP_WORDS
    terms = float(
        np.mean(
            [len({w for w in tokenize(a.title + "\n" + a.text) if w not in stop}) for a in sample]
        )
    )
    text = float(np.mean([len(a.title) + len(a.text) for a in sample]))
    per_article = 8.0 * terms + 4.0 * s.num_perm + 500.0
    batch = 10.0 * text * min(n, BATCH_SIZE)
    return {
        "articles_mib": round(n * (text + 300.0) / 2**20, 1),
        "run_mib": round((n * per_article + batch) / 2**20 + 200.0, 1),
        "terms_per_article": round(terms, 1),
    }


def kernel_cache_cold() -> bool:
    """True if the similarity kernel's compiled code is not cached yet (numba compiles
    it on the first call, which then takes seconds to a minute instead of well under one)."""
    from . import _kernel_cosine, _kernel_linkage, _kernel_scan

    folder = getattr(getattr(_kernel_scan._minhash_range, "_cache", None), "_cache_path", None)
    if folder is None:
        return False
    # numba names a cache index after the function's source file: <file>.<function>-<line>...nbi
    files = tuple(
        m.__name__.rpartition(".")[2] + "." for m in (_kernel_scan, _kernel_cosine, _kernel_linkage)
    )
    try:
        return not any(n.startswith(files) and n.endswith(".nbi") for n in os.listdir(folder))
    except OSError:
        return True


class _Stages:
    """Times each stage and advances a progress bar (shown only on a terminal)."""

    def __init__(self, progress: bool | None, n: int) -> None:
        self.timings: dict[str, float] = {}
        self.bar = tqdm(
            total=len(_STAGES),
            desc=f"storyclust: {n} articles",
            unit="stage",
            disable=None if progress is None else not progress,
            leave=False,
        )
        if not self.bar.disable and kernel_cache_cold():
            self.bar.write(
                "storyclust: compiling the similarity kernel (only the first run in this "
                "environment; up to a minute)",
                file=sys.stderr,
            )

    @contextmanager
    def stage(self, name: str, work: int = 0) -> Iterator[None]:
        """Time stage `name`; `work` units (articles x passes) are reported by :meth:`advance`."""
        self.name, self.work, self.done = name, work, 0
        self.bar.set_postfix_str(name)
        t0 = time.perf_counter()
        yield
        release_memory()
        self.timings[name] = time.perf_counter() - t0
        self.bar.update(1)

    def advance(self, k: int) -> None:
        """`k` more units of the current stage done: shown beside its name."""
        self.done += k
        if self.work:
            self.bar.set_postfix_str(f"{self.name} {min(1.0, self.done / self.work):.0%}")

    def close(self) -> None:
        self.bar.close()


def _run(articles: Articles, settings: Settings, progress: bool | None) -> StoryResult:
    """Cluster already-coerced articles."""
    n = len(articles)
    stages = _Stages(progress, n)
    try:
        memory = estimate_memory(articles, settings)
        order = _canonical_order(articles)
        canon: list[Article] = [articles[int(p)] for p in order]
        with stages.stage("features", work=3 * n):
            feats = corpus_features(canon, settings, progress=stages.advance)
        with stages.stage("candidates"):
            pairs = find_candidates(feats, settings)
        with stages.stage("links"):
            links = score_links(feats, pairs, settings)
            # The signatures have done their work (near-duplicate Jaccard is on the
            # links now): 4 bytes a permutation an article, 512 MB at a million. A new
            # empty array, not a slice: a slice is a view that keeps them all alive.
            empty = np.zeros((0, feats.signatures.shape[1]), dtype=feats.signatures.dtype)
            feats = dataclasses.replace(feats, signatures=empty)
            del pairs
            release_memory()
        with stages.stage("stories"):
            raw, scores, raw_recut, recut_info = partition(feats, links, settings)
            # Back to input order: labels by first appearance in the input.
            labels_in = np.empty(n, dtype=np.int64)
            labels_in[order] = raw
            labels = number_by_first_appearance(labels_in)
            recut_from = np.empty(n, dtype=np.int64)
            recut_from[order] = raw_recut
            inv = _inverse(order)
            links_in = _to_input_positions(links, order)
            coh, weak, weak_score = cohesion(labels[order], scores)
            weak = np.where(weak >= 0, order[np.maximum(weak, 0)], -1)
            reps = _representatives(articles, labels, links_in, feats, inv, settings)
            # Stories' terms summed in the features' own row order: a story's sum does
            # not depend on it, and the matrix is not copied.
            kw = keywords(
                feats.tfidf,
                functools.partial(term_strings, feats, articles=canon),
                labels[order],
                settings.n_keywords,
            )
            # The vectors have done their work: free them before the story table.
            del feats, scores
            release_memory()
            stories = build_stories(
                articles,
                labels,
                links_in,
                reps,
                kw,
                cohesion=coh,
                weakest=weak,
                weakest_score=weak_score,
            )
    finally:
        stages.close()
    return StoryResult(
        articles=articles,
        labels=labels,
        stories=stories,
        link_arrays=links_in,
        settings=settings.to_dict(),
        recut_from=recut_from if settings.recut_size else None,
        recut_info=recut_info,
        report=articles.report,
        timings=stages.timings,
        memory={**memory, **_process_peak()},
    )


def _process_peak() -> dict[str, float]:
    """The process's peak resident memory so far, MiB (where the system reports it)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return {"process_peak_mib": round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)}


def _representatives(
    articles: Articles,
    labels: npt.NDArray[np.int64],
    links: Links,
    feats: Features,
    inv: npt.NDArray[np.int64],
    settings: Settings,
) -> npt.NDArray[np.int64]:
    """The representative of each story under the settings' policy (input positions)."""
    policy = settings.representative
    priority = None
    if isinstance(policy, tuple):
        rank = {src: k for k, src in enumerate(policy)}
        priority = np.array([rank.get(a.source, len(policy)) for a in articles], dtype=np.int64)
    reps = representatives(
        labels,
        links,
        policy=policy if isinstance(policy, str) else "central",
        days=feats.days[inv],
        lengths=feats.lengths[inv],
        tiebreak=inv,
        priority=priority,
    )
    if callable(policy):
        members: list[list[int]] = [[] for _ in range(len(reps))]
        for pos, lab in enumerate(labels):
            members[int(lab)].append(pos)
        for story, idx in enumerate(members):
            chosen = policy([articles[p] for p in idx])
            reps[story] = idx[_chosen_index(chosen, [articles[p] for p in idx], policy)]
    return reps


def _chosen_index(chosen: Any, story: list[Article], policy: Any) -> int:
    """Where the article a representative callable returned sits in its story."""
    if isinstance(chosen, Article):
        for k, a in enumerate(story):
            if a is chosen or a.id == chosen.id:
                return k
    elif isinstance(chosen, str):
        for k, a in enumerate(story):
            if a.id == chosen:
                return k
    elif (
        isinstance(chosen, (int, np.integer))
        and not isinstance(chosen, bool)
        and 0 <= chosen < len(story)
    ):
        return int(chosen)
    name = getattr(policy, "__qualname__", repr(policy))
    raise SettingsError(
        f"representative callable {name} must return one of the story's articles, its id, or its "
        f"index in the list (0..{len(story) - 1}); got {chosen!r}"
    )


def _inverse(order: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each input position, its canonical position."""
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    return inv


def _to_input_positions(links: Links, order: npt.NDArray[np.int64]) -> Links:
    """Re-express link pairs in input positions, i < j, sorted."""
    p = order[links.pairs] if len(links) else links.pairs
    lo, hi = np.minimum(p[:, 0], p[:, 1]), np.maximum(p[:, 0], p[:, 1])
    moved = dataclasses.replace(links, pairs=np.stack([lo, hi], axis=1))
    return moved.take(np.lexsort((hi, lo)))


def cluster(
    articles: Any, *, progress: bool | None = None, errors: str = "raise", **settings: Any
) -> StoryResult:
    """Group news articles into stories.

    Parameters
    ----------
    articles : list of dict, list of str, list of Article, Articles, or pandas.DataFrame
        The articles. Dicts (and DataFrame rows) use the fields ``id``, ``title``,
        ``text``, ``source``, ``published``, ``url`` (common aliases accepted; see
        :func:`storyclust.to_articles`); strings are texts.
    progress : bool or None, default None
        Show a progress bar; None shows one only on a terminal.
    errors : {"raise", "skip"}, default "raise"
        What to do with a bad record: raise, or skip it and count it in
        ``result.report``.
    threshold : float, default 0.25
        Stories are cut where the average link score between two groups falls
        below this. Higher gives tighter, smaller stories.
    link_threshold : float, default 0.1
        Links scoring below this are dropped. Links between this and `threshold`
        do not form groups, but are kept in ``result.links`` and scored inside them.
    headline_weight : float, default 0.2
        Share of the headline similarity (rapidfuzz token-set ratio of the content
        words) in a link's text evidence.
    names_weight : float, default 0.2
        Share of the names-and-figures overlap (TF-IDF cosine of capitalised words and
        numbers). The rest, ``1 - headline_weight - names_weight``, is the TF-IDF
        cosine of title and text. A signal missing for a pair (no title, no names) is
        left out and the others scaled up.
    headline_only_weight : float, default 0.4
        The headline's share instead of ``headline_weight`` when either article has
        at most ``headline_only_words`` tokens (a headline, no body text): its
        TF-IDF vector is then only its headline.
    headline_only_words : int, default 20
    title_weight : int, default 2
        How many times the title's words count in the TF-IDF vector.
    lead_weight : int, default 1
        How many extra times the lead (the first ``lead_words`` content words of the
        text) counts.
    lead_words : int, default 30
    time_window_days : float, default 2.0
        Articles published within this many days of each other are not penalised.
    time_decay_days : float, default 3.0
        Beyond the window, a link's score is multiplied by exp(-extra_days / decay).
        Undated articles are never penalised. ``time_window_days=math.inf`` turns
        time off.
    near_duplicate_threshold : float, default 0.8
        Word-shingle Jaccard at which a pair is a near-duplicate (reprint): it then
        scores at least its Jaccard, whatever the time between. The LSH bands and
        rows are derived from it and `lsh_min_recall`.
    lsh_min_recall : float, default 0.99
        Chance, at least, that a pair at `near_duplicate_threshold` shares an LSH
        bucket (with 128 permutations: 16 bands of 6 rows, 0.992).
    shingle_size : int, default 5
        Words per shingle.
    num_perm : int, default 128
        MinHash permutations.
    seed : int, default 1
        Seed of the MinHash permutations.
    max_neighbors : int, default 50
        TF-IDF neighbours kept per article as candidates (found through each
        article's 32 heaviest terms, within the time horizon of
        :func:`storyclust.links.time_horizon`; see
        :func:`storyclust.similarity.cosine_candidates`).
    linkage : {"average", "single", "complete"}, default "average"
        How groups of linked articles are merged into stories.
    max_component_size : int, default 10000
        Groups (components of the links at or above `threshold`) larger than this
        are split on their weakest links before linkage (bounds memory: linkage
        holds about 16 bytes × m² for a group of m articles, 1.6 GB at 10,000).
    n_keywords : int, default 5
        Keywords per story.
    strip_boilerplate : bool, default True
        Learn boilerplate lines from the corpus and strip them first
        (:func:`storyclust.find_boilerplate`).
    recut_size : int, default 10
        For undated archives: each story of at least this many articles, at least
        half of them undated and most with text beyond a headline, whose articles
        have little in common once the words they all share are discounted (see
        `recut_cohesion`), is cut again by the rarity of its words among its own
        articles (:func:`storyclust.stories.recut_undated`), so that the reports of
        a running issue (weekly jobless claims) part by week. 0 turns it off. Dated
        corpora and headline-only feeds are never re-cut.
    recut_threshold : float, default 0.15
        Where that re-cut's dendrogram is cut.
    recut_cohesion : float, default 0.06
        A story of m articles is re-cut only if the mean cosine between its
        articles, with terms weighed by their rarity among them
        (:func:`storyclust.stories.local_cohesion`), is below
        ``recut_cohesion * sqrt(max(m, 10) / 10)``: one event told in detail stays
        whole. 1 re-cuts every story that qualifies (for an archive of running
        issues spanning months; it splits some stories of one event too).
    recut_archive : float, default 3.4
        When to read the corpus as such an archive, and re-cut every story that
        qualifies whatever its cohesion (and even if one piece holds over half of
        it): when at least 5 stories qualify and, in the median one, the pieces
        the re-cut would make are at least this many times more alike inside than
        across (:func:`storyclust.stories.separation`; about 4 on the undated
        AllSides probe, about 2 for ECB+'s stories of one event, 2.5 for the same
        cut down to their leads). ``math.inf`` never.
    representative : {"central", "earliest", "longest"}, list of str, or callable, default "central"
        Which article stands for each story: the one with the highest mean score
        to the others (``"central"``), the first published, the longest; a list names outlets in order of preference (the central article breaks
        ties); a callable gets a story's articles and returns one of them (or its
        id, or its index).

    Returns
    -------
    StoryResult

    Raises
    ------
    storyclust.InputError
        A bad record (with ``errors="raise"``).
    storyclust.InputTypeError
        `articles` is not a collection of articles (e.g. a bare string).
    storyclust.SettingsError
        A setting out of range or unknown.

    Examples
    --------
    >>> result = cluster([
    ...     {"title": "Quake of magnitude 7.1 hits Tokyo", "text": "A strong earthquake shook Tokyo."},
    ...     {"title": "Strong earthquake shakes Tokyo", "text": "A magnitude 7.1 quake hit Tokyo."},
    ...     {"title": "Parliament passes budget", "text": "The budget vote passed on Tuesday."},
    ... ])
    >>> result.labels.tolist()
    [0, 0, 1]
    """
    s = Settings.from_kwargs(**settings)
    arts = to_articles(articles, errors=errors)
    return _run(arts, s, progress)


#: Every setting of :class:`Settings` and its default value.
_SETTING_DEFAULTS: dict[str, Any] = {
    f.name: getattr(Settings(), f.name) for f in dataclasses.fields(Settings)
}


def _input_labels(articles: Any, result: StoryResult) -> npt.NDArray[np.int64]:
    """`result`'s labels, one per input record: -1 where a record was skipped."""
    report = result.report
    if isinstance(articles, Articles) or not report.skipped or report.path is not None:
        return result.labels
    out = np.full(report.n_read, -1, dtype=np.int64)
    kept = np.ones(report.n_read, dtype=bool)
    kept[[s.line for s in report.skipped if s.line is not None]] = False
    out[kept] = result.labels
    return out


class StoryClusterer(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Scikit-learn estimator around :func:`cluster`.

    Parameters are those of :func:`cluster`, keyword-only; an unknown name is an
    error at once, values are checked in :meth:`fit`. Each setting reads and
    writes as an attribute (``model.threshold = 0.3`` is ``set_params``), and
    :meth:`get_params` lists them all, so ``sklearn.base.clone``, grid searches,
    ``check_is_fitted`` and a Pipeline's display work.

    Attributes
    ----------
    labels_ : ndarray of int64
        Story of each record of the last fit, one per record given, in their
        order; -1 for a record left out by ``errors="skip"`` (as scikit-learn's
        clusterers mark noise), so the labels line up with the input. (An
        :class:`Articles` given is already loaded: one label per article.)
    stories_ : list of Story
    links_ : list of dict
    result_ : StoryResult

    Examples
    --------
    >>> model = StoryClusterer(threshold=0.3)
    >>> model.fit_predict(["Quake hits Tokyo today", "Quake hits Tokyo today again", "Budget passes"]).tolist()
    [0, 0, 1]
    """

    def __init__(
        self, *, progress: bool | None = None, errors: str = "raise", **settings: Any
    ) -> None:
        Settings.check_names(settings)  # values are checked in fit
        self.progress = progress
        self.errors = errors
        self.settings = settings

    def __setattr__(self, name: str, value: Any) -> None:
        """A setting assigned as an attribute goes where :meth:`get_params` reads it."""
        if name in _SETTING_DEFAULTS and "settings" in self.__dict__:
            self.settings[name] = value
        else:
            super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        """A setting as an attribute (``model.threshold``): the value given, or its default."""
        given = self.__dict__.get("settings")
        if given is not None and name in _SETTING_DEFAULTS:
            return given.get(name, _SETTING_DEFAULTS[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        """The parameters that differ from their defaults, as scikit-learn shows them."""
        shown = {k: v for k, v in self.settings.items() if _SETTING_DEFAULTS.get(k, v) != v}
        if self.errors != "raise":
            shown["errors"] = self.errors
        if self.progress is not None:
            shown["progress"] = self.progress
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every parameter (settings at their defaults included), as scikit-learn expects."""
        return {
            "progress": self.progress,
            "errors": self.errors,
            **_SETTING_DEFAULTS,
            **self.settings,
        }

    def set_params(self, **params: Any) -> StoryClusterer:
        """Set parameters, as scikit-learn expects; an unknown name is an error."""
        Settings.check_names(params, also=("progress", "errors"))
        for key, value in params.items():
            if key in ("progress", "errors"):
                setattr(self, key, value)
            else:
                self.settings[key] = value
        return self

    def fit(self, articles: Any, y: Any = None) -> StoryClusterer:
        """Cluster `articles`; return self.

        Parameters
        ----------
        articles : list of dict, list of str, list of Article, Articles, or DataFrame
            As for :func:`cluster`.
        y : ignored
            Present for scikit-learn's API.
        """
        self.result_ = cluster(
            articles, progress=self.progress, errors=self.errors, **self.settings
        )
        self.labels_ = _input_labels(articles, self.result_)
        self.stories_ = self.result_.stories
        self.links_ = self.result_.links
        return self

    def fit_predict(self, articles: Any, y: Any = None) -> npt.NDArray[np.int64]:
        """Cluster `articles` and return their story labels (:attr:`labels_`).

        Parameters
        ----------
        articles : list of dict, list of str, list of Article, Articles, or DataFrame
            As for :func:`cluster`.
        y : ignored
            Present for scikit-learn's API.
        """
        return self.fit(articles).labels_
