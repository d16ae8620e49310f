"""Paths outside the repository that tests read: `../shared` beside the checkout (DESIGN.md): the real
corpora and the benchmark corpus generator. A test that needs one calls `need(path)`: it skips with
the reason when the path is absent, and fails instead when RUBRICATE_REQUIRE_SHARED is set (CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RUBRICATE_SHARED", ROOT.parent / "shared"))
CORPORA = Path(os.environ.get("RUBRICATE_CORPORA", SHARED / "corpora"))
GEN_CORPUS = SHARED / "bench" / "gen_corpus.py"


def need(path: Path) -> Path:
    """`path`, or skip (fail under RUBRICATE_REQUIRE_SHARED) when it is not here."""
    if not path.exists():
        why = f"{path} is not here (../shared beside the checkout holds it)"
        if os.environ.get("RUBRICATE_REQUIRE_SHARED"):
            pytest.fail(why + "; RUBRICATE_REQUIRE_SHARED is set")
        pytest.skip(why)
    return path


def generated_chat(out: Path, episodes: int, start: int = 0) -> Path:
    """A JSONL corpus of the scoring benchmark's synthetic SQL-agent episodes (shared/bench/gen_corpus.py)."""
    if not out.exists():
        subprocess.run([sys.executable, str(need(GEN_CORPUS)), "jsonl", str(start), str(episodes), str(out)],
                       check=True, capture_output=True)
    return out
