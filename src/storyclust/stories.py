"""Scored links -> stories.

Plain connected components over links let one bridge article join two stories
(A~B, B~C, A≁C). So links only propose groups: each connected component is cut
with hierarchical clustering (average linkage by default) over its link scores,
where a missing link counts as similarity 0. A story then holds articles whose
*average* similarity to each other is at least ``threshold``, not articles joined
by a chain.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.cluster.hierarchy import linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from .links import Links
from .similarity import average_linkage, flat_clusters, top_per_row

__all__ = [
    "RecutPlan",
    "archive_verdict",
    "cohesion",
    "group_links",
    "keywords",
    "linkage_components",
    "local_idf_cosines",
    "number_by_first_appearance",
    "recut_plan",
    "recut_undated",
    "representatives",
    "separation",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Groups larger than this are scored in condensed form when a scorer for it is given.
LARGE_GROUP = 64
#: A re-cut (:func:`recut_undated`) is kept only if no piece holds more than this share
#: of the story: one event with a few outlying reports stays whole.
RECUT_MAX_SHARE = 0.5
#: The story size at which :func:`recut_undated`'s ``cohesion`` applies as given.
COHESION_SIZE = 10
#: Articles summed at a time when finding keywords (bounds the memory).
_KEYWORD_ROWS = 16_384


def _graph(n: int, links: Links) -> sp.csr_matrix:
    """Symmetric sparse matrix of link scores."""
    i, j = links.pairs[:, 0], links.pairs[:, 1]
    g = sp.coo_matrix((links.score, (i, j)), shape=(n, n))
    return sp.csr_matrix(g + g.T)


def linkage_components(n: int, links: Links, threshold: float) -> I64:
    """The groups linkage works on: components of the links scoring at least `threshold`.

    Linkage never joins articles across two of them: every known pair across
    scores under `threshold` (links under it, and pairs that were not candidates,
    which score lower), so the average (or the best, or the worst) score between
    any two clusters on either side stays under it, and the dendrogram is cut
    there. The weaker links (from ``link_threshold``) still score, and explain,
    pairs inside a group. Splitting first keeps the groups small where weak links
    would otherwise chain a dense corpus into one component of thousands of
    articles (a million synthetic articles in 30 days: 15,800), whose every pair
    linkage would score. It changes nothing only if no pair that was never a
    candidate scores `threshold` or more; on the labelled files the stories are
    the same or differ in one or two articles (ARI 0.9993 to 1.0 against
    components of every link).
    """
    # The dendrogram's own test (a distance 1 - score within the cut), so that a
    # pair at the threshold falls on the same side here and there.
    strong = links.take(np.clip(1.0 - links.score, 0.0, 1.0) <= _cut_distance(threshold))
    _, comp = connected_components(_graph(n, strong), directed=False)
    out: I64 = comp.astype(np.int64)
    return out


def _split_large(graph: sp.csr_matrix, members: I64, max_size: int) -> list[I64]:
    """Split a component too large for dense linkage by dropping its weakest links.

    The cut-off rises through the component's distinct scores (bisection) until
    every piece has at most `max_size` articles.
    """
    sub = sp.csr_matrix(graph[members][:, members])
    values = np.unique(sub.data)
    lo, hi = 0, len(values) - 1
    best: npt.NDArray[np.int64] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        pruned = sub.multiply(sub >= values[mid])
        _, lab = connected_components(pruned, directed=False)
        if np.bincount(lab).max() <= max_size:
            best, hi = lab.astype(np.int64), mid - 1
        else:
            lo = mid + 1
    if best is None:  # even the strongest links form a large piece: keep singletons
        best = np.arange(len(members), dtype=np.int64)
    return [members[best == c] for c in np.unique(best)]


def group_links(
    n: int,
    links: Links,
    *,
    threshold: float,
    method: str = "average",
    max_component_size: int = 3000,
    similarity: Callable[[I64], F64] | None = None,
    condensed: Callable[[I64], F64] | None = None,
    groups: I64 | None = None,
) -> I64:
    """Cluster `n` articles from their scored links.

    Parameters
    ----------
    n : int
        Number of articles.
    links : Links
    threshold : float
        Cut the dendrogram of each group where the linkage similarity falls
        below this. The groups are the components of the links at or above it
        (:func:`linkage_components`): no story crosses them.
    method : {"average", "single", "complete"}
    max_component_size : int
        Groups larger than this are first split on their weakest links, which
        bounds memory (dense linkage is quadratic in group size).
    similarity : callable, optional
        ``similarity(members) -> (m, m) matrix`` giving the score of every pair in
        a group; by default the link scores, a missing link counting as 0.
    condensed : callable, optional
        ``condensed(members) -> (m * (m - 1) / 2,) array``: the same scores in
        condensed form (pairs i < j, row by row), used for groups of more than
        :data:`LARGE_GROUP` articles instead of `similarity`: half the memory.
    groups : ndarray of int64, optional
        :func:`linkage_components` of these links and `threshold`, when the caller
        has them already.

    Returns
    -------
    ndarray of int64, shape (n,)
        A cluster number per article (arbitrary but deterministic numbering).
    """
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    graph = _graph(n, links)
    comp = linkage_components(n, links, threshold) if groups is None else groups
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.r_[True, comp[order][1:] != comp[order][:-1], True])
    next_label = 0
    for s, e in itertools.pairwise(bounds):
        members = order[s:e]
        pieces = (
            [members]
            if len(members) <= max_component_size
            else _split_large(graph, members, max_component_size)
        )
        for piece in pieces:
            sub = _cut_piece(piece, graph, similarity, condensed, method, threshold)
            labels[piece] = next_label + sub - 1
            next_label += int(sub.max())
    return labels


def _cut_piece(
    piece: I64,
    graph: sp.csr_matrix | None,
    similarity: Callable[[I64], F64] | None,
    condensed: Callable[[I64], F64] | None,
    method: str,
    threshold: float,
) -> I64:
    """Cluster numbers 1..k of one group's articles: its dendrogram cut at `threshold`.

    The scores are turned into distances in place: the matrix (or, for a large
    group with a `condensed` scorer, the condensed vector) is the largest object
    held here, and it is freed on return.
    """
    if len(piece) == 1:
        return np.ones(1, dtype=np.int64)
    cut = _cut_distance(threshold)
    if condensed is not None and len(piece) > LARGE_GROUP:
        flat = condensed(piece)
    else:
        if similarity is None:
            assert graph is not None, "a graph or a similarity is needed"
            dist = graph[piece][:, piece].toarray()
        else:
            dist = similarity(piece)
        if len(piece) == 2:  # what linkage and fcluster give for two articles, without them
            apart = min(max(1.0 - float(dist[0, 1]), 0.0), 1.0)
            return np.array([1, 1] if apart <= cut else [1, 2], dtype=np.int64)
        flat = squareform(dist, checks=False)
        del dist
    np.subtract(1.0, flat, out=flat)
    np.clip(flat, 0.0, 1.0, out=flat)
    z = _linkage(flat, len(piece), method)
    return flat_clusters(z, len(piece), cut)


def _cut_distance(threshold: float) -> float:
    """Where the dendrogram is cut: linkage distance (1 - score) at most this joins."""
    return 1.0 - threshold + 1e-12


def _linkage(dist: F64, m: int, method: str) -> F64:
    """scipy's ``linkage(dist, method)``; average linkage in place, without scipy's copy.

    :func:`storyclust.similarity.average_linkage` gives scipy's matrix bit for bit
    (tested) and overwrites `dist`: for a 10,000-article group, 400 MB less.
    """
    if not math.isfinite(float(dist.sum())):  # values in [0, 1]: finite iff all are
        raise ValueError("linkage distances must be finite")
    if method == "average":
        return average_linkage(dist, m)
    z: F64 = linkage(dist, method=method)
    return z


def local_idf_cosines(x: sp.spmatrix) -> F64:
    """Cosines of the rows of `x` after each term is weighed again by its IDF among them.

    scikit-learn's ``TfidfTransformer`` (smooth IDF over these rows:
    ``log((1 + m) / (1 + df)) + 1``), applied to the rows as they are, then
    L2-normalised; all-zero rows stay zero.

    Examples
    --------
    >>> x = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    >>> local_idf_cosines(x).round(3)
    array([[1.   , 1.   , 0.312],
           [1.   , 1.   , 0.312],
           [0.312, 0.312, 1.   ]])
    """
    return _gram(_local_idf_rows(x))


def local_cohesion(x: sp.spmatrix) -> float:
    """Mean of :func:`local_idf_cosines` over pairs of distinct rows, without the matrix.

    With unit rows y_i, the sum over pairs i != j of y_i . y_j is
    ``|sum y_i|^2 - sum |y_i|^2``: linear in the non-zeros, so a story of
    thousands of articles is measured without its m x m matrix.

    Examples
    --------
    >>> x = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    >>> round(local_cohesion(x), 3)  # (1 + 0.312 + 0.312) / 3
    0.541
    """
    return _mean_pair_cosine(_local_idf_rows(x))


def _mean_pair_cosine(y: sp.csr_matrix) -> float:
    """Mean dot product over pairs of distinct rows of `y` (unit or zero rows)."""
    m = y.shape[0]
    if m < 2:
        return 1.0
    return float(_pair_dot_sum(y) / (m * (m - 1)))


def _pair_dot_sum(y: sp.csr_matrix) -> float:
    """Sum of the dot products of the rows of `y` over ordered pairs of distinct rows:
    ``|sum of rows|^2 - sum of |row|^2``, linear in the non-zeros."""
    total = np.asarray(y.sum(axis=0)).ravel()
    return float(total @ total - y.data @ y.data)


def _gram(y: sp.csr_matrix, piece: I64 | None = None) -> F64:
    """Dense dot products of the rows of `y` (those of `piece` only, if given)."""
    if piece is not None:
        y = y[piece]
    out: F64 = np.asarray((y @ y.T).toarray(), dtype=np.float64)
    return out


def _local_idf_rows(x: sp.spmatrix) -> sp.csr_matrix:
    """The rows of `x` weighed again by scikit-learn's ``TfidfTransformer`` fitted on
    them, L2-normalised, over only the columns they use (a story uses a few hundred
    of the corpus's terms: the same cosines, without the corpus's width)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    x = sp.csr_matrix(x, dtype=np.float64)
    used, cols = np.unique(x.indices, return_inverse=True)
    compact = sp.csr_matrix((x.data, cols.reshape(-1), x.indptr), shape=(x.shape[0], len(used)))
    if not len(used):  # no terms at all: every cosine is 0
        return compact
    y: sp.csr_matrix = TfidfTransformer().fit_transform(compact)
    return y


