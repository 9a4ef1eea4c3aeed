"""StoryIndex: streaming assignment, persistence, remove and expire, safety, the CLI.

The quality test reads the labelled files in ../shared/data (or STORYCLUST_DATA),
as tests/test_quality.py does.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

import storyclust
import storyclust._index_assign
from storyclust import (
    InputError,
    InputTypeError,
    SettingsError,
    StoryIndex,
)
from storyclust._index_assign import _cut, _linkage_matrix
from storyclust._index_kernels import (
    candidate_stories,
    components,
    cosine_matrix,
    cut_distances,
    cut_labels,
    cut_roots,
    eligible,
    join_segments,
    linkage_by,
    neighbours,
    pair_scores,
    pair_signals,
    postings,
    row_norms,
    segment,
    story_members,
    term_counts,
    time_overs,
    work_space,
)
from storyclust._index_state import N_TERMS, _time_factor, strip_known
from storyclust.cli import main
from storyclust.features import strip_lines
from storyclust.links import Links, combine_scores, time_factor
from storyclust.metrics import evaluate
from storyclust.similarity import band_keys, top_per_row
from storyclust.stages import article_names
from storyclust.stories import group_links, number_by_first_appearance
from storyclust.text import hash_strings, names_and_numbers

from .corpora import (
    CHILE_QUAKE,
    CHILE_QUAKE_2,
    CORPUS,
    GOLD,
    JAPAN_INDEPENDENT,
    JAPAN_REUTERS,
)

DATA = Path(
    os.environ.get("STORYCLUST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
needs_data = pytest.mark.skipif(
    not DATA.is_dir() and not os.environ.get("CI"), reason=f"labelled data not found at {DATA}"
)

WA = [
    "alpine",
    "glacier",
    "melt",
    "accelerates",
    "across",
    "swiss",
    "valleys",
    "researchers",
    "measured",
    "record",
    "losses",
    "summer",
    "heatwave",
]
WB = [
    "coral",
    "reef",
    "bleaching",
    "spreads",
    "along",
    "australian",
    "coast",
    "divers",
    "observed",
    "widespread",
    "damage",
    "ocean",
    "warming",
]
VOLCANO = [
    "volcano erupts iceland ash cloud grounds flights airports closed travellers stranded",
    "volcano erupts iceland lava flows toward fishing town residents evacuated homes",
    "lava flows toward fishing town residents evacuated homes grindavik barriers built",
    "lava flows toward fishing town residents evacuated homes grindavik barriers hold",
]
LONG = (
    "Rescuers searched the rubble of the collapsed market in Mamuju for survivors on Friday, as "
    "aftershocks shook the city and officials warned of more damage to come in West Sulawesi."
)


def _day(n: float) -> str:
    return (datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(days=n)).isoformat()


def _labels(index: StoryIndex, records: list[dict[str, Any]]) -> list[int]:
    return index.labels([r["id"] for r in records])


def _same_partition(a: list[int], b: list[int]) -> bool:
    return number_by_first_appearance(a).tolist() == number_by_first_appearance(b).tolist()


# --- assignment ----------------------------------------------------------------------------


def test_add_assigns_each_article_in_input_order() -> None:
    index = StoryIndex()
    out = index.add(CORPUS)
    assert [a.article_id for a in out] == [r["id"] for r in CORPUS]
    assert len(index) == len(CORPUS)
    gold = [GOLD[r["id"]] for r in CORPUS]
    assert _same_partition(_labels(index, CORPUS), number_by_first_appearance(gold).tolist())
    first = {}
    for a in out:
        if a.new_story:
            assert a.link is None and a.story_id not in first
            first[a.story_id] = a.article_id
        else:
            assert a.link is not None and a.link["a"] == a.article_id
            assert a.score >= index.settings.threshold


def test_stream_matches_batch_on_the_test_corpus() -> None:
    index = StoryIndex()
    for rec in sorted(CORPUS, key=lambda r: r.get("published") or ""):
        index.add([rec])
    batch = storyclust.cluster(CORPUS, progress=False)
    assert _same_partition(_labels(index, CORPUS), batch.labels.tolist())


def test_link_has_the_signals_of_batch_links() -> None:
    index = StoryIndex()
    index.add([storyclust.read_jsonl] and CORPUS[:2])
    out = index.add([{"id": "x", "title": CORPUS[0]["title"], "text": CORPUS[0]["text"]}])
    batch_keys = set(storyclust.cluster(CORPUS, progress=False).links[0]) - {"same_story"}
    assert out[0].link is not None and set(out[0].link) == batch_keys
    assert out[0].link["near_duplicate"] is True


def test_near_duplicate_joins_whatever_the_time_gap() -> None:
    index = StoryIndex()
    index.add([{"id": "a", "text": LONG, "published": _day(0)}])
    index.add([{"id": "b", "text": "Filler about a budget vote.", "published": _day(60)}])
    out = index.add([{"id": "c", "text": LONG + " (AFP)", "published": _day(120)}])
    assert out[0].story_id == index.story_of("a") and out[0].link["near_duplicate"]


def test_rewrites_far_apart_in_time_open_new_stories() -> None:
    index = StoryIndex()
    index.add([JAPAN_REUTERS])
    assert index.add([{**JAPAN_INDEPENDENT, "id": "late", "published": _day(400)}])[0].new_story
    assert not index.add([JAPAN_INDEPENDENT])[0].new_story


def test_undated_articles_are_never_penalised_by_time() -> None:
    index = StoryIndex()
    index.add([{**JAPAN_REUTERS, "published": None}])
    index.add(
        [{"id": f"f{k}", "text": f"Filler {k} on rates.", "published": _day(k)} for k in range(30)]
    )
    dated = {**JAPAN_INDEPENDENT, "published": _day(400)}
    assert index.add([dated])[0].story_id == index.story_of(JAPAN_REUTERS["id"])
    # An undated article meets the dated ones within the horizon of the newest date.
    index.add([{**CHILE_QUAKE, "published": _day(399)}])
    out = index.add([{**CHILE_QUAKE_2, "published": None}])
    assert out[0].story_id == index.story_of(CHILE_QUAKE["id"])


def test_a_late_article_finds_its_story_in_the_database(tmp_path: Path) -> None:
    index = StoryIndex(tmp_path / "late.db")
    index.add([{**JAPAN_REUTERS, "published": _day(0)}])
    later = [
        {"id": f"f{k}", "text": f"Market filler number {k}.", "published": _day(30 + k)}
        for k in range(40)
    ]
    index.add(later)
    assert 0 not in index._pool.slot_of  # the first article left memory
    late = {**JAPAN_INDEPENDENT, "published": _day(0.2)}
    assert index.add([late])[0].story_id == index.story_of(JAPAN_REUTERS["id"])


def test_bridging_article_merges_two_stories_into_the_older_id() -> None:
    index = StoryIndex()
    out = index.add(
        [
            {"id": "A", "text": " ".join(WA * 2)},
            {"id": "B", "text": " ".join(WB * 2)},
            {"id": "C", "text": " ".join(WA + WB)},
        ]
    )
    assert [a.story_id for a in out] == [0, 1, 0]
    assert out[2].merged == (1,)
    (event,) = index.events()
    assert (event.kind, event.story_id, event.other_id, event.article_id) == ("merge", 0, 1, "C")
    assert event.score >= index.settings.threshold
    assert index.get(1).story_id == 0 and index.get(0).merged_ids == [1]
    assert sorted(index.get(0).article_ids) == ["A", "B", "C"]
    assert index.events(since=event.seq) == []


def test_growing_story_is_recut_and_the_part_that_no_longer_belongs_split_off() -> None:
    index = StoryIndex()
    out = index.add([{"id": k, "text": t} for k, t in zip("abcd", VOLCANO)])
    assert [a.story_id for a in out] == [0, 0, 1, 1]
    assert out[2].split == (1,)
    (event,) = index.events()
    assert (event.kind, event.story_id, event.other_id) == ("split", 0, 1)
    assert event.score < index.settings.threshold
    assert index.get(0).article_ids == ["a"] and index.get(1).article_ids == ["b", "c", "d"]


def test_hub_terms_are_left_out_of_the_neighbour_search(monkeypatch: pytest.MonkeyPatch) -> None:
    index = StoryIndex()
    index.add([f"zebra {w}" for w in ("alpha", "bravo", "charlie", "delta", "echo")])
    assert index.query("zebra")  # found through the term all of them share
    monkeypatch.setattr(storyclust._index_assign, "_MAX_POSTINGS", 3)
    assert index.query("zebra") == []  # a hub now: not searched
    assert index.query("zebra alpha")[0].link["b"] == "0"  # rarer terms still are


def test_query_scores_as_add_decides_and_changes_nothing() -> None:
    records = sorted(CORPUS, key=lambda r: r.get("published") or "")
    index = StoryIndex()
    for rec in records:
        before = (len(index), index.stories())
        matches = index.query(rec)
        assert (len(index), index.stories()) == before
        out = index.add([rec])[0]
        if matches and matches[0].score >= index.settings.threshold:
            assert out.score == matches[0].score
            assert out.story_id == matches[0].story_id or out.merged or out.split
        else:
            assert out.new_story
    assert [m.score for m in index.query(CORPUS[0])] == sorted(
        (m.score for m in index.query(CORPUS[0])), reverse=True
    )


def test_stories_table() -> None:
    index = StoryIndex()
    index.add(CORPUS)
    stories = index.stories()
    assert sum(s.size for s in stories) == len(CORPUS)
    assert [s.story_id for s in stories] == sorted(s.story_id for s in stories)
    big = max(stories, key=lambda s: s.size)
    assert big.representative_id in big.article_ids and big.title
    assert big.first_seen <= big.last_seen and big.keywords
    assert json.loads(json.dumps(big.to_dict()))["size"] == big.size
    assert all(s.size >= 2 for s in index.stories(min_size=2))
    # One story type for batch and stream; cohesion from the pairs the index scored.
    assert isinstance(big, storyclust.Story) and storyclust.IndexStory is storyclust.Story
    assert 0.0 < big.cohesion <= 1.0 and big.weakest_link is None
    assert all(s.cohesion == 1.0 for s in stories if s.size == 1)
    batch = {tuple(sorted(s.article_ids)): s for s in storyclust.cluster(CORPUS).stories}
    for s in stories:
        twin = batch.get(tuple(sorted(s.article_ids)))
        if twin is not None:  # the same story: the same number of distinct reports
            assert s.n_reports == twin.n_reports
            assert s.cohesion <= twin.cohesion + 0.05
    earliest = StoryIndex(representative="earliest")
    earliest.add(CORPUS)
    for s in earliest.stories():
        dates = {r["id"]: r.get("published") or "~" for r in CORPUS}
        assert dates[s.representative_id] == min(dates[x] for x in s.article_ids)
    outlets = StoryIndex(representative=["BBC", "Reuters"])
    outlets.add(CORPUS)
    src = {r["id"]: r.get("source") for r in CORPUS}
    for s in outlets.stories():
        if "BBC" in {src[x] for x in s.article_ids}:
            assert src[s.representative_id] == "BBC"


def test_linkage_setting_changes_the_story_score() -> None:
    scores = {}
    for method in ("single", "average", "complete"):
        index = StoryIndex(linkage=method, threshold=0.05, link_threshold=0.05)
        index.add(CORPUS[:3])
        scores[method] = index.query(CORPUS[3])[0].score if index.query(CORPUS[3]) else 0.0
    assert scores["single"] >= scores["average"] >= scores["complete"]


# --- remove and expire --------------------------------------------------------------------


def test_remove_takes_articles_out_of_stories_and_counts() -> None:
    index = StoryIndex()
    index.add(CORPUS)
    twin = StoryIndex()
    gone = CORPUS[-1]["id"]
    twin.add(CORPUS[:-1])
    assert index.remove([gone]) == 1
    assert gone not in index and len(index) == len(CORPUS) - 1
    # Document frequencies follow: the index scores as one that never held it.
    probe = {"id": "probe", "title": CORPUS[0]["title"], "text": CORPUS[2]["text"]}
    assert [m.score for m in index.query(probe)] == [m.score for m in twin.query(probe)]
    sid = index.story_of(CORPUS[0]["id"])
    members = index.get(sid).article_ids
    assert index.remove(members) == len(members)
    with pytest.raises(KeyError, match=f"story {sid}: all its articles were removed or expired"):
        index.get(sid)
    with pytest.raises(KeyError, match=r"story 999: no such story"):
        index.get(999)
    assert index.remove([]) == 0


def test_remove_unknown_ids_removes_nothing() -> None:
    index = StoryIndex()
    index.add(CORPUS[:3])
    with pytest.raises(KeyError, match=r"not in the index: 'nope'; nothing was removed"):
        index.remove([CORPUS[0]["id"], "nope"])
    assert len(index) == 3 and CORPUS[0]["id"] in index
    with pytest.raises(InputTypeError, match=r"ids must be a list of article ids; got the string"):
        index.remove("abc")


def test_expire_removes_by_publication_time_and_undated_by_time_added() -> None:
    index = StoryIndex()
    index.add(
        [
            {"id": "old", "text": "Quake hits Tokyo", "published": "2024-01-01"},
            {"id": "new", "text": "Budget passes", "published": "2024-03-01"},
            {"id": "undated", "text": "Flood in Valencia"},
        ]
    )
    assert index.expire(datetime(2024, 2, 1)) == 1
    assert "old" not in index and "new" in index and "undated" in index
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert index.expire(soon.isoformat()) == 2 and len(index) == 0
    with pytest.raises(SettingsError, match=r"before must be a datetime, a date, an ISO 8601"):
        index.expire("yesterday")
    with pytest.raises(SettingsError, match=r"before must be a datetime"):
        index.expire(True)


# --- persistence ----------------------------------------------------------------------------


def _batches() -> list[list[dict[str, Any]]]:
    recs = sorted(CORPUS, key=lambda r: r.get("published") or "")
    return [recs[k : k + 3] for k in range(0, len(recs), 3)]


def test_reopened_index_gives_the_same_assignments(tmp_path: Path) -> None:
    memory = StoryIndex()
    expected = [memory.add(b) for b in _batches()]
    path = tmp_path / "news.db"
    got = []
    for b in _batches():
        with StoryIndex(path) as index:  # closed and reopened between batches
            got.append(index.add(b))
    assert got == expected
    reopened = StoryIndex.open(path)
    probe = {"id": "probe", "title": CORPUS[3]["title"], "text": CORPUS[4]["text"]}
    assert reopened.query(probe) == memory.query(probe)
    assert reopened.stories() == memory.stories()
    assert [(e.kind, e.story_id, e.other_id) for e in reopened.events()] == [
        (e.kind, e.story_id, e.other_id) for e in memory.events()
    ]


def _stored_state(index: StoryIndex) -> tuple[Any, ...]:
    """Frequencies, articles and centralities an index holds, stored and in memory."""
    pool = index._pool
    live = np.flatnonzero(pool.alive[: pool.n])
    stored = index._conn.execute(
        "SELECT row, coalesce(c.score, score_sum) FROM articles LEFT JOIN centrality c "
        "USING (row) ORDER BY row"
    ).fetchall()
    return (
        index._df[0].copy(),
        index._df[1].copy(),
        index._n_docs,
        {int(r): round(float(x), 9) for r, x in stored},
        {int(pool.row[k]): round(float(pool.score[k]), 9) for k in live.tolist()},
    )


@pytest.mark.parametrize("limit", [1, 150, 1 << 30])
def test_frequency_deltas_and_centrality_read_back_through_folds_and_removals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Frequencies stored as changes (folded into pages past a limit) and centralities
    updated beside the articles read back as the index that wrote them holds them."""
    import storyclust._index_store as store_module

    monkeypatch.setattr(store_module, "_MAX_DF_DELTAS", limit)
    memory = StoryIndex()
    path = tmp_path / "news.db"
    folded = 0
    for k, b in enumerate(_batches()):
        memory.add(b)
        with StoryIndex(path) as index:
            index.add(b)
            if k == len(_batches()) - 1:
                # Two articles whose centrality changed after they were added.
                gone = [
                    str(r[0])
                    for r in index._conn.execute(
                        "SELECT id FROM articles JOIN centrality USING (row) ORDER BY row LIMIT 2"
                    )
                ]
                assert index.remove(gone) == memory.remove(gone) == len(gone) == 2
            folded += not index._conn.execute("SELECT count(*) FROM df_deltas").fetchone()[0]
            n_changed = index._conn.execute("SELECT count(*) FROM centrality").fetchone()[0]
            assert not index._conn.execute(  # none left of the articles removed
                "SELECT count(*) FROM centrality WHERE row NOT IN (SELECT row FROM articles)"
            ).fetchone()[0]
        with StoryIndex.open(path, readonly=True) as reopened:
            df0, df1, n_docs, stored, held = _stored_state(reopened)
        m_df0, m_df1, m_n_docs, m_stored, m_held = _stored_state(memory)
        assert np.array_equal(df0, m_df0) and np.array_equal(df1, m_df1) and n_docs == m_n_docs
        assert stored == m_stored
        assert held and all(m_held.get(r, x) == x for r, x in held.items())
        assert all(stored[r] == x for r, x in held.items())
    # Every batch folds with a limit of 1, none with a large one; some centralities changed.
    assert folded == (len(_batches()) if limit == 1 else 0 if limit > 1e6 else folded)
    assert n_changed > 0
    with StoryIndex(path) as index:
        index.save()  # folds what is left
        assert index._conn.execute("SELECT count(*) FROM df_deltas").fetchone()[0] == 0
    with StoryIndex.open(path, readonly=True) as reopened:
        assert np.array_equal(_stored_state(reopened)[0], memory._df[0])
    assert StoryIndex.open(path).stories() == memory.stories()


