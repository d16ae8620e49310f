"""Generated OpenAI-chat corpora for the analyzer tests (deterministic, stdlib only).

Modelled on ../shared/bench/gen_corpus.py (which needs orjson and lives outside the repository),
but with ground truths, repeated failing calls and damaged lines, so every verdict value occurs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

import pytest

TABLES = ["customers", "orders", "products", "invoices", "payments", "regions"]
WORDS = ("the of and to in is for on with as by at from that this total revenue customer order product "
         "query table column result average count sum group filter join where select region month year").split()

# Damaged lines that go into generated JSONL files, with the reason fragment each one gives.
BAD_LINES = [
    (b"{not json at all\n", "invalid JSON"),
    (b"[1, 2, 3]\n", "not an object"),
    (b'{"messages": 5}\n', "messages must be a list"),
]


def _words(r: random.Random, n: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n))


def make_record(i: int, *, pad: int = 0, truth: bool = True) -> dict:
    """One episode record; `pad` adds about that many bytes of tool output."""
    r = random.Random(i)
    n_call = 0
    msgs: list[dict] = [{"role": "system", "content": "You are a data agent. " + _words(r, 10)},
                        {"role": "user", "content": "Question: " + _words(r, 12) + "?"}]

    def call(name: str, args: dict, output: str) -> None:
        nonlocal n_call
        n_call += 1
        cid = f"call_{i}_{n_call}"
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]})
        msgs.append({"role": "tool", "tool_call_id": cid, "name": name, "content": output})

    answer = round(r.random() * 1000, 2)
    table = r.choice(TABLES)
    if r.random() < 0.8:
        call("get_table_names", {}, json.dumps(TABLES))
    if r.random() < 0.5:
        call("describe_table", {"table": table}, "id | amount | region_id")
    if r.random() < 0.3:
        bad = {"query": f"SELEC amount FROM {table}"}
        call("sql_query", bad, 'Error: (OperationalError) near "SELEC": syntax error')
        if r.random() < 0.3:
            call("sql_query", bad, 'Error: (OperationalError) near "SELEC": syntax error')
    filler = ""
    if pad:
        filler = "\n" + "\n".join(_words(r, 12) for _ in range(max(1, pad // 80)))
    call("sql_query", {"query": f"SELECT amount FROM {table}"}, f"amount\n{answer}{filler}")
    if r.random() < 0.1:
        msgs.append({"role": "assistant", "content": f"The answer is {answer + 17.5}."})  # ungrounded
    else:
        msgs.append({"role": "assistant", "content": f"{_words(r, 8)}. The final answer is {answer}."})
    record = {"episode_id": f"ep-{i:06d}", "task_id": f"task-{i % 7}", "messages": msgs,
              "reward": round(r.random(), 3), "metadata": {"split": r.choice(["train", "eval"])}}
    if truth:
        roll = r.random()
        if roll < 0.5:
            record["ground_truth"] = str(answer)
        elif roll < 0.8:
            record["ground_truth"] = str(round(answer * 3 + 1, 2))
    return record


def write_jsonl(path: Path, indices: Iterable[int], *, pad: int = 0, truth: bool = True,
                bad_every: int = 0) -> list[tuple[int, str]]:
    """Write one episode a line; every `bad_every` episodes a damaged line goes in between.
    Returns (line number, reason fragment) of each damaged line."""
    bad: list[tuple[int, str]] = []
    line = 0
    with open(path, "wb") as f:
        for n, i in enumerate(indices):
            if bad_every and n and n % bad_every == 0:
                data, reason = BAD_LINES[len(bad) % len(BAD_LINES)]
                f.write(data)
                line += 1
                bad.append((line, reason))
            f.write(json.dumps(make_record(i, pad=pad, truth=truth)).encode() + b"\n")
            line += 1
    return bad


def write_files(root: Path, indices: Iterable[int], *, pad: int = 0) -> None:
    """One JSON file an episode, sharded into sub-folders of 100."""
    for i in indices:
        d = root / f"{i // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"ep-{i:06d}.json").write_text(json.dumps(make_record(i, pad=pad), indent=1))


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small directory: two JSONL files, a JSON array file and single-episode JSON files."""
    root = tmp_path_factory.mktemp("small")
    write_jsonl(root / "a.jsonl", range(0, 12))
    (root / "nested").mkdir()
    write_jsonl(root / "nested" / "b.jsonl", range(12, 20))
    (root / "c.json").write_text(json.dumps([make_record(i) for i in range(20, 25)]))
    for i in range(25, 28):
        (root / "nested" / f"single-{i}.json").write_text(json.dumps(make_record(i)))
    return root


SMALL_EPISODES = 28


class Corpus:
    """The generators above, handed to tests as a fixture (tests never import conftest)."""

    make_record = staticmethod(make_record)
    write_jsonl = staticmethod(write_jsonl)
    write_files = staticmethod(write_files)
    BAD_LINES = BAD_LINES
    SMALL_EPISODES = SMALL_EPISODES


@pytest.fixture(scope="session")
def corpus() -> type[Corpus]:
    return Corpus