def recut_undated(
    labels: npt.ArrayLike,
    tfidf: sp.spmatrix,
    days: npt.ArrayLike,
    lengths: npt.ArrayLike,
    *,
    min_size: int,
    threshold: float,
    headline_only_words: int,
    max_share: float = RECUT_MAX_SHARE,
    cohesion: float = 1.0,
    archive: float = math.inf,
) -> tuple[I64, I64]:
    """Large undated stories cut again by the rarity of their words inside the story.

    Without dates, the reports of a running issue followed for months (weekly
    jobless claims, a long confirmation fight) can form one story: the words they
    all share outweigh what tells one week from the next. Each story of at least
    `min_size` articles, at least half of them undated (``days`` NaN) and fewer
    than half of them headlines alone (``lengths`` at most `headline_only_words`
    tokens: over headlines, a story's own word counts are too thin), is cut by
    average linkage at `threshold` over :func:`local_idf_cosines` of its TF-IDF rows.
    The cut is kept only if no piece holds more than `max_share` of the story.
    A story whose members still resemble each other once the words they share
    are discounted is one event told in detail, and is left whole: a story of m
    articles is cut only if its :func:`local_cohesion` is below
    ``cohesion * sqrt(max(m, 10) / 10)`` (the larger an undated story, the more
    alike its articles must be to stay one).

    With `archive`, the corpus as a whole decides first
    (:meth:`RecutPlan.choose`): when at least :data:`ARCHIVE_MIN_STORIES` stories
    qualify and the median of their :func:`separation` is at least `archive`, the
    corpus is read as an archive of running issues, and every qualifying story is
    cut, whatever its cohesion and however large its largest piece.
    :func:`recut_plan` gives both outcomes and the separations.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Story of each article (any non-negative numbers).
    tfidf : sparse matrix, shape (n, n_terms)
    days : array_like of float, shape (n,)
        Publication day; NaN where unknown.
    lengths : array_like of int, shape (n,)
        Tokens of title and text.
    min_size : int
        The smallest story re-cut.
    threshold : float
        Where the local dendrogram is cut.
    headline_only_words : int
    max_share : float, default :data:`RECUT_MAX_SHARE` (0.5)
        A cut whose largest piece holds more than this share of the story is not
        kept (one event with a few outlying reports stays whole).
    cohesion : float, default 1.0
        The local cohesion a story of up to 10 articles needs to stay whole; 1.0
        cuts every story that qualifies by size, dates and length.
    archive : float, default inf (never)
        The median separation at which the corpus is read as an archive.

    Returns
    -------
    labels : ndarray of int64, shape (n,)
        The stories after the re-cut: a re-cut story's pieces are numbered after the
        largest input label, stories visited in label order.
    recut_from : ndarray of int64, shape (n,)
        The input label of each article whose story was re-cut; -1 elsewhere.

    Examples
    --------
    >>> x = sp.csr_matrix(np.array([[3, 3, 1, 0]] * 3 + [[3, 3, 0, 1]] * 3, dtype=float))
    >>> labels, recut_from = recut_undated(np.zeros(6, int), x, np.full(6, np.nan), np.full(6, 60),
    ...                                    min_size=6, threshold=0.9, headline_only_words=20)
    >>> labels.tolist(), recut_from.tolist()
    ([1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0])
    """
    plan = recut_plan(
        labels,
        tfidf,
        days,
        lengths,
        min_size=min_size,
        threshold=threshold,
        headline_only_words=headline_only_words,
        max_share=max_share,
        cohesion=cohesion,
    )
    out, recut_from, _ = plan.choose(archive)
    return out, recut_from


