"""The benchmark scripts run and report consistent figures (not how fast: see README).

benchmarks/ is not collected by pytest; these run its scripts' functions on a small stream so that
what README quotes from them keeps working.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_index
import cut_rules
import index_phases
import local_idf
import time_words


def test_bench_index_reports_quartiles_and_the_calling_thread(tmp_path: Path) -> None:
    res = bench_index.run_size(1500, batch=250, repeats=4, seed=0, folder=tmp_path)
    rates = res["add_articles_per_s_each"]
    assert len(rates) == 4
    q1, q3 = res["add_articles_per_s_quartiles"]
    assert min(rates) - 1 <= res["add_articles_per_s_min"] <= q1 <= res["add_articles_per_s_median"]
    assert res["add_articles_per_s_median"] <= q3 <= max(rates) + 1
    # The calling thread is one of the process's threads: never more CPU than the process.
    main_cpu = res["add_main_thread_cpu_ms_per_article_median"]
    assert 0 < main_cpu <= res["add_cpu_ms_per_article_median"] + 0.05
    assert 0.5 < res["stream_pairwise_f1"] <= 1.0


def test_bench_index_table_reads_old_results_without_the_new_columns(tmp_path: Path) -> None:
    old = {
        "n_held": 10_000,
        "add_articles_per_s_median": 1900.0,
        "add_articles_per_s_min": 1200.0,
        "add_ms_per_article_median": 0.526,
        "add_cpu_ms_per_article_median": 0.7,
        "fill_articles_per_s": 1800.0,
        "query_ms": 10.0,
        "peak_rss_mb": 800.0,
        "file_mb": 55.0,
        "file_kb_per_article": 3.4,
        "stream_pairwise_f1": 0.99,
        "loadavg_start_end": [0.5, 1.0],
    }
    new = {**old, "n_held": 100_000, "add_articles_per_s_quartiles": [1500.0, 2000.0]}
    new["add_main_thread_cpu_ms_per_article_median"] = 0.4
    out = tmp_path / "index.json"
    bench_index._write([old, new], {"seed": 0}, out)
    table = out.with_suffix(".md").read_text()
    assert "| 10,000 | 1,900 (1,200) | 0.526 (0.7) |" in table
    assert "| 100,000 | 1,900 (1,500-2,000; 1,200) | 0.526 (0.7; 0.4) |" in table
    assert json.loads(out.read_text())["results"][1]["rate_vs_smallest"] == 1.0


def test_index_phases_nest_and_leave_the_index_file_alone(tmp_path: Path) -> None:
    path = index_phases.fill(1200, tmp_path / "held.db", batch=300, seed=0)
    before = path.read_bytes()
    res = index_phases.run(path, batches=2, batch=200, seed=0)
    assert path.read_bytes() == before  # a copy is added to
    assert res["held"] == 1200
    ph = res["phases_ms_per_article"]
    for v in ph.values():
        assert v["wall"] >= 0 and v["cpu"] >= 0
        assert v["wait"] == pytest.approx(v["wall"] - v["cpu"], abs=2e-4)
    # Phases nest: add holds the others, the loop holds the scoring and the re-cuts.
    slack = 0.01
    assert ph["add"]["wall"] + slack >= ph["_prepare"]["wall"] + ph["_assign_each"]["wall"]
    assert ph["_assign_each"]["wall"] + slack >= ph["_score_stories"]["wall"] + ph["_recut"]["wall"]
    assert ph["_assign_each"]["wall"] > 0
    # The wrappers are gone afterwards, and the inherited phases inherited again.
    assert index_phases.StoryIndex.add.__name__ == "add"
    assert "_assign_each" not in index_phases.StoryIndex.__dict__


def test_bench_index_interleaved_times_each_size_in_turn(tmp_path: Path) -> None:
    rows = bench_index.interleave([600, 1200], batch=200, repeats=3, seed=0, folder=tmp_path)
    assert [r["n_held"] for r in rows] == [600, 1200]
    for r in rows:
        assert r["interleaved"] is True
        assert len(r["add_articles_per_s_each"]) == 3
        q1, q3 = r["rate_vs_smallest_paired_quartiles"]
        assert q1 <= r["rate_vs_smallest_paired"] <= q3
        assert 0.5 < r["stream_pairwise_f1"] <= 1.0
    # The smallest size over itself, round by round.
    assert rows[0]["rate_vs_smallest_paired"] == 1.0
    assert rows[0]["rate_vs_smallest_paired_quartiles"] == [1.0, 1.0]
    # The paired ratio is the median of per-round ratios, not the ratio of the medians.
    each = [r["add_articles_per_s_each"] for r in rows]
    ratios = sorted(b / a for a, b in zip(*each))
    assert rows[1]["rate_vs_smallest_paired"] == pytest.approx(ratios[1], abs=2e-3)
    out = tmp_path / "index.json"
    bench_index._write(rows, {"seed": 0, "interleaved": True}, out)
    assert "(paired 1.0; 1.0-1.0)" in out.with_suffix(".md").read_text()
    assert not list(tmp_path.glob("index-*.db"))  # each worker deleted its file


def test_cut_rules_start_from_the_pipelines_stories_and_only_split_them() -> None:
    import numpy as np

    import storyclust
    from storyclust.settings import Settings

    sample = Path(__file__).resolve().parents[1] / "examples" / "data" / "ecbplus_sample.jsonl"
    arts = storyclust.read_jsonl(sample)
    gold = [a.extra["story"] for a in arts]
    settings = Settings()
    pieces, order = cut_rules.groups(arts, settings)
    assert any(undated.any() for _, _, undated in pieces)

    def in_input_order(canonical: np.ndarray) -> list[int]:
        out = np.empty(len(arts), dtype=np.int64)
        out[order] = canonical
        return storyclust.stories.number_by_first_appearance(out).tolist()

    # The plain cut is storyclust's own stories.
    plain = cut_rules.labels(pieces, len(arts), cut_rules.plain, settings.threshold)
    assert in_input_order(plain) == storyclust.cluster(arts, progress=False).labels.tolist()
    # Every other rule only splits them, and does split some; with no penalty none.
    chosen = cut_rules.rules(settings.threshold, [0.15], [4])
    split = 0
    for cut, t in chosen.values():
        lab = cut_rules.labels(pieces, len(arts), cut, t)
        for c in np.unique(lab):
            assert len(np.unique(plain[lab == c])) == 1
        split += len(np.unique(lab)) > len(np.unique(plain))
    assert split >= len(chosen) // 2
    for rule in (cut_rules.contrast(0.0, "min"), cut_rules.size_aware(0.0, 2, "all")):
        same = cut_rules.labels(pieces, len(arts), rule, settings.threshold)
        assert in_input_order(same) == in_input_order(plain)
    # On smaller corpora: the plain cut moves by nothing against itself; seeded.
    few = {k: chosen[k] for k in (cut_rules.BASE, "threshold 0.4")}
    moved = cut_rules.subsample(arts, gold, settings, few, fraction=0.5, repeats=2)
    assert moved[cut_rules.BASE] == {"mean": 0.0, "min": 0.0, "max": 0.0, "rose": 0, "fell": 0}
    assert moved["threshold 0.4"]["rose"] + moved["threshold 0.4"]["fell"] <= 2
    assert moved == cut_rules.subsample(arts, gold, settings, few, fraction=0.5, repeats=2)


def test_time_words_reads_the_lead_and_penalises_only_conflicting_weekdays() -> None:
    import numpy as np

    import storyclust
    from storyclust.settings import Settings

    assert time_words.marks(
        "Quake on Monday", "Rescue went on Tuesday. " + "x" * 50 + " Friday", "weekday", 30
    ) == {
        "Monday",
        "Tuesday",
    }
    assert time_words.marks("", "In March 2013 and 1985", "year", 300) == {"2013"}
    bits = time_words.as_bits(
        [frozenset({"Monday"}), frozenset({"Monday", "Friday"}), frozenset(), frozenset({"Friday"})]
    )
    clash = time_words.conflicts(bits)
    assert clash.tolist() == [
        [False, False, False, True],
        [False, False, False, False],
        [False, False, False, False],
        [True, False, False, False],
    ]

    sample = Path(__file__).resolve().parents[1] / "examples" / "data" / "ecbplus_sample.jsonl"
    arts = storyclust.read_jsonl(sample)
    settings = Settings()
    res = time_words.score_file(arts, settings, lead=300, factors=[1.0, 0.0])
    gold = [a.extra["story"] for a in arts]
    ours = storyclust.cluster(arts, progress=False).labels
    # No penalty is storyclust's own cut; the full penalty on conflicting pairs changes it.
    assert (
        res["penalty"]["none"]["pairwise_f1"]
        == storyclust.metrics.evaluate(gold, ours)["pairwise_f1"]
    )
    assert res["penalty"]["x0.0"] != res["penalty"]["none"]
    # Every gold same-story pair is counted once.
    sizes = np.unique(np.asarray(gold, dtype=str), return_counts=True)[1]
    assert res["gold_pairs"]["weekday"]["pairs"] == int((sizes * (sizes - 1) // 2).sum())
    assert 0 < res["share_naming"]["weekday"] < 1


def test_bench_quality_subsample_is_seeded_and_whole_at_one() -> None:
    import bench_quality

    import storyclust

    sample = Path(__file__).resolve().parents[1] / "examples" / "data" / "ecbplus_sample.jsonl"
    arts = storyclust.read_jsonl(sample)
    gold = [a.extra["story"] for a in arts]
    half = bench_quality.subsample_f1(arts, gold, fraction=0.5, repeats=3)
    assert half == bench_quality.subsample_f1(arts, gold, fraction=0.5, repeats=3)
    assert len(half["pairwise_f1"]) == 3 and 0 < half["min"] <= half["mean"] <= half["max"] <= 1
    whole = bench_quality.subsample_f1(arts, gold, fraction=1.0, repeats=1)
    assert whole["pairwise_f1"] == [bench_quality.run_storyclust(arts, gold)["pairwise_f1"]]


def test_local_idf_scores_the_pipelines_cut_and_its_recut_setting() -> None:
    import numpy as np

    import storyclust
    from storyclust.settings import Settings

    from .corpora import WEEKLY_CLAIMS, running_issues

    sample = Path(__file__).resolve().parents[1] / "examples" / "data" / "ecbplus_sample.jsonl"
    corpora = (
        storyclust.read_jsonl(sample),
        storyclust.to_articles(running_issues(5)),
        storyclust.to_articles(WEEKLY_CLAIMS),
    )
    for arts in corpora:
        gold = [a.extra["story"] for a in arts]
        res = local_idf.score_corpus(arts, gold, Settings())
        for name, kw in (
            (local_idf.DEFAULT, {}),
            ("no re-cut (threshold 0.25)", {"recut_size": 0}),
            ("no archive reading (cohesion 0.06 alone)", {"recut_archive": math.inf}),
            ("re-cut size 10, cohesion 1", {"recut_cohesion": 1.0, "recut_archive": math.inf}),
        ):
            result = storyclust.cluster(arts, progress=False, **kw)
            ours = result.labels
            assert (
                res[name]["pairwise_f1"] == storyclust.metrics.evaluate(gold, ours)["pairwise_f1"]
            )
            assert res[name]["largest"] == int(np.bincount(ours).max())
            if name == local_idf.DEFAULT:
                assert res["verdict"] == result.recut_info
        base = res["no re-cut (threshold 0.25)"]
        for name, v in local_idf.VARIANTS.items():  # a re-cut only splits
            if v[0] == "recut":
                assert res[name]["largest"] <= base["largest"]
    assert res["re-cut size 10, cohesion 1"]["pairwise_f1"] == 1.0  # the four weeks
    assert base["largest"] == 12
    assert all(a.published is None for a in local_idf.undated_copy(storyclust.read_jsonl(sample)))
    full = storyclust.read_jsonl(sample)
    for whole, lead in zip(full, local_idf.leads_copy(full)):
        words = lead.text.split()
        assert whole.text.split()[: len(words)] == words and lead.id == whole.id
        # 25 to 60 words, unless the text is shorter or its first sentence longer
        assert 25 <= len(words) <= 60 or words == whole.text.split() or lead.text.count(". ") == 0
