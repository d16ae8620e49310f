"""`summary --by KEY`: pass rates per cohort of an episode metadata key, checked against the verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rubricate
from rubricate.cli import EXIT_OK, main

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


def test_summary_by_unknown_key_is_one_none_cohort(run_dir: Path) -> None:
    frame = rubricate.open_run(run_dir).summary(by="no such key's \"name\"")
    assert set(frame["cohort"]) == {"(none)"}
    assert frame["pass"].sum() + frame["fail"].sum() + frame["na"].sum() == 400 * 6


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