#: The fewest stories qualifying for the re-cut from which a corpus can be read as
#: an archive of running issues (:meth:`RecutPlan.choose`): one story's
#: separation says too little about the corpus.
ARCHIVE_MIN_STORIES = 5


@dataclasses.dataclass(frozen=True)
class RecutPlan:
    """Both outcomes of the undated re-cut of one set of stories (:func:`recut_plan`).

    Attributes
    ----------
    gated, gated_from : ndarray of int64, shape (n,)
        Labels, and the story each re-cut article was cut from (-1 elsewhere),
        when each story is judged alone: cut only if its local cohesion is under
        the bar and no piece holds more than the largest share.
    archive, archive_from : ndarray of int64, shape (n,)
        The same when the corpus is read as an archive of running issues: every
        qualifying story cut into its pieces.
    separation : ndarray of float64
        :func:`separation` of each qualifying story of 3 or more articles, in label
        order.
    """

    gated: I64
    gated_from: I64
    archive: I64
    archive_from: I64
    separation: F64

    def choose(self, archive: float) -> tuple[I64, I64, dict[str, Any]]:
        """The labels, the cut-from labels, and what decided (:func:`archive_verdict`)."""
        info = archive_verdict(self.separation, archive)
        if info["archive"]:
            return self.archive, self.archive_from, info
        return self.gated, self.gated_from, info


