"""End to end: a run scored by the native kernel equals the same run on the Python path, row for row.

The kernel may decline a line (the Python path then reads it), never differ. These tests score the
same traces twice, with the kernel and with RUBRICATE_NO_KERNEL=1, and compare every column of
episodes.parquet and verdicts.parquet, and check that the kernel really scored the lines it should.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rubricate import load_rubric, score_run
from rubricate.rubrics import parse_rubric

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FIXTURES = ROOT / "tests" / "fixtures"


def _rows(run: Path, name: str) -> list[dict[str, Any]]:
    table = pq.read_table(run / name)
    rows = table.to_pylist()
    for row in rows:
        row.pop("source_file", None)  # absolute path of the input: the same file in both runs
    return rows


def _both(tmp_path: Path, traces: Path | list[Path], rubric: Any, monkeypatch: pytest.MonkeyPatch,
          tag: str = "") -> tuple[Path, Path, dict[str, Any]]:
    native, python = tmp_path / f"native{tag}", tmp_path / f"python{tag}"
    summary = score_run(traces, rubric, native, workers=1)
    with monkeypatch.context() as m:
        m.setenv("RUBRICATE_NO_KERNEL", "1")
        reference = score_run(traces, rubric, python, workers=1)
    assert reference.info["counts"]["kernel_episodes"] == 0
    return native, python, summary.info


def _assert_same(native: Path, python: Path) -> None:
    for name in ("episodes.parquet", "verdicts.parquet"):
        got, want = _rows(native, name), _rows(python, name)
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            assert g == w, f"{name}: kernel {g} != python {w}"
    assert (native / "issues.jsonl").read_bytes() == (python / "issues.jsonl").read_bytes()


@pytest.fixture(scope="module")
def bench_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 episodes of the benchmark shape (shared/bench/gen_corpus.py), as JSONL."""
    out = tmp_path_factory.mktemp("bench") / "corpus.jsonl"
    subprocess.run([sys.executable, str(SHARED / "bench" / "gen_corpus.py"), "jsonl", "0", "600", str(out)],
                   check=True)
    return out


