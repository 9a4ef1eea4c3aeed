"""Scores that compare a clustering with the true stories.

All functions take two sequences of labels of the same length, one label per
item: ``labels_true`` (the gold stories) and ``labels_pred`` (the clustering).
Labels may be any hashable values (ints, strings, tuples, ``None``...); only
which items share a label matters, not the labels themselves.

Conventions for degenerate input, chosen so that "nothing to get wrong" scores
1.0 as scikit-learn's ARI does:

- no items: every score is 1.0;
- no predicted pair (all singletons): pairwise precision is 1.0;
- no true pair: pairwise recall is 1.0;
- F1 is 0.0 when precision and recall are both 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import adjusted_rand_score as _sk_adjusted_rand_score
from sklearn.metrics import normalized_mutual_info_score as _sk_nmi
from sklearn.metrics.cluster import contingency_matrix, pair_confusion_matrix

from .errors import InputError, InputTypeError, SettingsError

__all__ = [
    "adjusted_rand_score",
    "bcubed_scores",
    "evaluate",
    "normalized_mutual_info_score",
    "pairwise_scores",
]

Codes = npt.NDArray[np.int64]
_AVERAGE_METHODS = ("min", "geometric", "arithmetic", "max")


def pairwise_scores(labels_true: Any, labels_pred: Any) -> tuple[float, float, float]:
    """Precision, recall and F1 over pairs of items put in the same cluster.

    A pair of items is a true positive when both labelings put them together,
    a false positive when only `labels_pred` does, a false negative when only
    `labels_true` does.

    Parameters
    ----------
    labels_true : sequence of hashable, length n
        Gold cluster of each item.
    labels_pred : sequence of hashable, length n
        Predicted cluster of each item.

    Returns
    -------
    precision, recall, f1 : float
        Each in [0, 1]. Precision is 1.0 when no pair is predicted, recall is
        1.0 when there is no true pair, F1 is 0.0 when both are 0.

    Raises
    ------
    InputError
        If the two labelings differ in length or are not 1-D.
    InputTypeError
        If a labeling is not a sequence of hashable values.

    Notes
    -----
    Computed from :func:`sklearn.metrics.cluster.pair_confusion_matrix` in
    O(n) time. It counts ordered pairs, which doubles every count and leaves
    the ratios unchanged.

    Examples
    --------
    One true story of 4 items, split in two: the 2 predicted pairs are right
    (precision 2/2) but only 2 of the 6 true pairs are found (recall 1/3), so
    F1 = 2 * 1 * (1/3) / (1 + 1/3) = 0.5.

    >>> pairwise_scores(["a", "a", "a", "a"], [0, 0, 1, 1])
    (1.0, 0.3333333333333333, 0.5)
    """
    true, pred = _codes_pair(labels_true, labels_pred)
    return _pairwise(true, pred)


def bcubed_scores(labels_true: Any, labels_pred: Any) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 (Bagga & Baldwin, 1998).

    For each item, precision is the share of its predicted cluster that is in
    its true cluster, and recall the share of its true cluster that is in its
    predicted cluster; the scores are the means over items.

    Parameters
    ----------
    labels_true : sequence of hashable, length n
        Gold cluster of each item.
    labels_pred : sequence of hashable, length n
        Predicted cluster of each item.

    Returns
    -------
    precision, recall, f1 : float
        Each in (0, 1] (all 1.0 for no items); F1 is their harmonic mean.

    Raises
    ------
    InputError
        If the two labelings differ in length or are not 1-D.
    InputTypeError
        If a labeling is not a sequence of hashable values.

    Notes
    -----
    With ``n_ij`` items in true cluster i and predicted cluster j, ``a_i``
    items in true cluster i and ``b_j`` in predicted cluster j, precision is
    ``sum(n_ij**2 / b_j) / n`` and recall ``sum(n_ij**2 / a_i) / n``, summed
    over the non-zero cells of the sparse contingency matrix: O(n) time and
    memory, with no loop over items.

    Examples
    --------
    One true story of 4 items, split in two: each item's predicted cluster is
    all from its story (precision 1) and holds 2 of its story's 4 items
    (recall 1/2), so F1 = 2 * 1 * 0.5 / 1.5 = 2/3.

    >>> bcubed_scores([7, 7, 7, 7], ["x", "x", "y", "y"])
    (1.0, 0.5, 0.6666666666666666)
    """
    true, pred = _codes_pair(labels_true, labels_pred)
    return _bcubed(true, pred)


