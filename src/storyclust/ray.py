"""The storyclust pipeline on Ray Data (``pip install "storyclust[ray]"``).

:func:`cluster` runs the stages of :mod:`storyclust.stages` with Ray Data and
gives the same stories as :func:`storyclust.cluster` for the same articles and
settings, whatever the number of blocks and workers. Point it at a cluster with
``ray.init(address="ray://head:10001")`` (or ``address="auto"`` on a node of the
cluster) before calling it; by default Ray starts a local instance.

Where each stage runs, and what reaches the driver:

=====================================  ======================  ===========================
stage                                  where                   on the driver
=====================================  ======================  ===========================
parse, canonical key                   ``map_batches``         nothing
boilerplate line counts                a task a block, then    the boilerplate lines
                                       a task a shard
term document frequencies              a task a block, then    the vocabulary (term, df)
                                       a task a shard
canonical positions                    driver                  key, id and day of each
                                                               article
features (TF-IDF rows, signatures)     ``map_batches``         nothing
LSH band keys -> candidate pairs       ``map_batches`` +       the LSH pairs
                                       ``groupby(shard)``
hub terms (prefix counts)              a task a block, then    the hub terms
                                       a task a shard
TF-IDF neighbours, scoring             a task a block, then    the scored links
                                       a task a time block
components                             driver                  a component per article
linkage inside components of >= 3      a task a block, then    a story per article
                                       a task a group
=====================================  ======================  ===========================

Ray Data reads, parses and makes the features (``map_batches``, Arrow blocks), and
groups the LSH band keys into buckets (``groupby`` on a shard of the bucket: a
few integers an article, a cheap shuffle). The exchanges that route feature rows
or count every line and term are Ray tasks over the blocks of the materialised
datasets instead: Ray Data group-bys sorted every routed row and took 10x the
single machine's time. A task a block deals its rows (Arrow ``take``) into
shards, time blocks or groups, and a task a shard receives its part of every
block. The corpus counts (lines, terms, prefix terms) are not grouped row by
row: the task of each block counts its batches and sums them
into one row a key (:func:`storyclust.stages.sum_counts`), then deals the rows
into shards by a hash of the key (:func:`storyclust.stages.split_shards`; as
many shards as the group-bys have partitions). One task a shard receives that
shard of every block, where all counts of its keys meet, and applies the rule
(:func:`storyclust.stages.boilerplate_from_counts`,
:func:`storyclust.links.hub_terms`) or sums the document frequencies. A block
task holds its block and one row a distinct key of it; a shard task about
``1 / shards`` of the distinct keys of the corpus, one row for each block that
has the key (lines: 40-60 bytes a row, most lines in one article only, so about
``50 * lines / shards`` bytes); the driver only the boilerplate lines, the
vocabulary (24 bytes a term) and the hub terms. There are ``blocks * shards``
small objects in flight.

The neighbour search is cut into time blocks (:class:`storyclust.stages.TimeBlocks`):
a block's task holds the articles it owns (consecutive in time), those within the
time horizon of them (8.9 days by default), every undated article, and the far
article of each near-duplicate pair it scores that lies beyond its horizon. Each
article is searched by the one block that owns it, with the corpus's hub terms,
so the pairs are the single machine's exactly, for any number of blocks. The
linkage inside components runs in groups of whole components, each with its
articles' features and its links. Neither the feature vectors nor the texts
ever reach the driver.

The limits, then:

- the driver holds each article's key, id, day and story (about 80 bytes), the
  candidate pairs and the links (16-60 bytes each, a few an article), and a
  component number an article; the feature tasks receive the map from key and
  id to position (about 100 bytes an article);
- a block task holds the articles published within one block plus twice the
  horizon (about ``8 * nnz + 4 * num_perm`` bytes an article, 3-4 KB): memory a
  worker grows with the number of articles a day, not with the corpus;
- undated articles are compared with every article, so the block that owns them
  holds the whole corpus: a corpus mostly undated meets in one task, as on one
  machine;
- a group task holds its components whole (the largest is split on its weakest
  links above ``max_component_size``, as on one machine);
- a shard task of the corpus counts holds about ``50 * L / shards`` bytes for the
  L distinct lines of the corpus (and less for its terms): at 100 million
  articles of 10 distinct lines each, 50 GB in all, 25 MB a task with 2,000
  shards; the driver holds the vocabulary, which the feature tasks need anyway.

The README's Scale section gives the plan for 100 million articles.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from . import errors as errors_module
from . import stages
from .errors import InputError, StoryclustError
from .features import Features
from .links import (
    Links,
    hub_terms,
    prefix_term_counts,
    score_links,
    text_neighbours,
    time_horizon,
)
from .settings import Settings
from .stories import archive_verdict, number_by_first_appearance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

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


def _frame(cols: dict[str, Any]) -> pa.Table:
    """Columns as an Arrow table: an array a row as a list column, built from one flat array.

    Ray Data would otherwise convert a pandas frame holding arrays a row itself,
    inferring tensor columns cell by cell: that took longer than the stages.
    """
    import pyarrow as pa

    out = {}
    for name, v in cols.items():
        if name in _LISTS:
            rows = list(v)
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum([len(r) for r in rows], out=offsets[1:])
            kind = _LISTS[name]
            flat = np.concatenate(rows).astype(kind) if rows else np.zeros(0, kind)
            out[name] = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat))
        elif np.asarray(v).dtype == object:
            out[name] = pa.array([str(x) for x in v], type=pa.string())
        else:
            out[name] = pa.array(np.asarray(v))
    return pa.table(out)


#: The columns holding an array a row (features), with the type of their values.
_LISTS = {
    "signature": np.uint32,
    "tfidf_idx": np.int64,
    "tfidf_val": np.float32,
    "names_idx": np.int64,
    "names_val": np.float32,
}


def _parse(batch: pd.DataFrame) -> pd.DataFrame:
    return _frame(stages.parse_records(batch))


def _frequencies(
    batch: pd.DataFrame, settings: Settings, boilerplate: frozenset[int]
) -> dict[str, Any]:
    return stages.document_frequencies(stages.tokenize_batch(batch, settings, boilerplate))


def _features(
    batch: pd.DataFrame,
    settings: Settings,
    boilerplate: frozenset[int],
    vocabs: tuple[stages.Vocabulary, stages.Vocabulary],
    positions: dict[str, int],
) -> pd.DataFrame:
    tokens = stages.tokenize_batch(batch, settings, boilerplate)
    out = stages.article_features(batch, tokens, vocabs[0], vocabs[1], settings)
    # The canonical position of each article (by its content key and id).
    out["pos"] = np.array(
        [positions[f"{k}\x00{i}"] for k, i in zip(out["key"], out["id"])], dtype=np.int64
    )
    return _frame(out)


def _pandas(batch: Any) -> pd.DataFrame:
    """An Arrow batch as pandas with an array a row in list columns (Arrow's own conversion;
    Ray Data's pandas batches hold Python lists there)."""
    import pyarrow as pa

    return batch.to_pandas() if isinstance(batch, pa.Table) else batch


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
    names = [f for p in paths for f in _files(str(os.fspath(p)))]
    parquet = [n.endswith(".parquet") for n in names]
    if all(parquet):
        return ray.data.read_parquet(names)
    if any(parquet):
        raise ValueError(
            "storyclust.ray.cluster reads JSONL or Parquet files, not both at once; got "
            f"{sum(parquet)} .parquet files among {len(names)}: read them into one "
            "ray.data.Dataset first"
        )
    return ray.data.read_json(names, lines=True)


def _files(path: str) -> list[str]:
    """The files a path names: itself, the files of a folder, or the matches of a pattern
    (``*``, ``?``, ``[...]`` in its last part), local or remote (``s3://...``), sorted.

    Folders and patterns are expanded here because Ray Data's readers take neither
    a pattern nor a folder of mixed or Parquet files for JSON.
    """
    import fnmatch

    import pyarrow.fs as pafs

    scheme, sep, _ = path.partition("://")
    uri = path if sep else os.path.abspath(path)
    prefix = f"{scheme}://" if sep else ""
    head, _, last = uri.rstrip("/").rpartition("/")
    pattern = any(c in last for c in "*?[")
    fs, where = pafs.FileSystem.from_uri(head if pattern else uri)
    info = fs.get_file_info(where)
    if not pattern and info.type == pafs.FileType.File:
        return [path]
    if info.type != pafs.FileType.Directory:
        raise FileNotFoundError(f"no such file or folder: {path!r}")
    found = fs.get_file_info(pafs.FileSelector(where, recursive=False))
    files = sorted(
        prefix + f.path
        for f in found
        if f.type == pafs.FileType.File
        and not f.base_name.startswith((".", "_"))  # hidden files, _SUCCESS markers
        and (not pattern or fnmatch.fnmatchcase(f.base_name, last))
    )
    if not files:
        what = "matches" if pattern else "files in the folder"
        raise FileNotFoundError(f"no {what}: {path!r}")
    return files


def cluster(
    data: Any, *, batch_size: int = 1024, num_partitions: int | None = None, **settings: Any
) -> Dataset:
    """Group news articles into stories with Ray Data.

    Parameters
    ----------
    data : ray.data.Dataset, str, path, or list of them
        Articles with the fields of :func:`storyclust.cluster` (an ``id`` column is
        required), or JSONL / Parquet files of them: file names, folders, or
        patterns such as ``s3://bucket/articles/*.jsonl`` (``*``, ``?``, ``[...]``
        in the last part), local or remote; ``.parquet`` files are read as Parquet.
    batch_size : int, default 1024
        Articles per batch of the map stages. The result does not depend on it.
    num_partitions : int, optional
        Shards of each exchange between stages (corpus counts, LSH buckets, groups
        of components; at most this many time blocks); by default 4 per CPU of the
        cluster, at most the number of blocks of the input. The result does not
        depend on it.
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
    s = Settings.from_kwargs(**settings)
    ds = _as_dataset(data)
    names = ds.schema().names if ds.schema() is not None else []
    if "id" not in names:
        raise ValueError(
            "records must carry an 'id' column (made-up ids would depend on how the input "
            f"is cut into blocks); got columns {sorted(names)}"
        )
    try:
        stories = _stories(ds, s, batch_size, num_partitions)
    except Exception as exc:
        # Ray wraps an error of a task (a bad record met in a worker) in its own
        # exception types: raise the storyclust error inside, as storyclust.cluster would.
        cause = _storyclust_cause(exc)
        if cause is None:
            raise
        raise cause from None
    import pandas as pd

    out = ray.data.from_pandas(pd.DataFrame({"id": stories[0], "story": stories[1]}))
    return out


def _storyclust_cause(exc: BaseException) -> StoryclustError | None:
    """The storyclust error that `exc` (a Ray task error) carries, if any."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, StoryclustError):
            return e
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    # Ray Data passes on a user error as its traceback's text only: read it from there.
    found = re.findall(r"storyclust\.errors\.(\w+): ([^\n]+)", str(exc))
    if found:
        name, message = found[-1]
        kind = getattr(errors_module, name, None)
        if isinstance(kind, type) and issubclass(kind, StoryclustError):
            return kind(message)
    return None


def _stories(
    ds: Any,
    s: Settings,
    batch_size: int,
    num_partitions: int | None,
    timings: dict[str, float] | None = None,
    stats: dict[str, float] | None = None,
) -> tuple[list[str], I64]:
    """Ids in canonical order and their story numbers.

    `timings` receives the wall time of each stage; `stats` how the work was cut
    (time blocks, the most articles one block task held, groups of components, the
    most articles one group held).
    """

    clock = _Clock(timings)
    stats = {} if stats is None else stats
    kw: dict[str, Any] = {"batch_format": "pandas", "batch_size": batch_size}
    arts = ds.map_batches(_parse, **kw).materialize()
    n = arts.count()
    parts = num_partitions or _default_shards(arts.num_blocks())
    if n == 0:
        return [], np.zeros(0, dtype=np.int64)

    clock.lap("parse")
    boiler: frozenset[int] = frozenset()
    if s.strip_boilerplate:
        # Each block's line counts summed before they leave it, dealt into shards by
        # line; a shard task applies the rule to its lines (all of a line's counts
        # meet there), and only the boilerplate lines reach the driver.
        found = _sharded_sums(
            arts,
            stages.line_counts,
            _LINES,
            functools.partial(_boilerplate_shard, n_articles=n),
            parts,
            batch_size,
        )
        boiler = frozenset().union(*found)

    clock.lap("boilerplate")
    # The same for the (field, term) document frequencies: the driver gets the
    # vocabulary, which it needs anyway.
    freq = _concat(
        _sharded_sums(
            arts,
            functools.partial(_frequencies, settings=s, boilerplate=boiler),
            _TERMS,
            functools.partial(_summed, how=_TERMS),
            parts,
            batch_size,
        )
    )
    vocabs = stages.vocabularies(freq or {"field": [], "term": [], "df": []}, n)
    del freq
    clock.lap("frequencies")
    # Canonical positions: rank by (content key, id), as storyclust.cluster orders.
    keys = arts.select_columns(["key", "id", "day"]).to_pandas()
    key, ident = list(keys["key"]), list(keys["id"])
    _check_unique(ident)
    order = [k for _, _, k in sorted(zip(key, ident, range(n)))]
    ids = [str(ident[k]) for k in order]
    positions = {f"{key[k]}\x00{ident[k]}": p for p, k in enumerate(order)}
    days = keys["day"].to_numpy(np.float64)[np.asarray(order, dtype=np.int64)]
    del keys, key, ident, order
    clock.lap("positions")
    feats = arts.map_batches(
        _features,
        fn_kwargs={"settings": s, "boilerplate": boiler, "vocabs": vocabs, "positions": positions},
        **kw,
    ).materialize()
    del positions

    clock.lap("features")
    lsh_pairs = _lsh_pairs(feats, s, parts, kw)

    clock.lap("lsh")
    assembly = _Assembly(vocabs, boiler, s)
    links = _block_links(feats, days, lsh_pairs, assembly, parts, kw, stats, clock)
    clock.lap("neighbours and links")
    raw = _group_stories(feats, n, links, assembly, parts, kw, stats)
    clock.lap("stories")
    return ids, number_by_first_appearance(raw)


def _check_unique(ids: list[Any]) -> None:
    """Raise InputError naming a duplicate id: each batch checks its own, this all of them."""
    if len(set(ids)) == len(ids):
        return
    counts = Counter(ids)
    dupes = sorted((str(i) for i, c in counts.items() if c > 1))
    first = dupes[0]
    raise InputError(
        f"duplicate id {first!r} ({counts[first]} records carry it"
        + (f"; {len(dupes) - 1} other ids are duplicated too" if len(dupes) > 1 else "")
        + "); ids must be unique; drop the duplicates or give each record its own id",
        field="id",
        value=first,
    )


def _default_shards(blocks: int) -> int:
    """Shards of an exchange: 4 a CPU of the cluster, at most one a block.

    Not one a block: an exchange makes a part a map task and shard, and parts
    under Ray's inline limit (100 KB) are returned into the driver's own memory,
    so a shard a block (1,000 blocks of 1,024 articles at 1M) made a million
    parts an exchange and put most of the shuffle in the driver.
    """
    cpus = int(_ray().cluster_resources().get("CPU", 1))
    return max(1, min(blocks, 4 * max(1, cpus)))


def _block_links(
    feats: Dataset,
    days: npt.NDArray[np.float64],
    lsh_pairs: I64,
    assembly: _Assembly,
    parts: int,
    kw: dict[str, Any],
    stats: dict[str, float],
    clock: _Clock,
) -> Links:
    """Rewrite neighbours and every candidate's scored link, a time block a task.

    Each task holds its block's articles, those within the time horizon of them,
    the undated ones and the far ends of the near-duplicate pairs it scores: never
    the whole corpus (unless the corpus is undated or the horizon infinite).
    """
    import pandas as pd

    found = _sharded_sums(
        feats,
        functools.partial(_prefix_counts, n_terms=len(assembly.vocabs[0].hashes)),
        _PREFIX,
        _hub_shard,
        parts,
        kw["batch_size"],
    )
    hubs = np.sort(np.concatenate(found)).astype(np.int64)
    clock.lap("hub terms")
    horizon = time_horizon(assembly.settings)
    # Blocks owning at least a horizon each: an article is in about three blocks
    # (its own and the neighbours' margins), and a block holds three horizons.
    blocks = stages.time_blocks(days, horizon, parts, min_span=horizon)
    pair_block, extra = stages.assign_pairs(blocks, days, lsh_pairs)
    by, pair_starts = _by_key(pair_block, len(blocks))
    lsh_sorted = lsh_pairs[by]
    # Each block of features deals its rows to the time blocks that need them; a
    # task a time block receives its rows from every block.
    scored = _route(
        feats,
        functools.partial(_to_blocks, blocks=blocks, extra=extra),
        "block",
        functools.partial(
            _search_block,
            blocks=blocks,
            hubs=hubs,
            lsh=lsh_sorted,
            starts=pair_starts,
            assembly=assembly,
        ),
        (),
        len(blocks),
    )
    held = blocks.held(days) + np.bincount(extra[:, 1], minlength=len(blocks))
    stats["blocks"] = float(len(blocks))
    stats["largest dated block"] = float(held[: blocks.n_dated].max(initial=0))
    stats["largest block"] = float(held.max(initial=0))
    stats["far pairs"] = float(len(extra))
    if "i" not in scored.columns:  # no block scored a link: no columns either
        scored = pd.DataFrame({c: [] for c in ("i", "j", *_LINK_COLUMNS, "near_duplicate")})
    pairs = np.stack([scored["i"].to_numpy(np.int64), scored["j"].to_numpy(np.int64)], axis=1)
    # A pair found from both of its articles' blocks is scored twice, the same.
    _, first = np.unique(pairs, axis=0, return_index=True)
    scored = scored.iloc[first]
    return Links(
        pairs=pairs[first],
        score=scored["score"].to_numpy(np.float64),
        jaccard=scored["jaccard"].to_numpy(np.float64),
        cosine=scored["cosine"].to_numpy(np.float64),
        headline=scored["headline"].to_numpy(np.float64),
        names=scored["names"].to_numpy(np.float64),
        time_factor=scored["time_factor"].to_numpy(np.float64),
        near_duplicate=scored["near_duplicate"].to_numpy(bool),
    )


def _group_stories(
    feats: Dataset,
    n: int,
    links: Links,
    assembly: _Assembly,
    parts: int,
    kw: dict[str, Any],
    stats: dict[str, float],
) -> I64:
    """A story key per canonical position.

    Components of one or two articles are decided on the driver by their links;
    the larger ones go, whole, into `parts` groups, and each group's stories are
    found in one task (:func:`storyclust.stages.partition_plan` of its articles and
    links), both ways of the undated re-cut; the driver reads the corpus as an
    archive or not from every group's separations and takes one way for all.
    """

    s = assembly.settings
    component, members, group = stages.component_groups(n, links, parts, s)
    raw = stages.small_component_labels(n, links, component, s)
    stats["linked groups"] = float(len(np.unique(group)))
    stats["largest group"] = float(np.bincount(group).max()) if len(group) else 0.0
    if not len(members):
        return raw
    of = np.full(n, -1, dtype=np.int64)
    of[members] = group
    link_group = of[links.pairs[:, 0]]
    inside = np.flatnonzero(link_group >= 0)
    by, starts = _by_key(link_group[inside], parts)
    inside = inside[by]
    found = _route(
        feats,
        functools.partial(_to_groups, members=members, group=group),
        "group",
        functools.partial(_link_group, links=links.take(inside), starts=starts, assembly=assembly),
        ("pos", "group", "label", "label_archive", "separation"),
        parts,
    )
    pos = found["pos"].to_numpy(np.int64)
    seps = found["separation"].to_numpy(np.float64)
    verdict = archive_verdict(seps[~np.isnan(seps)], s.recut_archive)
    stats["read as an archive"] = float(verdict["archive"])
    column = "label_archive" if verdict["archive"] else "label"
    # A group of m articles numbers its stories below 2m (a re-cut's pieces after
    # its stories), so 2n apart, no two groups' numbers meet.
    raw[pos] = (
        int(raw.max())
        + 1
        + found["group"].to_numpy(np.int64) * (2 * n)
        + found[column].to_numpy(np.int64)
    )
    return raw


def _by_key(key: I64, n_keys: int) -> tuple[I64, I64]:
    """The order that sorts items by `key` (0..n_keys-1, stable), and where each key's run starts."""
    by = np.argsort(key, kind="stable")
    return by, np.searchsorted(key[by], np.arange(n_keys + 1))


def _to_groups(batch: pa.Table, members: I64, group: I64) -> pa.Table:
    """The articles of the components of 3 or more, with their group."""
    pos = batch["pos"].to_numpy().astype(np.int64)
    at = np.minimum(np.searchsorted(members, pos), max(len(members) - 1, 0))
    keep = members[at] == pos
    return _take(batch, np.flatnonzero(keep), "group", group[at[keep]])


def _route(
    feats: Dataset,
    to_rows: Callable[[pa.Table], pa.Table],
    column: str,
    work: Callable[[pa.Table], pd.DataFrame],
    empty: tuple[str, ...],
    shards: int,
) -> pd.DataFrame:
    """`work` on the rows of each key, concatenated: the rows `to_rows` makes of each
    block of `feats` (a key in `column`: a time block or a group) are dealt to a task
    a key (:func:`_exchange`). A key with no rows gives an empty frame of `empty` columns.
    """
    import pandas as pd

    found = _exchange(
        feats,
        functools.partial(_routed_split, to_rows=to_rows, column=column),
        functools.partial(_on_parts, work=work, empty=empty),
        shards,
    )
    return pd.concat(found, ignore_index=True)


def _routed_split(
    blocks: list[Any], shards: int, to_rows: Callable[[pa.Table], pa.Table], column: str
) -> list[pa.Table]:
    """Some blocks' rows (as `to_rows` makes them), in block order, dealt by their key in `column`."""
    import pyarrow as pa

    out = pa.concat_tables([to_rows(_arrow(b)) for b in blocks])
    return _deal(out, out[column].to_numpy().astype(np.int64), shards)


def _on_parts(
    parts: list[pa.Table], work: Callable[[pa.Table], pd.DataFrame], empty: tuple[str, ...]
) -> pd.DataFrame:
    """One key's rows from every block, and `work` on them (no rows: an empty frame)."""
    import pandas as pd
    import pyarrow as pa

    if not parts:
        return pd.DataFrame({c: [] for c in empty}, dtype=np.int64)
    return work(pa.concat_tables(parts))


def _link_group(
    batch: pa.Table,
    links: Links,
    starts: I64,
    assembly: _Assembly,
) -> pd.DataFrame:
    """One group of whole components: the stories of its articles (numbers within the group)."""
    import pandas as pd

    rows = _pandas(batch)
    g = int(rows["group"].iloc[0])
    pos, feats = assembly.features(rows)
    mine = stages.local_links(links.take(np.arange(starts[g], starts[g + 1])), pos)
    labels, _, plan = stages.partition_plan(feats, mine, assembly.settings)
    # Both ways of the undated re-cut, and the separations of the stories it looked
    # at (in the first rows, NaN after): the driver reads the corpus as an archive or
    # not from every group's, as storyclust.cluster does from the whole corpus's.
    seps = np.full(len(pos), np.nan)
    if plan is None:
        gated = archive = labels
    else:
        gated, archive = plan.gated, plan.archive
        seps[: len(plan.separation)] = plan.separation
    return pd.DataFrame(
        {
            "pos": pos,
            "group": np.full(len(pos), g),
            "label": gated,
            "label_archive": archive,
            "separation": seps,
        }
    )


def _prefix_counts(batch: pd.DataFrame, n_terms: int) -> dict[str, Any]:
    x = stages._csr(list(batch["tfidf_idx"]), list(batch["tfidf_val"]), n_terms)
    terms, counts = prefix_term_counts(x)
    return {"term": terms, "count": counts}


def _to_blocks(batch: pa.Table, blocks: stages.TimeBlocks, extra: I64) -> pa.Table:
    """Each article once for every block that needs it, with a ``block`` column."""
    pos = batch["pos"].to_numpy().astype(np.int64)
    rows, block = blocks.needed_by(batch["day"].to_numpy().astype(np.float64), pos)
    if len(extra):
        lo = np.searchsorted(extra[:, 0], pos, side="left")
        hi = np.searchsorted(extra[:, 0], pos, side="right")
        more, at = stages.expand_ranges(lo, hi - lo)
        rows = np.concatenate([rows, more])
        block = np.concatenate([block, extra[at, 1]])
    return _take(batch, rows, "block", block)


def _take(batch: pa.Table, rows: I64, name: str, value: I64) -> pa.Table:
    """The rows of an Arrow batch (Arrow takes them, no conversion), with a column `name`."""
    import pyarrow as pa

    return batch.take(pa.array(rows, type=pa.int64())).append_column(name, pa.array(value))


# --- Corpus counts: summed in each block, dealt into shards by key, a shard a task ---


class _Count(NamedTuple):
    """How a count table is summed (:func:`storyclust.stages.sum_counts`) and sharded."""

    keys: tuple[str, ...]
    value: str
    carry: tuple[str, ...]
    shard_on: str


_LINES = _Count(("line", "source"), "count", ("words",), "line")
_TERMS = _Count(("term", "field"), "df", (), "term")
_PREFIX = _Count(("term",), "count", (), "term")


def _sharded_sums(
    ds: Dataset,
    count: Callable[[pd.DataFrame], dict[str, Any]],
    how: _Count,
    reduce: Callable[[list[dict[str, Any]]], Any],
    shards: int,
    batch_size: int,
) -> list[Any]:
    """`reduce` of each shard of the summed counts of every batch of `ds`.

    A map task counts the batches of its blocks (`count`) and sums them into one
    row a key (:func:`storyclust.stages.sum_counts`), dealt into `shards` by a hash
    of the key (:func:`storyclust.stages.split_shards`); one task a shard then
    receives that shard of every map task and reduces it. A key's counts all meet
    in one shard, so `reduce` sees every count of its keys; what it returns reaches
    the driver. A map task holds one block at a time and its summed table; a shard
    task about 1 / `shards` of the distinct keys of the corpus (one row each per map
    task holding the key).
    """
    split = functools.partial(_count_and_split, count=count, how=how, batch_size=batch_size)
    return _exchange(ds, split, reduce, shards)


def _exchange(
    ds: Dataset,
    split: Callable[[list[Any], int], list[Any]],
    reduce: Callable[[list[Any]], Any],
    shards: int,
) -> list[Any]:
    """`reduce` of each shard: `split` deals the rows of consecutive blocks of `ds` into shards.

    A map task for each run of consecutive blocks (at most 4 a shard, and at least
    shards / 4 blocks each), then a task a shard receiving that shard's part of every map
    task (empty parts left out); the shards' results reach the driver, in shard
    order. Parts keep the blocks' order, so a shard sees its rows in the order
    of the input whatever the runs.
    """
    ray = _ray()
    shards = max(1, int(shards))
    # `split` and `reduce` carry arrays of the whole corpus (a time block or group
    # per article, the LSH pairs, the links): put in the object store once and
    # passed by reference, not serialised again into every task's arguments
    # (at 1M articles and ~1,000 blocks that was gigabytes written by the driver).
    split_ref, reduce_ref = ray.put(split), ray.put(reduce)
    refs = [ref for bundle in ds.iter_internal_ref_bundles() for ref in bundle.block_refs]
    # Few, large parts: a task's return under Ray's inline limit (100 KB) is kept in
    # the driver's own memory, not the object store, and there are runs x shards.
    # A run takes at least shards / 4 blocks, so a part holds about a quarter of a
    # block's rows however many shards (1,600 shards: runs of 400 blocks), and at
    # most 4 runs a shard.
    per_run = max(-(-shards // 4), -(-len(refs) // (4 * shards)))
    runs = -(-len(refs) // per_run)
    edges = [len(refs) * k // runs for k in range(runs + 1)] if runs else [0]
    mapper = _remote(_split_block).options(num_returns=shards)
    tables = []
    for lo, hi in itertools.pairwise(edges):
        out = mapper.remote(split_ref, shards, *refs[lo:hi])
        tables.append(out if shards > 1 else [out])
    reducer = _remote(_reduce_shard)
    return list(
        ray.get([reducer.remote(reduce_ref, *[t[k] for t in tables]) for k in range(shards)])
    )


def _split_block(split: Callable[[list[Any], int], list[Any]], shards: int, *blocks: Any) -> Any:
    """Blocks dealt into shards together (a tuple of parts, or the one part; None for nothing)."""
    full = [b for b in blocks if _n_rows(b)]
    parts = split(full, shards) if full else [None] * shards
    kept = [p if p is not None and _n_rows(p) else None for p in parts]
    return tuple(kept) if shards > 1 else kept[0]


def _n_rows(table: Any) -> int:
    """Rows of an Arrow table, a pandas frame or a dict of columns."""
    if hasattr(table, "num_rows"):
        return int(table.num_rows)
    if isinstance(table, dict):
        return len(next(iter(table.values()))) if table else 0
    return len(table)


def _deal(table: pa.Table, shard: I64, shards: int) -> list[pa.Table]:
    """The rows of an Arrow table dealt into `shards` tables by `shard` (order kept within each)."""
    import pyarrow as pa

    order = np.argsort(shard, kind="stable")
    starts = np.searchsorted(shard[order], np.arange(shards + 1))
    return [table.take(pa.array(order[starts[k] : starts[k + 1]])) for k in range(shards)]


def _arrow(block: Any) -> pa.Table:
    """A block as an Arrow table (map stages here hand Ray Arrow tables already)."""
    import pyarrow as pa

    return block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)


def _lsh_pairs(feats: Dataset, settings: Settings, parts: int, kw: dict[str, Any]) -> I64:
    """The near-duplicate candidate pairs: Ray Data's ``groupby`` on the band keys.

    Each article's band keys (``map_batches``), tagged with their bucket's shard (a
    hash of band and key, so all of a bucket's rows meet in one group), grouped by
    shard; one call a shard forms the pairs of all its buckets with arrays, not
    one call a bucket. The rows are a few small integers an article (16 bands),
    so this shuffle is cheap next to the feature rows the other exchanges route.
    """
    from ray.data.context import DataContext, ShuffleStrategy

    contexts = [DataContext.get_current(), feats.context]
    before = [c.shuffle_strategy for c in contexts]
    for c in contexts:
        c.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    try:
        found = (
            feats.select_columns(["pos", "signature", "has_shingles"])
            .map_batches(
                _band_rows,
                fn_kwargs={"settings": settings, "shards": parts},
                # Large blocks of band rows (16 an article): the group-by cuts each
                # block into a piece a partition, and pieces under Ray's inline
                # limit (100 KB) would be kept in the driver's memory.
                **{**kw, "batch_format": "pyarrow", "batch_size": 32 * kw["batch_size"]},
            )
            .groupby("shard", num_partitions=parts)
            .map_groups(_shard_pairs, batch_format="numpy")
            .to_pandas()
        )
    finally:
        for c, b in zip(contexts, before):
            c.shuffle_strategy = b
    if found is None or not len(found):
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.stack([found["i"].to_numpy(np.int64), found["j"].to_numpy(np.int64)], axis=1)
    out: I64 = np.unique(pairs, axis=0)
    return out


def _band_rows(batch: Any, settings: Settings, shards: int) -> dict[str, Any]:
    """A batch's LSH band keys (pos, band, key) and the shard of each bucket."""
    rows = _pandas(_arrow(batch))
    keys = stages.band_key_rows(
        rows["pos"].to_numpy(np.int64), list(rows["signature"]), rows["has_shingles"], settings
    )
    return {**keys, "shard": stages.bucket_shard(keys["band"], keys["key"], shards)}


def _shard_pairs(group: dict[str, Any]) -> dict[str, Any]:
    """The candidate pairs of one shard's buckets (all of a bucket's rows meet here)."""
    pairs = stages.shard_pairs(
        np.asarray(group["pos"], dtype=np.int64),
        np.asarray(group["band"]),
        np.asarray(group["key"]),
    )
    return {"i": pairs[:, 0], "j": pairs[:, 1]}


def _count_and_split(
    blocks: list[Any],
    shards: int,
    count: Callable[[pd.DataFrame], dict[str, Any]],
    how: _Count,
    batch_size: int,
) -> list[dict[str, Any]]:
    """Some blocks' counts, summed (one row a key) and dealt into shards by key."""
    step = max(1, batch_size)
    tables = []
    for block in blocks:
        frame = _pandas(block)
        block_tables = [count(frame.iloc[lo : lo + step]) for lo in range(0, len(frame), step)]
        # Summed block by block: a table a key per block, not a table per batch.
        tables.append(stages.sum_counts(block_tables, how.keys, how.value, how.carry))
        del frame, block_tables
    summed = stages.sum_counts(tables, how.keys, how.value, how.carry)
    return stages.split_shards(summed, how.shard_on, shards)


def _reduce_shard(reduce: Callable[[list[Any]], Any], *parts: Any) -> Any:
    return reduce([t for t in parts if t is not None])


def _concat(tables: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Tables with the same columns, one after another (no tables: no columns)."""
    tables = [t for t in tables if t]
    return (
        {c: np.concatenate([np.asarray(t[c]) for t in tables]) for c in tables[0]} if tables else {}
    )


def _summed(tables: list[dict[str, Any]], how: _Count) -> dict[str, Any]:
    """One shard's tables summed: one row a key."""
    return stages.sum_counts(tables, how.keys, how.value, how.carry) if tables else {}


def _boilerplate_shard(tables: list[dict[str, Any]], n_articles: int) -> frozenset[int]:
    """The boilerplate lines among one shard's lines (the rule decides line by line)."""
    return stages.boilerplate_from_counts(_concat(tables), n_articles) if tables else frozenset()


def _hub_shard(tables: list[dict[str, Any]]) -> I64:
    """The hub terms among one shard's terms."""
    if not tables:
        return np.zeros(0, dtype=np.int64)
    t = _concat(tables)
    return hub_terms(t["term"], t["count"])


_REMOTE: dict[Callable[..., Any], Any] = {}


def _remote(fn: Callable[..., Any]) -> Any:
    """`fn` as a Ray remote function, made once."""
    if fn not in _REMOTE:
        _REMOTE[fn] = _ray().remote(fn)
    return _REMOTE[fn]


_LINK_COLUMNS = ("score", "jaccard", "cosine", "headline", "names", "time_factor")


def _search_block(
    batch: pa.Table,
    blocks: stages.TimeBlocks,
    hubs: I64,
    lsh: I64,
    starts: I64,
    assembly: _Assembly,
) -> pd.DataFrame:
    """One time block: its articles' rewrite neighbours and its share of the LSH pairs, scored."""
    import pandas as pd

    group = _pandas(batch)
    k = int(group["block"].iloc[0])
    settings = assembly.settings
    pos, feats = assembly.features(group)
    own = blocks.owned(k, feats.days, pos)
    nbr = text_neighbours(feats, settings, search=own, hubs=hubs)
    mine = np.searchsorted(pos, lsh[starts[k] : starts[k + 1]])
    m = len(pos)
    code = np.unique(np.concatenate([nbr[:, 0] * m + nbr[:, 1], mine[:, 0] * m + mine[:, 1]]))
    pairs = np.stack([code // m, code % m], axis=1) if m else np.zeros((0, 2), dtype=np.int64)
    links = score_links(feats, pairs, settings)
    out: dict[str, npt.NDArray[Any]] = {"i": pos[links.pairs[:, 0]], "j": pos[links.pairs[:, 1]]}
    out.update({c: getattr(links, c) for c in _LINK_COLUMNS})
    out["near_duplicate"] = links.near_duplicate
    return pd.DataFrame(out)


class _Assembly(NamedTuple):
    """What a task needs to rebuild its articles' features from their rows."""

    vocabs: tuple[stages.Vocabulary, stages.Vocabulary]
    boilerplate: frozenset[int]
    settings: Settings

    def features(self, rows: pd.DataFrame) -> tuple[I64, Features]:
        """The canonical positions of the rows, ascending, and their features in that order."""
        rows = rows.sort_values("pos").reset_index(drop=True)
        t, names = self.vocabs
        feats = stages.assemble_features(rows, t, names, self.boilerplate, self.settings.num_perm)
        return rows["pos"].to_numpy(np.int64), feats


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
