"""Candidate pairs -> scored links.

Candidates come from two cheap sources, never from all pairs: LSH buckets of the
MinHash signatures (near-duplicates) and each article's best TF-IDF neighbours
(rewrites). Each candidate is then scored on every signal, and the signals are
combined into one score in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from rapidfuzz import fuzz
from rapidfuzz.process import cdist, cpdist

from .features import Features
from .settings import Settings
from .similarity import (
    band_candidates,
    band_keys,
    cosine_candidates,
    cosine_pairs,
    jaccard_estimates,
    prefix_matrix,
)

__all__ = [
    "Links",
    "combine_scores",
    "condensed_scores",
    "dense_scores",
    "find_candidates",
    "hub_terms",
    "pair_scores",
    "prefix_term_counts",
    "score_links",
    "text_neighbours",
    "time_factor",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Links:
    """Scored links between articles, as parallel arrays (one entry a link).

    Attributes
    ----------
    pairs : ndarray of int64, shape (n_links, 2)
        Article positions (i, j), i < j.
    score : ndarray of float64
        The combined score in [0, 1] that clustering uses.
    jaccard : ndarray of float64
        MinHash estimate of the word-shingle Jaccard similarity.
    cosine : ndarray of float64
        TF-IDF cosine of title + text.
    headline : ndarray of float64
        Headline similarity (rapidfuzz token-set ratio of the content words / 100); NaN
        where a title is missing.
    names : ndarray of float64
        TF-IDF cosine of the names and figures of the two articles; NaN where either
        has none.
    time_factor : ndarray of float64
        Multiplier in (0, 1] for the time between the two articles (1 inside the window
        or where a date is missing).
    near_duplicate : ndarray of bool
        Jaccard at or above the near-duplicate threshold.
    """

    pairs: I64
    score: F64
    jaccard: F64
    cosine: F64
    headline: F64
    names: F64
    time_factor: F64
    near_duplicate: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.score)

    def take(self, mask: npt.NDArray[np.bool_] | I64) -> Links:
        """The links selected by a boolean mask or index array."""
        return Links(
            pairs=self.pairs[mask],
            score=self.score[mask],
            jaccard=self.jaccard[mask],
            cosine=self.cosine[mask],
            headline=self.headline[mask],
            names=self.names[mask],
            time_factor=self.time_factor[mask],
            near_duplicate=self.near_duplicate[mask],
        )

    def record(self, k: int) -> dict[str, Any]:
        """Link `k` as a dict of its signals (positions, not ids)."""
        h = float(self.headline[k])
        nm = float(self.names[k])
        return {
            "a": int(self.pairs[k, 0]),
            "b": int(self.pairs[k, 1]),
            "score": round(float(self.score[k]), 4),
            "jaccard": round(float(self.jaccard[k]), 4),
            "cosine": round(float(self.cosine[k]), 4),
            "headline": None if np.isnan(h) else round(h, 4),
            "names": None if np.isnan(nm) else round(nm, 4),
            "time_factor": round(float(self.time_factor[k]), 4),
            "near_duplicate": bool(self.near_duplicate[k]),
        }


def find_candidates(features: Features, settings: Settings) -> I64:
    """Candidate pairs (i < j): LSH buckets on signatures plus TF-IDF neighbours.

    Returns
    -------
    ndarray of int64, shape (n_pairs, 2), unique and sorted.
    """
    n = features.signatures.shape[0]
    bands, rows = settings.lsh_bands_rows
    keys = band_keys(features.signatures, bands, rows)
    lsh = band_candidates(keys, valid=features.has_shingles)
    del keys
    nbr = text_neighbours(features, settings)
    code = np.unique(np.concatenate([lsh[:, 0] * n + lsh[:, 1], nbr[:, 0] * n + nbr[:, 1]]))
    return np.stack([code // n, code % n], axis=1) if n else np.zeros((0, 2), dtype=np.int64)


def text_neighbours(
    features: Features,
    settings: Settings,
    *,
    search: npt.NDArray[np.bool_] | None = None,
    hubs: I64 | None = None,
) -> I64:
    """Rewrite candidates: pairs whose TF-IDF cosine reaches ``link_threshold``, bounded.

    :func:`storyclust.similarity.cosine_candidates` over each article's
    :data:`NEIGHBOR_TERMS` heaviest terms, hub terms (:data:`MAX_POSTINGS`) left
    out, and only within :func:`time_horizon` days; through each term a dated
    article meets only the :data:`NEIGHBOR_NEARBY` articles on each side of it in
    time (undated ones: all), which bounds the work an article however dense the
    corpus is in time.

    With `search` (a mask of the rows whose neighbours are sought) and `hubs` (the
    hub terms of the whole corpus, :func:`hub_terms`), `features` may hold a part
    of a corpus: the rows searched, every row within :func:`time_horizon` of them
    and every undated row. The pairs are then those the whole corpus gives for the
    searched rows: how the Ray path searches a time block at a time.

    Returns
    -------
    ndarray of int64, shape (n_pairs, 2), unique and sorted.
    """
    if not features.tfidf.shape[1]:
        return np.zeros((0, 2), dtype=np.int64)
    pairs, _, _ = cosine_candidates(
        features.tfidf,
        threshold=settings.link_threshold,
        max_terms=NEIGHBOR_TERMS,
        max_postings=MAX_POSTINGS,
        max_neighbors=settings.max_neighbors,
        days=features.days,
        horizon=time_horizon(settings),
        max_nearby=NEIGHBOR_NEARBY,
        search=search,
        hubs=hubs,
    )
    return pairs


def prefix_term_counts(tfidf: sp.csr_matrix) -> tuple[I64, I64]:
    """Terms among the :data:`NEIGHBOR_TERMS` heaviest of some rows, and how many rows.

    Summed over parts of a corpus, these counts give the corpus's hub terms
    (:func:`hub_terms`) without the whole corpus in one place.
    """
    prefix = prefix_matrix(tfidf, NEIGHBOR_TERMS)
    counts = np.bincount(prefix.indices, minlength=tfidf.shape[1])
    terms = np.flatnonzero(counts).astype(np.int64)
    return terms, counts[terms].astype(np.int64)


def hub_terms(terms: npt.ArrayLike, counts: npt.ArrayLike) -> I64:
    """The terms that propose no neighbours: in more than :data:`MAX_POSTINGS` rows'
    prefixes, as :func:`text_neighbours` finds them.

    `terms` and `counts` are :func:`prefix_term_counts` of parts of a corpus,
    concatenated (or already summed per term).
    """
    t, at = np.unique(np.asarray(terms, dtype=np.int64), return_inverse=True)
    total = np.bincount(at.ravel(), weights=np.asarray(counts, dtype=np.float64), minlength=len(t))
    return t[total > MAX_POSTINGS]


#: Heaviest TF-IDF terms of an article that propose its neighbours (see
#: :func:`storyclust.similarity.cosine_candidates`).
NEIGHBOR_TERMS = 32
#: A term among the heaviest of more articles than this proposes none (a hub).
MAX_POSTINGS = 5000
#: Through one term, a dated article meets at most this many articles on each side
#: of it in time, so the work an article stays bounded however dense the corpus is
#: in time. At a million synthetic articles in 30 days (33,000 a day) a bound of 50
#: finds 98.8% of the pairs a bound of 100 finds and 99.97% of those with cosine
#: >= 0.25 (the default ``threshold``), in two thirds of the time (48 -> 32 s); at
#: 100,000, 99.99% and all; a bound of 100 in turn missed 1.4% of the pairs of the
#: unbounded search at a million, none at 100,000. The labelled files are unchanged.
NEIGHBOR_NEARBY = 50


def time_horizon(settings: Settings) -> float:
    """Days apart beyond which two dated articles cannot link unless near-duplicates.

    A pair's score is its text evidence (at most 1) times its time factor, so once
    the time factor falls under ``link_threshold`` no text can make a link; only
    near-duplicates (found by LSH, whatever the time) still can.

    Examples
    --------
    >>> round(time_horizon(Settings()), 2)
    8.91
    """
    w, decay = settings.time_window_days, settings.time_decay_days
    if not math.isfinite(w):
        return math.inf
    if decay == 0:
        return float(w)
    # A microsecond of slack: rounding must not cut a pair the time factor keeps.
    return float(w + decay * math.log(1.0 / settings.link_threshold)) + 1e-6 / 86400


def time_factor(days_a: F64, days_b: F64, *, window: float, decay: float) -> F64:
    """Evidence multiplier for the time between two articles.

    1 within `window` days or where either date is unknown; beyond it,
    ``exp(-(dt - window) / decay)``. A `decay` of 0 cuts links outside the window;
    an infinite `window` switches time off.

    Examples
    --------
    >>> time_factor(np.array([0.0, 0.0]), np.array([1.0, 5.0]), window=2, decay=3).round(3).tolist()
    [1.0, 0.368]
    """
    dt = np.abs(days_a - days_b)
    known = ~np.isnan(dt)
    over = (
        np.where(known, np.maximum(dt - window, 0.0), 0.0)
        if np.isfinite(window)
        else np.zeros_like(dt)
    )
    if decay == 0:
        return np.where(over > 0, 0.0, 1.0)
    return np.exp(-over / decay)


def score_links(features: Features, pairs: I64, settings: Settings) -> Links:
    """Score candidate pairs on every signal and keep those at or above ``link_threshold``.

    The text evidence is a weighted mean of the TF-IDF cosine (weight
    ``1 - headline_weight - names_weight``), the headline similarity and the names
    overlap; a signal that is missing for a pair (no title, no names) is left out
    and the other weights scaled up. Where either article is a headline alone (at
    most ``headline_only_words`` tokens), the headline weighs
    ``headline_only_weight`` instead: the TF-IDF vector of such an article is its
    headline, so the cosine and the headline similarity are two readings of the
    same few words. The text evidence is multiplied by the time factor; a
    near-duplicate pair (shingle Jaccard >= ``near_duplicate_threshold``) scores at
    least its Jaccard, whatever the time between.
    """
    jac = jaccard_estimates(features.signatures, pairs)
    cos, head, names, tf, short = _signals(features, pairs, settings)
    near = jac >= settings.near_duplicate_threshold
    score = _combine(cos, head, names, tf, np.where(near, jac, 0.0), settings, headline_only=short)
    links = Links(
        pairs=pairs,
        score=score,
        jaccard=jac,
        cosine=cos,
        headline=head,
        names=names,
        time_factor=tf,
        near_duplicate=near,
    )
    return links.take(score >= settings.link_threshold)


def _signals(
    features: Features, pairs: I64, settings: Settings
) -> tuple[F64, F64, F64, F64, npt.NDArray[np.bool_]]:
    """Cosine, headline, names, time factor and headline-only flag of each pair (i, j)."""
    i, j = pairs[:, 0], pairs[:, 1]
    cos = _row_cosines(features.tfidf, pairs)
    names = _row_cosines(features.names, pairs)
    has_names = np.asarray(features.names.getnnz(axis=1) > 0)
    names[~(has_names[i] & has_names[j])] = np.nan
    titles = features.titles
    ta = [titles[k] for k in i]
    tb = [titles[k] for k in j]
    if len(pairs):
        workers = -1 if len(pairs) >= _PARALLEL_CELLS else 1
        head = (
            cpdist(ta, tb, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=workers) / 100.0
        )
    else:
        head = np.zeros(0)
    no_title = np.fromiter((not a or not b for a, b in zip(ta, tb)), dtype=bool, count=len(pairs))
    head = np.where(no_title, np.nan, head)
    tf = time_factor(
        features.days[i],
        features.days[j],
        window=settings.time_window_days,
        decay=settings.time_decay_days,
    )
    short = features.lengths <= settings.headline_only_words
    return cos, head, names, tf, short[i] | short[j]


def pair_scores(features: Features, pairs: I64, links: Links, settings: Settings) -> F64:
    """The combined score of each pair (i, j), as :func:`dense_scores` gives it.

    For many small groups at once: every pair of every group in one call, where
    :func:`dense_scores` would be one call a group. Near-duplicate Jaccard is taken
    from `links`, as there (a pair that is not a near-duplicate link has none).
    """
    if not len(pairs):
        return np.zeros(0)
    n = max(int(pairs.max()), int(links.pairs.max(initial=0))) + 1
    cos, head, names, tf, short = _signals(features, pairs, settings)
    # Each pair's near-duplicate link, looked up by its code (lower * n + higher).
    nd = links.near_duplicate
    code = links.pairs[nd].min(axis=1) * n + links.pairs[nd].max(axis=1)
    by = np.argsort(code, kind="stable")
    code, jac = code[by], links.jaccard[nd][by]
    want = pairs.min(axis=1) * n + pairs.max(axis=1)
    near = np.zeros(len(pairs))
    if len(code):
        at = np.minimum(np.searchsorted(code, want), len(code) - 1)
        near = np.where(code[at] == want, jac[at], 0.0)
    return _combine(cos, head, names, tf, near, settings, headline_only=short)


def _row_cosines(x: sp.csr_matrix, pairs: I64) -> F64:
    """Cosines of the pairs' rows (zeros when the matrix has no columns)."""
    return cosine_pairs(x, pairs) if x.shape[1] else np.zeros(len(pairs))