def test_format_2_files_are_upgraded_when_opened_for_writing(tmp_path: Path) -> None:
    """A file as format 2 wrote it (frequencies in pages, centrality in the articles) opens."""
    from storyclust._index_store import _LAYOUT_2

    batches = _batches()
    path = tmp_path / "old.db"
    fresh = StoryIndex()
    with StoryIndex(path) as index:
        for b in batches[:3]:
            fresh.add(b)
            index.add(b)
        index.save()
    conn = sqlite3.connect(path)  # the same content, the way format 2 held it
    conn.executescript(
        "UPDATE articles SET score_sum = (SELECT score FROM centrality c WHERE c.row = "
        "articles.row) WHERE row IN (SELECT row FROM centrality);"
        "DROP TABLE centrality; DROP TABLE df_deltas;"
    )
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'format_version'")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'layout'", (json.dumps(_LAYOUT_2),))
    conn.commit()
    conn.close()
    with pytest.raises(SettingsError, match=r"index format 2 is upgraded to format 3 when it "):
        StoryIndex.open(path, readonly=True)
    with StoryIndex.open(path) as index:
        assert index.stories() == fresh.stories()
        assert [index.add(b) for b in batches[3:]] == [fresh.add(b) for b in batches[3:]]
    meta = dict(sqlite3.connect(path).execute("SELECT key, value FROM meta").fetchall())
    assert json.loads(meta["format_version"]) == storyclust.index.FORMAT_VERSION == 3
    assert StoryIndex.open(path, readonly=True).stories() == fresh.stories()


