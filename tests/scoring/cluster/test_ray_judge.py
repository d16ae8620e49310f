"""Judge items on a Ray cluster, against the scripted OpenAI-compatible server on loopback: one
connection limit and one budget for the whole cluster, the run's judge answers reused by a re-run
that has no judge cache (as on new machines) and merged into this machine's cache, and judge faults
as `error` verdicts, never `fail`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rubricate.analyzer import open_run
from rubricate.rubrics import load_rubric
from rubricate.rubrics.judges import CACHE_FILE, ScriptedJudge
from rubricate.scoring import score_run

JUDGED = ('id = "judged"\nversion = "1"\n\n[[items]]\nid = "answers"\ncheck = "answers_question"\n\n'
          '[[items]]\nid = "polite"\nkind = "judge"\nquestion = "Was the agent polite?"\nweight = 0\n\n'
          '[[items]]\nid = "grounded"\nkind = "judge"\nquestion = "Is the answer grounded in a tool result?"\n'
          'weight = 0\n')
EPISODES = 90


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    root = tmp_path_factory.mktemp("judged")
    for k in range(3):  # three files: several tasks, on both workers
        corpus.write_jsonl(root / f"part{k}.jsonl", range(k * 30, k * 30 + 30))
    return root


@pytest.fixture(scope="module")
def rubric(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("rubric") / "judged.toml"
    path.write_text(JUDGED)
    return load_rubric(str(path))


def judge_rows(out: Path):
    import polars as pl

    return open_run(out).verdicts().filter(pl.col("item").is_in(["polite", "grounded"]))


def test_one_connection_limit_for_the_whole_cluster(inputs: Path, rubric, ray_address: str, tmp_path: Path) -> None:
    with ScriptedJudge(delay=0.15) as server:
        config = server.config(concurrency=2, batch=8)  # each worker's client alone would open 2
        done = score_run([inputs], rubric, tmp_path / "run", engine="ray", ray_address=ray_address, judge=config)
    assert len(server.requests) == EPISODES
    assert server.max_active <= 2, f"{server.max_active} requests in flight at once, over the limit of 2"
    ledger = done.info["judge"]["ledger"]
    assert ledger["calls"] == EPISODES and ledger["answered"] == 2 * EPISODES
    assert set(judge_rows(tmp_path / "run")["verdict"]) <= {"pass", "na"}


def test_one_budget_for_the_whole_cluster(inputs: Path, rubric, ray_address: str, tmp_path: Path) -> None:
    with ScriptedJudge() as server:
        done = score_run([inputs], rubric, tmp_path / "run", engine="ray", ray_address=ray_address,
                         judge=server.config(max_calls=7))
    assert len(server.requests) == 7
    rows = judge_rows(tmp_path / "run")
    errors = rows.filter(rows["verdict"] == "error")
    assert errors.height == 2 * (EPISODES - 7)
    assert all("judge budget of 7 calls is spent" in r for r in errors["reason"])
    assert "fail" not in set(rows["verdict"])
    assert done.info["judge"]["ledger"]["failures"]["budget"] == EPISODES - 7


def _cached_keys(cache_dir: Path) -> int:
    with sqlite3.connect(cache_dir / CACHE_FILE) as db:
        return db.execute("SELECT count(*) FROM answers").fetchone()[0]


def test_a_rerun_on_machines_without_the_cache_makes_no_call(inputs: Path, rubric, ray_address: str,
                                                            tmp_path: Path) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache"
    with ScriptedJudge() as server:
        config = server.config(cache_dir=str(cache))
        score_run([inputs], rubric, out, engine="ray", ray_address=ray_address, judge=config)
        first = judge_rows(out)
        assert len(server.requests) == EPISODES
        assert len(list((out / "judge").iterdir())) >= 2  # the answers are kept with the run, per unit
        for f in cache.iterdir():  # as if the re-run ran on machines that never saw this cache
            f.unlink()
        cache.rmdir()
        again = score_run([inputs], rubric, out, engine="ray", ray_address=ray_address, judge=config)
        assert len(server.requests) == EPISODES, "the re-run asked the judge again"
    assert again.info["judge"]["ledger"]["cache_hits"] == 2 * EPISODES
    assert judge_rows(out).equals(first)
    assert _cached_keys(cache) == 2 * EPISODES  # the run's answers merged into this machine's cache


def test_judge_faults_are_errors_never_failures(inputs: Path, rubric, ray_address: str, tmp_path: Path) -> None:
    with ScriptedJudge(faults={"server_error": 0.5, "garbage": 0.3, "timeout": 0.1}, seed=3) as server:
        config = server.config(max_retries=0, timeout=0.5, cache_dir=str(tmp_path / "cache"))
        done = score_run([inputs], rubric, tmp_path / "run", engine="ray", ray_address=ray_address, judge=config)
    rows = judge_rows(tmp_path / "run")
    assert "fail" not in set(rows["verdict"])
    errors = rows.filter(rows["verdict"] == "error")
    assert errors.height > 0 and all(r.startswith("judge: ") for r in errors["reason"])
    ledger = done.info["judge"]["ledger"]
    assert ledger["error_verdicts"] == errors.height
