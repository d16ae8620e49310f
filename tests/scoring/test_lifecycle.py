"""The run directory's lifecycle with real processes: `rubricate score` is killed with SIGKILL at named
points (start-up, between and inside units, in a worker, during the swap); every outcome is compared
with an uninterrupted run of the same command, and `--resume` must finish it with the same rows.

Also: one writer at a time (a second is refused with exit 3 naming the pid), workers die with their
parent, --out that is not a run is refused without --force, an unwritable --out is a clear error, a
re-score carries over the user's files, and a resumed judge run asks the judge nothing twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from rubricate.analyzer import open_run
from rubricate.rubrics.judges import ScriptedJudge
from rubricate.scoring import staging_path

RUBRIC = "tool-discipline"


def score(paths: list[Path], out: Path, *extra: str, fault: str | None = None, workers: int = 1,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    environ.pop("RUBRICATE_FAULT", None)
    if fault:
        environ["RUBRICATE_FAULT"] = fault
    argv = [sys.executable, "-m", "rubricate", "score", *map(str, paths), "-r", RUBRIC, "-o", str(out),
            "--workers", str(workers), "--no-progress", "-q", *extra]
    return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=300)


def rows(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, list]:
    run = open_run(out)
    return run.episodes(), run.verdicts(), run.issues()


def same(a: tuple, b: tuple) -> bool:
    return a[0].equals(b[0]) and a[1].equals(b[1]) and a[2] == b[2]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, corpus) -> dict[str, Path]:
    """`old`: what the previous run scored; `new`: 8 files (8 units, one with damaged lines) and,
    for the worker cases, `many`: enough bytes that two workers start."""
    root = tmp_path_factory.mktemp("lifecycle")
    old, new, many = root / "old", root / "new", root / "many"
    for d in (old, new, many):
        d.mkdir()
    corpus.write_jsonl(old / "old.jsonl", range(1000, 1005))
    for k in range(8):
        corpus.write_jsonl(new / f"part{k}.jsonl", range(k * 40, k * 40 + 40), bad_every=13 if k == 3 else 0)
    corpus.write_files(many, range(400), pad=26000)
    return {"old": old, "new": new, "many": many}


@pytest.fixture(scope="module")
def reference(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Uninterrupted runs of each input: what every interrupted run must end up as."""
    root = tmp_path_factory.mktemp("reference")
    out = {}
    for name in ("old", "new", "many"):
        done = score([inputs[name]], root / name, workers=2 if name == "many" else 1)
        assert done.returncode == 0, done.stderr
        out[name] = rows(root / name)
    return out


# point, role of the killed process, workers, input
KILLS = [
    ("locked", "parent", 1, "new"),
    ("planned", "parent", 1, "new"),
    ("unit-committed:1", "parent", 1, "new"),
    ("unit-committed:5", "parent", 1, "new"),
    ("mid-unit:2", "parent", 1, "new"),
    ("mid-unit:7", "parent", 1, "new"),
    ("finalized", "parent", 1, "new"),
    ("carried", "parent", 1, "new"),
    ("swapped", "parent", 1, "new"),
    ("old-removed", "parent", 1, "new"),
    ("mid-unit:30:parent", "parent", 2, "many"),
    ("unit-committed:40:worker", "worker", 2, "many"),
    ("mid-unit:100:worker", "worker", 2, "many"),
]


