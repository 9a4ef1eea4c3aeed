"""Stages over batches: the same result whatever the batching, and the same as the whole-corpus path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import storyclust
from storyclust import find_boilerplate, stages
from storyclust.features import Features, line_hash
from storyclust.links import Links, find_candidates
from storyclust.pipeline import _canonical_order
from storyclust.settings import Settings
from storyclust.similarity import band_candidates, band_keys

from .corpora import CORPUS


def _corpus() -> list[storyclust.Article]:
    arts = storyclust.to_articles(CORPUS)
    return [arts[int(p)] for p in _canonical_order(arts)]


def _batches(cols: dict[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    n = len(cols["key"])
    return [{k: v[s : s + size] for k, v in cols.items()} for s in range(0, n, size)]


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_boilerplate_summed_over_batches_is_find_boilerplate() -> None:
    arts = _corpus()
    cols = stages.articles_columns(arts)
    for size in (1, 3, len(arts)):
        counts = _concat([stages.line_counts(b) for b in _batches(cols, size)])
        expected = frozenset(line_hash(x) for x in find_boilerplate(arts))
        assert expected and stages.boilerplate_from_counts(counts, len(arts)) == expected


@pytest.mark.parametrize("size", [1, 2, 5])
def test_features_do_not_depend_on_the_batching(size: int) -> None:
    arts, s = _corpus(), Settings()
    cols = stages.articles_columns(arts)
    whole = stages.corpus_features(arts, s)
    boiler = whole.boilerplate
    parts = _batches(cols, size)
    tokens = [stages.tokenize_batch(b, s, boiler) for b in parts]
    freq = _concat([stages.document_frequencies(t) for t in tokens])
    text_vocab, names_vocab = stages.vocabularies(freq, len(arts))
    rows = _concat(
        [stages.article_features(b, t, text_vocab, names_vocab, s) for b, t in zip(parts, tokens)]
    )
    got = stages.assemble_features(rows, text_vocab, names_vocab, boiler, s.num_perm)
    assert np.array_equal(got.term_hashes, whole.term_hashes)
    for name in ("tfidf", "names"):
        a, b = getattr(got, name), getattr(whole, name)
        assert a.shape == b.shape
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        assert np.array_equal(a.data, b.data)  # bit for bit
    assert np.array_equal(got.signatures, whole.signatures)
    assert got.titles == whole.titles
    assert np.array_equal(got.days, whole.days, equal_nan=True)


def test_grouped_band_keys_give_the_lsh_candidates() -> None:
    arts, s = _corpus(), Settings()
    f = stages.corpus_features(arts, s)
    rows = stages.band_key_rows(np.arange(len(arts)), list(f.signatures), f.has_shingles, s)
    groups: dict[tuple[int, int], list[int]] = {}
    for p, b, k in zip(rows["pos"], rows["band"], rows["key"]):
        groups.setdefault((int(b), int(k)), []).append(int(p))
    found = [stages.bucket_pairs(g) for g in groups.values()]
    got = np.unique(np.concatenate(found), axis=0) if found else np.zeros((0, 2), dtype=np.int64)
    bands, r = s.lsh_bands_rows
    expected = band_candidates(band_keys(f.signatures, bands, r), valid=f.has_shingles)
    assert np.array_equal(got.reshape(-1, 2), expected)
    assert set(map(tuple, expected.tolist())) <= set(map(tuple, find_candidates(f, s).tolist()))


def test_bucket_pairs_all_pairs_then_a_chain() -> None:
    assert stages.bucket_pairs([7, 3, 5]).tolist() == [[3, 5], [3, 7], [5, 7]]
    big = stages.bucket_pairs(np.arange(stages.MAX_BUCKET_SIZE + 1)[::-1])
    assert len(big) == stages.MAX_BUCKET_SIZE
    assert big[:2].tolist() == [[0, 1], [1, 2]]
    assert stages.bucket_pairs([4]).shape == (0, 2)


def test_canonical_key_is_the_cluster_order() -> None:
    arts = storyclust.to_articles(CORPUS)
    keys = [(stages.canonical_key(a), a.id) for a in arts]
    assert [arts[int(p)].id for p in _canonical_order(arts)] == [i for _, i in sorted(keys)]


def test_parse_records_needs_ids() -> None:
    with pytest.raises(ValueError, match="must carry an 'id' column"):
        stages.parse_records({"title": ["A"], "text": ["b"]})
    cols = stages.parse_records({"id": ["x"], "headline": ["A quake"], "body": ["It shook."]})
    assert cols["title"].tolist() == ["A quake"] and cols["text"].tolist() == ["It shook."]


@pytest.mark.parametrize("batch_size", [1, 3, 4])
def test_corpus_features_do_not_depend_on_the_batch_size(batch_size: int) -> None:
    arts, s = _corpus(), Settings()
    whole = stages.corpus_features(arts, s)
    done: list[int] = []
    got = stages.corpus_features(arts, s, batch_size=batch_size, progress=done.append)
    assert sum(done) == 3 * len(arts)  # three passes over every article
    assert got.boilerplate == whole.boilerplate
    assert np.array_equal(got.term_hashes, whole.term_hashes)
    for name in ("tfidf", "names"):
        a, b = getattr(got, name), getattr(whole, name)
        assert (a != b).nnz == 0 and a.shape == b.shape
    assert np.array_equal(got.signatures, whole.signatures)
    assert np.array_equal(got.has_shingles, whole.has_shingles)
    assert np.array_equal(got.lengths, whole.lengths)
    assert got.titles == whole.titles


@pytest.mark.parametrize("shards", [1, 3, 64])
def test_sharded_buckets_give_the_lsh_candidates(shards: int) -> None:
    arts, s = _corpus(), Settings()
    f = stages.corpus_features(arts, s)
    rows = stages.band_key_rows(np.arange(len(arts)), list(f.signatures), f.has_shingles, s)
    shard = stages.bucket_shard(rows["band"], rows["key"], shards)
    found = [
        stages.shard_pairs(
            rows["pos"][shard == g], rows["band"][shard == g], rows["key"][shard == g]
        )
        for g in range(shards)
    ]
    got = np.unique(np.concatenate(found), axis=0).reshape(-1, 2)
    bands, r = s.lsh_bands_rows
    assert np.array_equal(
        got, band_candidates(band_keys(f.signatures, bands, r), valid=f.has_shingles)
    )
    assert len(got)  # the corpus has near-duplicates


def _every_pair_linked(s: Settings) -> tuple[Features, Links]:
    """The test corpus's features, and every pair of it scored (links at or above the settings')."""
    from storyclust.links import score_links

    arts = _corpus()
    feats = stages.corpus_features(arts, s)
    n = len(arts)
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64)
    return feats, score_links(feats, pairs, s)


@pytest.mark.parametrize("keep", [3, 64])
def test_group_scores_of_small_components_are_dense_scores(
    monkeypatch: pytest.MonkeyPatch, keep: int
) -> None:
    from storyclust.links import dense_scores

    s = Settings(link_threshold=0.05)
    feats, links = _every_pair_linked(s)
    monkeypatch.setattr(stages.GroupScores, "_KEEP", keep)
    scores = stages.GroupScores(feats, links, s)
    sizes = np.bincount(scores.component)
    assert sizes.max() >= 3  # the corpus links into groups worth scoring
    for c in np.flatnonzero(sizes >= 2):
        members = np.flatnonzero(scores.component == c)
        # Scored in one batch (components of 3 to keep) or one by one: the same scores.
        np.testing.assert_allclose(
            scores(members), dense_scores(feats, members, links, s), rtol=0, atol=1e-12
        )
        part = members[::2]  # a story inside the component
        if len(part) >= 2:
            np.testing.assert_allclose(
                scores(part), dense_scores(feats, part, links, s), rtol=0, atol=1e-12
            )
    batched = [k for k in scores.cache if 3 <= len(k) // 8 <= keep]
    assert len(batched) == int(((sizes >= 3) & (sizes <= keep)).sum())


def test_condensed_scores_are_the_dense_matrix_condensed(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.spatial.distance import squareform

    import storyclust.links as links_mod
    import storyclust.stories as stories_mod
    from storyclust.links import condensed_scores, dense_scores

    s = Settings(link_threshold=0.05)
    feats, links = _every_pair_linked(s)
    n = len(feats.days)
    members = np.arange(n, dtype=np.int64)
    for cells in (1 << 21, 5):  # one block, or a row or so a block
        monkeypatch.setattr(links_mod, "_BLOCK_CELLS", cells)
        dense = dense_scores(feats, members, links, s)
        assert np.array_equal(condensed_scores(feats, members, links, s), squareform(dense))
    # The stories stage gives the same stories through either form.
    whole, scores, _, _ = stages.partition(feats, links, s)
    sizes = np.bincount(scores.component)
    assert len(np.unique(whole)) < n  # groups were cut, not all singletons
    # Every group through the condensed form, or the larger ones only (both in one run).
    for large in (2, int(np.sort(sizes)[-2])):
        monkeypatch.setattr(stories_mod, "LARGE_GROUP", large)
        through_condensed, _, _, _ = stages.partition(feats, links, s)
        assert whole.tolist() == through_condensed.tolist()


def test_frequencies_from_term_entries_are_document_frequencies() -> None:
    s = Settings()
    cols = stages.articles_columns(_corpus())
    t = stages.tokenize_batch(cols, s, frozenset())
    text = stages._Terms.of(t.term_hashes, t.term_counts, t.term_offsets)
    names = stages._Terms.of(t.name_hashes, t.name_counts, t.name_offsets)
    got, want = stages._frequencies(text, names), stages.document_frequencies(t)
    assert want["df"].max() > 1  # some term is in several articles
    for k in ("field", "term", "df"):
        assert got[k].tolist() == want[k].tolist()


# --- The later stages in parts (how the Ray path cuts them): time blocks, component groups ---


def _dated_corpus() -> tuple[Features, Settings]:
    """600 synthetic articles over 60 days: some undated, some sharing a time exactly."""
    import dataclasses
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from scale_corpus import records

    recs = records(600, seed=5, days=60.0)
    for k, r in enumerate(recs):
        if k % 11 == 0:
            del r["published"]
        elif k % 7 == 0:
            r["published"] = r["published"][:10]  # midnight: ties in time
    s = Settings()
    feats = stages.corpus_features(storyclust.to_articles(recs), s)
    assert np.isnan(feats.days).sum() > 20 and len(np.unique(feats.days)) < len(feats.days) - 55
    return dataclasses.replace(feats), s


def _rows(feats: Features, pos: np.ndarray) -> Features:
    """The features of the articles at `pos` (ascending), in that order."""
    import dataclasses

    return dataclasses.replace(
        feats,
        tfidf=feats.tfidf[pos],
        names=feats.names[pos],
        signatures=feats.signatures[pos],
        has_shingles=feats.has_shingles[pos],
        titles=[feats.titles[k] for k in pos],
        days=feats.days[pos],
        lengths=feats.lengths[pos],
    )


@pytest.mark.parametrize("n_blocks", [1, 4, 9])
def test_time_blocks_searched_apart_give_the_whole_corpus_pairs(
    monkeypatch: pytest.MonkeyPatch, n_blocks: int
) -> None:
    from storyclust import links

    # Tight bounds, so that hubs and the nearest-in-time window both matter.
    monkeypatch.setattr(links, "MAX_POSTINGS", 12)
    monkeypatch.setattr(links, "NEIGHBOR_NEARBY", 3)
    feats, s = _dated_corpus()
    n = len(feats.days)
    whole = links.text_neighbours(feats, s)
    assert len(whole) > n / 4
    # Hub terms from counts summed over parts, as the Ray path counts them.
    parts = [links.prefix_term_counts(feats.tfidf[lo : lo + 250]) for lo in range(0, n, 250)]
    hubs = links.hub_terms(
        np.concatenate([t for t, _ in parts]), np.concatenate([c for _, c in parts])
    )
    assert len(hubs)
    blocks = stages.time_blocks(feats.days, links.time_horizon(s), n_blocks)
    assert len(blocks) == min(n_blocks, n) + 1  # and the undated block
    rows, block = blocks.needed_by(feats.days, np.arange(n))
    owners = np.zeros(n, dtype=np.int64)
    found, held = [], []
    for k in range(len(blocks)):
        pos = np.unique(rows[block == k])
        own = blocks.owned(k, feats.days[pos], pos)
        owners[pos[own]] += 1
        held.append(len(pos))
        pairs = links.text_neighbours(_rows(feats, pos), s, search=own, hubs=hubs)
        found.append(pos[pairs])
    assert (owners == 1).all()  # each article searched by one block
    got = np.unique(np.concatenate(found), axis=0)
    assert np.array_equal(got, whole)
    if n_blocks > 1:  # a dated block holds only the articles near it in time
        assert min(held[: blocks.n_dated]) < n


def test_time_blocks_hold_the_articles_within_the_horizon() -> None:
    days = np.array([5.0, np.nan, 0.0, 0.0, 30.0, 2.0, 30.0, 60.0, 9.0])
    b = stages.time_blocks(days, 3.0, 3)
    rows, block = b.needed_by(days, np.arange(len(days)))
    for k in range(b.n_dated):
        held = set(rows[block == k].tolist())
        own = np.flatnonzero(b.owned(k, days, np.arange(len(days))))
        for i in own:
            near = np.flatnonzero(np.isnan(days) | (np.abs(days - days[i]) <= 3.0))
            assert set(near.tolist()) <= held
    assert set(rows[block == b.n_dated].tolist()) == set(range(len(days)))
    assert b.held(days).tolist() == np.bincount(block, minlength=len(b)).tolist()
    # An infinite horizon: one dated block (every block would need everything).
    assert stages.time_blocks(days, np.inf, 3).n_dated == 1
    assert len(stages.time_blocks(np.full(3, np.nan), 3.0, 3)) == 1
    # Blocks of at least 2 x 3 days on average: 60 days make 10 at most.
    assert stages.time_blocks(np.linspace(0, 60, 100), 3.0, 50, min_span=6.0).n_dated == 10


def test_each_pair_is_scored_by_a_block_holding_both_articles() -> None:
    rng = np.random.default_rng(0)
    days = np.round(rng.random(300) * 90, 1)
    days[::13] = np.nan
    b = stages.time_blocks(days, 4.0, 6)
    pairs = np.unique(np.sort(rng.integers(0, 300, (400, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    where, extra = stages.assign_pairs(b, days, pairs)
    rows, block = b.needed_by(days, np.arange(300))
    held = {(int(r), int(k)) for r, k in zip(rows, block)} | {(int(p), int(k)) for p, k in extra}
    for (i, j), k in zip(pairs.tolist(), where.tolist()):
        assert (i, k) in held and (j, k) in held
    assert len(extra)  # random pairs far apart in time need extra articles
    assert len(extra) < len(pairs)


@pytest.mark.parametrize("n_groups", [1, 3])
@pytest.mark.parametrize("corpus", ["dated", "archive"])
def test_components_linked_in_groups_give_the_whole_partition(n_groups: int, corpus: str) -> None:
    """Each group's plan (both ways of the undated re-cut, and its stories' separations),
    with the verdict taken over every group's separations, gives the whole corpus's
    stories, as the Ray path assembles them. The archive: five running issues, which no
    group of three holds all of."""
    from storyclust.links import find_candidates, score_links
    from storyclust.stories import archive_verdict, number_by_first_appearance

    from .corpora import running_issues

    if corpus == "dated":
        feats, s = _dated_corpus()
    else:
        s = Settings()
        feats = stages.corpus_features(storyclust.to_articles(running_issues(5)), s)
    n = len(feats.days)
    links = score_links(feats, find_candidates(feats, s), s)
    whole, _, _, info = stages.partition(feats, links, s)
    assert info is not None and info["archive"] == (corpus == "archive")
    component, members, group = stages.component_groups(n, links, n_groups, s)
    raw = stages.small_component_labels(n, links, component, s)
    assert (raw[members] == -1).all() and (raw >= 0).sum() == n - len(members)
    sizes = np.bincount(component)
    assert (sizes[component[members]] >= 3).all() and len(np.unique(group)) == n_groups
    top = raw.max() + 1
    plans = []
    for g in range(n_groups):
        pos = members[group == g]
        _, _, plan = stages.partition_plan(_rows(feats, pos), stages.local_links(links, pos), s)
        assert plan is not None
        plans.append((pos, plan))
    seps = np.concatenate([plan.separation for _, plan in plans])
    verdict = archive_verdict(seps, s.recut_archive)
    assert verdict == info
    if corpus == "archive" and n_groups > 1:  # no group alone is an archive
        assert not any(archive_verdict(p.separation, s.recut_archive)["archive"] for _, p in plans)
    for g, (pos, plan) in enumerate(plans):
        raw[pos] = top + g * 2 * n + (plan.archive if verdict["archive"] else plan.gated)
    assert np.array_equal(number_by_first_appearance(raw), number_by_first_appearance(whole))


# --- Corpus counts summed in blocks, then in shards (how the Ray path reduces them) ---


def _cut(cols: dict[str, np.ndarray], n_blocks: int) -> list[dict[str, np.ndarray]]:
    """The articles cut into `n_blocks` blocks of uneven sizes (some may be empty)."""
    n = len(cols["key"])
    ends = np.sort(np.random.default_rng(n_blocks).integers(0, n + 1, size=n_blocks - 1))
    bounds = [0, *ends.tolist(), n]
    return [{k: v[a:b] for k, v in cols.items()} for a, b in itertools.pairwise(bounds)]


def _block_then_shards(
    blocks: list[list[dict[str, np.ndarray]]],
    keys: tuple[str, ...],
    value: str,
    carry: tuple[str, ...],
    shards: int,
) -> list[list[dict[str, np.ndarray]]]:
    """Each block's batch tables summed and dealt into shards; the shards' tables of every block."""
    out: list[list[dict[str, np.ndarray]]] = [[] for _ in range(shards)]
    for tables in blocks:
        if not tables:
            continue
        summed = stages.sum_counts(tables, keys, value, carry)
        assert len({tuple(r) for r in zip(*(summed[k].tolist() for k in keys))}) == len(
            summed[value]
        )  # one row a key
        for k, part in enumerate(stages.split_shards(summed, keys[0], shards)):
            out[k].append(part)
    return out


@pytest.mark.parametrize(("n_blocks", "shards"), [(1, 1), (2, 3), (5, 2), (7, 16)])
def test_counts_summed_in_blocks_and_shards_give_the_plain_boilerplate_and_vocabulary(
    n_blocks: int, shards: int
) -> None:
    arts, s = _corpus(), Settings()
    cols, n = stages.articles_columns(arts), len(arts)
    blocks = [_batches(b, 2) if len(b["key"]) else [] for b in _cut(cols, n_blocks)]

    lines = [[stages.line_counts(b) for b in block] for block in blocks]
    expected = stages.boilerplate_from_counts(_concat([t for b in lines for t in b]), n)
    by_shard = _block_then_shards(lines, ("line", "source"), "count", ("words",), shards)
    got = frozenset().union(*(stages.boilerplate_from_counts(_concat(p), n) for p in by_shard if p))
    assert expected and got == expected

    freqs = [
        [stages.document_frequencies(stages.tokenize_batch(b, s, got)) for b in block]
        for block in blocks
    ]
    want = stages.vocabularies(_concat([t for b in freqs for t in b]), n)
    by_shard = _block_then_shards(freqs, ("term", "field"), "df", (), shards)
    vocab = stages.vocabularies(_concat([t for p in by_shard for t in p]), n)
    for a, b in zip(vocab, want):
        assert np.array_equal(a.hashes, b.hashes) and np.array_equal(a.idf, b.idf)


@pytest.mark.parametrize(("n_blocks", "shards"), [(1, 1), (3, 2), (6, 5)])
def test_prefix_counts_summed_in_blocks_and_shards_give_the_hub_terms(
    n_blocks: int, shards: int
) -> None:
    from storyclust.links import MAX_POSTINGS, hub_terms

    rng = np.random.default_rng(shards)
    # Terms counted in many batches, some near MAX_POSTINGS in total.
    batches = [
        {
            "term": (t := np.unique(rng.integers(0, 400, size=150))),
            "count": rng.integers(1, MAX_POSTINGS // 11, size=len(t)),
        }
        for _ in range(60)
    ]
    whole = _concat(batches)
    expected = hub_terms(whole["term"], whole["count"])
    assert 0 < len(expected) < 400
    cut = np.sort(rng.integers(0, 61, size=n_blocks - 1)).tolist()
    blocks = [batches[a:b] for a, b in zip([0, *cut], [*cut, 60])]
    by_shard = _block_then_shards(blocks, ("term",), "count", (), shards)
    got = [hub_terms(_concat(p)["term"], _concat(p)["count"]) for p in by_shard if p]
    assert np.array_equal(np.sort(np.concatenate(got)), expected)


def test_sum_counts_is_a_plain_sum_per_key() -> None:
    rng = np.random.default_rng(0)
    outlets = np.array(["", "AP", "Reuters", "BBC"], dtype=object)
    tables = [
        {
            "line": rng.integers(-3, 3, size=m),
            "source": outlets[rng.integers(0, 4, size=m)],
            "count": rng.integers(1, 5, size=m),
        }
        for m in (0, 5, 40, 1)
    ]
    plain: dict[tuple[int, str], int] = {}
    for t in tables:
        for line, src, c in zip(t["line"].tolist(), t["source"].tolist(), t["count"].tolist()):
            plain[(line, src)] = plain.get((line, src), 0) + c
    got = stages.sum_counts(tables, ("line", "source"), "count")
    rows = list(zip(got["line"].tolist(), got["source"].tolist(), got["count"].tolist()))
    assert rows == sorted((line, src, c) for (line, src), c in plain.items())
    # Cut otherwise, the same table.
    again = stages.sum_counts([_concat(tables[::-1])], ("line", "source"), "count")
    assert all(np.array_equal(again[k], got[k]) for k in got)


def test_split_shards_keeps_each_key_in_one_shard() -> None:
    key = np.random.default_rng(1).integers(-(2**63), 2**63 - 1, size=500, dtype=np.int64)
    table = {"term": np.concatenate([key, key[:100]]), "df": np.arange(600)}
    parts = stages.split_shards(table, "term", 7)
    assert len(parts) == 7 and sum(len(p["term"]) for p in parts) == 600
    seen = [set(p["term"].tolist()) for p in parts]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])
    assert min(len(p["term"]) for p in parts) > 30  # the hash spreads the keys
    one = stages.split_shards({"term": key[:3], "df": np.arange(3)}, "term", 7)
    assert [p["term"].tolist() for p in one] == [
        [k for k in key[:3].tolist() if k in s] for s in seen
    ]