def test_benchmark_corpus_is_scored_by_the_kernel_with_the_python_verdicts(
        kernel: Any, bench_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    native, python, info = _both(tmp_path, bench_corpus, load_rubric("tool-discipline"), monkeypatch)
    _assert_same(native, python)
    assert info["counts"]["episodes"] == 600
    assert info["counts"]["kernel_episodes"] == 600  # no line of this shape needs the Python path


def test_agent_basics_is_not_for_the_kernel_and_runs_the_python_path(
        kernel: Any, bench_corpus: Path, tmp_path: Path) -> None:
    info = score_run(bench_corpus, load_rubric("agent-basics"), tmp_path / "run", workers=1).info
    assert info["counts"]["episodes"] == 600 and info["counts"]["kernel_episodes"] == 0


def test_openai_chat_fixtures_and_damaged_lines(kernel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted((FIXTURES / "openai-chat").glob("*.jsonl")) + sorted((FIXTURES / "damaged").glob("*.jsonl"))
    assert files
    native, python, info = _both(tmp_path, files, load_rubric("tool-discipline"), monkeypatch)
    _assert_same(native, python)
    assert info["counts"]["kernel_episodes"] > 0


ROLE_RUBRIC = """
id = "roles"
version = "1"
[params]
discovery_tools = ["Search_Pages", "list_tables"]
query_tools = ["read_section", "sql_query"]
schema_tools = ["view_sections", "describe_table"]
answer_tools = ["submit_answer"]
entity_args = ["page_id", "table", "tables"]
entity_separator = ":"
[[items]]
id = "discovers"
check = "discovers_tables"
behavior = "discovery"
[[items]]
id = "inspects"
check = "inspects_schema"
behavior = "schema"
[[items]]
id = "recovers"
check = "recovers_from_errors"
behavior = "recovery"
weight = 2
[[items]]
id = "repeats"
check = "no_repeated_failing_call"
behavior = "recovery"
weight = -1
[[items]]
id = "grounded"
check = "grounded_answer"
behavior = "grounding"
[[items]]
id = "correct"
check = "answer_correct"
behavior = "correctness"
"""


def _generated_records(seed: int, n: int) -> list[dict[str, Any]]:
    """Adversarial OpenAI-chat records: role-mapped tools, entity arguments, errors, retries,
    parallel and unpaired calls, answer tools, numbers with units, ground truths of every kind."""
    r = random.Random(seed)
    tools = ["Search_Pages", "list_tables", "read_section", "sql_query", "view_sections", "describe_table",
             "submit_answer", "other"]
    tables = ["orders", "Orders", "t1", "sales.q1", "`odd name`", "x:y", " pad "]
    outputs = ["12,345.6 rows", "Error: no such table", "Traceback (most recent call last):\n boom",
               '{"error": null, "v": 17.5}', '{"error": "bad"}', "3.4 million and 12%", "page not found",
               "value 1,2345 and 0.175", "", "42", "revenue grew 7.5 percent to $1.2bn"]
    answers = ["The answer is 12,345.6", "\\boxed{17.5%}", "about 3.4 million", "no numbers here", "42",
               "Final answer: 1.2 billion", "Paris", "-0.0", "The total was 19.7."]
    out = []
    for i in range(n):
        msgs: list[dict[str, Any]] = [{"role": r.choice(["system", "developer"]), "content": "be good"},
                                      {"role": "user", "content": r.choice(["What is 2024 revenue?", "Q 12", "hi"])}]
        pending: list[str] = []
        for _ in range(r.randint(0, 8)):
            calls = []
            for _ in range(r.choice([1, 1, 1, 2])):
                name = r.choice(tools)
                args: Any = r.choice([
                    {"table": r.choice(tables)}, {"tables": [r.choice(tables), 3, None]},
                    {"query": f"SELECT * FROM {r.choice(tables)} JOIN t1 ON a=b"}, {"page_id": "p:1"},
                    {"answer": r.choice(answers)}, {"answer": 12.5}, {"answer": True}, {}, {"x": [1, {"b": 2}]}])
                raw = json.dumps(args) if r.random() < 0.9 else r.choice(["{bad", "[1]", "", "null"])
                cid = f"c{i}-{len(pending)}-{r.randint(0, 3)}"
                call: dict[str, Any] = {"id": cid if r.random() < 0.8 else None, "type": "function",
                                        "function": {"name": name, "arguments": raw}}
                calls.append(call)
                pending.append(cid)
            msgs.append({"role": "assistant", "content": r.choice([None, "", "let me look", "The answer is 42"]),
                         "tool_calls": calls})
            for cid in list(pending):
                if r.random() < 0.85:
                    tool: dict[str, Any] = {"role": r.choice(["tool", "tool", "function"]),
                                            "content": r.choice(outputs)}
                    if r.random() < 0.8:
                        tool["tool_call_id"] = cid
                    if r.random() < 0.2:
                        tool["is_error"] = r.choice([True, False])
                    msgs.append(tool)
                pending.remove(cid)
        if r.random() < 0.8:
            msgs.append({"role": "assistant", "content": r.choice(answers)})
        record: dict[str, Any] = {"messages": msgs}
        if r.random() < 0.7:
            record[r.choice(["id", "episode_id", "uid"])] = r.choice([f"ep{i}", i, ""])
        if r.random() < 0.6:
            record[r.choice(["answer", "ground_truth", "expected"])] = r.choice(
                ["12,345.6", "17.5%", "Paris", "3.4 million", 42, "", "  "])
        if r.random() < 0.5:
            record["reward"] = r.choice([1, 0.5, True, None])
        if r.random() < 0.5:
            record["metadata"] = {"model": r.choice(["a", "b"]), "seed": i, "nested": {"k": [1, 2.5]}}
        if r.random() < 0.3:
            record["final_answer"] = r.choice(answers)
        record["model"] = r.choice(["qwen", "gpt"])
        out.append(record)
    return out


def test_generated_records_with_role_mapped_rubric(kernel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gen.jsonl"
    records = _generated_records(7, 1500)
    with open(path, "w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
        f.write('{"messages": [}\n')  # a damaged line in the middle of good ones
        f.write(json.dumps(_generated_records(8, 1)[0]) + "\n")
    rubric = parse_rubric(ROLE_RUBRIC, path="roles.toml")
    native, python, info = _both(tmp_path, path, rubric, monkeypatch)
    _assert_same(native, python)
    assert info["counts"]["episodes"] == 1501 and info["counts"]["issues"] == 1
    assert info["counts"]["kernel_episodes"] > 1200, info["counts"]


def test_real_corpora_agree(kernel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every real corpus through both paths (the kernel reads only its OpenAI-chat files)."""
    corpora = [p for p in sorted((SHARED / "corpora").iterdir()) if p.is_dir() and p.name != "finqa"]
    for k, corpus in enumerate(corpora):
        native, python, _ = _both(tmp_path, corpus, load_rubric("tool-discipline"), monkeypatch, tag=str(k))
        _assert_same(native, python)
    assert os.environ.get("RUBRICATE_NO_KERNEL") is None


def test_spans_blocks_blank_lines_and_compression(kernel: Any, bench_corpus: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers over line-aligned byte ranges, blocks smaller than a line, blank lines, an
    unterminated last line and a .zst copy: the same rows, in file order, as the Python path."""
    import zstandard

    from rubricate.analyzer import _native

    lines = bench_corpus.read_bytes().splitlines(keepends=True) * 2  # > 8 MB: two workers
    text = b"".join(lines[:50]) + b"\n  \n" + b"".join(lines[50:]).rstrip(b"\n")
    plain = tmp_path / "corpus.jsonl"
    plain.write_bytes(text)
    packed = tmp_path / "packed" / "corpus.jsonl.zst"
    packed.parent.mkdir()
    packed.write_bytes(zstandard.ZstdCompressor().compress(text))
    rubric = load_rubric("tool-discipline")
    monkeypatch.setattr(_native, "BLOCK", 4096)  # most lines span several blocks
    for k, traces in enumerate((plain, packed)):
        native = tmp_path / f"native{k}"
        info = score_run(traces, rubric, native, workers=2, chunk_bytes=1_000_000).info
        assert info["timings"]["workers"] == (2 if k == 0 else 1)
        assert info["counts"]["kernel_episodes"] == len(lines)
        with monkeypatch.context() as m:
            m.setenv("RUBRICATE_NO_KERNEL", "1")
            score_run(traces, rubric, tmp_path / f"python{k}", workers=1)
        _assert_same(native, tmp_path / f"python{k}")
        lines_seen = [r["source_line"] for r in _rows(native, "episodes.parquet")]
        assert lines_seen == list(range(1, 51)) + list(range(53, len(lines) + 3))