def test_save_copies_an_in_memory_index(tmp_path: Path) -> None:
    index = StoryIndex()
    index.add(CORPUS)
    target = index.save(tmp_path / "copy.db")
    assert not list(tmp_path.glob("*.tmp"))
    copy = StoryIndex.open(target)
    assert copy.stories() == index.stories() and len(copy) == len(index)
    with pytest.raises(SettingsError, match=r"an in-memory index needs a path to save to"):
        index.save()
    file_index = StoryIndex(tmp_path / "f.db")
    file_index.add(CORPUS[:2])
    assert file_index.save() == str(tmp_path / "f.db")


def test_save_copy_has_the_modes_of_a_new_file_and_names_a_missing_folder(tmp_path: Path) -> None:
    index = StoryIndex()
    index.add(CORPUS[:2])
    old = os.umask(0o022)
    try:
        new = index.save(tmp_path / "copy.db")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o644  # 0o666 less the umask, not 0o600
    os.chmod(new, 0o640)
    index.save(new)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o640  # a replaced file keeps its own
    with pytest.raises(
        FileNotFoundError, match=r"cannot write .*its directory .*missing'? does not exist"
    ):
        index.save(tmp_path / "missing" / "x.db")
    assert not list(tmp_path.rglob("*.tmp"))


def test_settings_are_stored_and_fixed_ones_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    StoryIndex(path, threshold=0.3, num_perm=64).close()
    with StoryIndex.open(path) as index:
        assert index.settings.threshold == 0.3 and index.settings.num_perm == 64
    with pytest.raises(
        SettingsError, match=r"built with num_perm=64 \(got 128\): these settings shape the stored"
    ):
        StoryIndex.open(path, num_perm=128)
    with StoryIndex.open(path, threshold=0.4) as index:  # a scoring setting may change
        assert index.settings.threshold == 0.4
    with StoryIndex.open(path) as index:
        assert index.settings.threshold == 0.4
    with StoryIndex.open(path, readonly=True, threshold=0.5) as index:
        assert index.settings.threshold == 0.5
    with StoryIndex.open(path) as index:
        assert index.settings.threshold == 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, r"threshold must be a number in \(0, 1\]; got 1.5"),
        ({"colour": "red"}, r"unknown setting\(s\) 'colour'"),
        ({"representative": len}, r"a StoryIndex cannot store a callable representative"),
        ({"recut_size": 10}, r"recut_size=10 is a setting of storyclust.cluster only"),
        ({"recut_cohesion": 1.0}, r"recut_cohesion=1.0 is a setting of storyclust.cluster only"),
        ({"recut_cohesion": 0}, r"recut_cohesion=0 is a setting of storyclust.cluster only"),
        ({"recut_archive": 3.4}, r"recut_archive=3.4 is a setting of storyclust.cluster only"),
        ({"max_story_members": 1}, r"max_story_members must be an integer >= 2; got 1"),
        ({"readonly": True}, r"readonly=True needs a path"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        StoryIndex(**kwargs)


def test_index_stores_the_undated_recut_as_off(tmp_path: Path) -> None:
    # The batch default re-cuts large undated stories at the end; an index cannot.
    assert storyclust.cluster(CORPUS, progress=False).settings["recut_size"] == 10
    path = tmp_path / "r.db"
    with StoryIndex(path) as index:
        assert index.settings.recut_size == 0
    with StoryIndex.open(path, recut_size=0) as index:  # off, as stored: accepted
        assert index.settings.recut_size == 0


def _tamper(path: Path, sql: str, *params: Any) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_newer_format_and_other_hash_scheme_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    StoryIndex(path).close()
    _tamper(path, "UPDATE meta SET value = '4' WHERE key = 'format_version'")
    with pytest.raises(SettingsError, match=r"index format 4 is newer than this storyclust"):
        StoryIndex.open(path)
    _tamper(path, "UPDATE meta SET value = '1' WHERE key = 'format_version'")
    with pytest.raises(SettingsError, match=r"index format 1 is older .* rebuild the index"):
        StoryIndex.open(path)
    path2 = tmp_path / "g.db"
    StoryIndex(path2).close()
    conn = sqlite3.connect(path2)
    scheme = json.loads(
        conn.execute("SELECT value FROM meta WHERE key='hash_scheme'").fetchone()[0]
    )
    conn.close()
    _tamper(
        path2,
        "UPDATE meta SET value = ? WHERE key = 'hash_scheme'",
        json.dumps({**scheme, "stop_words": "0123"}),
    )
    with pytest.raises(SettingsError, match=r"another hash scheme \(stop_words: index has '0123'"):
        StoryIndex.open(path2)
    path3 = tmp_path / "h.db"
    StoryIndex(path3).close()
    _tamper(path3, "UPDATE meta SET value = ? WHERE key = 'layout'", json.dumps({"tf": "<f8"}))
    with pytest.raises(SettingsError, match=r"the index stores its arrays as"):
        StoryIndex.open(path3)


def test_files_that_are_not_indexes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no index at .*missing.db"):
        StoryIndex.open(tmp_path / "missing.db")
    text = tmp_path / "notes.db"
    text.write_text("hello, not a database " * 100)
    with pytest.raises(InputError, match=r"not a storyclust index"):
        StoryIndex(text)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match=r"without the storyclust application id"):
        StoryIndex(other)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(InputError, match=r"not a storyclust index: the file is empty"):
        StoryIndex(empty, readonly=True)
    with pytest.raises(InputError, match=r"the folder .*nowhere' does not exist: create it") as err:
        StoryIndex(tmp_path / "nowhere" / "index.db")
    assert err.value.path == str(tmp_path / "nowhere" / "index.db")
    assert not (tmp_path / "nowhere").exists()