@pytest.mark.parametrize(("point", "role", "workers", "source"), KILLS, ids=[k[0] for k in KILLS])
def test_killed_run_leaves_a_whole_run_and_resumes_to_the_uninterrupted_one(
        point: str, role: str, workers: int, source: str, inputs, reference, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert score([inputs["old"]], out).returncode == 0
    (out / "report.html").write_text("the user's file")

    killed = score([inputs[source]], out, fault=point if ":" in point else point + ":1", workers=workers)
    if role == "parent":
        assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    else:  # a worker killed: the parent stops the run with a clear error and keeps what is done
        assert killed.returncode == 3 and "a scoring worker died" in killed.stderr, killed.stderr

    # whatever the moment, --out holds one whole run: the old one or the new one, never a mix
    now = rows(out)
    assert same(now, reference["old"]) or same(now, reference[source]), f"mixed run after a kill at {point}"
    swapped = same(now, reference[source])
    assert swapped == (point in ("swapped", "old-removed"))

    # and no worker outlives its parent: the lock of the run being built is free at once
    staging = Path(staging_path(str(out)))
    if staging.exists():
        _assert_unlocked(staging / ".lock")

    resumed = score([inputs[source]], out, "--resume", workers=workers)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((out / "run.json").read_text())
    if point.startswith(("locked", "swapped", "old-removed")):  # nothing was left to resume: scored afresh
        assert "nothing to resume" in resumed.stderr and "resumed" not in info
    else:
        assert info["resumed"]["units"] == info["counts"]["units"]
    assert same(rows(out), reference[source])
    assert not staging.exists() and not (tmp_path / ".run.old").exists()
    assert (out / "report.html").read_text() == "the user's file"


def _assert_unlocked(lock: Path, wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    with open(lock, "rb") as f:
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{lock} is still held: a worker outlived its killed parent") from None
                time.sleep(0.05)


def test_resume_after_a_kill_between_units_skips_the_finished_ones(inputs, reference, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert score([inputs["new"]], out, fault="unit-committed:5").returncode == -signal.SIGKILL
    done = sorted(os.listdir(Path(staging_path(str(out))) / ".units"))
    assert done == [f"part-{k:05d}.json" for k in range(5)]
    resumed = score([inputs["new"]], out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["resumed"] == {"units_done_before": 5, "units": 8}
    assert info["counts"]["episodes"] == reference["new"][0].height
    assert same(rows(out), reference["new"])


def test_resume_refuses_other_inputs_or_rubric(inputs, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert score([inputs["new"]], out, fault="unit-committed:2").returncode == -signal.SIGKILL
    other = score([inputs["old"]], out, "--resume")
    assert other.returncode == 2 and "trace files changed" in other.stderr
    argv = [sys.executable, "-m", "rubricate", "score", str(inputs["new"]), "-r", "agent-basics", "-o", str(out),
            "--resume", "-q", "--no-progress"]
    rubric = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert rubric.returncode == 2 and "other settings (rubric)" in rubric.stderr


def test_a_second_writer_is_refused_with_the_first_ones_pid(inputs, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "RUBRICATE_FAULT": ""}
    first = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "locked"
        second = score([inputs["old"]], out)
        assert second.returncode == 3
        assert f"{out} is being written by pid {first.pid}" in second.stderr
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    assert score([inputs["old"]], out).returncode == 0  # the lock dies with its holder


_HOLD_LOCK = """
import sys, time
from rubricate.scoring import RunWriter
with RunWriter(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_out_that_is_not_a_run_is_refused_unless_forced(inputs, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    refused = score([inputs["old"]], out)
    assert refused.returncode == 2
    assert "is a directory that is not a run and not empty (notes.txt)" in refused.stderr
    assert "--force" in refused.stderr
    assert sorted(os.listdir(out)) == ["notes.txt"]
    forced = score([inputs["old"]], out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "notes.txt").read_text() == "keep me" and (out / "run.json").exists()


def test_unwritable_out_is_a_clear_error(inputs, tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere: a file in the way stands in for the refusal
        blocker = tmp_path / "file"
        blocker.write_text("x")
        failed = score([inputs["old"]], blocker / "run")
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        failed = score([inputs["old"]], locked / "run")
    assert failed.returncode == 2, failed.stderr
    assert "cannot write the run here" in failed.stderr and "internal error" not in failed.stderr


def test_resumed_judge_run_asks_nothing_twice(inputs, tmp_path: Path) -> None:
    rubric = tmp_path / "judged.toml"
    rubric.write_text('id = "judged"\nversion = "1"\n\n[[items]]\nid = "answers"\ncheck = "answers_question"\n\n'
                      '[[items]]\nid = "polite"\nkind = "judge"\nquestion = "Was the agent polite?"\nweight = 0\n')
    out = tmp_path / "run"
    with ScriptedJudge() as server:
        judge = ["--judge-model", "scripted", "--judge-base-url", server.base_url, "--judge-cache", str(tmp_path / "c"),
                 "--judge-api-key-env", "PATH"]
        argv = [sys.executable, "-m", "rubricate", "score", str(inputs["new"]), "-r", str(rubric), "-o", str(out),
                "-q", "--no-progress", *judge]
        env = {**os.environ, "RUBRICATE_FAULT": "mid-unit:100"}
        assert subprocess.run(argv, env=env, capture_output=True, timeout=120).returncode == -signal.SIGKILL
        asked = len(server.requests)
        assert 0 < asked
        done = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        episodes = open_run(out).episodes().height
        asked_ids = [json.dumps(r.steps, sort_keys=True) for r in server.requests]  # the episode shown
        assert len(server.requests) == episodes == len(set(asked_ids)), "a judge call was repeated"


def test_a_symlinked_run_directory_is_rewritten_where_it_points(inputs, reference, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "run"
    assert score([inputs["old"]], real).returncode == 0
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    done = score([inputs["new"]], link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and same(rows(link), reference["new"]) and same(rows(real), reference["new"])