def archive_verdict(separations: npt.ArrayLike, archive: float) -> dict[str, Any]:
    """Whether a corpus whose qualifying stories have these separations is an archive.

    It is when at least :data:`ARCHIVE_MIN_STORIES` stories qualify and their
    median :func:`separation` is at least `archive` (``math.inf``: never, whatever
    the median). Returns
    ``{"archive": bool, "separation": the median or None, "qualifying": k}``.

    Examples
    --------
    >>> archive_verdict([4.1, 3.9, 5.0, 2.2, 3.6], 3.4)
    {'archive': True, 'separation': 3.9, 'qualifying': 5}
    >>> archive_verdict([4.1, 3.9], 3.4)["archive"]  # too few stories to tell
    False
    >>> archive_verdict([math.inf] * 5, math.inf)["archive"]
    False
    """
    seps = np.asarray(separations, dtype=np.float64)
    k = len(seps)
    median = float(np.median(seps)) if k else None
    chosen = (
        math.isfinite(archive)  # inf: never, even for a median of inf
        and median is not None
        and k >= ARCHIVE_MIN_STORIES
        and median >= archive
    )
    return {"archive": bool(chosen), "separation": median, "qualifying": k}


def separation(y: sp.csr_matrix, pieces: I64) -> float:
    """How much more alike a story's articles are inside its pieces than across them.

    The mean dot product of the rows of `y` (unit or zero rows: the
    :func:`local_idf_cosines` weighing) over pairs in one piece, divided by its
    mean over pairs in different pieces. 1.0 for a single piece (nothing to
    compare), 0.0 when every piece is one article, infinity when no pair across
    pieces shares a term (a mean across of at most 1e-12) but some pair inside
    one does, 1.0 when no pair shares a term at all. The reports of a running
    issue, cut into its weeks, sit several times closer inside a week than
    across; one event told at length, cut the same way, about twice.

    Examples
    --------
    >>> y = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [0.6, 0.8]]))
    >>> round(separation(y, np.array([0, 0, 1, 1])), 6)  # 1.0 inside, 0.6 across
    1.666667
    """
    y = sp.csr_matrix(y)
    m = y.shape[0]
    pieces = np.asarray(pieces, dtype=np.int64)
    if pieces.shape != (m,):
        raise ValueError(f"pieces must give one piece per row of y ({m}); got shape {pieces.shape}")
    sizes = np.bincount(pieces)
    within_pairs = float((sizes * (sizes - 1)).sum())
    all_pairs = float(m * (m - 1))
    if within_pairs == all_pairs:
        return 1.0
    if within_pairs == 0:
        return 0.0
    # Inside each piece, as over the whole story: |sum of its rows|^2 - sum of |row|^2.
    ind = sp.csr_matrix((np.ones(m), (pieces, np.arange(m))), shape=(len(sizes), m))
    sums = ind @ y
    within = float(sums.multiply(sums).sum() - y.data @ y.data)
    across = (_pair_dot_sum(y) - within) / (all_pairs - within_pairs)
    inside_mean = within / within_pairs
    if across <= 1e-12:  # nothing shared across pieces, up to rounding in the sums
        return math.inf if inside_mean > 1e-12 else 1.0  # (nor inside: nothing to compare)
    return inside_mean / across


