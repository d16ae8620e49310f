"""`score_run(..., engine="ray")` / `rubricate score --engine ray` on a real local Ray cluster (two
worker processes): the same rows as the local engine on every shared corpus and on a split JSONL
corpus, progress on the driver, a killed worker's unit retried without duplicate rows, a --strict
failure raised as itself, a killed driver resumed, and a clear error without Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from _shared import CORPORA, need as need_shared
from rubricate.analyzer import open_run
from rubricate.errors import LoadIssueError
from rubricate.rubrics import load_rubric
from rubricate.scoring import score_run

RUBRIC = "tool-discipline"
CORPUS_NAMES = ["finqa", "inspect-logs", "mast-mad-human", "nemo-gym-rollouts", "tau-bench",
                "verifiers-wiki-search", "who-and-when"]


def rows(out: Path | str) -> tuple[pl.DataFrame, pl.DataFrame, list]:
    run = open_run(out)
    return run.episodes(), run.verdicts(), run.issues()


def assert_same(a: tuple, b: tuple) -> None:
    assert a[0].equals(b[0]), "episodes differ"
    assert a[1].equals(b[1]), "verdicts differ"
    assert a[2] == b[2], "issues differ"


def test_the_list_covers_every_shared_corpus() -> None:
    corpora = need_shared(CORPORA)
    assert sorted(p.name for p in corpora.iterdir() if p.is_dir()) == CORPUS_NAMES


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_every_shared_corpus_scores_as_with_the_local_engine(name: str, ray_address: str, tmp_path: Path) -> None:
    corpus = need_shared(CORPORA / name)
    rubric = load_rubric(RUBRIC)
    local = score_run([corpus], rubric, tmp_path / "local", workers=1, chunk_bytes=1 << 18)
    ray = score_run([corpus], rubric, tmp_path / "ray", engine="ray", ray_address=ray_address, chunk_bytes=1 << 18)
    assert ray.info["engine"]["name"] == "ray" and ray.info["engine"]["cpus"] == 2
    assert (ray.episodes, ray.issues) == (local.episodes, local.issues)
    assert ray.info["counts"] == local.info["counts"]
    assert_same(rows(tmp_path / "ray"), rows(tmp_path / "local"))


@pytest.fixture(scope="module")
def split_corpus(bench_chat: Path, tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    """The benchmark's SQL-agent episodes (~32 MB: 32 byte ranges of 1 MB) and a file with damaged lines."""
    root = tmp_path_factory.mktemp("split")
    os.symlink(bench_chat, root / "bench.jsonl")
    corpus.write_jsonl(root / "damaged.jsonl", range(0, 200), pad=2000, bad_every=41)  # < 1 MB: one unit
    return root


@pytest.fixture(scope="module")
def split_reference(split_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("ref") / "run"
    summary = score_run([split_corpus], load_rubric(RUBRIC), out, workers=1, chunk_bytes=1 << 20)
    assert summary.info["counts"]["units"] > 30 and summary.issues > 0
    return rows(out)


def test_split_files_are_numbered_as_locally_and_progress_reaches_the_end(
        split_corpus: Path, split_reference: tuple, ray_address: str, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    summary = score_run([split_corpus], load_rubric(RUBRIC), tmp_path / "run", engine="ray", ray_address=ray_address,
                        chunk_bytes=1 << 20, on_progress=lambda done, total: seen.append((done, total)))
    assert_same(rows(tmp_path / "run"), split_reference)
    assert summary.info["counts"]["kernel_episodes"] >= 3000  # the C kernel scored them
    total = sum(f.stat().st_size for f in split_corpus.iterdir())
    assert seen and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_killed_worker_is_retried_and_adds_no_rows(split_corpus: Path, split_reference: tuple, ray_address: str,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    once = tmp_path / "killed"
    monkeypatch.setenv("RUBRICATE_FAULT", "mid-unit:5:worker")  # a Ray worker kills itself inside a unit
    monkeypatch.setenv("RUBRICATE_FAULT_ONCE", str(once))
    score_run([split_corpus], load_rubric(RUBRIC), tmp_path / "run", engine="ray", ray_address=ray_address,
              chunk_bytes=1 << 20)
    assert once.exists(), "no worker was killed"
    got = rows(tmp_path / "run")
    assert got[0]["episode_id"].n_unique() == got[0].height
    assert_same(got, split_reference)


def test_strict_stops_at_the_damaged_line_and_resume_finishes(split_corpus: Path, split_reference: tuple,
                                                              ray_address: str, tmp_path: Path) -> None:
    rubric = load_rubric(RUBRIC)
    out = tmp_path / "run"
    with pytest.raises(LoadIssueError) as caught:
        score_run([split_corpus], rubric, out, engine="ray", ray_address=ray_address, chunk_bytes=1 << 20, strict=True)
    assert caught.value.issue.path == "damaged.jsonl" and caught.value.issue.line == 42
    assert not (out / "run.json").exists()
    resumed = score_run([split_corpus], rubric, out, engine="ray", ray_address=ray_address, chunk_bytes=1 << 20,
                        resume=True)
    assert "resumed" in resumed.info
    assert_same(rows(out), split_reference)


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RUBRICATE_FAULT") and k != "RAY_ADDRESS"}
    return subprocess.run([sys.executable, "-m", "rubricate", *args], env={**environ, **(env or {})},
                          capture_output=True, text=True, timeout=600)


def test_a_killed_driver_is_resumed_with_the_same_rows(split_corpus: Path, split_reference: tuple, ray_address: str,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["score", str(split_corpus), "-r", RUBRIC, "-o", str(out), "--engine", "ray", "--ray-address", ray_address,
            "--no-progress", "-q"]
    # chunk_bytes is not a CLI option: the corpus's 32 MB file is one unit here, the damaged one another
    killed = _cli(argv, env={"RUBRICATE_FAULT": "unit-received:1:parent"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / "run.json").exists()
    done = _cli([*argv, "--resume"])
    assert done.returncode == 0, done.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["resumed"]["units_done_before"] >= 1
    assert_same(rows(out), split_reference)


def test_without_an_address_a_cluster_of_this_machine_is_started(ray_installed: None, tmp_path: Path) -> None:
    corpus = need_shared(CORPORA / "tau-bench")
    done = _cli(["score", str(corpus), "-r", RUBRIC, "-o", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2",
                 "--no-progress", "-q"])
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["engine"] | {"ray_version": None, "start_s": None} == \
        {"name": "ray", "address": "local", "nodes": 1, "cpus": 2, "ray_version": None, "start_s": None}
    score_run([corpus], load_rubric(RUBRIC), tmp_path / "local", workers=1)
    assert_same(rows(tmp_path / "ray"), rows(tmp_path / "local"))


def test_without_ray_the_engine_says_how_to_install_it(tmp_path: Path) -> None:
    corpus = need_shared(CORPORA / "tau-bench")
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    done = _cli(["score", str(corpus), "-r", RUBRIC, "-o", str(tmp_path / "run"), "--engine", "ray", "-q"],
                env={"PYTHONPATH": str(tmp_path / "no-ray")})
    assert done.returncode == 2
    assert "--engine ray needs Ray" in done.stderr and "pip install 'rubricate[ray]'" in done.stderr
    assert not (tmp_path / "run").exists()
