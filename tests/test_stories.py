"""Links -> stories: linkage, representatives, keywords, numbering."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from storyclust.links import Links, time_factor
from storyclust.stories import (
    ARCHIVE_MIN_STORIES,
    archive_verdict,
    group_links,
    keywords,
    local_cohesion,
    local_idf_cosines,
    number_by_first_appearance,
    recut_plan,
    recut_undated,
    representatives,
    separation,
)


def _links(pairs: list[tuple[int, int]], scores: list[float]) -> Links:
    k = len(pairs)
    return Links(
        pairs=np.array(pairs, dtype=np.int64).reshape(k, 2),
        score=np.array(scores, dtype=np.float64),
        jaccard=np.zeros(k),
        cosine=np.array(scores, dtype=np.float64),
        headline=np.full(k, np.nan),
        names=np.full(k, np.nan),
        time_factor=np.ones(k),
        near_duplicate=np.zeros(k, dtype=bool),
    )


def test_bridge_does_not_chain_two_groups_under_average_linkage() -> None:
    # 0-1-2 tight, 3-4-5 tight, 2~3 a single weak bridge
    tight = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5)]
    links = _links([*tight, (2, 3)], [0.9] * 6 + [0.4])
    avg = group_links(6, links, threshold=0.3, method="average")
    assert len(set(avg[:3])) == 1 and len(set(avg[3:])) == 1 and avg[0] != avg[3]
    single = group_links(6, links, threshold=0.3, method="single")
    assert len(set(single)) == 1


def test_unlinked_articles_are_singletons_and_labels_cover_all() -> None:
    labels = group_links(4, _links([(0, 1)], [0.8]), threshold=0.5)
    assert labels[0] == labels[1] and len(set(labels.tolist())) == 3


def test_large_component_is_split_on_weakest_links() -> None:
    # two cliques of 5 joined by one weak link; max size 6 forces a split first
    a = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    b = [(i + 5, j + 5) for i, j in a]
    links = _links([*a, *b, (4, 5)], [0.9] * 20 + [0.2])
    labels = group_links(10, links, threshold=0.1, method="single", max_component_size=6)
    assert labels[0] != labels[9]


def test_dense_similarity_callable_is_used() -> None:
    links = _links([(0, 1), (1, 2)], [0.9, 0.9])

    def sim(members: np.ndarray) -> np.ndarray:
        return np.full((len(members), len(members)), 0.05)  # says: nothing alike

    labels = group_links(3, links, threshold=0.3, similarity=sim)
    assert len(set(labels.tolist())) == 3


def test_number_by_first_appearance() -> None:
    assert number_by_first_appearance(np.array([5, 5, 2, 9, 2, 0])).tolist() == [0, 0, 1, 2, 1, 3]
    assert number_by_first_appearance(np.array([])).tolist() == []


def test_representative_policies() -> None:
    labels = np.array([0, 0, 0, 1])
    links = _links([(0, 1), (1, 2)], [0.5, 0.6])
    days = np.array([3.0, 2.0, np.nan, 1.0])
    lengths = np.array([10, 5, 50, 1])
    tb = np.arange(4)
    assert representatives(
        labels, links, policy="central", days=days, lengths=lengths, tiebreak=tb
    ).tolist() == [1, 3]
    assert representatives(
        labels, links, policy="earliest", days=days, lengths=lengths, tiebreak=tb
    ).tolist() == [1, 3]
    assert representatives(
        labels, links, policy="longest", days=days, lengths=lengths, tiebreak=tb
    ).tolist() == [2, 3]


def test_central_representative_does_not_depend_on_the_order_of_the_links() -> None:
    # Articles 0 and 4 are equally central: 0.1 + 0.2 + 0.3 each. Added in the order
    # given, the float sums differ (0.6000000000000001 against 0.6) and the order of the
    # links (that is, of the input) would pick one; they must tie, and the earlier wins.
    pairs = [(0, 1), (0, 2), (0, 3), (4, 5), (4, 6), (4, 7)]
    scores = [0.1, 0.2, 0.3, 0.3, 0.2, 0.1]
    labels = np.zeros(8, dtype=np.int64)
    days = np.array([5.0, 9, 9, 9, 1, 9, 9, 9])  # article 4 published first
    kw = {"policy": "central", "days": days, "lengths": np.ones(8, dtype=np.int64)}
    kw["tiebreak"] = np.arange(8)
    got = [
        representatives(labels, _links(p, sc), **kw).tolist()
        for p, sc in (
            (pairs, scores),
            (pairs[::-1], scores[::-1]),
            ([pairs[k] for k in (3, 4, 5, 0, 1, 2)], [scores[k] for k in (3, 4, 5, 0, 1, 2)]),
        )
    ]
    assert got == [[4], [4], [4]]


def test_keywords_leave_out_one_character_terms() -> None:
    terms = np.array(["7", "1", "magnitude", "quake", "x"])
    x = sp.csr_matrix(np.array([[0.9, 0.8, 0.5, 0.4, 0.3]]))
    assert keywords(x, terms, np.array([0]), 2) == [["magnitude", "quake"]]
    assert keywords(x, lambda cols: terms[cols].tolist(), np.array([0]), 5) == [
        ["magnitude", "quake"]
    ]


def test_keywords_prefer_terms_specific_to_the_story() -> None:
    terms = np.array(["common", "quake", "budget"])
    x = sp.csr_matrix(np.array([[0.5, 0.8, 0.0], [0.5, 0.7, 0.0], [0.5, 0.0, 0.9]]))
    kw = keywords(x, terms, np.array([0, 0, 1]), 2)
    assert kw[0][0] == "quake" and kw[1][0] == "budget"


def test_time_factor_window_decay_and_missing_dates() -> None:
    a = np.array([0.0, 0.0, np.nan, 0.0])
    b = np.array([1.0, 8.0, 5.0, 3.0])
    tf = time_factor(a, b, window=2, decay=3)
    assert tf[0] == 1.0 and tf[2] == 1.0
    assert np.isclose(tf[1], np.exp(-2))
    assert time_factor(a, b, window=2, decay=0)[3] == 0.0
    assert (time_factor(a, b, window=np.inf, decay=3) == 1.0).all()


def _corpus() -> list[dict[str, object]]:
    quake = "A strong earthquake of magnitude 7.1 shook Tokyo on Monday, officials said."
    return [
        {"id": "a", "title": "Quake hits Tokyo", "text": quake, "published": "2024-01-01"},
        {"id": "b", "title": "Strong quake shakes Tokyo", "text": quake + " No damage yet."},
        {"id": "c", "title": "Tokyo earthquake: magnitude 7.1", "text": ""},
        {"id": "d", "title": "Quake of 7.1 rattles Tokyo", "text": ""},
        {
            "id": "e",
            "title": "Budget vote passes",
            "text": "Parliament passed the budget.",
            "published": "2024-01-09",
        },
        {"id": "f", "title": "Parliament passes the budget", "text": "", "published": "2024-01-02"},
    ]


def test_dense_scores_agree_with_link_scores_in_any_block_size(monkeypatch) -> None:
    import storyclust.links as links_mod
    from storyclust.articles import to_articles
    from storyclust.settings import Settings
    from storyclust.stages import corpus_features

    s = Settings(link_threshold=0.01, threshold=0.01)
    feats = corpus_features(list(to_articles(_corpus())), s)
    n = len(feats.titles)
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64)
    links = links_mod.score_links(feats, pairs, s)
    members = np.arange(n, dtype=np.int64)
    whole = links_mod.dense_scores(feats, members, links, s)
    monkeypatch.setattr(links_mod, "_BLOCK_CELLS", 7)  # one row a block
    blocks = links_mod.dense_scores(feats, members, links, s)
    np.testing.assert_array_equal(whole, blocks)
    np.testing.assert_array_equal(whole, whole.T)
    assert np.all(np.diag(whole) == 0)
    np.testing.assert_allclose(whole[links.pairs[:, 0], links.pairs[:, 1]], links.score, atol=1e-12)


def test_headline_only_pairs_weigh_the_headline_more() -> None:
    from storyclust.links import combine_scores
    from storyclust.settings import Settings

    s = Settings(headline_weight=0.2, headline_only_weight=0.5, names_weight=0.0)
    one = lambda v: np.array([v])  # noqa: E731
    args = (one(0.2), one(0.8), one(np.nan), one(1.0), one(0.0), s)
    with_text = combine_scores(*args)
    headline_only = combine_scores(*args, headline_only=np.array([True]))
    assert with_text[0] == 0.8 * 0.2 + 0.2 * 0.8
    assert headline_only[0] == 0.5 * 0.2 + 0.5 * 0.8


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_keywords_do_not_depend_on_how_stories_are_chunked(
    rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:

    from storyclust import stories

    rng = np.random.default_rng(4)
    x = sp.csr_matrix(rng.random((9, 12)) * (rng.random((9, 12)) < 0.4))
    labels = np.array([0, 1, 0, 2, 3, 3, 1, 4, 2], dtype=np.int64)
    terms = np.array([f"t{j}" for j in range(12)])
    whole = stories.keywords(x, terms, labels, 3)
    monkeypatch.setattr(stories, "_KEYWORD_ROWS", rows)
    assert stories.keywords(x, terms, labels, 3) == whole
    assert stories.keywords(x, lambda cols: [f"t{c}" for c in cols], labels, 3) == whole


def _plain_keywords(x: np.ndarray, labels: np.ndarray, n_keywords: int) -> list[list[int]]:
    """The c-TF-IDF rule spelled out: a story's summed rows times log(1 + k / df)."""
    k = int(labels.max()) + 1
    summed = np.array([x[labels == s].sum(axis=0) for s in range(k)])
    df = (summed != 0).sum(axis=0)
    weight = np.log1p(k / np.maximum(df, 1))
    out = []
    for s in range(k):
        cols = [int(c) for c in np.flatnonzero(summed[s])]
        cols.sort(key=lambda c: (-summed[s, c] * weight[c], c))
        out.append(cols[:n_keywords])
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_keywords_equal_the_rule_spelled_out(data: st.DataObject) -> None:
    # Small integer counts make ties in weight common: they go to the lower column.
    n = data.draw(st.integers(1, 14))
    terms = data.draw(st.integers(1, 9))
    x = np.array(
        data.draw(
            st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=n * terms, max_size=n * terms)
        ),
        dtype=np.float64,
    ).reshape(n, terms)
    labels = number_by_first_appearance(
        np.array(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    )
    n_keywords = data.draw(st.integers(1, 4))
    names = np.array([f"t{j}" for j in range(terms)])
    got = keywords(sp.csr_matrix(x), names, labels, n_keywords)
    want = _plain_keywords(x, labels, n_keywords)
    assert got == [[f"t{c}" for c in story] for story in want]


@pytest.mark.parametrize("score", [0.2, 0.25, 0.25 - 1e-13, 0.3, 0.9])
def test_two_article_groups_cut_as_linkage_does(score: float) -> None:
    # The shortcut for a pair must agree with scipy's linkage + fcluster at the threshold.
    from scipy.cluster.hierarchy import fcluster, linkage

    links = Links(
        pairs=np.array([[0, 1]]),
        score=np.array([score]),
        jaccard=np.zeros(1),
        cosine=np.array([score]),
        headline=np.full(1, np.nan),
        names=np.full(1, np.nan),
        time_factor=np.ones(1),
        near_duplicate=np.zeros(1, dtype=bool),
    )
    got = group_links(2, links, threshold=0.25)
    z = linkage(np.array([1.0 - score]), method="average")
    want = fcluster(z, t=1.0 - 0.25 + 1e-12, criterion="distance")
    assert (got[0] == got[1]) == (want[0] == want[1])


@pytest.mark.parametrize("seed", range(6))
def test_weakest_tree_link_is_the_maximum_spanning_trees_bottleneck(seed: int) -> None:
    from scipy.sparse.csgraph import minimum_spanning_tree

    from storyclust.stories import _weakest_tree_link

    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 40))
    scores = np.round(rng.random((m, m)), 2) * (rng.random((m, m)) < 0.6)  # ties and zeros
    scores = np.triu(scores, 1) + np.triu(scores, 1).T
    a, b = _weakest_tree_link(scores)
    assert 0 <= a < b < m
    # scipy's tree over 2 - score (all positive off the diagonal) has the same bottleneck
    tree = sp.coo_matrix(minimum_spanning_tree(np.where(np.eye(m, dtype=bool), 0.0, 2.0 - scores)))
    assert scores[a, b] == pytest.approx(2.0 - tree.data.max(), abs=1e-12)


