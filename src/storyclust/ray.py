"""The storyclust pipeline on Ray Data (``pip install "storyclust[ray]"``).

:func:`cluster` runs the stages of :mod:`storyclust.stages` with Ray Data and
gives the same stories as :func:`storyclust.cluster` for the same articles and
settings, whatever the number of blocks and workers. Point it at a cluster with
``ray.init(address="ray://head:10001")`` (or ``address="auto"`` on a node of the
cluster) before calling it; by default Ray starts a local instance.

Where each stage runs, and what reaches the driver:

=====================================  ===================  ==========================
stage                                  where                on the driver
=====================================  ===================  ==========================
parse, canonical key                   ``map_batches``      nothing
boilerplate line counts                ``map_batches`` +    lines in >= 3 articles, or
                                       ``groupby().sum()``  twice in one outlet
term document frequencies              ``map_batches`` +    the vocabulary (term, df)
                                       ``groupby().sum()``
features (TF-IDF rows, signatures)     ``map_batches``      nothing
canonical positions                    driver               key and id of each article
LSH band keys -> candidate pairs       ``map_batches`` +    the LSH pairs
                                       ``groupby(shard)``
TF-IDF neighbours, scoring, linkage    driver               feature vectors (no texts)
=====================================  ===================  ==========================

The limits, then: the driver holds each article's key and id (about 60 bytes),
the candidate pairs and links (16-60 bytes each, a few tens per article), and --
for now -- the sparse feature vectors that the TF-IDF neighbour search and the
linkage inside stories read (about ``8 * nnz + 4 * num_perm`` bytes an article,
3-4 KB). Texts never reach the driver. The README's Scale section gives the plan
for 100 million articles.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from . import stages
from .links import Links, score_links, text_neighbours
from .settings import Settings
from .stories import number_by_first_appearance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# ray.data.Dataset; ray ships no type information mypy can follow, and is optional.
Dataset: TypeAlias = Any

__all__ = ["cluster"]

I64 = npt.NDArray[np.int64]


def _ray() -> Any:
    """Import ray, or say which extra installs it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:  # pragma: no cover - exercised without ray only
        raise ImportError(
            'storyclust.ray needs Ray Data: pip install "storyclust[ray]" '
            f"(ray[data], pyarrow, pandas); import failed: {exc}"
        ) from exc
    return ray


def _frame(cols: dict[str, Any]) -> pd.DataFrame:
    """Columns (possibly holding one array a row) as a DataFrame."""
    import pandas as pd

    return pd.DataFrame({k: list(v) if v.dtype == object else v for k, v in cols.items()})


def _parse(batch: pd.DataFrame) -> pd.DataFrame:
    return _frame(stages.parse_records(batch))


def _line_counts(batch: pd.DataFrame) -> pd.DataFrame:
    return _frame(stages.line_counts(batch))


def _frequencies(
    batch: pd.DataFrame, settings: Settings, boilerplate: frozenset[int]
) -> pd.DataFrame:
    return _frame(stages.document_frequencies(stages.tokenize_batch(batch, settings, boilerplate)))


def _features(
    batch: pd.DataFrame,
    settings: Settings,
    boilerplate: frozenset[int],
    vocabs: tuple[stages.Vocabulary, stages.Vocabulary],
) -> pd.DataFrame:
    tokens = stages.tokenize_batch(batch, settings, boilerplate)
    return _frame(stages.article_features(batch, tokens, vocabs[0], vocabs[1], settings))


def _band_rows(batch: pd.DataFrame, settings: Settings, positions: dict[str, int]) -> pd.DataFrame:
    pos = np.array([positions[k] for k in batch["uid"]], dtype=np.int64)
    return _frame(
        stages.band_key_rows(pos, list(batch["signature"]), batch["has_shingles"], settings)
    )


def _with_shard(batch: pd.DataFrame, shards: int) -> pd.DataFrame:
    out = batch.copy()
    out["shard"] = stages.bucket_shard(batch["band"].to_numpy(), batch["key"].to_numpy(), shards)
    return out