def recut_plan(
    labels: npt.ArrayLike,
    tfidf: sp.spmatrix,
    days: npt.ArrayLike,
    lengths: npt.ArrayLike,
    *,
    min_size: int,
    threshold: float,
    headline_only_words: int,
    max_share: float = RECUT_MAX_SHARE,
    cohesion: float = 1.0,
) -> RecutPlan:
    """The undated re-cut of :func:`recut_undated`, both ways, and each story's separation.

    Each qualifying story is weighed and cut once; the cut serves both outcomes.
    Stories of different labels do not interact, so a plan made group by group
    (as on Ray) holds the same stories and separations as one made at once.
    """
    labels = np.asarray(labels, dtype=np.int64)
    undated = np.isnan(np.asarray(days, dtype=np.float64))
    short = np.asarray(lengths) <= headline_only_words
    gated, archive = labels.copy(), labels.copy()
    gated_from = np.full(len(labels), -1, dtype=np.int64)
    archive_from = gated_from.copy()
    seps: list[float] = []
    if len(labels) < max(min_size, 1):
        return RecutPlan(gated, gated_from, archive, archive_from, np.zeros(0))
    # Which stories qualify, counted for all at once: most stories are small, and a
    # loop over them all would cost more than the re-cut itself on a large corpus.
    size = np.bincount(labels)
    eligible = (
        (size >= min_size)
        & (2 * np.bincount(labels, weights=undated) >= size)
        & (2 * np.bincount(labels, weights=short) < size)
    )
    x = sp.csr_matrix(tfidf)
    next_gated = next_archive = len(size)
    order = np.argsort(labels, kind="stable")
    start = np.concatenate(([0], np.cumsum(size)))
    for story in np.flatnonzero(eligible):
        members = order[start[story] : start[story + 1]]
        m = len(members)
        # Weighed once: the gate's cohesion, the cut's cosines and the separation.
        y = _local_idf_rows(x[members])
        sub = _cut_piece(
            np.arange(m), None, functools.partial(_gram, y), None, "average", threshold
        )
        if m >= 3:  # fewer articles have no pair inside and across pieces to compare
            seps.append(separation(y, sub - 1))
        if sub.max() == 1:
            continue
        archive[members] = next_archive + sub - 1
        archive_from[members] = story
        next_archive += int(sub.max())
        if _mean_pair_cosine(y) >= cohesion * math.sqrt(max(m, COHESION_SIZE) / COHESION_SIZE):
            continue
        if np.bincount(sub).max() > max_share * m:
            continue
        gated[members] = next_gated + sub - 1
        gated_from[members] = story
        next_gated += int(sub.max())
    return RecutPlan(gated, gated_from, archive, archive_from, np.asarray(seps, dtype=np.float64))