def test_condensed_scorer_serves_large_groups_mixed_with_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy.spatial.distance import squareform

    import storyclust.stories as stories_mod

    rng = np.random.default_rng(2)
    # Groups of 3, 6, 3, 6 articles (in that order), each a clique of random scores.
    pairs, scores, start = [], [], 0
    for size in (3, 6, 3, 6):
        for i in range(start, start + size):
            for j in range(i + 1, start + size):
                pairs.append((i, j))
                scores.append(float(rng.choice([0.2, 0.9])))
        start += size
    links = _links(pairs, scores)
    n = start
    graph = stories_mod._graph(n, links)
    calls: list[int] = []

    def condensed(piece: np.ndarray) -> np.ndarray:
        calls.append(len(piece))
        out: np.ndarray = squareform(graph[piece][:, piece].toarray(), checks=False)
        return out

    plain = group_links(n, links, threshold=0.5)
    monkeypatch.setattr(stories_mod, "LARGE_GROUP", 4)
    mixed = group_links(n, links, threshold=0.5, condensed=condensed)
    assert mixed.tolist() == plain.tolist() and calls == [6, 6]


@pytest.mark.parametrize("method", ["average", "single", "complete"])
@pytest.mark.parametrize("seed", range(8))
def test_splitting_at_the_threshold_first_is_linkage_of_the_whole(method: str, seed: int) -> None:
    """Groups cut at links under `threshold` first: the stories of linkage over every
    article at once (unlinked pairs scoring 0), for any linkage method."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    from storyclust.stories import linkage_components

    rng = np.random.default_rng(seed)
    n = 14
    pairs = sorted({tuple(sorted(p)) for p in rng.integers(0, n, (30, 2)).tolist() if p[0] != p[1]})
    # Scores around the threshold, a few exactly at it, so weak links bridge groups.
    scores = rng.choice([0.1, 0.2, 0.25, 0.3, 0.5, 0.9], size=len(pairs)).tolist()
    links = _links(pairs, scores)
    got = group_links(n, links, threshold=0.25, method=method, max_component_size=n)
    dense = np.zeros((n, n))
    for (i, j), v in zip(pairs, scores):
        dense[i, j] = dense[j, i] = v
    dist = np.clip(1.0 - squareform(dense, checks=False), 0.0, 1.0)
    want = fcluster(linkage(dist, method=method), t=1.0 - 0.25 + 1e-12, criterion="distance")
    assert np.array_equal(number_by_first_appearance(got), number_by_first_appearance(want))
    # And the groups are finer than the components of every link (weak links cut).
    comp = linkage_components(n, links, 0.25)
    assert len(np.unique(comp)) >= len(np.unique(linkage_components(n, links, 0.1)))


def test_a_weak_link_does_not_make_one_group() -> None:
    from storyclust.stories import linkage_components

    # Two strong pairs bridged by a link under the threshold: two groups, not one.
    links = _links([(0, 1), (1, 2), (2, 3)], [0.9, 0.2, 0.9])
    assert linkage_components(4, links, 0.25).tolist() == [0, 0, 1, 1]
    assert linkage_components(4, links, 0.2).tolist() == [0, 0, 0, 0]


def _local_idf_cosines_plainly(x: np.ndarray) -> np.ndarray:
    """The formula, a row and a term at a time."""
    m, t = x.shape
    df = [sum(1 for i in range(m) if x[i, j] != 0) for j in range(t)]
    rows = []
    for i in range(m):
        row = [x[i, j] * (math.log((1 + m) / (1 + df[j])) + 1) for j in range(t)]
        norm = math.sqrt(sum(v * v for v in row)) or 1.0
        rows.append([v / norm for v in row])
    return np.array([[sum(a * b for a, b in zip(r, q)) for q in rows] for r in rows])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0]), min_size=5, max_size=5),
        min_size=1,
        max_size=8,
    )
)
def test_local_idf_cosines_follow_the_formula(rows: list[list[float]]) -> None:
    x = np.array(rows)
    assert np.allclose(local_idf_cosines(sp.csr_matrix(x)), _local_idf_cosines_plainly(x))


def _two_weeks() -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    # Every article shares "jobless claims" (terms 0, 1); term 2 or 3 is its week's.
    x = sp.csr_matrix(np.array([[3, 3, 1, 0]] * 3 + [[3, 3, 0, 1]] * 3, dtype=np.float64))
    return x, np.full(6, np.nan), np.full(6, 60)


def test_recut_undated_parts_a_running_issue_by_its_rarer_words() -> None:
    x, days, lengths = _two_weeks()
    kw = {"min_size": 6, "threshold": 0.9, "headline_only_words": 20}
    labels, cut_from = recut_undated(np.full(6, 4), x, days, lengths, **kw)
    assert labels.tolist() == [5, 5, 5, 6, 6, 6] and cut_from.tolist() == [4] * 6
    # Another story beside it is left as it is, and so is a story too small.
    labels, cut_from = recut_undated(
        np.array([0] * 6 + [1]),
        sp.vstack([x, x[:1]]),
        np.append(days, np.nan),
        np.append(lengths, 60),
        **kw,
    )
    assert labels.tolist() == [2, 2, 2, 3, 3, 3, 1] and cut_from.tolist() == [0] * 6 + [-1]
    same = np.zeros(6, dtype=np.int64)
    assert recut_undated(same, x, days, lengths, **{**kw, "min_size": 7})[0].tolist() == [0] * 6


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_local_cohesion_is_the_mean_local_cosine_over_pairs(m: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.integers(0, 3, size=(m, k)).astype(np.float64)  # all-zero rows included
    x = sp.csr_matrix(dense)
    if m == 1:
        assert local_cohesion(x) == 1.0
        return
    sim = local_idf_cosines(x)  # the plain twin: the whole matrix
    expected = (sim.sum() - np.trace(sim)) / (m * (m - 1))
    assert local_cohesion(x) == pytest.approx(expected, abs=1e-12)


def test_recut_undated_leaves_a_story_alike_beyond_its_shared_words_whole() -> None:
    x, days, lengths = _two_weeks()
    kw = {"min_size": 6, "threshold": 0.9, "headline_only_words": 20}
    same = np.zeros(6, dtype=np.int64)
    c = local_cohesion(x)
    assert 0 < c < 1
    cut = recut_undated(same, x, days, lengths, **kw, cohesion=c + 1e-9)[0]
    assert cut.tolist() == [1, 1, 1, 2, 2, 2]
    assert recut_undated(same, x, days, lengths, **kw, cohesion=c)[0].tolist() == [0] * 6
    # Forty articles: the cohesion asked of them grows with sqrt(40 / 10) = 2.
    big = sp.vstack([x[:1]] * 20 + [x[3:4]] * 20).tocsr()  # 20 of each week
    c40 = local_cohesion(big)
    kw40 = {**kw, "min_size": 10}
    forty = np.zeros(40, dtype=np.int64)
    undated, long = np.full(40, np.nan), np.full(40, 60)
    assert recut_undated(forty, big, undated, long, **kw40, cohesion=c40 / 2 + 1e-9)[0].max() == 2
    assert recut_undated(forty, big, undated, long, **kw40, cohesion=c40 / 2 - 1e-9)[0].max() == 0


def test_recut_undated_leaves_dated_headline_and_one_event_stories_whole() -> None:
    x, days, lengths = _two_weeks()
    kw = {"min_size": 6, "threshold": 0.9, "headline_only_words": 20}
    same = np.zeros(6, dtype=np.int64)
    half = days.copy()
    half[:3] = 18_500.0  # 3 of 6 dated: still re-cut
    assert recut_undated(same, x, half, lengths, **kw)[0].tolist() == [1, 1, 1, 2, 2, 2]
    half[3] = 18_500.0  # most dated: time tells the weeks apart, not this
    assert recut_undated(same, x, half, lengths, **kw)[0].tolist() == [0] * 6
    short = lengths.copy()
    short[:3] = 20  # half of them headlines alone
    assert recut_undated(same, x, days, short, **kw)[0].tolist() == [0] * 6
    # One event with an outlier: the piece of 5 holds over half the story, so it stays whole.
    one = sp.csr_matrix(np.array([[3, 3, 1, 0]] * 5 + [[3, 3, 0, 1]], dtype=np.float64))
    labels, cut_from = recut_undated(same, one, days, lengths, **kw)
    assert labels.tolist() == [0] * 6 and cut_from.tolist() == [-1] * 6


def _separation_plainly(sim: np.ndarray, pieces: np.ndarray) -> float:
    """Mean of `sim` over pairs in one piece over its mean across pieces, pair by pair."""
    inside, across = [], []
    for i in range(len(pieces)):
        for j in range(len(pieces)):
            if i != j:
                (inside if pieces[i] == pieces[j] else across).append(sim[i, j])
    if not across:
        return 1.0
    if not inside:
        return 0.0
    if np.mean(across) <= 1e-12:
        return math.inf
    return float(np.mean(inside) / np.mean(across))


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 10), st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_separation_is_the_mean_inside_pieces_over_the_mean_across(
    m: int, k: int, n_pieces: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = sp.csr_matrix(rng.integers(0, 3, size=(m, k)).astype(np.float64))
    pieces = rng.integers(0, n_pieces, size=m)
    pieces = np.unique(pieces, return_inverse=True)[1].reshape(-1)  # pieces 0..p-1
    from storyclust.stories import _local_idf_rows

    expected = _separation_plainly(local_idf_cosines(x), pieces)
    got = separation(_local_idf_rows(x), pieces)
    if math.isinf(expected):
        assert math.isinf(got)
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_separation_edges() -> None:
    y = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    assert separation(y, np.array([0, 0, 1, 1])) == math.inf  # nothing shared across
    assert separation(y, np.array([0, 0, 0, 0])) == 1.0  # one piece: nothing to compare
    assert separation(y, np.array([0, 1, 2, 3])) == 0.0  # no pair inside a piece
    assert separation(y, np.array([0, 1, 0, 1])) == 0.0  # pieces of unlike articles
    assert separation(sp.csr_matrix((4, 2)), np.array([0, 0, 1, 1])) == 1.0  # nothing shared
    with pytest.raises(ValueError, match=r"one piece per row of y \(4\); got shape \(3,\)"):
        separation(y, np.array([0, 0, 1]))
    # Inside: 1, 0, 0 (mean 1/3); across: 0, 0, 1 (mean 1/3).
    assert separation(y, np.array([0, 0, 0, 1])) == pytest.approx(1.0)


def test_archive_verdict_needs_enough_stories_and_a_median_at_the_bar() -> None:
    seps = [4.0, 3.5, 5.0, 1.2, 3.4]
    assert len(seps) == ARCHIVE_MIN_STORIES
    assert archive_verdict(seps, 3.4) == {"archive": True, "separation": 3.5, "qualifying": 5}
    assert not archive_verdict(seps, 3.6)["archive"]  # the median under the bar
    assert not archive_verdict(seps[:4], 1.0)["archive"]  # too few stories to tell
    assert not archive_verdict(seps, math.inf)["archive"]
    assert archive_verdict([], 3.4) == {"archive": False, "separation": None, "qualifying": 0}
    assert archive_verdict([math.inf] * 5, 3.4)["archive"]
    # inf is never, even for stories whose pieces share nothing at all
    assert not archive_verdict([math.inf] * 5, math.inf)["archive"]


def _weeks_of(k: int, weeks: int = 3, per_week: int = 4, shared: float = 1.0) -> sp.csr_matrix:
    """`k` undated running issues: each `weeks` x `per_week` articles sharing the issue's
    terms (weight `shared`), each week with a term of its own."""
    n_terms = k * (1 + weeks)
    rows = []
    for i in range(k):
        for w in range(weeks):
            row = np.zeros(n_terms)
            row[i * (1 + weeks)] = shared
            row[i * (1 + weeks) + 1 + w] = 1.0
            rows += [row] * per_week
    return sp.csr_matrix(np.array(rows))


def test_recut_plan_gives_both_outcomes_and_each_storys_separation() -> None:
    k, size = 6, 12
    x = _weeks_of(k)
    labels = np.repeat(np.arange(k), size)
    days, lengths = np.full(k * size, np.nan), np.full(k * size, 60)
    kw = {"min_size": 10, "threshold": 0.9, "headline_only_words": 20}
    c = local_cohesion(x[:size])
    # A bar under their cohesion: judged alone, each issue stays whole.
    plan = recut_plan(labels, x, days, lengths, **kw, cohesion=c / 2)
    assert plan.gated.tolist() == labels.tolist() and (plan.gated_from == -1).all()
    assert len(np.unique(plan.archive)) == k * 3 and plan.archive_from.tolist() == labels.tolist()
    assert len(plan.separation) == k and (plan.separation > 3.4).all()
    # The same stories as recut_undated, either way; the corpus decides at `archive`.
    same = recut_undated(labels, x, days, lengths, **kw, cohesion=c / 2)
    assert same[0].tolist() == plan.gated.tolist()
    assert (
        recut_undated(labels, x, days, lengths, **kw, cohesion=c / 2, archive=3.4)[0].tolist()
        == plan.archive.tolist()
    )
    top = float(plan.separation.max())
    kept = recut_undated(labels, x, days, lengths, **kw, cohesion=c / 2, archive=top + 1)
    assert kept[0].tolist() == labels.tolist()
    labels_, from_, info = plan.choose(3.4)
    assert info["archive"] and info["qualifying"] == k
    assert labels_.tolist() == plan.archive.tolist() and from_.tolist() == labels.tolist()
    # Fewer stories than ARCHIVE_MIN_STORIES: too few to read the corpus by.
    few = recut_plan(labels[: 4 * size], x[: 4 * size], days[:48], lengths[:48], **kw, cohesion=0)
    assert not few.choose(3.4)[2]["archive"]
    assert few.choose(3.4)[0].tolist() == labels[:48].tolist()


def test_recut_undated_never_reads_an_archive_by_default() -> None:
    # Five stories whose two halves share no term: separation inf, inf >= inf; still not
    # an archive, so each stays whole under a cohesion bar it passes.
    k = 5
    rows = []
    for i in range(k):
        for w in range(2):
            row = np.zeros(2 * k)
            row[2 * i + w] = 1.0
            rows += [row] * 6
    x = sp.csr_matrix(np.array(rows))
    labels = np.repeat(np.arange(k), 12)
    days, lengths = np.full(60, np.nan), np.full(60, 60)
    kw = {"min_size": 10, "threshold": 0.5, "headline_only_words": 20, "cohesion": 1e-9}
    plan = recut_plan(labels, x, days, lengths, **kw)
    assert np.isinf(plan.separation).all() and len(np.unique(plan.archive)) == 2 * k
    assert recut_undated(labels, x, days, lengths, **kw)[0].tolist() == labels.tolist()
    assert len(np.unique(recut_undated(labels, x, days, lengths, **kw, archive=3.4)[0])) == 2 * k


def test_an_archive_cuts_a_story_whose_largest_piece_holds_most_of_it() -> None:
    # One week of 8 and two of 2 in each issue: judged alone, the piece of 8 holds over
    # half the story and the cut is not kept; in an archive it is.
    k = 5
    rows = []
    for i in range(k):
        for w, count in enumerate((8, 2, 2)):
            row = np.zeros(k * 4)
            row[i * 4], row[i * 4 + 1 + w] = 3.0, 1.0
            rows += [row] * count
    x = sp.csr_matrix(np.array(rows))
    labels = np.repeat(np.arange(k), 12)
    days, lengths = np.full(60, np.nan), np.full(60, 60)
    kw = {"min_size": 10, "threshold": 0.9, "headline_only_words": 20}
    plan = recut_plan(labels, x, days, lengths, **kw, cohesion=1.0)
    assert plan.gated.tolist() == labels.tolist()  # max share 0.5 keeps each whole
    assert len(np.unique(plan.archive)) == 3 * k
    assert np.bincount(plan.archive).max() == 8


def test_recut_plan_leaves_dated_and_headline_stories_out_of_the_verdict() -> None:
    k, size = 6, 12
    x = _weeks_of(k)
    labels = np.repeat(np.arange(k), size)
    days, lengths = np.full(k * size, 19_000.0), np.full(k * size, 60)
    kw = {"min_size": 10, "threshold": 0.9, "headline_only_words": 20}
    assert len(recut_plan(labels, x, days, lengths, **kw).separation) == 0
    short = np.full(k * size, 12)
    assert len(recut_plan(labels, x, days * np.nan, short, **kw).separation) == 0