def test_an_altered_file_is_refused_and_never_runs_its_code(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with StoryIndex(path) as index:
        index.add(CORPUS[:2])
    _tamper(path, "CREATE TRIGGER evil AFTER INSERT ON articles BEGIN DELETE FROM articles; END")
    with pytest.raises(InputError, match=r"refusing to open an index holding trigger 'evil'"):
        StoryIndex.open(path)
    path2 = tmp_path / "u.db"
    with StoryIndex(path2) as index:
        index.add(CORPUS[:2])
    _tamper(path2, "UPDATE articles SET signature = x'00'")
    with pytest.raises(InputError, match=r"damaged index: signature has 1 bytes"):
        StoryIndex.open(path2)
    path3 = tmp_path / "v.db"
    with StoryIndex(path3) as index:
        index.add(CORPUS[:2])
    _tamper(path3, "UPDATE articles SET tf = ?", zlib.compress(b"\xff\xff\xff\xff\x01\x00"))
    with pytest.raises(InputError, match=r"damaged index: bad tf vector \(term ids out of"):
        StoryIndex.open(path3)
    path4 = tmp_path / "w.db"
    with StoryIndex(path4) as index:
        index.add(CORPUS[:2])
    bomb = zlib.compress(b"\0" * (8 * 2**20))  # would inflate past any real vector
    _tamper(path4, "UPDATE articles SET names = ?", bomb)
    with pytest.raises(InputError, match=r"damaged index: bad names vector \(wrong length\)"):
        StoryIndex.open(path4)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE meta SET value = '{' WHERE key = 'n_docs'", r"damaged index metadata"),
        ("DELETE FROM meta WHERE key = 'next_row'", r"damaged index metadata \(KeyError"),
        ("UPDATE meta SET value = '[1]' WHERE key = 'settings'", r"settings are not a mapping"),
        (
            "UPDATE meta SET value = '{\"threshold\": 7}' WHERE key = 'settings'",
            r"stored settings are not valid in this storyclust \(threshold must be a number in",
        ),
        ("UPDATE df_pages SET counts = x'00'", r"damaged index: df_pages has 1 bytes"),
        (
            "UPDATE df_pages SET page = 99999999 WHERE space = 0 AND page = "
            "(SELECT min(page) FROM df_pages WHERE space = 0)",
            r"damaged index: df page \(0, 99999999\)",
        ),
        ("UPDATE df_deltas SET counts = x'0000'", r"damaged index: df_deltas counts has 2 bytes"),
        (
            "UPDATE df_deltas SET counts = x'00000000'",
            r"damaged index: df_deltas counts has 4 bytes",
        ),
        ("UPDATE df_deltas SET terms = 7", r"damaged index: df_deltas terms is not a byte"),
        (
            "UPDATE df_deltas SET terms = x'ffffffff', counts = x'01000000'",
            r"damaged index: df delta of space",
        ),
        ("UPDATE df_deltas SET space = 5", r"damaged index: df delta of space 5"),
        ("UPDATE articles SET signature = 'text'", r"damaged index: signature is not a byte"),
        ("UPDATE articles SET tf = x'00'", r"damaged index: bad tf vector"),
    ],
)
def test_damaged_files_are_named(tmp_path: Path, sql: str, message: str) -> None:
    path = tmp_path / "d.db"
    with StoryIndex(path) as index:
        index.add(CORPUS[:2])
        index.save()  # frequencies in their pages
        index.add(CORPUS[2:3])  # and changes of them since
    _tamper(path, sql)
    with pytest.raises((InputError, SettingsError), match=message):
        StoryIndex.open(path)


def test_no_pickle_in_the_index_code() -> None:
    src = Path(storyclust.__file__).parent
    files = [src / "index.py", *sorted(src.glob("_index_*.py"))]
    assert len(files) >= 7  # index.py and its private modules (_index_store.py, ...)
    for path in files:
        text = path.read_text()
        for banned in ("import pickle", "pickle.", "marshal", "shelve", "eval(", "exec("):
            assert banned not in text, (path.name, banned)


def test_lsh_runs_find_exactly_the_articles_sharing_a_band_key(tmp_path: Path) -> None:
    recs = [r for r in CORPUS]
    index = StoryIndex(tmp_path / "x.db")
    for k in range(0, len(recs), 3):  # many small adds: runs are written and merged
        index.add(recs[k : k + 3])
    index.remove([recs[4]["id"]])
    assert len(index._runs.runs) < len(recs) // 3
    pool = index._pool
    rows = [int(pool.row[pool.slot_of[r]]) for r in sorted(pool.slot_of)]
    sig = pool.sig[[pool.slot_of[r] for r in rows]]
    keys = band_keys(sig, index._bands, index._rows_per_band)
    has = pool.has_sh[[pool.slot_of[r] for r in rows]]
    found = index._lsh_lookup(keys, has)
    for i in range(len(rows)):
        want = [
            rows[j] for j in range(len(rows)) if has[i] and has[j] and (keys[i] == keys[j]).any()
        ]
        assert found[i] == want
    reopened = StoryIndex.open(tmp_path / "x.db")
    assert reopened._lsh_lookup(keys, has) == found


def test_readonly_reader_sees_a_writers_commits(tmp_path: Path) -> None:
    path = tmp_path / "rw.db"
    writer = StoryIndex(path)
    writer.add(CORPUS[:2])
    reader = StoryIndex.open(path, readonly=True)
    assert len(reader) == 2
    writer.add(CORPUS[2:5])
    assert len(reader) == 5 and reader.stories() == writer.stories()
    assert reader.query(CORPUS[6]) == writer.query(CORPUS[6])
    with pytest.raises(SettingsError, match=r"opened with readonly=True; open it without to write"):
        reader.add(CORPUS[6:7])
    with pytest.raises(FileNotFoundError, match=r"no index at"):
        StoryIndex(tmp_path / "none.db", readonly=True)


def test_two_writers_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    a = StoryIndex(path)
    b = StoryIndex(path)
    a.add(CORPUS[:3])
    b.add(CORPUS[3:6])  # b reloads what a wrote before adding
    a.add(CORPUS[6:])
    single = StoryIndex()
    for part in (CORPUS[:3], CORPUS[3:6], CORPUS[6:]):
        single.add(part)
    assert len(a) == len(b) == len(CORPUS)
    assert a.stories() == b.stories() == single.stories()


_WRITER = textwrap.dedent(
    """
    import sys
    from storyclust import StoryIndex
    path, n_batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    index = StoryIndex(path)
    words = "quake flood vote market storm court strike fire rally trial".split()
    for b in range(n_batches):
        batch = [
            {"id": f"b{b}-{k}", "title": f"{words[k % 10]} report {b} {k}",
             "text": " ".join(words[(k + j) % 10] + str((b * size + k) % 97) for j in range(60))}
            for k in range(size)
        ]
        index.add(batch)
        print(f"committed {b}", flush=True)
    """
)