def _shard(group: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    pairs = stages.shard_pairs(
        group["pos"].to_numpy(), group["band"].to_numpy(), group["key"].to_numpy()
    )
    return pd.DataFrame({"i": pairs[:, 0], "j": pairs[:, 1]})


def _as_dataset(data: Any) -> Dataset:
    """A Ray Dataset of article records from a Dataset, a path, or a list of paths."""
    ray = _ray()
    if isinstance(data, ray.data.Dataset):
        return data
    paths = [data] if isinstance(data, (str, os.PathLike)) else data
    if not isinstance(paths, Sequence) or not all(isinstance(p, (str, os.PathLike)) for p in paths):
        raise TypeError(
            "storyclust.ray.cluster takes a ray.data.Dataset of articles, or JSONL / Parquet "
            f"paths; got {type(data).__name__}"
        )
    names = [str(os.fspath(p)) for p in paths]
    if all(p.endswith(".parquet") for p in names):
        return ray.data.read_parquet(names)
    return ray.data.read_json(names, lines=True)


def cluster(
    data: Any, *, batch_size: int = 1024, num_partitions: int | None = None, **settings: Any
) -> Dataset:
    """Group news articles into stories with Ray Data.

    Parameters
    ----------
    data : ray.data.Dataset, str, path, or list of them
        Articles with the fields of :func:`storyclust.cluster` (an ``id`` column is
        required), or JSONL / Parquet files of them.
    batch_size : int, default 1024
        Articles per batch of the map stages. The result does not depend on it.
    num_partitions : int, optional
        Partitions of each group-by shuffle; by default the number of blocks of the
        input. The result does not depend on it.
    **settings
        The settings of :func:`storyclust.cluster`.

    Returns
    -------
    ray.data.Dataset
        Columns ``id`` and ``story``: stories numbered 0..k-1 by first appearance in
        the canonical order (content hash, then id), so the same for any blocks.
        ``.write_parquet(dir)`` and ``.write_json(dir)`` save it.

    Raises
    ------
    ImportError
        Ray Data is not installed.
    TypeError
        `data` is neither a Dataset nor paths.
    ValueError
        The records carry no ``id``.
    storyclust.SettingsError
        A setting out of range or unknown.
    """
    ray = _ray()
    from ray.data.context import DataContext, ShuffleStrategy

    s = Settings.from_kwargs(**settings)
    ds = _as_dataset(data)
    names = ds.schema().names if ds.schema() is not None else []
    if "id" not in names:
        raise ValueError(
            "records must carry an 'id' column (made-up ids would depend on how the input "
            f"is cut into blocks); got columns {sorted(names)}"
        )
    # A Dataset carries a copy of the context it was made in, so set the shuffle on
    # both (and put both back). The sort-based shuffle starts no aggregator actors:
    # a group-by of small data takes a tenth of a second instead of seven.
    contexts = [DataContext.get_current(), ds.context]
    before = [c.shuffle_strategy for c in contexts]
    for c in contexts:
        c.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    try:
        stories = _stories(ds, s, batch_size, num_partitions)
    finally:
        for c, b in zip(contexts, before):
            c.shuffle_strategy = b
    import pandas as pd

    out = ray.data.from_pandas(pd.DataFrame({"id": stories[0], "story": stories[1]}))
    return out


def _stories(
    ds: Any,
    s: Settings,
    batch_size: int,
    num_partitions: int | None,
    timings: dict[str, float] | None = None,
) -> tuple[list[str], I64]:
    """Ids in canonical order and their story numbers."""
    import pandas as pd

    clock = _Clock(timings)
    kw: dict[str, Any] = {"batch_format": "pandas", "batch_size": batch_size}
    arts = ds.map_batches(_parse, **kw).materialize()
    n = arts.count()
    parts = num_partitions or max(1, arts.num_blocks())
    if n == 0:
        return [], np.zeros(0, dtype=np.int64)

    clock.lap("parse")
    boiler: frozenset[int] = frozenset()
    if s.strip_boilerplate:
        counts = arts.map_batches(_line_counts, **kw).materialize()
        totals = (
            counts.groupby(["line", "words"], num_partitions=parts)
            .sum("count")
            .map_batches(_at_least, fn_kwargs={"low": 3}, batch_format="pandas")
            .to_pandas()
            if counts.count()
            else None
        )
        outlet = (
            counts.map_batches(_with_source, batch_format="pandas")
            .groupby(["source", "line"], num_partitions=parts)
            .sum("count")
            .map_batches(_at_least, fn_kwargs={"low": 2}, batch_format="pandas")
            .to_pandas()
        )
        if totals is None or not len(totals):
            totals = pd.DataFrame({"line": [], "words": [], "sum(count)": []})
        boiler = stages.boilerplate_rule(
            totals["line"].to_numpy(np.int64),
            totals["words"].to_numpy(np.int64),
            totals["sum(count)"].to_numpy(np.int64),
            outlet["line"].to_numpy(np.int64) if len(outlet) else np.zeros(0, np.int64),
            n,
        )

    clock.lap("boilerplate")
    freq = (
        arts.map_batches(_frequencies, fn_kwargs={"settings": s, "boilerplate": boiler}, **kw)
        .groupby(["field", "term"], num_partitions=parts)
        .sum("df")
        .to_pandas()
    )
    vocabs = stages.vocabularies(
        {"field": freq["field"], "term": freq["term"], "df": freq["sum(df)"]}, n
    )
    clock.lap("frequencies")
    feats = arts.map_batches(
        _features,
        fn_kwargs={"settings": s, "boilerplate": boiler, "vocabs": vocabs},
        **kw,
    )
    feats = feats.map_batches(_with_uid, **kw).materialize()

    # Canonical positions: rank by (content key, id), as storyclust.cluster orders.
    clock.lap("features")
    keys = feats.select_columns(["key", "id"]).to_pandas()
    order = sorted(range(n), key=lambda k: (keys["key"][k], keys["id"][k]))
    ids = [str(keys["id"][k]) for k in order]
    positions = {f"{keys['key'][k]}\x00{keys['id'][k]}": p for p, k in enumerate(order)}

    clock.lap("positions")
    bands = (
        feats.select_columns(["uid", "signature", "has_shingles"])
        .map_batches(_band_rows, fn_kwargs={"settings": s, "positions": positions}, **kw)
        .materialize()
    )
    # Buckets are grouped into shards (a hash of band and key): one call a shard,
    # each forming the pairs of all its buckets with arrays, not one call a bucket.
    lsh = (
        bands.map_batches(_with_shard, fn_kwargs={"shards": parts}, **kw)
        .groupby("shard", num_partitions=parts)
        .map_groups(_shard, batch_format="pandas")
        .to_pandas()
    )
    lsh_pairs = (
        np.stack([lsh["i"].to_numpy(np.int64), lsh["j"].to_numpy(np.int64)], axis=1)
        if lsh is not None and len(lsh)
        else np.zeros((0, 2), dtype=np.int64)
    )

    # For now the feature vectors meet on the driver (see the module docstring).
    clock.lap("lsh")
    cols = feats.to_pandas()
    rows = np.array([positions[u] for u in cols["uid"]], dtype=np.int64)
    cols = cols.iloc[np.argsort(rows)].reset_index(drop=True)
    features = stages.assemble_features(cols, vocabs[0], vocabs[1], boiler, s.num_perm)
    del cols

    clock.lap("collect features")
    nbr = text_neighbours(features, s)
    code = np.unique(
        np.concatenate([lsh_pairs[:, 0] * n + lsh_pairs[:, 1], nbr[:, 0] * n + nbr[:, 1]])
    )
    pairs = np.stack([code // n, code % n], axis=1)
    clock.lap("neighbours")
    links: Links = score_links(features, pairs, s)
    clock.lap("links")
    raw, _ = stages.partition(features, links, s)
    clock.lap("stories")
    return ids, number_by_first_appearance(raw)


def _with_uid(batch: pd.DataFrame) -> pd.DataFrame:
    batch["uid"] = [f"{k}\x00{i}" for k, i in zip(batch["key"], batch["id"])]
    return batch


def _at_least(batch: pd.DataFrame, low: int) -> pd.DataFrame:
    return batch[batch["sum(count)"] >= low]


def _with_source(batch: pd.DataFrame) -> pd.DataFrame:
    return batch[batch["source"] != ""]


class _Clock:
    """Wall time of each stage since the previous one, into `timings` (if given)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = now - self.t
        self.t = now