def _combine(
    cos: F64,
    head: F64,
    names: F64,
    tf: F64,
    near_jaccard: F64,
    settings: Settings,
    headline_only: npt.NDArray[np.bool_] | None = None,
) -> F64:
    """Weighted mean of the available text signals, times the time factor, floored by near-duplicate Jaccard."""
    wn = settings.names_weight
    wh: float | F64 = settings.headline_weight
    if headline_only is not None:
        wh = np.where(headline_only, settings.headline_only_weight, settings.headline_weight)
    wc = 1.0 - wh - wn
    has_h, has_n = ~np.isnan(head), ~np.isnan(names)
    total = wc + wh * has_h + wn * has_n
    text = (wc * cos + wh * np.nan_to_num(head) + wn * np.nan_to_num(names)) / np.maximum(
        total, 1e-12
    )
    text = np.where(total > 0, text, cos)
    return np.clip(np.maximum(text * tf, near_jaccard), 0.0, 1.0)


def combine_scores(
    cos: F64,
    head: F64,
    names: F64,
    tf: F64,
    near_jaccard: F64,
    settings: Settings,
    *,
    headline_only: npt.NDArray[np.bool_] | None = None,
) -> F64:
    """Combine the signals of article pairs into their link scores.

    The rule :func:`score_links` and :func:`dense_scores` use, public for other
    scorers (the streaming :class:`storyclust.StoryIndex`): the weighted mean of
    the available text signals (a NaN `head` or `names` is missing and left out),
    times the time factor `tf`, floored by `near_jaccard` (the Jaccard of
    near-duplicate pairs, 0 elsewhere). Where `headline_only` is true (either
    article is a headline alone: at most ``headline_only_words`` tokens), the
    headline weighs ``headline_only_weight`` instead of ``headline_weight``;
    without it every pair is weighed as if both had a text. Arrays of any one
    (broadcastable) shape.

    Examples
    --------
    >>> from storyclust.settings import Settings
    >>> one = lambda v: np.array([v])
    >>> combine_scores(one(0.5), one(np.nan), one(np.nan), one(1.0), one(0.0), Settings()).tolist()
    [0.5]
    """
    return _combine(cos, head, names, tf, near_jaccard, settings, headline_only)