def test_a_writer_killed_mid_add_leaves_exactly_its_committed_batches(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    size = 300
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), "50", str(size)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.strip() == "committed 0"
    time.sleep(0.05)  # well inside the next add
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    index = StoryIndex.open(path)
    n = len(index)
    assert n % size == 0 and 1 <= n // size < 50
    held = {r[0] for r in index._conn.execute("SELECT id FROM articles")}
    assert held == {f"b{b}-{k}" for b in range(n // size) for k in range(size)}
    assert index._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sum(s.size for s in index.stories()) == n
    index.add([{"id": "after", "text": "the index still takes articles"}])
    assert len(index) == n + 1


# --- input errors ------------------------------------------------------------------------------


def test_add_and_query_input_errors() -> None:
    index = StoryIndex()
    index.add(CORPUS[:2])
    with pytest.raises(InputTypeError, match=r"a bare str"):
        index.add("Quake hits Tokyo")
    with pytest.raises(
        InputError,
        match=r"article id '.*' \(article 1 of \d+ in this add\) is already in the index",
    ):
        index.add([CORPUS[0], CORPUS[2]])
    assert len(index) == 2
    out = index.add([CORPUS[0], CORPUS[2]], errors="skip")
    assert [a.article_id for a in out] == [CORPUS[2]["id"]] and len(index) == 3
    # The article left out is counted and named, not lost silently.
    report = index.last_report
    assert (report.n_read, report.n_loaded, report.n_skipped) == (2, 1, 1)
    assert report.skipped[0].field == "id"
    assert f"article id {CORPUS[0]['id']!r} is already in the index" in str(report)
    # Bad records and held ids together; an Articles loaded before reports only this add.
    bad = [CORPUS[1], {"title": 5}, CORPUS[3]]
    index.add(bad, errors="skip")
    assert (index.last_report.n_read, index.last_report.n_loaded) == (3, 1)
    assert {s.field for s in index.last_report.skipped} == {"id", "title"}
    loaded = storyclust.to_articles(CORPUS[3:6])
    index.add(loaded[1:], errors="skip")
    assert (index.last_report.n_read, index.last_report.n_loaded) == (2, 2)
    assert index.add([]) == []
    with pytest.raises(InputTypeError, match=r"query takes one article; got a list"):
        index.query(CORPUS[:2])
    with pytest.raises(SettingsError, match=r"k must be an integer >= 1; got 0"):
        index.query(CORPUS[0], k=0)
    with pytest.raises(KeyError, match=r"not in the index: 'nope'"):
        index.story_of("nope")
    with pytest.raises(KeyError, match=r"not in the index: 'nope'"):
        index.labels(["nope"])


_LINE_PIECES = st.sampled_from(
    [
        "Related",
        "ARTICLES",
        "articles",
        "Read",
        "more",
        "É",
        "é",
        "東",
        " ",
        "  ",
        "\t",
        "\x1c",
        "x",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(_LINE_PIECES, max_size=6).map("".join), max_size=8),
    st.lists(st.lists(_LINE_PIECES, max_size=4).map("".join), max_size=4),
)
def test_strip_known_equals_strip_lines(lines: list[str], known_raw: list[str]) -> None:
    # The first-word shortcut for ASCII lines must drop exactly what normalising would.
    known = frozenset(storyclust.text.normalize(x) for x in known_raw)
    text = "\n".join(lines)
    assert strip_known(text, known) == strip_lines(text, known)


def test_strip_known_with_lines_sharing_their_first_words() -> None:
    # Known lines that start alike, and text lines that start as they do (the shortcut keys
    # on two words): only the lines equal to a known one once normalised go.
    known = frozenset({"ku da ju", "ku", "sign up for our newsletter", "sign up"})
    lines = ["Ku  DA ju", "ku da", "KU", "Ku da ju wo", "Sign up", "sign UP for our  newsletter",
             "Sign up for our newsletter today", "", "  ", "ku\tda\tju", "Kü da ju"]  # fmt: skip
    text = "\n".join(lines)
    assert strip_known(text, known) == strip_lines(text, known)
    assert strip_known(text, known).splitlines() == [
        "ku da", "Ku da ju wo", "Sign up for our newsletter today", "", "  ", "Kü da ju"
    ]  # fmt: skip


def test_boilerplate_is_learned_stored_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    footer = "Sign up for the Daily Brief newsletter to get our best stories every morning."
    with StoryIndex(path) as index:
        index.add(
            [
                {"id": f"x{k}", "source": "Daily", "text": f"Story {k} about {w}.\n{footer}"}
                for k, w in enumerate(["rates", "floods", "courts"])
            ]
        )
    with StoryIndex.open(path) as index:
        assert footer.casefold() in index._boiler
        out = index.add([{"id": "y", "source": "Other", "text": f"Elections in Chile.\n{footer}"}])
        assert out[0].new_story


# --- kernels and the batch equivalence ------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cut_is_the_batch_stories_stage(data: st.DataObject) -> None:
    m = data.draw(st.integers(2, 25))
    flat = data.draw(st.lists(st.floats(0, 1), min_size=m * m, max_size=m * m))
    x = np.array(flat).reshape(m, m)
    dense = np.triu(x, 1) + np.triu(x, 1).T
    method = data.draw(st.sampled_from(["average", "single", "complete"]))
    s = storyclust.index.Settings(linkage=method, threshold=data.draw(st.floats(0.15, 0.9)))
    iu = np.triu_indices(m, 1)
    keep = dense[iu] >= s.link_threshold
    z = np.zeros(int(keep.sum()))
    links = Links(np.stack(iu, 1)[keep].astype(np.int64), dense[iu][keep], z, z, z, z, z, z > 0)
    ref = group_links(
        m, links, threshold=s.threshold, method=method, similarity=lambda i: dense[np.ix_(i, i)]
    )
    assert _cut(dense, s).tolist() == number_by_first_appearance(ref).tolist()


def test_cut_takes_tied_merges_as_the_batch_does() -> None:
    # 1-5 and 1-6 tie at 1.0, and 6-12 sits at the threshold: which tie merges first
    # decides the stories. The batch cuts the component {1, 5, 6, 12} of the pairs at the
    # threshold on its own (article 0 joins it only through a weaker link); so does _cut.
    dense = np.zeros((13, 13))
    for (a, b), v in {(0, 12): 0.5, (1, 5): 1.0, (1, 6): 1.0, (6, 12): 0.75}.items():
        dense[a, b] = dense[b, a] = v
    s = storyclust.index.Settings(threshold=0.75)
    iu = np.triu_indices(13, 1)
    keep = dense[iu] >= s.link_threshold
    z = np.zeros(int(keep.sum()))
    links = Links(np.stack(iu, 1)[keep].astype(np.int64), dense[iu][keep], z, z, z, z, z, z > 0)
    ref = group_links(13, links, threshold=0.75, similarity=lambda i: dense[np.ix_(i, i)])
    got = _cut(dense, s).tolist()
    assert got == number_by_first_appearance(ref).tolist()
    assert got[1] == got[5] and got[6] == got[12] and got[1] != got[6]


_days = st.one_of(st.just(math.nan), st.floats(0, 30), st.integers(0, 30).map(float))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(_days, min_size=1, max_size=12),
    st.sampled_from([0.0, 2.0, 2.5, math.inf]),
    st.sampled_from([0.0, 3.0, math.inf]),
)
def test_time_factor_of_slots_equals_links_time_factor(
    days: list[float], window: float, decay: float
) -> None:
    day = np.array(days)
    a = np.arange(len(day), dtype=np.int64)[::2].copy()
    b = np.arange(len(day), dtype=np.int64)
    ref = time_factor(day[a][:, None], day[b][None, :], window=window, decay=decay)
    got = _time_factor(day, a, b, window, decay)
    assert got.tobytes() == ref.tobytes()
    over, anyover = time_overs(day, a, b, window)
    assert anyover == bool((over > 0).any())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cut_kernels_equal_the_numpy_expressions(data: st.DataObject) -> None:
    m = data.draw(st.integers(2, 20))
    flat = data.draw(st.lists(st.floats(0, 1), min_size=m * m, max_size=m * m))
    dense = np.array(flat).reshape(m, m)  # not necessarily symmetric
    np.fill_diagonal(dense, 0.0)
    lt = data.draw(st.sampled_from([0.1, 0.3, 0.6]))
    iu = np.triu_indices(m, 1)
    comp = components(dense >= lt)
    ref = np.clip(np.where(comp[:, None] == comp[None, :], 1.0 - dense, 1.0)[iu], 0.0, 1.0)
    y, low = cut_distances(dense, lt)
    assert y.tobytes() == ref.tobytes() and low == dense[iu].min()
    z = _linkage_matrix(y.copy(), m, "average")
    h = data.draw(st.floats(0, 1))
    assert cut_labels(z, m, h).tolist() == number_by_first_appearance(cut_roots(z, m, h)).tolist()


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_story_bookkeeping_kernels_equal_numpy(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40))
    day = np.array(data.draw(st.lists(_days, min_size=n, max_size=n)))
    story = np.array(data.draw(st.lists(st.integers(-1, 6), min_size=n, max_size=n)))
    alive = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pick = st.lists(st.integers(0, n - 1), max_size=n)
    nbr = np.array(data.draw(pick), dtype=np.int64)
    lsh = np.unique(np.array(data.draw(pick), dtype=np.int64))
    slot = data.draw(st.integers(0, n - 1))
    horizon = data.draw(st.sampled_from([0.0, 3.0, 8.9, math.inf]))
    floor = data.draw(st.sampled_from([-math.inf, 5.0]))
    # Candidates and their stories, as union1d and unique have them.
    cands = np.union1d(nbr, lsh)
    cands = cands[(cands < slot) & alive[cands]]
    st_ = story[cands]
    got_c, got_s = candidate_stories(nbr, lsh, slot, alive, story)
    assert got_c.tolist() == cands.tolist() and got_s.tolist() == np.unique(st_[st_ >= 0]).tolist()
    # Eligibility, as the numpy expressions have it.
    m = np.array(data.draw(pick), dtype=np.int64)
    ok = np.ones(len(m), dtype=bool)
    if math.isfinite(horizon) and len(m):
        md, x = day[m], day[slot]
        near = md >= floor if math.isnan(x) else np.abs(md - x) <= horizon
        ok = np.isnan(md) | near
        if len(lsh):
            ok |= lsh[np.minimum(np.searchsorted(lsh, m), len(lsh) - 1)] == m
    assert eligible(day, slot, m, horizon, floor, lsh).tolist() == ok.tolist()
    # Members of stories, grouped, with their linkage scores.
    sizes = np.array(data.draw(st.lists(st.integers(0, 5), min_size=1, max_size=5)))
    flat = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=int(sizes.sum()),
                                       max_size=int(sizes.sum()))), dtype=np.int64)  # fmt: skip
    owner = np.repeat(np.arange(len(sizes)), sizes)
    keep = eligible(day, slot, flat, horizon, floor, lsh) & (flat != slot)
    counts = np.bincount(owner[keep], minlength=len(sizes))
    got_m, got_o, got_n = story_members(flat, sizes, slot, day, horizon, floor, lsh)
    assert got_m.tolist() == flat[keep].tolist() and got_o.tolist() == owner[keep].tolist()
    assert got_n.tolist() == counts.tolist()
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=len(got_m),
                                         max_size=len(got_m))))  # fmt: skip
    sums = np.bincount(got_o, weights=scores, minlength=len(sizes))
    mean = np.divide(sums, counts, out=np.zeros(len(sizes)), where=counts > 0)
    assert linkage_by(scores, got_o, counts, 0).tobytes() == mean.tobytes()
    for code, ufunc, start in ((1, np.maximum, -np.inf), (2, np.minimum, np.inf)):
        ref = np.full(len(sizes), start)
        ufunc.at(ref, got_o, scores)
        ref[counts == 0] = 0.0
        assert linkage_by(scores, got_o, counts, code).tobytes() == ref.tobytes()