def adjusted_rand_score(labels_true: Any, labels_pred: Any) -> float:
    """Rand index adjusted for chance, from scikit-learn.

    Parameters
    ----------
    labels_true : sequence of hashable, length n
        Gold cluster of each item.
    labels_pred : sequence of hashable, length n
        Predicted cluster of each item.

    Returns
    -------
    float
        1.0 for identical clusterings (and for no items), about 0.0 for a
        random one; can be negative (down to -0.5).

    Raises
    ------
    InputError
        If the two labelings differ in length or are not 1-D.
    InputTypeError
        If a labeling is not a sequence of hashable values.

    See Also
    --------
    sklearn.metrics.adjusted_rand_score : the function called; unlike it,
        this one accepts labels of mixed types.

    Examples
    --------
    >>> adjusted_rand_score(["a", "a", "b", "b"], [1, 1, 0, 0])
    1.0
    """
    true, pred = _codes_pair(labels_true, labels_pred)
    return float(_sk_adjusted_rand_score(true, pred))


def normalized_mutual_info_score(
    labels_true: Any, labels_pred: Any, *, average_method: str = "arithmetic"
) -> float:
    """Mutual information normalised to [0, 1], from scikit-learn.

    Parameters
    ----------
    labels_true : sequence of hashable, length n
        Gold cluster of each item.
    labels_pred : sequence of hashable, length n
        Predicted cluster of each item.
    average_method : {"arithmetic", "geometric", "min", "max"}, default "arithmetic"
        How the two entropies are averaged in the denominator.

    Returns
    -------
    float
        1.0 for identical clusterings (and for no items), 0.0 for independent
        ones.

    Raises
    ------
    InputError
        If the two labelings differ in length or are not 1-D.
    InputTypeError
        If a labeling is not a sequence of hashable values.
    SettingsError
        If `average_method` is not one of the four above.

    See Also
    --------
    sklearn.metrics.normalized_mutual_info_score : the function called.

    Examples
    --------
    >>> normalized_mutual_info_score(["a", "a", "b", "b"], [1, 1, 0, 0])
    1.0
    >>> normalized_mutual_info_score([0, 0, 1, 1], [0, 1, 0, 1])
    0.0
    """
    if average_method not in _AVERAGE_METHODS:
        raise SettingsError(
            f"average_method must be one of {list(_AVERAGE_METHODS)}; "
            f"got {average_method!r}; the default is 'arithmetic'"
        )
    true, pred = _codes_pair(labels_true, labels_pred)
    return _nmi(true, pred, average_method)


def evaluate(labels_true: Any, labels_pred: Any) -> dict[str, float | int]:
    """Every score at once, for a report.

    Parameters
    ----------
    labels_true : sequence of hashable, length n
        Gold cluster of each item.
    labels_pred : sequence of hashable, length n
        Predicted cluster of each item.

    Returns
    -------
    dict
        ``pairwise_precision``, ``pairwise_recall``, ``pairwise_f1``,
        ``bcubed_precision``, ``bcubed_recall``, ``bcubed_f1``, ``ari`` and
        ``nmi`` as floats; ``n_items``, ``n_true_clusters`` and
        ``n_pred_clusters`` as ints.

    Raises
    ------
    InputError
        If the two labelings differ in length or are not 1-D.
    InputTypeError
        If a labeling is not a sequence of hashable values.

    Examples
    --------
    >>> scores = evaluate([0, 0, 0, 1, 1], [0, 0, 1, 1, 1])
    >>> {k: round(v, 3) for k, v in scores.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'pairwise_precision': 0.5, 'pairwise_recall': 0.5, 'pairwise_f1': 0.5,
     'bcubed_precision': 0.733, 'bcubed_recall': 0.733, 'bcubed_f1': 0.733,
     'ari': 0.167, 'nmi': 0.433, 'n_items': 5, 'n_true_clusters': 2, 'n_pred_clusters': 2}
    """
    true, pred = _codes_pair(labels_true, labels_pred)
    pair_p, pair_r, pair_f = _pairwise(true, pred)
    b3_p, b3_r, b3_f = _bcubed(true, pred)
    return {
        "pairwise_precision": pair_p,
        "pairwise_recall": pair_r,
        "pairwise_f1": pair_f,
        "bcubed_precision": b3_p,
        "bcubed_recall": b3_r,
        "bcubed_f1": b3_f,
        "ari": float(_sk_adjusted_rand_score(true, pred)),
        "nmi": _nmi(true, pred, "arithmetic"),
        "n_items": len(true),
        "n_true_clusters": _n_clusters(true),
        "n_pred_clusters": _n_clusters(pred),
    }


