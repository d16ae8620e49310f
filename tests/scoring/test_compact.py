"""Format 1 runs (one file a table) stay readable, and `rubricate compact` rewrites a run's parts as one
part per table, atomically, turning a format 1 run into format 2 with the same rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rubricate.analyzer import analyze, open_run
from rubricate.cli import main
from rubricate.rubrics import load_rubric
from rubricate.scoring import compact_run, score_run


@pytest.fixture(scope="module")
def parted(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    """A run of 6 files (6 parts a table), one with damaged lines (issues in one part)."""
    src = tmp_path_factory.mktemp("src")
    for k in range(6):
        corpus.write_jsonl(src / f"f{k}.jsonl", range(k * 10, k * 10 + 10), bad_every=4 if k == 2 else 0)
    out = tmp_path_factory.mktemp("runs") / "parted"
    score_run(src, load_rubric("tool-discipline"), out, workers=1)
    return out


def _format1(parted: Path, dest: Path) -> Path:
    """The same run as format 1 wrote it: episodes.parquet, verdicts.parquet, issues.jsonl."""
    dest.mkdir()
    for table in ("episodes", "verdicts"):
        parts = sorted((parted / table).glob("*.parquet"))
        tables = [pq.read_table(p) for p in parts]
        with pq.ParquetWriter(dest / f"{table}.parquet", tables[0].schema) as w:
            for t in tables:
                w.write_table(t)
    (dest / "issues.jsonl").write_bytes(b"".join(p.read_bytes() for p in sorted((parted / "issues").glob("*"))))
    info = json.loads((parted / "run.json").read_text())
    info["run_format"] = 1
    info.pop("generation", None)
    (dest / "run.json").write_text(json.dumps(info))
    return dest


def test_format1_runs_are_read_as_they_are(parted: Path, tmp_path: Path) -> None:
    new, old = open_run(parted), open_run(_format1(parted, tmp_path / "v1"))
    assert old.format == 1 and new.format == 2
    assert old.episodes().equals(new.episodes()) and old.verdicts().equals(new.verdicts())
    assert old.issues() == new.issues() and len(old.issues()) > 0
    assert old.summary().equals(new.summary())
    assert analyze(old).behaviors.equals(analyze(new).behaviors)
    assert old.sql("SELECT count(*) AS n FROM verdicts")["n"][0] == new.verdicts().height


def test_compact_rewrites_parts_as_one_with_the_same_rows(parted: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(parted, run)
    before = open_run(run)
    episodes, verdicts, issues = before.episodes(), before.verdicts(), before.issues()
    assert len(list((run / "verdicts").glob("*.parquet"))) == 6
    assert main(["compact", str(run)]) == 0
    assert "episodes 6 -> 1 part" in capsys.readouterr().err
    after = open_run(run)
    for table in ("episodes", "verdicts"):
        assert [p.name for p in (run / table).iterdir()] == ["part-00000.parquet"]
    assert after.episodes().equals(episodes) and after.verdicts().equals(verdicts) and after.issues() == issues
    assert after.info["compacted"] == {"parts_before": {"episodes": 6, "verdicts": 6}}
    assert after.info["generation"] == before.info["generation"] + 1


def test_compact_turns_a_format1_run_into_format2(parted: Path, tmp_path: Path) -> None:
    v1 = _format1(parted, tmp_path / "v1")
    want = open_run(v1)
    episodes, verdicts, issues = want.episodes(), want.verdicts(), want.issues()
    info = compact_run(v1)
    got = open_run(v1)
    assert info["run_format"] == got.format == 2
    assert not (v1 / "episodes.parquet").exists() and (v1 / "episodes" / "part-00000.parquet").exists()
    assert got.episodes().equals(episodes) and got.verdicts().equals(verdicts) and got.issues() == issues


def test_compact_needs_a_complete_run(tmp_path: Path) -> None:
    assert main(["compact", str(tmp_path)]) == 3
