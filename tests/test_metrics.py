"""Tests of storyclust.metrics against hand-computed values and naive loops."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from storyclust.errors import InputError, InputTypeError, SettingsError
from storyclust.metrics import (
    adjusted_rand_score,
    bcubed_scores,
    evaluate,
    normalized_mutual_info_score,
    pairwise_scores,
)


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def naive_pairwise(true: list[Any], pred: list[Any]) -> tuple[float, float, float]:
    """Pairwise P/R/F1 by looking at every unordered pair."""
    tp = fp = fn = 0
    for i, j in combinations(range(len(true)), 2):
        same_true, same_pred = true[i] == true[j], pred[i] == pred[j]
        tp += same_true and same_pred
        fp += same_pred and not same_true
        fn += same_true and not same_pred
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, f1(p, r)


def naive_bcubed(true: list[Any], pred: list[Any]) -> tuple[float, float, float]:
    """B-cubed P/R/F1 by a loop over items."""
    n = len(true)
    if n == 0:
        return 1.0, 1.0, 1.0
    p_sum = r_sum = 0.0
    for i in range(n):
        same_pred = [j for j in range(n) if pred[j] == pred[i]]
        same_true = [j for j in range(n) if true[j] == true[i]]
        both = sum(1 for j in same_pred if true[j] == true[i])
        p_sum += both / len(same_pred)
        r_sum += both / len(same_true)
    p, r = p_sum / n, r_sum / n
    return p, r, f1(p, r)


labelings = st.integers(0, 30).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 5), min_size=n, max_size=n),
        st.lists(st.integers(0, 5), min_size=n, max_size=n),
    )
)


# --- hand-computed examples -----------------------------------------------------


def test_pairwise_hand_example() -> None:
    # true {0,1,2} {3,4}: true pairs 01 02 12 34 (4).
    # pred {0,1} {2,3,4}: predicted pairs 01 23 24 34 (4).
    # Both: 01 34 (2). P = 2/4, R = 2/4, F1 = 0.5.
    assert pairwise_scores([0, 0, 0, 1, 1], [0, 0, 1, 1, 1]) == (0.5, 0.5, 0.5)


def test_pairwise_asymmetric_example() -> None:
    # true: one story of 4 -> 6 pairs; pred {0,1} {2,3} -> 2 pairs, both right.
    # P = 2/2 = 1, R = 2/6 = 1/3, F1 = 2 * 1 * (1/3) / (4/3) = 0.5.
    p, r, f = pairwise_scores(["s"] * 4, ["a", "a", "b", "b"])
    assert (p, r, f) == pytest.approx((1.0, 1 / 3, 0.5))


def test_bcubed_hand_example() -> None:
    # true {0,1,2} {3,4}; pred {0,1} {2,3,4}.
    # item:       0    1    2    3    4
    # precision:  2/2  2/2  1/3  2/3  2/3   -> sum 11/3, mean 11/15
    # recall:     2/3  2/3  1/3  2/2  2/2   -> sum 11/3, mean 11/15
    p, r, f = bcubed_scores([0, 0, 0, 1, 1], [0, 0, 1, 1, 1])
    assert (p, r, f) == pytest.approx((11 / 15, 11 / 15, 11 / 15))


def test_bcubed_asymmetric_example() -> None:
    # true: one story of 4; pred {0,1} {2,3}.
    # Each item: precision 2/2 = 1, recall 2/4 = 0.5; F1 = 2 * 0.5 / 1.5 = 2/3.
    p, r, f = bcubed_scores([7, 7, 7, 7], ["x", "x", "y", "y"])
    assert (p, r, f) == pytest.approx((1.0, 0.5, 2 / 3))


def test_all_singletons_predicted() -> None:
    # No predicted pair: pairwise precision 1 by convention, recall 0 (2 true pairs missed).
    assert pairwise_scores([0, 0, 1, 1], [0, 1, 2, 3]) == (1.0, 0.0, 0.0)
    # B-cubed: precision 1 for every item, recall 1/2 for every item.
    assert bcubed_scores([0, 0, 1, 1], [0, 1, 2, 3]) == pytest.approx((1.0, 0.5, 2 / 3))


def test_no_true_pairs() -> None:
    # No true pair: recall 1 by convention; 1 of the predicted pairs exists, none right.
    assert pairwise_scores([0, 1, 2], [0, 0, 1]) == (0.0, 1.0, 0.0)


def test_empty_input_scores_one() -> None:
    assert pairwise_scores([], []) == (1.0, 1.0, 1.0)
    assert bcubed_scores([], []) == (1.0, 1.0, 1.0)
    assert adjusted_rand_score([], []) == 1.0
    assert normalized_mutual_info_score([], []) == 1.0
    scores = evaluate([], [])
    assert scores["n_items"] == scores["n_true_clusters"] == scores["n_pred_clusters"] == 0
    assert all(v == 1.0 for k, v in scores.items() if not k.startswith("n_"))


def test_evaluate_keys_and_types() -> None:
    scores = evaluate(["a", "a", "b", "c"], np.array([1, 1, 2, 2]))
    assert list(scores) == [
        "pairwise_precision",
        "pairwise_recall",
        "pairwise_f1",
        "bcubed_precision",
        "bcubed_recall",
        "bcubed_f1",
        "ari",
        "nmi",
        "n_items",
        "n_true_clusters",
        "n_pred_clusters",
    ]
    assert (scores["n_items"], scores["n_true_clusters"], scores["n_pred_clusters"]) == (4, 3, 2)
    assert all(type(scores[k]) is int for k in ("n_items", "n_true_clusters", "n_pred_clusters"))
    assert all(type(v) is float for k, v in scores.items() if not k.startswith("n_"))


def test_ari_and_nmi_match_sklearn() -> None:
    true, pred = [0, 0, 1, 1, 2, 2, 2], [1, 1, 1, 0, 0, 2, 2]
    assert adjusted_rand_score(true, pred) == pytest.approx(skm.adjusted_rand_score(true, pred))
    for method in ("min", "geometric", "arithmetic", "max"):
        expected = skm.normalized_mutual_info_score(true, pred, average_method=method)
        assert normalized_mutual_info_score(true, pred, average_method=method) == pytest.approx(
            expected
        )


def test_label_types() -> None:
    # Mixed label types, None and tuples are fine; only co-membership matters.
    true = [1, "1", None, (1, 2), (1, 2)]
    pred = ["x", "y", "z", "w", "w"]
    assert pairwise_scores(true, pred) == (1.0, 1.0, 1.0)
    assert evaluate(true, pred)["n_true_clusters"] == 4
    # Lists, numpy arrays and pandas Series give the same scores.
    t, p = ["a", "b", "a", "c"], [2, 2, 1, 1]
    assert evaluate(np.array(t), np.array(p)) == evaluate(t, p)
    pd = pytest.importorskip("pandas")
    assert evaluate(pd.Series(t), pd.Series(p)) == evaluate(t, p)


# --- errors -------------------------------------------------------------------


def test_length_mismatch() -> None:
    message = r"^labels_true has 5 items but labels_pred has 4; give one label per item in both"
    for func in (pairwise_scores, bcubed_scores, adjusted_rand_score, evaluate):
        with pytest.raises(InputError, match=message):
            func([0, 0, 1, 1, 2], [0, 0, 1, 1])


def test_bad_label_containers() -> None:
    with pytest.raises(
        InputTypeError,
        match="labels_true must be a sequence of labels, one per item; got a bare str",
    ):
        pairwise_scores("aabb", [0, 0, 1, 1])
    with pytest.raises(
        InputTypeError, match="labels_pred must be a sequence of labels, one per item; got int"
    ):
        bcubed_scores([0], 5)
    with pytest.raises(
        InputError,
        match=r"labels_true must be 1-D, one label per item; got an array of shape \(2, 2\)",
    ):
        evaluate(np.zeros((2, 2)), [0, 0, 0, 0])
    with pytest.raises(InputTypeError, match=r"labels_pred\[1\] is not hashable \(list\)"):
        evaluate([0, 1], [0, [1]])


def test_bad_average_method() -> None:
    with pytest.raises(SettingsError, match=r"average_method must be one of .*; got 'mean'"):
        normalized_mutual_info_score([0], [0], average_method="mean")


# --- properties -----------------------------------------------------------------


@settings(deadline=None, max_examples=150)
@given(labelings)
def test_pairwise_equals_naive(pair: tuple[list[int], list[int]]) -> None:
    true, pred = pair
    assert pairwise_scores(true, pred) == pytest.approx(naive_pairwise(true, pred))


@settings(deadline=None, max_examples=150)
@given(labelings)
def test_bcubed_equals_naive(pair: tuple[list[int], list[int]]) -> None:
    true, pred = pair
    assert bcubed_scores(true, pred) == pytest.approx(naive_bcubed(true, pred))


@settings(deadline=None, max_examples=100)
@given(labelings)
def test_swapping_true_and_pred_swaps_precision_and_recall(
    pair: tuple[list[int], list[int]],
) -> None:
    true, pred = pair
    for func in (pairwise_scores, bcubed_scores):
        p, r, f = func(true, pred)
        p2, r2, f2 = func(pred, true)
        assert (p2, r2, f2) == pytest.approx((r, p, f))
    scores = evaluate(true, pred)
    swapped = evaluate(pred, true)
    assert swapped["ari"] == pytest.approx(scores["ari"])
    assert swapped["nmi"] == pytest.approx(scores["nmi"])


@settings(deadline=None, max_examples=100)
@given(labelings)
def test_scores_in_range_and_independent_of_label_names(pair: tuple[list[int], list[int]]) -> None:
    true, pred = pair
    scores = evaluate(true, pred)
    for key, value in scores.items():
        if key.startswith(("pairwise", "bcubed", "nmi")):
            assert 0.0 <= value <= 1.0, key
    assert -0.5 <= scores["ari"] <= 1.0
    renamed = evaluate([f"t{x * 7 % 11}" for x in true], [("p", x) for x in pred])
    assert renamed == pytest.approx(scores)


@settings(deadline=None, max_examples=100)
@given(st.lists(st.integers(0, 8), max_size=40))
def test_perfect_clustering_scores_one(labels: list[int]) -> None:
    renamed = [100 - x for x in labels]
    scores = evaluate(labels, renamed)
    for key, value in scores.items():
        if not key.startswith("n_"):
            assert value == pytest.approx(1.0), key
    assert scores["n_true_clusters"] == scores["n_pred_clusters"] == len(set(labels))


@pytest.mark.parametrize("container", [list, np.array])
def test_a_nan_label_is_an_error_in_any_container(container: Any) -> None:
    """NaN labels scored 1.0 from an array (one value) and 0.0 from a list (unequal objects)."""
    with pytest.raises(InputError, match=r"labels_true\[1\] is NaN, a missing label"):
        pairwise_scores(container([1.0, float("nan"), float("nan")]), [0, 0, 1])
    with pytest.raises(InputError, match=r"labels_pred\[0\] is NaN"):
        evaluate([0, 0], container([float("nan"), 1.0]))