def _pairwise(true: Codes, pred: Codes) -> tuple[float, float, float]:
    """Pairwise P/R/F1 of two code arrays."""
    (_, fp), (fn, tp) = pair_confusion_matrix(true, pred).tolist()
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, _f1(precision, recall)


def _bcubed(true: Codes, pred: Codes) -> tuple[float, float, float]:
    """B-cubed P/R/F1 of two code arrays, from the sparse contingency matrix."""
    n = len(true)
    if n == 0:
        return 1.0, 1.0, 1.0
    table = contingency_matrix(true, pred, sparse=True).tocoo()
    cells = table.data.astype(np.float64)
    true_sizes = np.bincount(table.row, weights=cells)
    pred_sizes = np.bincount(table.col, weights=cells)
    squared = cells * cells
    precision = float(np.sum(squared / pred_sizes[table.col]) / n)
    recall = float(np.sum(squared / true_sizes[table.row]) / n)
    # Rounding can push a perfect score a hair above 1.
    precision, recall = min(precision, 1.0), min(recall, 1.0)
    return precision, recall, _f1(precision, recall)


def _nmi(true: Codes, pred: Codes, average_method: str) -> float:
    """NMI of two code arrays, clipped to [0, 1] (scikit-learn can round to 1 + 2e-16)."""
    return min(1.0, max(0.0, float(_sk_nmi(true, pred, average_method=average_method))))


def _f1(precision: float, recall: float) -> float:
    """Harmonic mean, 0.0 when both are 0."""
    total = precision + recall
    return 2.0 * precision * recall / total if total else 0.0


def _n_clusters(codes: Codes) -> int:
    """Number of distinct labels (codes are 0..k-1)."""
    return int(codes.max()) + 1 if len(codes) else 0


def _codes_pair(labels_true: Any, labels_pred: Any) -> tuple[Codes, Codes]:
    """Both labelings as int codes, checked to be of one length."""
    true = _codes(labels_true, "labels_true")
    pred = _codes(labels_pred, "labels_pred")
    if len(true) != len(pred):
        raise InputError(
            f"labels_true has {len(true)} items but labels_pred has {len(pred)}; "
            "give one label per item in both, in the same order",
            field="labels_pred",
        )
    return true, pred


def _codes(labels: Any, name: str) -> Codes:
    """Labels as int64 codes 0..k-1; any hashable labels, numpy arrays fast."""
    if isinstance(labels, (str, bytes, bytearray)):
        raise InputTypeError(
            f"{name} must be a sequence of labels, one per item; got a bare "
            f"{type(labels).__name__}; pass a list such as list({name})"
        )
    if isinstance(labels, np.ndarray) or (
        hasattr(labels, "__array__") and getattr(labels, "dtype", None) is not None
    ):
        array = np.asarray(labels)
        if array.ndim != 1:
            raise InputError(
                f"{name} must be 1-D, one label per item; got an array of shape "
                f"{array.shape}; flatten it or pass one column",
                field=name,
            )
        if array.dtype.kind == "f" and np.isnan(array).any():
            _missing(name, int(np.flatnonzero(np.isnan(array))[0]))
        if array.dtype.kind != "O":
            return np.unique(array, return_inverse=True)[1].astype(np.int64).reshape(-1)
        labels = array.tolist()
    try:
        items = iter(labels)
    except TypeError:
        raise InputTypeError(
            f"{name} must be a sequence of labels, one per item; got "
            f"{type(labels).__name__}; pass a list or a 1-D array"
        ) from None
    index: dict[Any, int] = {}
    codes: list[int] = []
    for label in items:
        if isinstance(label, (float, np.floating)) and label != label:
            _missing(name, len(codes))
        try:
            codes.append(index.setdefault(label, len(index)))
        except TypeError:
            raise InputTypeError(
                f"{name}[{len(codes)}] is not hashable ({type(label).__name__}); labels "
                "must be hashable values such as ints or strings"
            ) from None
    return np.asarray(codes, dtype=np.int64)


def _missing(name: str, k: int) -> None:
    """Raise for a NaN label: a missing one, which no score should count as a cluster (NaNs
    in a list are unequal objects, in an array one value: the same data scored two ways)."""
    raise InputError(
        f"{name}[{k}] is NaN, a missing label; drop the items without one, or give each a label",
        field=name,
    )
