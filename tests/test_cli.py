"""The storyclust command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import storyclust
from storyclust.cli import main

from .corpora import CORPUS, GOLD, WEEKLY_CLAIMS, quake_reports, running_issues

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "data" / "ecbplus_sample.jsonl"


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "news.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for rec in CORPUS:
            fh.write(json.dumps({**rec, "story": GOLD[rec["id"]]}) + "\n")
    return path


def test_cluster_writes_articles_stories_and_metadata(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.jsonl"
    assert main(["cluster", str(corpus_file), "-o", str(out), "-q"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in CORPUS]
    assert all(isinstance(r["story"], int) for r in rows)
    stories = [
        json.loads(line)
        for line in (tmp_path / "out" / "result.stories.jsonl").read_text().splitlines()
    ]
    assert sum(s["size"] for s in stories) == len(CORPUS)
    assert {
        "story",
        "size",
        "representative_id",
        "title",
        "outlets",
        "first_seen",
        "last_seen",
    } <= set(stories[0])
    meta = json.loads((tmp_path / "out" / "result.meta.json").read_text())
    assert meta["settings"]["seed"] == 1 and meta["n_articles"] == len(CORPUS)
    assert meta["storyclust_version"]


def test_cluster_settings_on_the_command_line(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    args = [
        "cluster",
        str(corpus_file),
        "-o",
        str(out),
        "-q",
        "--threshold",
        "0.9",
        "--set",
        "linkage=single",
    ]
    assert main(args) == 0
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    assert meta["settings"]["threshold"] == 0.9 and meta["settings"]["linkage"] == "single"
    # Time off, spelled as settings are saved ("inf") or as JSON ("Infinity").
    assert (
        main(
            [*args[:4], "-q", "--set", "time_window_days=inf", "--set", "time_decay_days=Infinity"]
        )
        == 0
    )
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    assert meta["settings"]["time_window_days"] == meta["settings"]["time_decay_days"] == "inf"


def test_evaluate_prints_metrics(corpus_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(corpus_file), "--json", "-q"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["ari"] == pytest.approx(1.0)
    assert {"pairwise_f1", "bcubed_f1", "nmi"} <= set(scores)
    assert main(["evaluate", str(corpus_file), "-q"]) == 0
    assert "pairwise_f1" in capsys.readouterr().out


def test_evaluate_without_gold_field_names_it(
    corpus_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(corpus_file), "--gold-field", "label", "-q"]) == 2
    assert "no gold label in field 'label'" in capsys.readouterr().err


def test_bad_line_is_reported_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "title": "x"}\n{"id": "b", "title": \n', encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "bad.jsonl" in err and "errors" in err
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl"), "--errors", "skip"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "line 2" in err
    meta = json.loads((tmp_path / "o.meta.json").read_text())
    assert meta["input"]["n_skipped"] == 1 and meta["input"]["skipped"][0]["line"] == 2


def test_input_story_field_is_kept_not_overwritten(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    assert main(["cluster", str(corpus_file), "-o", str(out), "-q"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["story_input"] for r in rows] == [GOLD[r["id"]] for r in CORPUS]
    assert all(isinstance(r["story"], int) for r in rows)
    meta = json.loads(out.with_suffix(".meta.json").read_text())
    assert meta["output"] == {"label_field": "story", "input_field_kept_as": "story_input"}
    # storyclust's own output clustered again: its 'story' is kept as 'story_input_2'.
    again = tmp_path / "again.jsonl"
    assert main(["cluster", str(out), "-o", str(again), "-q"]) == 0
    rows2 = [json.loads(line) for line in again.read_text().splitlines()]
    assert [r["story_input_2"] for r in rows2] == [r["story"] for r in rows]
    assert [r["story_input"] for r in rows2] == [GOLD[r["id"]] for r in CORPUS]
    meta = json.loads(again.with_suffix(".meta.json").read_text())
    assert meta["output"]["input_field_kept_as"] == "story_input_2"
    # Another label field leaves the input's story as it is.
    assert main(["cluster", str(corpus_file), "-o", str(out), "-q", "--label-field", "sc"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["story"] for r in rows] == [GOLD[r["id"]] for r in CORPUS]
    assert all(isinstance(r["sc"], int) and "story_input" not in r for r in rows)
    assert json.loads(out.with_suffix(".meta.json").read_text())["output"] == {
        "label_field": "sc",
        "input_field_kept_as": None,
    }


def test_outputs_are_checked_before_the_run(
    corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = corpus_file.read_bytes()
    (tmp_path / "dir.jsonl").mkdir()
    cases = [
        (["-o", str(corpus_file)], "is the input file"),
        (["-o", str(tmp_path / "a.jsonl"), "--stories", str(tmp_path / "a.jsonl")], "is also -o"),
        (["-o", str(tmp_path / "a.csv")], "the output is JSON lines"),
        (["-o", str(tmp_path / "dir.jsonl")], "is a directory"),
        (
            ["-o", str(tmp_path / "a.jsonl"), "--threshold", "0.3", "--set", "threshold=0.4"],
            "setting 'threshold' is given twice",
        ),
        (
            ["-o", str(tmp_path / "a.jsonl"), "--label-field", "title"],
            "label_field must name a new",
        ),
    ]
    for extra, message in cases:
        assert main(["cluster", str(corpus_file), "-q", *extra]) == 2, extra
        assert message in capsys.readouterr().err
    assert corpus_file.read_bytes() == before
    assert not (tmp_path / "a.jsonl").exists() and not (tmp_path / "a.csv").exists()
    assert main(["report", str(corpus_file), "-o", str(corpus_file), "-q"]) == 2
    assert "is the input file" in capsys.readouterr().err and corpus_file.read_bytes() == before


def test_encoding_option_and_command_line_fixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"id": "a", "title": "Caf\u00e9 bomb in Par\u00eds"}\n'.encode("latin-1"))
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "pass the file's --encoding" in err and "pass --errors skip" in err
    assert "(such as 'cp1252', which reads this line)" in err  # Latin-1 bytes read as cp1252
    assert "errors='skip'" not in err and "encoding=" not in err
    out = tmp_path / "o.jsonl"
    assert main(["cluster", str(path), "-o", str(out), "-q", "--encoding", "latin-1"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "Café bomb in París"


def test_articles_to_standard_output(
    corpus_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["cluster", str(corpus_file), "-o", "-"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(x)["id"] for x in out.splitlines()] == [r["id"] for r in CORPUS]
    assert "wrote nothing to files; the articles went to standard output" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [corpus_file.name]  # no "-.stories.jsonl"
    # With --stories, the table and the settings beside it.
    table = tmp_path / "t.jsonl"
    assert main(["cluster", str(corpus_file), "-o", "-", "--stories", str(table), "-q"]) == 0
    assert table.exists() and json.loads((tmp_path / "t.meta.json").read_text())["settings"]


def test_delimiter_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("id;title\na;Quake hits Tokyo\nb;Budget passes\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["cluster", str(path), "-o", str(out), "-q"]) == 2
    assert "pass --delimiter ';'" in capsys.readouterr().err
    assert main(["cluster", str(path), "-o", str(out), "-q", "--delimiter", ";"]) == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["a", "b"]


def test_other_files_tabs_and_plain_quotation_marks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .txt read as CSV with --delimiter; a tab typed as 'tab' or '\\t'; --quotechar none
    for a TSV whose cells start with a quotation mark."""
    txt = tmp_path / "news.txt"
    txt.write_text('id\ttitle\na\t"We will rebuild," the mayor said\nb\tBudget passes\n')
    out = tmp_path / "o.jsonl"
    assert main(["cluster", str(txt), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "suffix '.txt'" in err and "pass --delimiter ',' (or tab) to read it as CSV" in err
    assert "read_jsonl()" not in err and "delimiter=" not in err
    assert main(["cluster", str(txt), "-o", str(out), "-q", "--delimiter", "\\t"]) == 2
    err = capsys.readouterr().err
    assert "pass --quotechar none" in err and "quotechar=None" not in err
    # The summary of skipped records speaks command-line options too.
    assert (
        main(["cluster", str(txt), "-o", str(out), "--delimiter", "tab", "--errors", "skip"]) == 0
    )
    err = capsys.readouterr().err
    assert (
        "skipped input:" in err and "pass --quotechar none" in err and "quotechar=None" not in err
    )
    for tab in ("\\t", "tab"):
        args = [
            "cluster",
            str(txt),
            "-o",
            str(out),
            "-q",
            "--delimiter",
            tab,
            "--quotechar",
            "none",
        ]
        assert main(args) == 0
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert [r["title"] for r in rows] == ['"We will rebuild," the mayor said', "Budget passes"]


def test_bad_setting_and_missing_file_are_clean_errors(
    corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["cluster", str(corpus_file), "-o", str(tmp_path / "o.jsonl"), "--threshold", "2"])
        == 2
    )
    assert "threshold must be a number in (0, 1]; got 2.0" in capsys.readouterr().err
    assert (
        main(["cluster", str(corpus_file), "-o", str(tmp_path / "o.jsonl"), "--set", "nope=1"]) == 2
    )
    assert "unknown setting(s) 'nope'" in capsys.readouterr().err
    assert main(["cluster", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_console_script_entry_point_runs(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "storyclust.cli", "cluster", str(corpus_file), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "10 articles ->" in proc.stderr
    assert out.exists()


def test_memory_is_estimated_before_a_large_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import storyclust.cli as cli_module

    monkeypatch.setattr(cli_module, "ESTIMATE_FROM", 1)  # "large" from one article here
    out = tmp_path / "out.jsonl"
    assert cli_module.main(["cluster", str(EXAMPLE), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "articles (" in err and "MiB of text held); the run should need about" in err
    meta = json.loads((tmp_path / "out.meta.json").read_text())
    assert meta["memory"]["run_mib"] > 0 and meta["memory"]["process_peak_mib"] > 0


def test_estimate_memory_grows_with_the_corpus() -> None:
    from storyclust.pipeline import estimate_memory

    arts = storyclust.read_articles(EXAMPLE)
    small, large = estimate_memory(arts[:20]), estimate_memory(arts)
    assert 0 < small["run_mib"] < large["run_mib"]
    assert small["terms_per_article"] > 10  # ECB+ articles are full texts
    assert estimate_memory(arts[:0]) == {
        "articles_mib": 0.0,
        "run_mib": 0.0,
        "terms_per_article": 0.0,
    }


def test_compressed_output_gets_plain_siblings(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl.gz"
    assert main(["cluster", str(corpus_file), "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("o.")) == [
        "o.jsonl.gz",
        "o.meta.json",
        "o.stories.jsonl",
    ]
    assert len(storyclust.read_jsonl(out)) == len(CORPUS)


def test_articles_dated_after_tomorrow_are_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dates.jsonl"
    rows = [
        {"id": "ok", "title": "Quake hits Tokyo", "published": "2021-10-11T00:00:00Z"},
        {"id": "typo", "title": "Quake hits Tokyo again", "published": "2201-10-11T00:00:00Z"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "note: 1 articles are dated after tomorrow (the latest, 'typo': 2201-10-11" in err
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl")]) == 0
    assert "dated after tomorrow" not in capsys.readouterr().err


def test_the_summary_and_metadata_count_the_undated_recut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "weeks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in WEEKLY_CLAIMS), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    every = ["--set", "recut_size=6", "--set", "recut_cohesion=1"]
    assert main(["cluster", str(path), "-o", str(out), *every]) == 0
    err = capsys.readouterr().err
    assert "re-cut: 1 large undated story, into 4 (recut_size 6, recut_cohesion 1)" in err
    meta = json.loads(out.with_name("o.meta.json").read_text(encoding="utf-8"))
    recut = meta["recut"]
    # One story looked at: its weeks sit far apart, but one story is too few to read
    # the corpus as an archive.
    assert {k: recut[k] for k in ("stories", "pieces", "archive", "qualifying")} == {
        "stories": 1,
        "pieces": 4,
        "archive": False,
        "qualifying": 1,
    }
    assert recut["separation"] > meta["settings"]["recut_archive"]
    # By default these twelve stay one story: nothing re-cut, nothing said.
    assert main(["cluster", str(path), "-o", str(out)]) == 0
    assert "re-cut" not in capsys.readouterr().err
    again = json.loads(out.with_name("o.meta.json").read_text(encoding="utf-8"))["recut"]
    assert again == {**recut, "stories": 0, "pieces": 0}
    assert main(["cluster", str(path), "-o", str(out), "--set", "recut_size=0"]) == 0
    assert json.loads(out.with_name("o.meta.json").read_text(encoding="utf-8"))["recut"] is None


def test_the_summary_says_when_the_input_is_read_as_an_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in running_issues(5)), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["cluster", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "60 articles -> 20 stories" in err
    assert "re-cut: 5 large undated stories, into 20 (recut_size 10, read as an archive of " in err
    meta = json.loads(out.with_name("o.meta.json").read_text(encoding="utf-8"))
    assert meta["recut"]["archive"] and meta["settings"]["recut_archive"] == 3.4
    assert f"median separation {meta['recut']['separation']:.2f} over 5 stories" in err
    assert main(["cluster", str(path), "-o", str(out), "--set", "recut_archive=inf"]) == 0
    err = capsys.readouterr().err
    assert "60 articles -> 5 stories" in err and "re-cut" not in err
    assert (
        json.loads(out.with_name("o.meta.json").read_text())["settings"]["recut_archive"] == "inf"
    )


def test_a_large_story_in_undated_input_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 32 undated reports of one event, alike enough for the re-cut to leave them whole
    rows = quake_reports(32)
    path = tmp_path / "undated.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "largest 32" in err
    assert "note: 32 of 32 articles have no date and the largest story holds 32" in err
    assert "--set recut_cohesion=1" in err
    assert "looked at 1 story, fewer than the 5 it needs to judge" in err
    off = ["--set", "recut_archive=inf"]
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl"), *off]) == 0
    err = capsys.readouterr().err
    assert "(reading the input as an archive is off: recut_archive is inf)" in err
    # no note for a small story, nor when most articles are dated
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:29]), encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "largest 29" in err and "have no date" not in err
    for k, r in enumerate(rows[:16]):
        r["published"] = f"2021-03-{1 + k:02d}T12:00:00Z"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl")]) == 0
    assert "note: 16 of 32 articles have no date" in capsys.readouterr().err
    rows[16]["published"] = "2021-03-17T12:00:00Z"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "o.jsonl")]) == 0
    assert "have no date" not in capsys.readouterr().err


def test_a_failed_write_replaces_no_output(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The articles, story table and metadata are replaced together, or not at all."""
    out = tmp_path / "o.jsonl"
    assert main(["cluster", str(corpus_file), "-o", str(out), "-q"]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("o.")}
    assert len(before) == 3

    def fail(*_: Any, **__: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storyclust.StoryResult, "write_metadata", fail)
    assert main(["cluster", str(corpus_file), "-o", str(out), "-q", "--threshold", "0.9"]) == 2
    assert "cannot write output" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != corpus_file.name}
    assert after == before  # the old three, untouched; no temporary file left


def test_unwritable_output_is_named_before_the_run(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import os

    real = os.access
    ran: list[int] = []
    monkeypatch.setattr(storyclust.cli, "cluster", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and "locked" not in str(p))
    (tmp_path / "locked").mkdir()
    target = tmp_path / "locked" / "o.jsonl"
    assert main(["cluster", str(corpus_file), "-o", str(target), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {str(target)!r}: no permission to create files in" in err
    assert main(["index", "add", str(tmp_path / "locked" / "n.db"), str(corpus_file)]) == 2
    assert "no permission to create files in" in capsys.readouterr().err
    assert not ran and not (tmp_path / "locked" / "n.db").exists()


def test_standard_output_for_every_command_and_only_once(
    corpus_file: Path, tmp_path: Path, capsys: Any
) -> None:
    assert main(["report", str(corpus_file), "-o", "-", "-q"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert not (Path.cwd() / "-").exists()
    db = tmp_path / "s.db"
    assert main(["index", "add", str(db), str(corpus_file), "-o", "-", "-q"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in CORPUS]
    assert main(["index", "stories", str(db), "-o", "-"]) == 0
    assert sum(json.loads(x)["size"] for x in capsys.readouterr().out.splitlines()) == len(CORPUS)
    assert main(["cluster", str(corpus_file), "-o", "-", "--stories", "-", "-q"]) == 2
    assert "--stories - and -o - would both write to standard output" in capsys.readouterr().err


def test_index_stories_refuses_to_write_over_the_index(
    corpus_file: Path, tmp_path: Path, capsys: Any
) -> None:
    db = tmp_path / "i.db"
    assert main(["index", "add", str(db), str(corpus_file), "-q"]) == 0
    assert main(["index", "stories", str(db), "-o", str(db)]) == 2
    assert "is the index file; writing it would destroy it" in capsys.readouterr().err
    assert len(storyclust.StoryIndex.open(db)) == len(CORPUS)


def test_index_add_checks_every_id_before_adding_any(
    corpus_file: Path, tmp_path: Path, capsys: Any
) -> None:
    """An id already held, late in the file, stops the add before the first batch lands."""
    db = tmp_path / "d.db"
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in CORPUS[:3]))
    assert main(["index", "add", str(db), str(first), "-q"]) == 0
    rest = tmp_path / "rest.jsonl"
    rest.write_text("".join(json.dumps(r) + "\n" for r in [*CORPUS[3:], CORPUS[0]]))
    assert main(["index", "add", str(db), str(rest), "--batch-size", "2", "-q"]) == 2
    assert "is already in the index" in capsys.readouterr().err
    assert len(storyclust.StoryIndex.open(db)) == 3  # none of rest.jsonl was added


def test_index_add_whose_output_cannot_be_opened_makes_no_index(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import storyclust._index_cli as index_cli

    real = index_cli.together

    def nowhere(paths: Any) -> Any:
        cm = real(paths)
        temp = cm.__enter__()
        cm.__exit__(None, None, None)
        return _Yield(lambda p: str(tmp_path / "gone" / "x.jsonl") if p else temp(p))

    monkeypatch.setattr(index_cli, "together", nowhere)
    db = tmp_path / "never.db"
    assert main(["index", "add", str(db), str(corpus_file), "-o", str(tmp_path / "a.jsonl")]) == 2
    assert "No such file or directory" in capsys.readouterr().err
    assert not db.exists()


class _Yield:
    """A context manager that yields a value and does nothing else."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: Any) -> None:
        return None


def test_interrupted_run_says_so_without_a_traceback(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def interrupt(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(storyclust.cli, "cluster", interrupt)
    assert main(["cluster", str(corpus_file), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 130
    assert capsys.readouterr().err.strip() == "storyclust: interrupted; no output was written"
    assert not list(tmp_path.glob("o.*"))


def test_cluster_into_a_closed_pipe_is_not_an_error(corpus_file: Path) -> None:
    cmd = [sys.executable, "-m", "storyclust.cli", "cluster", str(corpus_file), "-o", "-", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # | head -0
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == ""


def test_evaluate_counts_what_it_could_not_score(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "gold.jsonl"
    rows = [{**r, "story": GOLD[r["id"]]} for r in CORPUS]
    rows[2]["story"] = ""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["evaluate", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"article {rows[2]['id']!r} has no gold label in field 'story' (article 3 of the" in err
    assert "give it one, or pass --errors skip" in err
    with path.open("a") as fh:
        fh.write("{bad json\n")
    assert main(["evaluate", str(path), "--errors", "skip", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_items"] == len(CORPUS) - 1
    assert out["input"]["n_read"] == len(CORPUS) + 1 and out["input"]["n_skipped"] == 2
    reasons = [s["reason"] for s in out["input"]["skipped"]]
    assert any("no gold label" in r for r in reasons) and any("JSON" in r for r in reasons)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["evaluate", str(empty), "-q"]) == 2
    assert "nothing to score: read 0 records" in capsys.readouterr().err