def number_by_first_appearance(labels: npt.ArrayLike) -> I64:
    """Renumber labels 0..k-1 in order of first appearance.

    Examples
    --------
    >>> number_by_first_appearance([7, 7, 3, 9, 3]).tolist()
    [0, 0, 1, 2, 1]
    """
    arr = np.asarray(labels)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def representatives(
    labels: I64,
    links: Links,
    *,
    policy: str,
    days: F64,
    lengths: I64,
    tiebreak: I64,
    priority: I64 | None = None,
) -> I64:
    """Index of the representative article of each story (stories 0..k-1).

    Policies: ``"central"`` (the highest sum of link scores to the rest of its
    story), ``"earliest"`` (first published; undated last), ``"longest"`` (most
    tokens). With `priority` (lower is preferred, e.g. the rank of the article's
    outlet in a list), it decides first and the policy breaks its ties. Remaining
    ties go to the earlier article, then to the smaller `tiebreak`.
    """
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = int(labels.max()) + 1
    primary: F64
    if policy == "central":
        i, j = links.pairs[:, 0], links.pairs[:, 1]
        same = labels[i] == labels[j]
        weight = links.score[same].astype(np.float64)
        node = np.r_[i[same], j[same]]
        both = np.r_[weight, weight]
        # Each article's scores added in increasing order, not in the links' (input) order:
        # floating-point sums then do not depend on the order of the input, and two
        # equally central articles tie exactly (the documented tie-break decides).
        o = np.lexsort((both, node))
        primary = -np.bincount(node[o], both[o], minlength=n).astype(np.float64)
    elif policy == "earliest":
        primary = np.where(np.isnan(days), math.inf, days)
    elif policy == "longest":
        primary = -lengths.astype(np.float64)
    else:  # pragma: no cover - Settings validates the policy
        raise ValueError(f"unknown representative policy {policy!r}")
    when = np.where(np.isnan(days), math.inf, days)
    first_key = np.zeros(n, dtype=np.int64) if priority is None else priority
    order = np.lexsort((tiebreak, when, primary, first_key, labels))
    first = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    out = np.empty(k, dtype=np.int64)
    out[labels[order][first]] = order[first]
    return out


#: Terms ranked beyond `n_keywords`, to stand in for one-character ones left out.
_SPARE_KEYWORDS = 3