def test_kernels_agree_with_plain_numpy() -> None:
    rng = np.random.default_rng(0)
    n, terms = 40, 30
    rows = [
        np.sort(rng.choice(terms, size=int(rng.integers(0, 12)), replace=False)) for _ in range(n)
    ]
    lo = np.cumsum([0] + [len(r) for r in rows])[:-1].astype(np.int64)
    hi = (lo + [len(r) for r in rows]).astype(np.int64)
    idx = np.concatenate(rows).astype(np.int32)
    val = rng.uniform(1, 3, size=len(idx)).astype(np.float32)
    lg = rng.uniform(0, 2, size=terms)
    c = 3.0
    dense = np.zeros((n, terms))
    for r in range(n):
        dense[r, idx[lo[r] : hi[r]]] = val[lo[r] : hi[r]] * (c - lg[idx[lo[r] : hi[r]]])
    norms = np.linalg.norm(dense, axis=1)
    assert np.allclose(row_norms(np.arange(n), lo, hi, idx, val, lg, c), norms)
    unit = dense / np.maximum(norms, 1e-12)[:, None]
    a, b = np.arange(5), np.arange(n)
    assert np.allclose(
        cosine_matrix(a, b, lo, hi, idx, val, lg, c), np.clip(unit[a] @ unit.T, 0, 1)
    )
    # neighbours: exact scores over the inverted lists and the scanned tail alike
    q = unit[:3] * (c - lg)[None, :]
    q_idx = [np.flatnonzero(r) for r in q]
    q_ptr = np.cumsum([0] + [len(r) for r in q_idx]).astype(np.int64)
    queries = (
        q_ptr,
        np.concatenate(q_idx).astype(np.int32),
        np.concatenate([q[i, q_idx[i]] for i in range(3)]),
    )
    main = postings(lo, hi, idx, val, 0, 25, terms)
    tail = join_segments(
        [segment(lo, hi, idx, val, a, b) for a, b in ((25, 28), (28, 28), (28, 32))]
    )
    raw = dense / np.maximum(norms, 1e-12)[:, None] @ unit[:3].T
    for threads in (1, 2, 3):  # the same for any thread count
        found = neighbours(
            queries, np.full(3, math.nan), np.full(3, n), main, tail, 32, (lo, hi, idx, val), n,
            lg, c, np.ones(n, dtype=bool), np.full(n, math.nan), np.arange(n),
            horizon=math.inf, floor=-math.inf, cut=np.full(3, 0.2), k=5, n_threads=threads,
        )  # fmt: skip
        for i in range(3):
            want = [j for j in np.lexsort((np.arange(n), -raw[:, i])) if raw[j, i] >= 0.2][:5]
            assert found[i][found[i] >= 0].tolist() == want
        # In pieces (as the index searches beside its assignment loop), norms kept: the same.
        norms = np.full(n, -1.0)
        for first, last in ((0, 1), (1, 3)):
            piece = neighbours(
                queries, np.full(3, math.nan), np.full(3, n), main, tail, 32, (lo, hi, idx, val),
                n, lg, c, np.ones(n, dtype=bool), np.full(n, math.nan), np.arange(n),
                horizon=math.inf, floor=-math.inf, cut=np.full(3, 0.2), k=5, n_threads=threads,
                norms=norms, span=(first, last),
            )  # fmt: skip
            assert np.array_equal(piece[first:last], found[first:last])
            assert (piece[:first] == -1).all() and (piece[last:] == -1).all()
        assert np.allclose(
            norms[norms >= 0], row_norms(np.arange(n), lo, hi, idx, val, lg, c)[norms >= 0]
        )


