"""Links -> stories: linkage, representatives, keywords, numbering."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from storyclust.links import Links, time_factor
from storyclust.stories import group_links, keywords, number_by_first_appearance, representatives


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
