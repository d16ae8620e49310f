"""Run.load_episodes reads only the sampled lines of a JSONL file: the same episodes as a full read,
and line offsets right across chunk boundaries, blank lines and a last line without a newline."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import rubricate
import rubricate.analyzer._results as results
from rubricate.analyzer import open_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wiki-search"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 24])
def test_line_starts_match_a_plain_scan(tmp_path: Path, chunk: int) -> None:
    r = random.Random(chunk)
    lines = [b"x" * r.randint(0, 9) for _ in range(60)]
    data = b"\n".join(lines)  # no newline after the last line
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    starts, pos = {}, 0
    for n, line in enumerate(lines, 1):
        starts[n] = pos
        pos += len(line) + 1
    wanted = {1, 2, 5, 17, 18, 59, 60, 61, 100}
    got = results._line_starts(str(path), wanted, chunk_size=chunk)
    assert got == [(n, starts[n]) for n in sorted(wanted) if n in starts]


def test_load_episodes_reads_the_same_episodes_as_a_full_read(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_NO_PLUGINS", "1")
    rubricate.score_run(EXAMPLE / "traces", rubricate.load_rubric(str(EXAMPLE / "rubric.toml")), tmp_path / "run",
                        workers=1)
    run = open_run(tmp_path / "run")
    ids = run.episodes()["episode_id"].to_list()[::7]
    fast = run.load_episodes(ids)
    monkeypatch.setattr(results, "_read_at", lambda reader, file, keys: reader.read(file))
    slow = run.load_episodes(ids)
    assert set(fast) == set(slow) == set(ids)
    assert all(fast[i].to_dict(raw=True) == slow[i].to_dict(raw=True) for i in ids)
