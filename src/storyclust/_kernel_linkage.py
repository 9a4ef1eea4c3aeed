"""Average linkage and its flat cut, in place and compiled: scipy's results, bit for bit.

:func:`average_linkage` is scipy's ``linkage(dist, method="average")`` worked on the
condensed distances without copying them; :func:`flat_clusters` is scipy's
``fcluster(z, t, criterion="distance")`` without its per-call checks. Part of
:mod:`storyclust.similarity`, which is where callers import them from.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernel_base import F64, I64, _jit

__all__ = ["average_linkage", "flat_clusters"]


def average_linkage(dist: F64, n: int) -> F64:
    """Average-linkage dendrogram of `n` points from condensed distances, overwriting `dist`.

    The linkage matrix scipy's ``linkage(dist, method="average")`` gives, bit for bit
    (the same nearest-neighbour chain and the same update, in the same order), but
    worked in place: scipy copies the condensed matrix first, which for a group of
    10,000 articles is 400 MB more. `dist` is left holding intermediate values.

    Returns
    -------
    ndarray of float64, shape (n - 1, 4)
        As scipy's: merged clusters, distance, size.
    """
    if dist.dtype != np.float64 or not dist.flags.c_contiguous or dist.ndim != 1:
        raise ValueError("dist must be a contiguous 1-d float64 array (condensed distances)")
    if len(dist) != n * (n - 1) // 2:
        raise ValueError(
            f"dist must hold n * (n - 1) / 2 = {n * (n - 1) // 2} values; got {len(dist)}"
        )
    z = np.empty((max(n - 1, 0), 4))
    if n < 2:
        return z
    # min and max carry any NaN through; two passes, no mask the size of `dist`.
    if not (math.isfinite(float(dist.min())) and math.isfinite(float(dist.max()))):
        raise ValueError("dist must contain only finite values (as scipy's linkage requires)")
    _nn_chain_average(dist, n, z)
    z = z[np.argsort(z[:, 2], kind="mergesort")]
    _label_merges(z, n)
    return z


@_jit
def _condensed_at(n: int, i: int, j: int) -> int:
    """Index of pair (i, j), i != j, in a condensed matrix of n points."""
    if i > j:
        i, j = j, i
    return n * i - (i * (i + 1)) // 2 + (j - i - 1)


@_jit
def _nn_chain_average(d: F64, n: int, z: F64) -> None:
    """scipy's nn_chain (average method) on d in place; z unsorted, point numbers unlabelled."""
    size = np.ones(n, dtype=np.int64)
    chain = np.empty(n, dtype=np.int64)
    chain_len = 0
    for k in range(n - 1):
        if chain_len == 0:
            chain_len = 1
            for i in range(n):
                if size[i] > 0:
                    chain[0] = i
                    break
        while True:
            x = chain[chain_len - 1]
            if chain_len > 1:
                y = chain[chain_len - 2]
                current_min = d[_condensed_at(n, x, y)]
            else:
                y = -1
                current_min = np.inf
            for i in range(n):
                if size[i] == 0 or x == i:
                    continue
                dist = d[_condensed_at(n, x, i)]
                if dist < current_min:
                    current_min = dist
                    y = i
            if chain_len > 1 and y == chain[chain_len - 2]:
                break
            chain[chain_len] = y
            chain_len += 1
        chain_len -= 2
        if x > y:
            x, y = y, x
        nx, ny = size[x], size[y]
        z[k, 0] = x
        z[k, 1] = y
        z[k, 2] = current_min
        z[k, 3] = nx + ny
        size[x] = 0
        size[y] = nx + ny
        for i in range(n):
            ni = size[i]
            if ni == 0 or i == y:
                continue
            d[_condensed_at(n, i, y)] = (
                nx * d[_condensed_at(n, i, x)] + ny * d[_condensed_at(n, i, y)]
            ) / (nx + ny)


@_jit
def _label_merges(z: F64, n: int) -> None:
    """Rename the merged points of a sorted dendrogram to scipy's cluster numbers."""
    parent = np.arange(2 * n - 1)
    size = np.ones(2 * n - 1, dtype=np.int64)
    next_label = n
    for k in range(n - 1):
        x, y = int(z[k, 0]), int(z[k, 1])
        while parent[x] != x:
            x = parent[x]
        while parent[y] != y:
            y = parent[y]
        if x < y:
            z[k, 0], z[k, 1] = x, y
        else:
            z[k, 0], z[k, 1] = y, x
        parent[x] = next_label
        parent[y] = next_label
        size[next_label] = size[x] + size[y]
        z[k, 3] = size[next_label]
        next_label += 1


def flat_clusters(z: F64, n: int, height: float) -> I64:
    """scipy's ``fcluster(z, t=height, criterion="distance")``, numbering included.

    The clusters of a dendrogram cut at `height`: a subtree whose merges are all
    at most `height` apart is one cluster. Clusters are numbered from 1 in the
    order scipy numbers them (a walk from the root, left before right). scipy
    checks the linkage matrix on every call, which costs more than the cut for
    the many small groups of a large corpus; this does not: `z` must come from
    ``linkage`` or :func:`average_linkage`.

    Examples
    --------
    >>> z = np.array([[0.0, 1.0, 0.1, 2.0], [2.0, 3.0, 0.5, 3.0]])
    >>> flat_clusters(z, 3, 0.2).tolist()
    [1, 1, 2]
    """
    z = np.ascontiguousarray(z, dtype=np.float64)
    if n < 1 or z.shape != (n - 1, 4):
        raise ValueError(f"z must be a linkage matrix of shape ({n - 1}, 4); got {z.shape}")
    out = np.ones(n, dtype=np.int64)
    if n > 1:
        _flat_clusters(z, n, float(height), out)
    return out


@_jit
def _flat_clusters(z: F64, n: int, height: float, out: I64) -> None:
    """Fill `out` (see :func:`flat_clusters`)."""
    # The largest merge distance inside each subtree, as scipy's cut tests it.
    top = np.empty(n - 1)
    for k in range(n - 1):
        d = z[k, 2]
        a, b = int(z[k, 0]), int(z[k, 1])
        if a >= n and top[a - n] > d:
            d = top[a - n]
        if b >= n and top[b - n] > d:
            d = top[b - n]
        top[k] = d
    # scipy's walk from the root: a subtree within `height` is one cluster;
    # otherwise its merged children are walked, left then right, and only then
    # are its single-article children numbered, left then right.
    path = np.empty(n, dtype=np.int64)
    below = np.empty(n, dtype=np.int64)
    walked = np.zeros(n - 1, dtype=np.bool_)
    path[0] = 2 * n - 2
    depth, cluster = 1, 0
    while depth > 0:
        k = path[depth - 1] - n
        a, b = int(z[k, 0]), int(z[k, 1])
        if top[k] <= height:
            cluster += 1
            below[0], m = k + n, 1
            while m > 0:
                m -= 1
                node = below[m]
                if node < n:
                    out[node] = cluster
                else:
                    below[m] = int(z[node - n, 0])
                    below[m + 1] = int(z[node - n, 1])
                    m += 2
            depth -= 1
            continue
        if a >= n and not walked[a - n]:
            walked[a - n] = True
            path[depth] = a
            depth += 1
            continue
        if b >= n and not walked[b - n]:
            walked[b - n] = True
            path[depth] = b
            depth += 1
            continue
        if a < n:
            cluster += 1
            out[a] = cluster
        if b < n:
            cluster += 1
            out[b] = cluster
        depth -= 1