def test_pair_signals_equal_the_separate_kernels() -> None:
    rng = np.random.default_rng(1)
    n, terms, perm = 30, 25, 16

    def rows(max_len: int) -> tuple[Any, ...]:
        rs = [
            np.sort(rng.choice(terms, int(rng.integers(0, max_len)), replace=False))
            for _ in range(n)
        ]
        lo = np.cumsum([0] + [len(r) for r in rs])[:-1].astype(np.int64)
        hi = (lo + [len(r) for r in rs]).astype(np.int64)
        idx = np.concatenate(rs).astype(np.int32)
        return lo, hi, idx, rng.uniform(1, 3, len(idx)).astype(np.float32), rng.uniform(0, 2, terms)

    tf, nm = rows(12), rows(4)
    sig = rng.integers(0, 3, size=(n, perm)).astype(np.uint32)
    has_sh = rng.random(n) < 0.8
    a, b = np.arange(7), np.arange(n)
    for x, y in ((a, b), (b, b)):
        cos, names, jac = pair_signals(x, y, tf, nm, 3.0, sig, has_sh)
        assert np.array_equal(cos, cosine_matrix(x, y, *tf[:4], tf[4], 3.0))
        want = cosine_matrix(x, y, *nm[:4], nm[4], 3.0)
        has = nm[1] > nm[0]
        want[~(has[x][:, None] & has[y][None, :])] = np.nan
        assert np.array_equal(names, want, equal_nan=True)
        same = (sig[x][:, None, :] == sig[y][None, :, :]).mean(axis=2)
        assert np.array_equal(jac, np.where(has_sh[x][:, None] & has_sh[y][None, :], same, 0.0))


def _title_rows(titles: list[str]) -> tuple[Any, Any, Any]:
    """Titles as pair_scores takes them: each one's distinct words, sorted, as code points."""
    keys = [" ".join(sorted(set(t.split()))) for t in titles]
    hi = np.cumsum([len(k) for k in keys]).astype(np.int64)
    chars = np.frombuffer("".join(keys).encode("utf-32-le"), dtype="<u4").copy()
    return hi - [len(k) for k in keys], hi, chars


def _headline_scores(a: Any, b: Any, titles: list[str]) -> Any:
    """The headline signal of pair_scores alone (the cosine, names, Jaccard and time ignored)."""
    n = len(titles)
    rows = (np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(0, np.int32))
    tf = (*rows, np.zeros(0, np.float32), np.zeros(1))
    sig, sh = np.zeros((n, 1), np.uint32), np.zeros(n, bool)
    out = pair_scores(
        a, b, tf, tf, 1.0, sig, sh, _title_rows(titles), np.zeros(n, np.int64), 0,
        np.ones((len(a), len(b))), (0.2, 0.4, 0.2, 0.8),
    )  # fmt: skip
    return out[2]


_WORDS = st.text(alphabet="abcdeéz東ü_9", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=24).map(" ".join), min_size=1, max_size=6))
def test_headline_kernel_equals_rapidfuzz_token_set_ratio(titles: list[str]) -> None:
    # Titles of many words (their differences past 64 characters), repeated words, non-ASCII.
    idx = np.arange(len(titles))
    want = cdist(titles, titles, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=1) / 100
    has = np.array([bool(t) for t in titles])
    want[~(has[:, None] & has[None, :])] = np.nan
    for a in (idx, idx[:1]):
        got = _headline_scores(a, idx if a is not idx else a, titles)
        assert np.array_equal(got, want[a], equal_nan=True)  # to the last bit


def test_pair_scores_equal_the_separate_signals_and_combine_scores() -> None:
    recs = [
        *CORPUS,
        {"id": "long", "title": " ".join(f"w{k} x{k % 7}" for k in range(40)), "text": "w1 w2"},
        {
            "id": "jp",
            "title": "東京で地震 Tokyo quake",
            "text": "東京で地震があった",
            "published": _day(3),
        },
        {"id": "short", "title": "Quake hits Tokyo", "text": "", "published": _day(9)},
        {"id": "untitled", "title": "", "text": "A strong earthquake shook Tokyo on Monday."},
    ]
    index = StoryIndex()
    index.add(recs)
    pool, s = index._pool, index.settings
    lg, c = index._lg, math.log1p(index._n_docs) + 1.0
    tf = (pool.tf_lo, pool.tf_hi, pool.tf.idx, pool.tf.val, lg[0])
    nm = (pool.nm_lo, pool.nm_hi, pool.nm.idx, pool.nm.val, lg[1])
    titles = (pool.hd_lo, pool.hd_hi, pool.hd.chars)
    weights = (
        s.headline_weight,
        s.headline_only_weight,
        s.names_weight,
        s.near_duplicate_threshold,
    )
    norms = (np.full(pool.n, -1.0), np.full(pool.n, -1.0))
    work = work_space(N_TERMS)
    every = np.arange(pool.n)
    seen = np.zeros(4, dtype=bool)  # a missing headline, headline-only pairs and others, time
    for a, b in ((every[:9], every), (every, every), (every[-3:], every[::-1].copy())):
        days = time_factor(
            pool.day[a][:, None], pool.day[b][None, :],
            window=s.time_window_days, decay=s.time_decay_days,
        )  # fmt: skip
        cos, names, jac = pair_signals(a, b, tf, nm, c, pool.sig, pool.has_sh)
        ta, tb = [pool.titles[k] for k in a], [pool.titles[k] for k in b]
        head = cdist(ta, tb, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=1) / 100.0
        head[~(np.array([bool(t) for t in ta])[:, None] & np.array([bool(t) for t in tb]))] = np.nan
        short = pool.n_tokens <= s.headline_only_words
        only = short[a][:, None] | short[b][None, :]
        near = np.where(jac >= s.near_duplicate_threshold, jac, 0.0)
        score = combine_scores(cos, head, names, days, near, s, headline_only=only)
        for cache in (None, norms, norms):  # a fresh cache, then one filled by the call before
            got = pair_scores(
                a, b, tf, nm, c, pool.sig, pool.has_sh, titles, pool.n_tokens,
                s.headline_only_words, days, weights, cache, work,
            )  # fmt: skip
            for x, y in zip(got, (score, cos, head, names, jac)):
                assert np.array_equal(x, y, equal_nan=True)  # to the last bit
        assert not work[0].any() and not work[1].any()  # the working space is left as found
        seen |= [np.isnan(head).any(), only.any(), not only.all(), (days < 1).any()]
    assert seen.all()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 9), max_size=15), min_size=1, max_size=6), st.integers(1, 3)
)
def test_term_counts_equal_numpy_unique(docs: list[list[int]], threads: int) -> None:
    ptr = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    terms = np.array([t for d in docs for t in d], dtype=np.int64)
    weight = (terms % 3 + 1).astype(np.int64)
    p, t, c = term_counts(ptr, terms, weight, threads)
    for k, d in enumerate(docs):
        u, inv = np.unique(np.array(d, dtype=np.int64), return_inverse=True)
        w = np.bincount(inv, weights=(u[inv] % 3 + 1)) if len(d) else np.zeros(0)
        assert t[p[k] : p[k + 1]].tolist() == u.tolist()
        assert c[p[k] : p[k + 1]].tolist() == w.astype(np.int64).tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), max_size=12), max_size=5), st.integers(1, 5))
def test_top_per_row_keeps_the_heaviest_ties_to_the_earlier(rows: list[list[int]], k: int) -> None:
    ptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    w = np.array([x for r in rows for x in r], dtype=np.float64)
    keep = np.ones(len(w), dtype=bool)
    for r in range(len(rows)):
        lo, hi = ptr[r], ptr[r + 1]
        if hi - lo > k:
            keep[lo + np.lexsort((np.arange(hi - lo), -w[lo:hi]))[k:]] = False
    assert top_per_row(ptr, w, k).tolist() == np.flatnonzero(keep).tolist()


_NAME_PIECES = st.sampled_from(
    ["The", "the", "A's", "it's", "Obama's", "He", "Mr", "IT'S", "X", "Chile", "O'Neil", "1,200",
     "3.5", "1:2", "7th", "_Foo", "2024", "end.", ". ", "! ", "\"Hi", "\n", "\n\n", " ", "\t",
     "\x1c", "-", ",", "a.b", "Jean-Luc", "é", "Zoë"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_NAME_PIECES, max_size=25), min_size=2, max_size=8))
