"""storyclust.ray gives the same stories as storyclust.cluster, whatever the blocks.

Starts a local Ray with 2 CPUs for the module. Skipped only where Ray is not
installed and CI is not set (CI installs the ``ray`` extra and must run these).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import storyclust

if importlib.util.find_spec("ray") is None and not os.environ.get("CI"):
    pytest.skip('Ray is not installed (pip install "storyclust[ray]")', allow_module_level=True)

import pandas as pd
import ray

import storyclust.ray as sray
from storyclust.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STORYCLUST_DATA", ROOT.parent / "shared" / "data"))
needs_data = pytest.mark.skipif(
    not DATA.is_dir() and not os.environ.get("CI"), reason=f"labelled data not found at {DATA}"
)

# As the issue asks: 20k synthetic articles, through both paths (about three
# minutes for the two on two busy CPUs; see benchmarks/results/scale.md).
N_SYNTHETIC = 20_000


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def _same_partition(ids: list[str], labels: np.ndarray, out: Any) -> None:
    """The Ray output (id, story) splits `ids` exactly as `labels` does."""
    got = dict(zip(out["id"], out["story"]))
    assert sorted(got) == sorted(ids)
    pairs = {(int(a), int(got[i])) for i, a in zip(ids, labels)}
    # A bijection between the two labellings: each side's label appears once.
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


@needs_data
@pytest.mark.parametrize("blocks", [1, 4])
def test_labelled_file_same_stories(local_ray: None, tmp_path: Path, blocks: int) -> None:
    path = DATA / "allsides_neus_public.jsonl"
    expected = storyclust.cluster(storyclust.read_jsonl(path))
    ds = ray.data.read_json(str(path), lines=True).repartition(blocks)
    result = sray.cluster(ds, batch_size=300)
    out = result.to_pandas()
    _same_partition([a.id for a in expected.articles], expected.labels, out)
    assert sorted(out.columns) == ["id", "story"]
    assert out["story"].max() + 1 == expected.labels.max() + 1
    if blocks == 1:
        result.write_parquet(str(tmp_path / "stories"))
        back = ray.data.read_parquet(str(tmp_path / "stories")).to_pandas()
        assert dict(zip(back["id"], back["story"])) == dict(zip(out["id"], out["story"]))


def test_synthetic_corpus_same_stories(local_ray: None, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_corpus import records

    recs = records(N_SYNTHETIC, seed=3)
    expected = storyclust.cluster(recs)
    path = tmp_path / "synthetic.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    # From paths, cut in several blocks, with another batch size: the same stories.
    ds = ray.data.read_json(str(path), lines=True).repartition(3)
    out = sray.cluster(ds, batch_size=700).to_pandas()
    _same_partition([r["id"] for r in recs], expected.labels, out)


@pytest.mark.parametrize("partitions", [2, 5])
def test_work_is_cut_in_time_blocks_and_component_groups(local_ray: None, partitions: int) -> None:
    """No task holds the whole corpus, and the stories are still the single machine's.

    Articles over 60 days, some undated, some at the same instant, and reprints
    40 days after their original (near-duplicates further apart than the time
    horizon: a block must fetch their other article).
    """
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_corpus import records

    recs = records(800, seed=11, days=60.0)
    for k, r in enumerate(recs):
        if k % 17 == 0:
            del r["published"]
        elif k % 5 == 0:
            r["published"] = r["published"][:10]
    late = []
    for k in range(1, 800, 40):
        if "published" in recs[k]:
            when = datetime.fromisoformat(recs[k]["published"]) + timedelta(days=40)
            late.append(recs[k] | {"id": f"late{k}", "published": when.isoformat()})
    recs += late
    expected = storyclust.cluster(recs)
    stats: dict[str, float] = {}
    ids, labels = sray._stories(
        ray.data.from_items(recs).repartition(3), Settings(), 97, partitions, stats=stats
    )
    got = pd.DataFrame({"id": ids, "story": labels})
    _same_partition([r["id"] for r in recs], expected.labels, got)
    # At least two dated blocks (at most one a partition), and the undated block.
    assert 3 <= stats["blocks"] <= partitions + 1
    assert stats["largest dated block"] < len(recs)
    assert stats["far pairs"] > 0
    assert stats["largest group"] < len(recs)


@pytest.mark.parametrize(("blocks", "shards"), [(1, 1), (3, 2), (4, 5)])
def test_block_sums_in_shards_are_the_plain_counts(
    local_ray: None, blocks: int, shards: int
) -> None:
    """The counts each block sums and each shard task receives are the corpus's counts."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_corpus import records

    from storyclust import stages

    recs = records(300, seed=7)
    arts = (
        ray.data.from_items(recs)
        .repartition(blocks)
        .map_batches(sray._parse, batch_format="pandas", batch_size=41)
        .materialize()
    )
    cols = stages.parse_records(pd.DataFrame(recs))
    for count, how in (
        (stages.line_counts, sray._LINES),
        (
            functools.partial(sray._frequencies, settings=Settings(), boilerplate=frozenset()),
            sray._TERMS,
        ),
    ):
        summed = functools.partial(sray._summed, how=how)
        got = sray._concat(sray._sharded_sums(arts, count, how, summed, shards, 23))
        want = stages.sum_counts([count(cols)], how.keys, how.value, how.carry)
        again = stages.sum_counts([got], how.keys, how.value, how.carry)
        assert len(again[how.value]) == len(got[how.value])  # one row a key
        for k in (*how.keys, how.value, *how.carry):
            assert np.array_equal(again[k], want[k]), k


