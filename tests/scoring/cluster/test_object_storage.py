"""Trace paths and runs on object storage, against moto's S3 server on loopback: the same rows as
from disk (both engines), `analyze`, `report`, `sql`, `compare` and `summary` reading a run there,
one writer (a lock object), and "complete or previous, never mixed" when a writer is killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from _shared import CORPORA, need as need_shared
from rubricate.analyzer import open_run
from rubricate.errors import OutputError, RunLockedError
from rubricate.rubrics import load_rubric
from rubricate.scoring import score_run

RUBRIC = "tool-discipline"


def rows(out: str | Path, drop_source: bool = False) -> tuple[pl.DataFrame, pl.DataFrame, list]:
    """A run's episodes, verdicts and issues; `drop_source` leaves out `source_file` (a path or a URL)."""
    run = open_run(out)
    episodes = run.episodes()
    return (episodes.drop("source_file") if drop_source else episodes), run.verdicts(), run.issues()


def assert_same(a: tuple, b: tuple) -> None:
    assert a[0].equals(b[0]), "episodes differ"
    assert a[1].equals(b[1]), "verdicts differ"
    assert a[2] == b[2], "issues differ"


@pytest.fixture(scope="module")
def local_inputs(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    """Real verifiers runs (results.jsonl beside its metadata.json), a JSON document corpus, a JSONL
    file of ~6 MB with damaged lines (split in byte ranges), and a JSON array beside single files."""
    root = tmp_path_factory.mktemp("inputs")
    for name in ("verifiers-wiki-search/wiki-search--gpt-4.1", "verifiers-wiki-search/wiki-search--gpt-5-mini",
                 "tau-bench"):
        src = need_shared(CORPORA / name)
        subprocess.run(["cp", "-r", str(src), str(root / name.replace("/", "-"))], check=True)
    corpus.write_jsonl(root / "big.jsonl", range(0, 2000), pad=2000, bad_every=150)
    corpus.write_jsonl(root / "wide.jsonl", range(3000, 3020), pad=90_000)  # lines longer than the 64 KiB head
    (root / "small").mkdir()
    (root / "small" / "array.json").write_text(json.dumps([corpus.make_record(i) for i in range(5000, 5010)]))
    corpus.write_files(root / "small" / "singles", range(5100, 5120))
    return root


@pytest.fixture(scope="module")
def remote_inputs(local_inputs: Path, s3) -> str:
    url = s3.url("inputs")
    s3.fs.put(str(local_inputs), url.removeprefix("s3://"), recursive=True)
    return url


@pytest.fixture(scope="module")
def reference(local_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("ref") / "run"
    done = score_run([local_inputs], load_rubric(RUBRIC), out, workers=1, chunk_bytes=1 << 20)
    assert done.info["counts"]["units"] > done.info["counts"]["files"]  # big.jsonl was cut in ranges
    return rows(out, drop_source=True)


def test_the_local_engine_reads_and_writes_s3_as_disk(remote_inputs: str, reference: tuple, s3) -> None:
    out = s3.url("runs", "local-engine")
    done = score_run([remote_inputs], load_rubric(RUBRIC), out, workers=2, chunk_bytes=1 << 20)
    assert done.info["timings"]["workers"] == 2
    got = rows(out, drop_source=True)
    assert_same(got, reference)
    sources = open_run(out).episodes()["source_file"]
    assert all(s.startswith(remote_inputs + "/") for s in sources)
    info = json.loads(s3.fs.cat(f"{s3.bucket}/runs/local-engine/run.json"))
    assert info["generation"] == 1 and info["inputs"] == [remote_inputs]
    assert all(p.startswith("gen-00001/") for t in info["parts"].values() for p in t)
    assert not s3.fs.exists(f"{s3.bucket}/runs/local-engine/.lock")
    assert done.episodes == reference[0].height


def test_traces_load_from_s3_as_from_disk(remote_inputs: str, local_inputs: Path) -> None:
    import rubricate

    here = rubricate.load_episodes(local_inputs / "small")
    there = rubricate.load_episodes(remote_inputs + "/small")
    assert [(e.id, e.source, len(e.steps)) for e in there] == [(e.id, e.source, len(e.steps)) for e in here]
    assert len(list(here)) == 30 and there.issues == here.issues == []


def test_the_ray_engine_reads_and_writes_s3_as_disk(remote_inputs: str, reference: tuple, s3, ray_address: str) -> None:
    out = s3.url("runs", "ray-engine")
    score_run([remote_inputs], load_rubric(RUBRIC), out, engine="ray", ray_address=ray_address, chunk_bytes=1 << 20)
    assert_same(rows(out, drop_source=True), reference)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RUBRICATE_FAULT")}
    return subprocess.run([sys.executable, "-m", "rubricate", *args], env={**environ, **(env or {})},
                          capture_output=True, text=True, timeout=600)


def test_the_analysis_commands_read_a_run_on_s3(remote_inputs: str, local_inputs: Path, s3, tmp_path: Path) -> None:
    out, local = s3.url("runs", "cli"), tmp_path / "local"
    for argv in (["score", remote_inputs, "-r", RUBRIC, "-o", out, "-q", "--no-progress"],
                 ["score", str(local_inputs), "-r", RUBRIC, "-o", str(local), "-q", "--no-progress"]):
        done = _cli(*argv)
        assert done.returncode == 0, done.stderr
    for command in (["sql", "{}", "SELECT verdict, count(*) AS n FROM verdicts GROUP BY ALL ORDER BY ALL", "--json"],
                    ["summary", "{}", "--json"], ["analyze", "{}", "--json"]):
        remote = _cli(*[out if a == "{}" else a for a in command])
        here = _cli(*[str(local) if a == "{}" else a for a in command])
        assert remote.returncode == 0 and here.returncode == 0, remote.stderr + here.stderr
        assert _findings(remote.stdout) == _findings(here.stdout), command[0]
    for a, b in ((str(local), out), (out, out)):  # one run on disk and one on S3; two on S3
        compared = _cli("compare", a, b, "--json")
        assert compared.returncode == 0, compared.stderr
        assert all(item["change"] in (0, None) for item in json.loads(compared.stdout)["items"])
    guides = {}
    for name, run in (("remote", out), ("local", str(local))):
        done = _cli("guide", run, "--out", str(tmp_path / f"{name}.jsonl"))
        assert done.returncode == 0, done.stderr
        guides[name] = (tmp_path / f"{name}.jsonl").read_text()
    assert guides["remote"] and guides["remote"] == guides["local"].replace(str(local_inputs), remote_inputs)
    report = tmp_path / "report.html"
    done = _cli("report", out, "-o", str(report))
    assert done.returncode == 0, done.stderr
    assert report.stat().st_size > 10_000 and "sql-agent" in report.read_text()  # tool-discipline is its alias


def _findings(text: str) -> object:
    """A command's JSON without what names the run (its path, run.json's timings and inputs)."""
    data = json.loads(text)
    if isinstance(data, dict):
        data.pop("run", None)
    return data


def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(remote_inputs: str, s3) -> None:
    out = s3.url("runs", "locked")
    lock = f"{s3.bucket}/runs/locked/.lock"
    s3.fs.pipe(lock, json.dumps({"pid": 4242, "host": "another-machine", "since": "then"}).encode())
    with pytest.raises(RunLockedError, match="being written by pid 4242 on another-machine"):
        score_run([remote_inputs + "/tau-bench"], load_rubric(RUBRIC), out)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    s3.fs.pipe(lock, json.dumps({"pid": int(gone.stdout), "host": socket.gethostname()}).encode())
    done = score_run([remote_inputs + "/tau-bench"], load_rubric(RUBRIC), out)
    assert any("took over the lock" in n for n in done.notes)
    assert not s3.fs.exists(lock)


def test_a_prefix_that_is_not_a_run_is_refused_without_force(remote_inputs: str, s3) -> None:
    s3.fs.pipe(f"{s3.bucket}/runs/notarun/data.csv", b"a,b\n")
    with pytest.raises(OutputError, match="not a run"):
        score_run([remote_inputs + "/tau-bench"], load_rubric(RUBRIC), s3.url("runs", "notarun"))
    score_run([remote_inputs + "/tau-bench"], load_rubric(RUBRIC), s3.url("runs", "notarun"), force=True)
    assert s3.fs.exists(f"{s3.bucket}/runs/notarun/data.csv")


@pytest.mark.parametrize("point", ["unit-committed:2", "swapped"])
def test_a_killed_writer_leaves_the_previous_or_the_new_run_never_a_mix(point: str, remote_inputs: str, s3,
                                                                        reference: tuple) -> None:
    out = s3.url("runs", f"killed-{point.split(':')[0]}")
    score_run([remote_inputs + "/tau-bench"], load_rubric(RUBRIC), out)
    previous = rows(out)
    argv = ["score", remote_inputs, "-r", RUBRIC, "-o", out, "-q", "--no-progress", "--workers", "1"]
    killed = _cli(*argv, env={"RUBRICATE_FAULT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    s3.fs.invalidate_cache()
    after = rows(out)
    if point == "swapped":  # killed after run.json named the new generation: the new run, whole
        assert_same((after[0].drop("source_file"), after[1], after[2]), reference)
    else:  # killed while building: the previous run, whole and readable
        assert_same(after, previous)
    done = _cli(*argv, "--resume")
    assert done.returncode == 0, done.stderr
    assert_same(rows(out, drop_source=True), reference)
    entries = {p.rsplit("/", 1)[-1] for p in s3.fs.ls(f"{s3.bucket}/runs/{out.rsplit('/', 1)[-1]}")}
    info = open_run(out).info
    assert entries == {"run.json", f"gen-{info['generation']:05d}"}, entries  # old generations and the lock gone