def keywords(
    tfidf: sp.csr_matrix,
    terms: npt.NDArray[np.str_] | Callable[[I64], Sequence[str]],
    labels: I64,
    n_keywords: int,
) -> list[list[str]]:
    """Top terms of each story by class-based TF-IDF (summed rows, re-weighted across stories).

    Terms are ranked by their mass in the story times ``log(1 + k / df_story)``,
    where df_story counts the stories using the term; ties by column.

    Parameters
    ----------
    tfidf : scipy.sparse.csr_matrix, shape (n, n_terms)
    terms : ndarray of str, shape (n_terms,), or callable
        The term of each column, or a function from column indices to their terms
        (called once, with the columns the keywords need).
    labels : ndarray of int64, shape (n,)
    n_keywords : int
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0 or tfidf.shape[1] == 0 or n_keywords == 0:
        return [[] for _ in range(k)]
    x = sp.csr_matrix(tfidf)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    # Stories in chunks of about `_KEYWORD_ROWS` articles: the summed rows of all
    # stories at once would be as large as the whole matrix again.
    cuts = np.unique(np.searchsorted(bounds, np.arange(0, len(labels), _KEYWORD_ROWS)))
    spans = [(a, b) for a, b in itertools.pairwise([*cuts.tolist(), k]) if b > a]

    def mass(s0: int, s1: int) -> sp.csr_matrix:
        rows = order[bounds[s0] : bounds[s1]]
        member = sp.csr_matrix(
            (np.ones(len(rows), dtype=x.dtype), (labels[rows] - s0, np.arange(len(rows)))),
            shape=(s1 - s0, len(rows)),
        )
        m = sp.csr_matrix(member @ x[rows])
        m.sort_indices()
        return m

    df = np.zeros(x.shape[1], dtype=np.int64)
    for s0, s1 in spans:
        df += np.bincount(mass(s0, s1).indices, minlength=x.shape[1])
    weight = np.log1p(k / np.maximum(df, 1))
    top: list[I64] = []
    for s0, s1 in spans:
        m = mass(s0, s1)
        # Each story's `n_keywords` heaviest terms (compiled, ties to the lower
        # column: a story's columns are sorted), then those few put in order of
        # weight, story by story.
        vals = m.data * weight[m.indices]
        pos = top_per_row(m.indptr, vals, n_keywords + _SPARE_KEYWORDS)
        counts = np.minimum(np.diff(m.indptr), n_keywords + _SPARE_KEYWORDS)
        story = np.repeat(np.arange(s1 - s0), counts)
        cols = m.indices[pos].astype(np.int64)
        picked = cols[np.lexsort((cols, -vals[pos], story))]
        top.extend(np.split(picked, np.cumsum(counts)[:-1]))
    if callable(terms):
        needed = np.unique(np.concatenate(top)) if top else np.zeros(0, dtype=np.int64)
        found = dict(zip(needed.tolist(), terms(needed)))
        words = [[str(found[int(c)]) for c in t] for t in top]
    else:
        words = [[str(x) for x in terms[t]] for t in top]
    # One-character terms ("7" and "1" of "7.1") say nothing of a story.
    return [[w for w in ws if len(w) > 1][:n_keywords] for ws in words]


def cohesion(labels: I64, similarity: Callable[[I64], F64]) -> tuple[F64, I64, F64]:
    """How well each story holds together, and its weakest link.

    Parameters
    ----------
    labels : ndarray of int64, shape (n,)
        Stories 0..k-1.
    similarity : callable
        ``similarity(members) -> (m, m)`` exact pair scores.

    Returns
    -------
    cohesion : ndarray of float64, shape (k,)
        Mean score over all pairs of the story's articles (1.0 for one article).
    weakest : ndarray of int64, shape (k, 2)
        The two articles of the weakest link on the story's maximum spanning tree:
        the link whose loss would first split the story (-1 for one article).
    weakest_score : ndarray of float64, shape (k,)
        Its score (NaN for one article).
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    coh = np.ones(k)
    weakest = np.full((k, 2), -1, dtype=np.int64)
    weakest_score = np.full(k, np.nan)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True])
    for s, e in itertools.pairwise(bounds):
        members = order[s:e]
        if len(members) < 2:
            continue
        story = int(labels[members[0]])
        dense = similarity(members)
        m = len(members)
        coh[story] = float(dense[np.triu_indices(m, 1)].mean())
        if m == 2:  # one pair: it is the tree
            weakest[story] = sorted((int(members[0]), int(members[1])))
            weakest_score[story] = float(dense[0, 1])
            continue
        a, b = _weakest_tree_link(dense)
        weakest[story] = sorted((int(members[a]), int(members[b])))
        weakest_score[story] = float(dense[a, b])
    return coh, weakest, weakest_score


def _weakest_tree_link(scores: F64) -> tuple[int, int]:
    """The weakest link of a maximum spanning tree of a complete graph of `scores`.

    Prim's algorithm on the dense matrix (m steps of O(m) array work, no sparse
    copy of the m x m matrix): its weakest edge has the score every maximum
    spanning tree's weakest edge has (the bottleneck), ties going to the earlier
    article. scipy's ``minimum_spanning_tree`` gives the same bottleneck (tested)
    but takes the matrix as a sparse graph: measured here, 7x slower on stories of
    3-10 articles (its per-call checks) and 70x on one of 3,000.

    Examples
    --------
    >>> _weakest_tree_link(np.array([[0, .9, .2], [.9, 0, .5], [.2, .5, 0]]))
    (1, 2)
    """
    m = len(scores)
    in_tree = np.zeros(m, dtype=bool)
    in_tree[0] = True
    best = scores[0].astype(np.float64)
    parent = np.zeros(m, dtype=np.int64)
    weakest, edge = math.inf, (0, 0)
    for _ in range(m - 1):
        v = int(np.argmax(np.where(in_tree, -math.inf, best)))
        if best[v] < weakest:
            weakest, edge = float(best[v]), (int(parent[v]), v)
        in_tree[v] = True
        better = (scores[v] > best) & ~in_tree
        best[better] = scores[v][better]
        parent[better] = v
    a, b = edge
    return (a, b) if a < b else (b, a)