def test_blocks_dealt_into_shards_keep_every_row_once() -> None:
    """Blocks' rows dealt by shard: each row in its shard, in order; empty shards as None."""
    import pyarrow as pa

    table = pa.table({"pos": np.arange(7), "x": [f"r{k}" for k in range(7)]})
    shard = np.array([2, 0, 2, 2, 0, 0, 2])

    def split(blocks: list[pa.Table], k: int) -> list[pa.Table]:
        rows = pa.concat_tables(blocks)
        return sray._deal(rows, shard[rows["pos"].to_numpy()], k)

    parts = sray._split_block(split, 4, table)
    assert parts[1] is None and parts[3] is None
    assert parts[0]["pos"].to_pylist() == [1, 4, 5]
    assert parts[2]["x"].to_pylist() == ["r0", "r2", "r3", "r6"]
    # The same rows cut into three blocks (one empty) dealt by one task: the same parts.
    cut = (table.slice(0, 3), table.slice(3, 0), table.slice(3, 4))
    assert [p if p is None else p.to_pydict() for p in sray._split_block(split, 4, *cut)] == [
        p if p is None else p.to_pydict() for p in parts
    ]
    assert sray._split_block(lambda b, k: [b[0]] * k, 3, table.slice(0, 0)) == (None, None, None)
    assert sray._split_block(lambda b, k: [b[0]], 1, table) is table


@pytest.mark.parametrize("blocks", [1, 2, 5, 40])
@pytest.mark.parametrize("shards", [1, 3])
def test_exchange_runs_of_blocks_keep_input_order(
    local_ray: None, blocks: int, shards: int
) -> None:
    """However many blocks a map task takes, each shard gets its rows once, in input order."""
    import pyarrow as pa

    n = 97
    ds = ray.data.from_arrow(pa.table({"pos": np.arange(n)})).repartition(blocks).materialize()

    def split(bs: list[pa.Table], k: int) -> list[pa.Table]:
        rows = pa.concat_tables([sray._arrow(b) for b in bs])
        return sray._deal(rows, rows["pos"].to_numpy() % k, k)

    def reduce(parts: list[pa.Table]) -> list[int]:
        return [int(v) for p in parts for v in p["pos"].to_pylist()]

    got = sray._exchange(ds, split, reduce, shards)
    assert got == [[p for p in range(n) if p % shards == k] for k in range(shards)]


def test_story_numbers_do_not_depend_on_blocks(local_ray: None) -> None:
    recs = [
        {
            "id": "a",
            "title": "Quake of magnitude 7.1 hits Tokyo",
            "text": "A strong earthquake shook Tokyo.",
        },
        {
            "id": "b",
            "title": "Strong earthquake shakes Tokyo",
            "text": "A magnitude 7.1 quake hit Tokyo.",
        },
        {
            "id": "c",
            "title": "Parliament passes budget",
            "text": "The budget vote passed on Tuesday.",
        },
    ]
    one = sray.cluster(ray.data.from_items(recs)).to_pandas()
    three = sray.cluster(ray.data.from_items(recs).repartition(3), batch_size=1).to_pandas()
    as_dict = lambda df: dict(zip(df["id"], df["story"]))  # noqa: E731
    assert as_dict(one) == as_dict(three)
    assert as_dict(one)["a"] == as_dict(one)["b"] != as_dict(one)["c"]