def dense_scores(features: Features, members: I64, links: Links, settings: Settings) -> F64:
    """The combined score of every pair among `members`, as a dense matrix.

    Candidates are a sparse sample; inside one linked group the exact score of
    every pair is cheap, and linkage needs it (a pair that was not a candidate is
    scored, not assumed 0). Near-duplicate Jaccard is taken from `links` (pairs
    that were not LSH candidates are not near-duplicates). Scored in blocks of
    rows, so the memory beyond the result is a few blocks, not a few matrices.

    Returns
    -------
    ndarray of float64, shape (m, m), symmetric, zero diagonal.
    """
    m = len(members)
    out = np.zeros((m, m))
    for (lo, hi), block in _score_blocks(features, members, links, settings):
        r, c = slice(lo, hi), slice(lo, m)
        out[r, c] = block
        out[c, r] = block.T
    return out


def condensed_scores(features: Features, members: I64, links: Links, settings: Settings) -> F64:
    """:func:`dense_scores` in condensed form: the pairs (i, j), i < j, row by row.

    What :func:`scipy.cluster.hierarchy.linkage` takes, built without the square
    matrix: half the memory for a large group (a 10,000-article group: 400 MB,
    not 800 MB and then a condensed copy).
    """
    m = len(members)
    out = np.zeros(m * (m - 1) // 2)
    for (lo, hi), block in _score_blocks(features, members, links, settings):
        for row in range(lo, hi):
            start = row * m - row * (row + 1) // 2  # where pairs (row, row + 1...) begin
            out[start : start + m - row - 1] = block[row - lo, row - lo + 1 :]
    return out


def _score_blocks(
    features: Features, members: I64, links: Links, settings: Settings
) -> Iterator[tuple[tuple[int, int], F64]]:
    """Scores of rows lo:hi of `members` against rows lo: (symmetric in the square
    lo:hi x lo:hi part, zero diagonal), block after block."""
    m = len(members)
    if m == 0:
        return
    # In float64 once, as cosine_pairs sums: a pair scores the same here and there.
    tfidf = features.tfidf[members].astype(np.float64) if features.tfidf.shape[1] else None
    names_x = features.names[members].astype(np.float64) if features.names.shape[1] else None
    has_names = np.asarray(features.names[members].getnnz(axis=1) > 0)
    titles = [features.titles[k] for k in members]
    has_title = np.fromiter((bool(t) for t in titles), dtype=bool, count=m)
    d = features.days[members]
    short = features.lengths[members] <= settings.headline_only_words
    pos = np.full(int(members.max()) + 1, -1, dtype=np.int64)
    pos[members] = np.arange(m)
    nd = links.near_duplicate
    a, b, jac = links.pairs[nd, 0], links.pairs[nd, 1], links.jaccard[nd]
    inside = (a < len(pos)) & (b < len(pos))
    a, b, jac = a[inside], b[inside], jac[inside]
    ok = (pos[a] >= 0) & (pos[b] >= 0)
    near_rows = np.concatenate([pos[a[ok]], pos[b[ok]]])
    near_cols = np.concatenate([pos[b[ok]], pos[a[ok]]])
    near_vals = np.concatenate([jac[ok], jac[ok]])
    step = max(1, _BLOCK_CELLS // m)
    for lo in range(0, m, step):
        # Rows lo:hi against columns lo: only, mirrored below: each pair is scored once.
        hi = min(m, lo + step)
        r, c = slice(lo, hi), slice(lo, m)
        cos = _block_cosines(tfidf, r, c)
        nm = _block_cosines(names_x, r, c)
        nm[~(has_names[r, None] & has_names[None, c])] = np.nan
        # On every CPU for large blocks (the headline is most of a large group's cost).
        workers = -1 if (hi - lo) * (m - lo) >= _PARALLEL_CELLS else 1
        head = (
            cdist(
                titles[r], titles[c], scorer=fuzz.token_set_ratio, dtype=np.float64, workers=workers
            )
            / 100.0
        )
        head[~(has_title[r, None] & has_title[None, c])] = np.nan
        tf = time_factor(
            d[r, None], d[None, c], window=settings.time_window_days, decay=settings.time_decay_days
        )
        near = np.zeros((hi - lo, m - lo))
        sel = (near_rows >= lo) & (near_rows < hi) & (near_cols >= lo)
        near[near_rows[sel] - lo, near_cols[sel] - lo] = near_vals[sel]
        block = _combine(cos, head, nm, tf, near, settings, short[r, None] | short[None, c])
        diag = np.triu(block[:, : hi - lo], 1)
        block[:, : hi - lo] = diag + diag.T
        yield (lo, hi), block


# Pairs scored at once by dense_scores: bounds its working memory (a few arrays this size).
_BLOCK_CELLS = 1 << 21
# Blocks of at least this many pairs compare headlines on every CPU.
_PARALLEL_CELLS = 1 << 16


def _block_cosines(x: sp.csr_matrix | None, rows: slice, cols: slice) -> F64:
    """Cosines of rows `rows` of `x` against its rows `cols`, dense (zeros without columns)."""
    if x is None:
        return np.zeros((rows.stop - rows.start, cols.stop - cols.start))
    return np.clip(np.asarray((x[rows] @ x[cols].T).toarray(), dtype=np.float64), 0.0, 1.0)
