"""`--workers` above the cores there are is capped, with a note (no 63 processes on 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from rubricate.scoring._engine import available_cores

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_workers_above_the_cores_are_capped_with_a_note(tmp_path):
    cores = available_cores()
    done = subprocess.run([sys.executable, "-m", "rubricate", "score", os.path.join(ROOT, "examples", "wiki-search", "traces"),
                           "-r", os.path.join(ROOT, "examples", "wiki-search", "rubric.toml"), "-o", str(tmp_path / "run"),
                           "--workers", "1000", "--no-progress", "-q"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"note: --workers 1000 is more than the {cores} cores here: using {cores}" in done.stderr
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert len(info["timings"]["seconds_per_worker"]) <= cores