@needs_data
def test_patterns_and_folders_of_files(local_ray: None, tmp_path: Path) -> None:
    rows = [json.loads(x) for x in (DATA / "allsides_neus_public.jsonl").read_text().splitlines()]
    rows = rows[:300]
    expected = storyclust.cluster(rows, progress=False)
    ids = [a.id for a in expected.articles]
    # JSONL in three files, named by a pattern; a file the pattern leaves out is not read.
    for k in range(3):
        with (tmp_path / f"part-{k}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows[k * 100 : (k + 1) * 100])
    (tmp_path / "other.jsonl").write_text('{"id": "x", "title": "left out"}\n', encoding="utf-8")
    out = sray.cluster(str(tmp_path / "part-*.jsonl")).to_pandas()
    _same_partition(ids, expected.labels, out)
    # A folder of Parquet files (as Ray writes them, with a _SUCCESS-style marker left out).
    pq = tmp_path / "pq"
    ray.data.from_items(rows).repartition(2).write_parquet(str(pq))
    (pq / "_SUCCESS").write_text("", encoding="utf-8")
    _same_partition(ids, expected.labels, sray.cluster(pq).to_pandas())
    with pytest.raises(FileNotFoundError, match="no matches"):
        sray.cluster(str(tmp_path / "nothing-*.jsonl"))
    with pytest.raises(ValueError, match="not both at once"):
        sray.cluster([str(tmp_path / "part-0.jsonl"), *map(str, sorted(pq.glob("*.parquet")))])


def test_records_need_ids(local_ray: None) -> None:
    with pytest.raises(ValueError, match="must carry an 'id' column"):
        sray.cluster(ray.data.from_items([{"title": "A", "text": "b"}]))


def test_duplicate_ids_and_bad_records_as_on_one_machine(local_ray: None) -> None:
    """A duplicate id in another batch is the InputError storyclust.cluster raises (Ray
    returned both rows); a bad record is a storyclust error naming its id, not a Ray one
    naming a position inside its batch."""
    rows = [{"id": f"r{k}", "title": f"Report {k} on the vote", "text": "Text."} for k in range(9)]
    dup = [*rows, {**rows[1], "title": "Another report"}]
    for batch_size in (2, 1024):
        with pytest.raises(
            storyclust.InputError,
            match=r"duplicate id 'r1' \((at least )?2 records carry it\); ids must be unique",
        ):
            sray.cluster(ray.data.from_items(dup), batch_size=batch_size)
    bad = [*rows, {"id": "empty", "title": "", "text": ""}]
    with pytest.raises(
        storyclust.InputError, match="the record with id 'empty': record has neither title nor text"
    ):
        sray.cluster(ray.data.from_items(bad), batch_size=4)


def test_wrong_input_type(local_ray: None) -> None:
    with pytest.raises(TypeError, match=r"ray\.data\.Dataset of articles, or JSONL / Parquet"):
        sray.cluster(42)


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"storyclust\[ray\]"):
        sray.cluster([])


def test_recut_size_gives_the_single_machines_stories(local_ray: None) -> None:
    from .corpora import WEEKLY_CLAIMS

    every = {"recut_size": 6, "recut_cohesion": 1.0}
    expected = storyclust.cluster(WEEKLY_CLAIMS, progress=False, **every)
    assert expected.n_stories == 4
    ds = ray.data.from_items(WEEKLY_CLAIMS).repartition(3)
    out = sray.cluster(ds, batch_size=5, **every).to_pandas()
    _same_partition([a["id"] for a in WEEKLY_CLAIMS], expected.labels, out)


def test_an_archive_is_read_from_every_group_as_on_one_machine(local_ray: None) -> None:
    """Five running issues dealt into groups of whole components: no group holds the five
    stories an archive needs, so the verdict must be the corpus's, taken on the driver."""
    from .corpora import running_issues

    five = running_issues(5)
    expected = storyclust.cluster(five, progress=False)
    assert expected.recut_info is not None and expected.recut_info["archive"]
    assert expected.n_stories == 20
    stats: dict[str, float] = {}
    ids, labels = sray._stories(
        ray.data.from_items(five).repartition(3), Settings(), 7, 4, stats=stats
    )
    assert stats["linked groups"] >= 2 and stats["largest group"] < 5 * 12
    assert stats["read as an archive"] == 1.0
    _same_partition(
        [a["id"] for a in five], expected.labels, pd.DataFrame({"id": ids, "story": labels})
    )
    # And not read as one when the bar is off: five stories, as on one machine.
    _, whole = sray._stories(
        ray.data.from_items(five).repartition(3),
        Settings(recut_archive=math.inf),
        7,
        4,
        stats=stats,
    )
    assert len(set(whole.tolist())) == 5 and stats["read as an archive"] == 0.0
