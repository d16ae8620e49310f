"""score_run end to end on small generated corpora: the run directory, its counts, damaged input,
atomicity, Run.summary / Run.sql, and agreement with the in-memory `rubricate.score`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

import rubricate
from rubricate.analyzer import open_run
from rubricate.scoring import RunSummary, score_run
from rubricate.errors import LoadIssueError, RunError
from rubricate.rubrics import load_rubric

RUN_FILES = {"run.json", "episodes", "verdicts", "issues"}


@pytest.fixture(scope="module")
def rubric() -> rubricate.Rubric:
    return load_rubric("tool-discipline")


@pytest.fixture(scope="module")
def small_run(small_dir: Path, rubric: rubricate.Rubric, tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    return score_run(small_dir, rubric, tmp_path_factory.mktemp("runs") / "small", workers=1)


def _verdict_rows(frame: pl.DataFrame) -> list[tuple]:
    return [(r["episode_id"], r["item"], r["behavior"], r["verdict"], r["score"], r["reason"], tuple(r["evidence"]))
            for r in frame.iter_rows(named=True)]


# 1. the run directory

def test_run_directory_files_and_counts(small_run: RunSummary, small_dir: Path, rubric: rubricate.Rubric,
                                        corpus) -> None:
    out = Path(small_run.path)
    assert RUN_FILES <= set(os.listdir(out)) <= RUN_FILES | {".lock"}
    assert not os.path.exists(rubricate.scoring.staging_path(str(out))), "the run being built was left behind"
    info = json.loads((out / "run.json").read_text())
    assert info == small_run.info
    assert info["run_format"] == 2
    assert info["rubricate_version"] == rubricate.__version__
    # one Parquet part per work unit (here a file), read back as a dataset by glob
    parts = sorted(os.listdir(out / "verdicts"))
    assert parts == sorted(os.listdir(out / "episodes")) == [f"part-{k:05d}.parquet" for k in range(6)]
    assert info["counts"]["units"] == 6

    episodes = pl.read_parquet(out / "episodes" / "*.parquet")
    verdicts = pl.read_parquet(out / "verdicts" / "*.parquet")
    issues = os.listdir(out / "issues")
    n_items = len(rubric.checks)  # judge items are skipped without a judge
    assert small_run.episodes == info["counts"]["episodes"] == episodes.height == corpus.SMALL_EPISODES
    assert verdicts.height == episodes.height * n_items
    assert small_run.issues == info["counts"]["issues"] == len(issues) == 0
    assert info["counts"]["files"] == 6
    assert info["counts"]["formats"] == {"openai-chat": corpus.SMALL_EPISODES}

    by_verdict = dict(verdicts.group_by("verdict").len().iter_rows())
    assert info["counts"]["verdicts"] == {v: by_verdict.get(v, 0) for v in ("pass", "fail", "na", "error")}
    assert sum(info["counts"]["verdicts"].values()) == verdicts.height

    # every episode gets every item, in rubric order, episode by episode
    assert episodes["episode_id"].n_unique() == episodes.height
    assert verdicts["item"].to_list() == [i.id for i in rubric.checks] * episodes.height
    assert verdicts["episode_id"].to_list() == [e for e in episodes["episode_id"] for _ in range(n_items)]
    assert set(verdicts["score"].drop_nulls().unique()) <= {0.0, 1.0}
    assert verdicts.filter(pl.col("verdict").is_in(["na", "error"]))["score"].null_count() == \
        verdicts.filter(pl.col("verdict").is_in(["na", "error"])).height


def test_run_json_records_rubric_inputs_and_timings(small_run: RunSummary, small_dir: Path,
                                                    rubric: rubricate.Rubric) -> None:
    info = small_run.info
    assert info["rubric"]["id"] == rubric.id == "sql-agent"  # loaded by its old name, tool-discipline
    assert info["rubric"]["version"] == rubric.version
    assert info["rubric"]["hash"] == rubric.hash and info["rubric"]["hash"].startswith("sha256:")
    assert [i["id"] for i in info["rubric"]["items"]] == [i.id for i in rubric.items]
    assert all((i["check"] or i["kind"] == "judge") and i["version"] for i in info["rubric"]["items"])
    assert info["judge"]["status"] == "not configured"  # judge items are skipped, never failed, without a judge
    assert info["inputs"] == [os.path.abspath(small_dir)]
    timings = info["timings"]
    assert timings["workers"] == 1
    assert timings["seconds"] >= 0
    assert timings["bytes"] == sum(p.stat().st_size for p in small_dir.rglob("*") if p.is_file())
    assert len(timings["peak_rss_mb_per_worker"]) == 1
    assert {"episodes_per_s", "mb_per_s"} <= set(timings)


def test_episode_rows_describe_their_source(small_run: RunSummary) -> None:
    episodes = open_run(small_run.path).episodes()
    first = episodes.row(0, named=True)
    assert first["episode_id"] == "ep-000000"
    assert first["source_path"] == "a.jsonl" and first["source_line"] == 1
    assert first["format"] == "openai-chat"
    assert first["n_steps"] > 2 and first["n_tool_calls"] >= 1
    assert json.loads(first["metadata"])["split"] in {"train", "eval"}
    array = episodes.filter(pl.col("source_path") == "c.json")
    assert array["source_index"].to_list() == [0, 1, 2, 3, 4]


# 3. damaged input

def test_damaged_lines_become_issues_and_good_episodes_are_scored(tmp_path: Path, rubric: rubricate.Rubric,
                                                                 corpus) -> None:
    src = tmp_path / "damaged.jsonl"
    bad = corpus.write_jsonl(src, range(10), bad_every=3)
    assert len(bad) == 3
    result = score_run(src, rubric, tmp_path / "run", workers=1)
    run = open_run(result.path)
    assert run.episodes()["episode_id"].to_list() == [f"ep-{i:06d}" for i in range(10)]
    assert result.episodes == 10 and result.issues == 3
    assert run.info["counts"]["issues"] == 3
    assert run.verdicts().height == 10 * len(rubric.checks)

    issues = run.issues()
    assert [(i.path, i.line) for i in issues] == [("damaged.jsonl", line) for line, _ in bad]
    for issue, (_, reason) in zip(issues, bad):
        assert reason in issue.reason
        assert issue.format == "openai-chat"
    raw = [json.loads(line) for line in (Path(result.path) / "issues" / "part-00000.jsonl").read_text().splitlines()]
    assert all({"path", "line", "reason"} <= set(r) for r in raw)
    assert run.issues(limit=2) == issues[:2]
    # good lines keep their real line numbers in spite of the bad ones
    lines = run.episodes()["source_line"].to_list()
    assert lines == [n for n in range(1, 14) if n not in {b[0] for b in bad}]


def test_strict_raises_and_leaves_no_run_json(tmp_path: Path, rubric: rubricate.Rubric, corpus) -> None:
    src = tmp_path / "damaged.jsonl"
    bad = corpus.write_jsonl(src, range(10), bad_every=3)
    out = tmp_path / "run"
    with pytest.raises(LoadIssueError) as info:
        score_run(src, rubric, out, workers=1, strict=True)
    assert info.value.line == bad[0][0]
    assert info.value.path == "damaged.jsonl"
    assert info.value.issue.line == bad[0][0]
    assert info.value.hint
    assert not (out / "run.json").exists()
    assert os.listdir(out) == [".lock"]  # nothing of the failed run is in --out; it waits beside it for --resume
    with pytest.raises(RunError, match="incomplete run .*interrupted") as exc:
        open_run(out)
    assert "--resume" in exc.value.hint


def test_strict_on_clean_input_completes(small_dir: Path, rubric: rubricate.Rubric, tmp_path: Path) -> None:
    result = score_run(small_dir, rubric, tmp_path / "run", workers=1, strict=True)
    assert result.issues == 0 and (tmp_path / "run" / "run.json").exists()


# 4. atomicity and opening runs

def test_rescoring_keeps_the_previous_run_until_the_new_one_is_complete(small_dir: Path, rubric: rubricate.Rubric,
                                                                       tmp_path: Path, corpus) -> None:
    out = tmp_path / "run"
    before = open_run(score_run(small_dir, rubric, out, workers=1).path)
    old_episodes = before.episodes()
    src = tmp_path / "other.jsonl"
    corpus.write_jsonl(src, range(100, 103))
    seen = []

    def on_progress(done: int, total: int) -> None:  # mid-run: the old run is whole and unchanged
        run = open_run(out)
        seen.append((done, total, run.episodes().equals(old_episodes), run.info == before.info))

    result = score_run(src, rubric, out, workers=1, on_progress=on_progress)
    assert seen and all(same_rows and same_info for _, _, same_rows, same_info in seen)
    assert seen[-1][0] == seen[-1][1] == result.info["timings"]["bytes"]
    after = open_run(out)
    assert after.episodes()["episode_id"].to_list() == ["ep-000100", "ep-000101", "ep-000102"]
    assert sorted(os.listdir(out / "episodes")) == ["part-00000.parquet"]  # no part of the old run is left


def test_failed_rescore_leaves_the_previous_run_complete(small_dir: Path, rubric: rubricate.Rubric,
                                                         tmp_path: Path, corpus) -> None:
    out = tmp_path / "run"
    first = score_run(small_dir, rubric, out, workers=1)
    verdicts = open_run(out).verdicts()
    src = tmp_path / "damaged.jsonl"
    corpus.write_jsonl(src, range(5), bad_every=2)
    with pytest.raises(LoadIssueError):
        score_run(src, rubric, out, workers=1, strict=True)
    run = open_run(out)
    assert run.info == first.info and run.verdicts().equals(verdicts)
    # scoring again into the same directory replaces the interrupted attempt beside it
    score_run(small_dir, rubric, out, workers=1)
    assert open_run(out).episodes().height > 0
    assert not os.path.exists(rubricate.scoring.staging_path(str(out)))


def test_open_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such run directory") as info:
        open_run(tmp_path / "nope")
    assert info.value.hint


def test_open_directory_without_run_json(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a run directory"):
        rubricate.open_run(tmp_path)
    (tmp_path / "verdicts").mkdir()  # data without the marker: an interrupted run
    with pytest.raises(RunError, match="incomplete run"):
        rubricate.open_run(tmp_path)


def test_open_other_run_format(small_run: RunSummary, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    out.mkdir()
    info = dict(small_run.info, run_format=999)
    (out / "run.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match="run format 999") as exc:
        open_run(out)
    assert exc.value.hint


# 5. summary and sql

def _check_summary(run: rubricate.Run) -> pl.DataFrame:
    summary = run.summary()
    verdicts = run.verdicts()
    scored = set(verdicts["item"].to_list())  # judge items are skipped without a judge
    assert summary["item"].to_list() == [i for i in run.item_order if i in scored]
    for row in summary.iter_rows(named=True):
        mine = verdicts.filter(pl.col("item") == row["item"])
        for v in ("pass", "fail", "na", "error"):
            assert row[v] == mine.filter(pl.col("verdict") == v).height, (row["item"], v)
        assert row["behavior"] == mine["behavior"][0]
        decided = row["pass"] + row["fail"]
        if decided:
            assert row["pass_rate"] == pytest.approx(row["pass"] / decided)
        else:
            assert row["pass_rate"] is None
    return summary


def test_summary_counts_and_rates(small_run: RunSummary) -> None:
    summary = _check_summary(open_run(small_run.path))
    assert set(summary.columns) >= {"item", "behavior", "pass", "fail", "na", "error", "pass_rate"}
    assert summary.height == 6
    # the corpus gives answer_correct both outcomes and some episodes without a ground truth
    correct = summary.filter(pl.col("item") == "answer_correct").row(0, named=True)
    assert correct["pass"] and correct["fail"] and correct["na"]


def test_summary_rate_is_none_when_nothing_decided(tmp_path: Path, rubric: rubricate.Rubric, corpus) -> None:
    src = tmp_path / "no-truth.jsonl"
    corpus.write_jsonl(src, range(6), truth=False)
    run = open_run(score_run(src, rubric, tmp_path / "run", workers=1).path)
    summary = _check_summary(run)
    correct = summary.filter(pl.col("item") == "answer_correct").row(0, named=True)
    assert (correct["pass"], correct["fail"], correct["na"], correct["pass_rate"]) == (0, 0, 6, None)


def test_sql_over_views(small_run: RunSummary, rubric: rubricate.Rubric, corpus) -> None:
    run = open_run(small_run.path)
    assert run.sql("select count(*) as n from verdicts")["n"][0] == corpus.SMALL_EPISODES * len(rubric.checks)
    assert run.sql("select count(*) as n from episodes")["n"][0] == corpus.SMALL_EPISODES
    joined = run.sql("""
        select e.format, count(*) as n from verdicts v join episodes e using (episode_id)
        where v.item = 'discovers_tables' group by e.format
    """)
    assert joined.to_dicts() == [{"format": "openai-chat", "n": corpus.SMALL_EPISODES}]
    assert isinstance(run.sql("select * from verdicts limit 3"), pl.DataFrame)


def test_empty_input_directory(tmp_path: Path, rubric: rubricate.Rubric) -> None:
    (tmp_path / "in").mkdir()
    result = score_run(tmp_path / "in", rubric, tmp_path / "run", workers=2)
    run = open_run(result.path)
    assert result.episodes == 0 and run.verdicts().height == 0 and run.episodes().height == 0
    assert run.summary().height == 0


# 6. the in-memory API agrees with the run

def test_in_memory_score_matches_run(small_run: RunSummary, small_dir: Path, rubric: rubricate.Rubric) -> None:
    verdicts = rubricate.score(rubricate.load_episodes(small_dir), rubric)
    assert all(isinstance(v, rubricate.Verdict) for v in verdicts)
    mine = [(v.episode_id, v.item, v.behavior, v.verdict, v.score, v.reason, tuple(v.evidence)) for v in verdicts]
    assert mine == _verdict_rows(open_run(small_run.path).verdicts())


def test_in_memory_score_by_rubric_name_and_single_episode(small_dir: Path, rubric: rubricate.Rubric) -> None:
    ep = next(iter(rubricate.load_episodes(small_dir)))
    by_name = rubricate.score(ep, "tool-discipline")
    assert [v.item for v in by_name] == [i.id for i in rubric.checks]
    assert by_name == rubricate.score([ep], rubric)


def test_run_directory_inside_the_input_is_not_read_back(small_dir: Path, tmp_path: Path) -> None:
    import shutil

    traces = tmp_path / "traces"
    shutil.copytree(small_dir, traces)
    rubric = rubricate.load_rubric("tool-discipline")
    first = score_run(traces, rubric, traces / "out", workers=1)
    second = score_run(traces, rubric, traces / "out", workers=1)
    assert second.episodes == first.episodes and second.issues == first.issues == 0