def test_compiled_names_equal_names_and_numbers(pieces: list[list[str]]) -> None:
    # The index takes its names from the batch stage's article_names.
    docs = ["".join(p) for p in pieces]
    if len(docs) % 2:
        docs.append("")
    hashes, h_off = article_names(docs[0::2], docs[1::2])
    for k in range(len(docs) // 2):
        title, text = docs[2 * k], docs[2 * k + 1]
        want = hash_strings(names_and_numbers(text, title=title))
        assert sorted(hashes[h_off[k] : h_off[k + 1]].tolist()) == sorted(want.tolist())


def test_stream_signals_equal_the_batch_link_signals() -> None:
    recs = [r for r in CORPUS]
    index = StoryIndex()
    index.add(recs)  # one call: the batch's IDF
    batch = storyclust.cluster(recs, progress=False)
    pool = index._pool
    slot = {pool.ids[k]: k for k in range(pool.n)}
    for link in batch.links:
        a, b = np.array([slot[link["a"]]]), np.array([slot[link["b"]]])
        sig = index._signals(a, b)
        assert sig.cosine[0, 0] == pytest.approx(link["cosine"], abs=1e-3)
        assert sig.jaccard[0, 0] == pytest.approx(link["jaccard"], abs=1e-3)
        for key, arr in (("headline", sig.headline), ("names", sig.names)):
            if link[key] is None:
                assert math.isnan(arr[0, 0])
            else:
                assert arr[0, 0] == pytest.approx(link[key], abs=1e-3)
        assert sig.score[0, 0] == pytest.approx(link["score"], abs=1e-3)


# --- quality against batch, on the labelled sets -------------------------------------------------

FILES = ("ecbplus", "allsides_neus_public", "uci_news_aggregator_sample")


def _time_order(articles: storyclust.Articles) -> list[storyclust.Article]:
    """Dated articles by publication time; undated ones (no time to sort by) first, in file order."""
    return sorted(articles, key=lambda a: (a.published is not None, a.published or datetime.min))


@needs_data
@pytest.mark.parametrize("name", FILES)
def test_streaming_in_time_order_is_within_003_of_batch(name: str) -> None:
    articles = storyclust.read_jsonl(DATA / f"{name}.jsonl")
    gold = [a.extra["story"] for a in articles]
    batch = evaluate(gold, storyclust.cluster(articles, progress=False).labels)["pairwise_f1"]
    index = StoryIndex()
    order = _time_order(articles)
    for k in range(0, len(order), 50):  # each article assigned in turn; IDF per 50
        index.add(order[k : k + 50])
    stream = evaluate(gold, index.labels(articles.ids))["pairwise_f1"]
    assert stream >= batch - 0.03, (name, stream, batch)


# --- command line ---------------------------------------------------------------------------------


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    return path


def test_cli_index_add_stories_expire(corpus_file: Path, tmp_path: Path, capsys: Any) -> None:
    db = tmp_path / "cli.db"
    out = tmp_path / "out" / "assign.jsonl"
    assert (
        main(["index", "add", str(db), str(corpus_file), "-o", str(out), "--batch-size", "4"]) == 0
    )
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in CORPUS]
    assert "joined a story" in capsys.readouterr().err
    assert main(["index", "stories", str(db)]) == 0
    stories = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sum(s["size"] for s in stories) == len(CORPUS)
    table = tmp_path / "t.jsonl"
    assert main(["index", "stories", str(db), "-o", str(table), "--min-size", "2"]) == 0
    assert all(json.loads(x)["size"] >= 2 for x in table.read_text().splitlines())
    assert main(["index", "expire", str(db), "--before", "2021-10-12"]) == 0
    assert "removed" in capsys.readouterr().err
    assert main(["index", "add", str(db), str(corpus_file), "-q", "--errors", "skip"]) == 0


def test_cli_index_stories_into_a_closed_pipe_is_not_an_error(
    corpus_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    assert main(["index", "add", str(db), str(corpus_file), "-q"]) == 0
    cmd = [sys.executable, "-m", "storyclust.cli", "index", "stories", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before anything is written (| head -0)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == ""


def test_cli_index_errors(corpus_file: Path, tmp_path: Path, capsys: Any) -> None:
    db = tmp_path / "e.db"
    assert main(["index", "add", str(db), str(corpus_file), "-q"]) == 0
    assert main(["index", "add", str(db), str(corpus_file), "--set", "num_perm=64"]) == 2
    assert "built with num_perm=128 (got 64)" in capsys.readouterr().err
    assert main(["index", "add", str(db), str(corpus_file), "-q"]) == 2
    err = capsys.readouterr().err
    assert "is already in the index" in err and "pass --errors skip" in err
    # With --errors skip, what was left out is counted and named; nothing claims to be added.
    assert main(["index", "add", str(db), str(corpus_file), "--errors", "skip"]) == 0
    err = capsys.readouterr().err
    assert f"added 0 articles to {db}" in err
    assert f"skipped {len(CORPUS)} articles: article id {CORPUS[0]['id']!r} is already" in err
    assert main(["index", "add", str(db), str(corpus_file), "-o", str(corpus_file)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert main(["index", "stories", str(tmp_path / "none.db")]) == 2
    assert "'storyclust index add' creates one" in capsys.readouterr().err
    assert main(["index", "expire", str(db), "--before", "soon"]) == 2
    assert "before must be a datetime" in capsys.readouterr().err
    assert main(["index", "stories", str(tmp_path / "none.db")]) == 2
    assert "no index at" in capsys.readouterr().err
    assert main(["index", "add", str(db), str(corpus_file), "--batch-size", "0"]) == 2
    assert "--batch-size must be >= 1; got 0" in capsys.readouterr().err


def test_paths_that_are_no_file_and_ids_that_are_no_integer(tmp_path: Path) -> None:
    """An empty path is refused; ':memory:' is an in-memory index (save() needs a path);
    get() takes integers only (1.7 and True gave story 1)."""
    with pytest.raises(SettingsError, match="path is empty"):
        StoryIndex("")
    memory = StoryIndex(":memory:")
    memory.add(CORPUS[:3])
    with pytest.raises(SettingsError, match="an in-memory index needs a path to save to"):
        memory.save()
    assert len(StoryIndex.open(memory.save(tmp_path / "m.db"))) == 3
    for bad in (1.7, True, "1"):
        with pytest.raises(TypeError, match="story_id must be an integer"):
            memory.get(bad)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="no such story"):
        memory.get(10**20)
    assert memory.get(np.int64(0)).story_id == 0


def test_index_add_help_suggests_no_cluster_only_setting(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["index", "add", "--help"])
    assert "recut_cohesion" not in capsys.readouterr().out


def test_max_story_members_is_stored_like_a_setting(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    StoryIndex(path, max_story_members=5).close()
    with StoryIndex.open(path) as index:
        assert index._max_members == 5  # a reopened index assigns as the one that wrote it
    with StoryIndex.open(path, readonly=True, max_story_members=9) as reader:
        assert reader._max_members == 9  # for this handle only
    with StoryIndex.open(path, max_story_members=7):
        pass
    with StoryIndex.open(path) as index:
        assert index._max_members == 7
    assert StoryIndex()._max_members == 100
    cli = tmp_path / "cli.db"
    assert main(["index", "add", str(cli), "-q", "--max-story-members", "6", _jsonl(tmp_path)]) == 0
    with StoryIndex.open(cli) as index:
        assert index._max_members == 6
    bad = tmp_path / "bad.db"
    assert main(["index", "add", str(bad), "-q", "--max-story-members", "1", _jsonl(tmp_path)]) == 2
    assert not bad.exists()  # refused before the index was made


def _jsonl(tmp_path: Path) -> str:
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CORPUS[:2]))
    return str(path)


def test_settings_stored_by_one_handle_reach_the_others(tmp_path: Path) -> None:
    path = tmp_path / "st.db"
    writer = StoryIndex(path)
    writer.add(CORPUS[:2])
    reader = StoryIndex.open(path, readonly=True)
    own = StoryIndex.open(path, readonly=True, link_threshold=0.2)
    other = StoryIndex.open(path, threshold=0.5, linkage="single")
    other.add(CORPUS[2:4])
    assert len(reader) == 4 and reader.settings.threshold == 0.5
    assert reader.settings.linkage == "single"
    assert len(own) == 4 and own.settings.threshold == 0.5
    assert own.settings.link_threshold == 0.2  # its own change survives the reload
    writer.add(CORPUS[4:5])
    assert writer.settings.threshold == 0.5 and writer.settings.linkage == "single"
    for index in (writer, reader, own, other):
        index.close()
