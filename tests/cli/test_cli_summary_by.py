"""`summary --by KEY`: pass rates per cohort of an episode metadata key, checked against the verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rubricate
from rubricate.cli import EXIT_OK, EXIT_USAGE, main
from rubricate.errors import AnalysisError

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "examples" / "wiki-search" / "traces"
RUBRIC = ROOT / "examples" / "wiki-search" / "rubric.toml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("by") / "run"
    rubricate.score_run(TRACES, rubricate.load_rubric(RUBRIC), out, workers=1)
    return out


def test_summary_by_model_matches_verdicts(run_dir: Path) -> None:
    run = rubricate.open_run(run_dir)
    frame = run.summary(by="model")
    assert set(frame["cohort"]) == {"gpt-4.1", "gpt-5-mini", "qwen/qwen3-4b-instruct-2507",
                                    "willcb/qwen3-4b-wiki-search"}
    verdicts = run.verdicts().join(run.episodes().select("episode_id", "metadata"), on="episode_id")
    for row in frame.iter_rows(named=True):
        mine = [v for v, meta in zip(verdicts["verdict"], verdicts["metadata"])
                if json.loads(meta)["model"] == row["cohort"]]
        mine_item = [v for v, item, meta in zip(verdicts["verdict"], verdicts["item"], verdicts["metadata"])
                     if item == row["item"] and json.loads(meta)["model"] == row["cohort"]]
        assert mine  # the cohort exists
        assert row["pass"] == mine_item.count("pass") and row["fail"] == mine_item.count("fail")
        decided = row["pass"] + row["fail"]
        assert row["pass_rate"] == (row["pass"] / decided if decided else None)
    # every item appears once per cohort, in rubric order
    assert frame["item"].unique(maintain_order=True).to_list() == run.item_order


def test_summary_by_a_key_no_episode_has_is_an_error_listing_the_keys(run_dir: Path) -> None:
    run = rubricate.open_run(run_dir)
    with pytest.raises(AnalysisError) as info:
        run.summary(by="no such key's \"name\"")
    assert "no episode has the key 'no such key's \"name\"'" in str(info.value)
    keys = set(json.loads(run.episodes()["metadata"][0]))
    assert "model" in keys and "model" in (info.value.hint or "")
    assert all(column in (info.value.hint or "") for column in ("task_id", "source_file", "format"))
    with pytest.raises(AnalysisError) as info:
        run.summary(by="modle")
    assert (info.value.hint or "").startswith("did you mean 'model'?")


def test_cli_by_an_unknown_key_exits_2_in_summary_analyze_and_report(run_dir: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["summary", str(run_dir)], ["analyze", str(run_dir)],
                 ["report", str(run_dir), "--out", str(tmp_path / "r.html")]):
        assert main([*args, "--by", "modle"]) == EXIT_USAGE, args
        err = capsys.readouterr().err
        assert "error: --by modle: no episode has the key 'modle'" in err
        assert "hint: did you mean 'model'?" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("column", ["source_file", "format", "task_id"])
def test_summary_by_an_episode_column(run_dir: Path, column: str) -> None:
    run = rubricate.open_run(run_dir)
    frame = run.summary(by=column)
    episodes = run.episodes()
    expected = {str(v) if v is not None else "(none)" for v in episodes[column]}
    assert set(frame["cohort"]) == expected
    verdicts = run.verdicts().join(episodes.select("episode_id", column), on="episode_id")
    for row in frame.iter_rows(named=True):
        mine = verdicts.filter((verdicts["item"] == row["item"]) & (verdicts[column].cast(str) == row["cohort"]))
        assert row["pass"] == (mine["verdict"] == "pass").sum() and row["fail"] == (mine["verdict"] == "fail").sum()


def test_analyze_by_source_file_gives_one_cohort_per_file(run_dir: Path) -> None:
    from rubricate.analyzer import analyze

    a = analyze(run_dir, by="source_file")
    files = set(rubricate.open_run(run_dir).episodes()["source_file"])
    assert a.cohorts is not None and set(a.cohorts["cohort"]) == files and len(files) > 1


def test_cli_summary_by(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(run_dir), "--by", "model"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "pass rate by model" in out and "willcb/qwen3-4b-wiki-search" in out
    assert main(["summary", str(run_dir), "--by", "model", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert {row["cohort"] for row in data["items"]} >= {"gpt-4.1", "gpt-5-mini"}


def test_load_episodes_rereads_full_episodes(run_dir: Path) -> None:
    run = rubricate.open_run(run_dir)
    episodes = run.episodes()
    ids = episodes["episode_id"].to_list()[::50]
    found = run.load_episodes(ids + ["no-such-episode"])
    assert sorted(found) == sorted(ids)
    for eid, ep in found.items():
        row = episodes.filter(episodes["episode_id"] == eid).row(0, named=True)
        assert ep.id == eid and len(ep.steps) == row["n_steps"] and ep.n_tool_calls == row["n_tool_calls"]
