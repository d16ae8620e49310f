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
from _shared import CORPORA, generated_chat, need  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"


def _rows(run: Path, name: str) -> list[dict[str, Any]]:
    rows = [row for part in sorted((run / name.removesuffix(".parquet")).glob("*.parquet"))
            for row in pq.read_table(part).to_pylist()]
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
    assert _issues(native) == _issues(python)


def _issues(run: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((run / "issues").glob("*.jsonl")))


@pytest.fixture(scope="module")
def bench_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 episodes of the benchmark shape (shared/bench/gen_corpus.py), as JSONL."""
    return generated_chat(tmp_path_factory.mktemp("bench") / "corpus.jsonl", 600)


def test_benchmark_corpus_is_scored_by_the_kernel_with_the_python_verdicts(
        native: Any, bench_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    native, python, info = _both(tmp_path, bench_corpus, load_rubric("tool-discipline"), monkeypatch)
    _assert_same(native, python)
    assert info["counts"]["episodes"] == 600
    assert info["counts"]["kernel_episodes"] == 600  # no line of this shape needs the Python path


MIXED_CHECKS = """
from rubricate.rubrics import check, passed, failed


@check(behavior="style")
def short_answer(ctx):
    \"\"\"The final answer is at most 200 characters.\"\"\"
    answer = ctx.answer
    if answer is None:
        return None
    return passed("short", answer.step) if len(answer.text) <= 200 else failed("long", answer.step)
"""
MIXED_RUBRIC = """
id = "mixed"
version = "1"
[params]
answer_tools = ["submit_answer"]
[[items]]
id = "answers"
check = "answers_question"
[[items]]
id = "discovers"
check = "discovers_tables"
[[items]]
id = "short"
check = "short_answer"
weight = 2
[[items]]
id = "inspects"
check = "inspects_schema"
[[items]]
id = "budget"
check = "stays_within_step_budget"
params = { max_tool_calls = 6 }
[[items]]
id = "grounded"
check = "grounded_answer"
[[items]]
id = "correct"
check = "answer_correct"
"""


@pytest.mark.parametrize("which", ["agent-basics", "mixed"])
def test_mixed_rubrics_score_their_builtin_items_natively_and_the_rest_in_python(
        native: Any, bench_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    """A rubric that mixes built-in checks with others (agent-basics items, a custom @check): the
    kernel scores the built-in items of every line, Python the rest on the episode its reader built,
    and the rows are the Python path's."""
    from rubricate.rubrics import isolated_registry, load_checks_file

    checks = tmp_path / "checks.py"
    checks.write_text(MIXED_CHECKS)
    files = [bench_corpus, *sorted((FIXTURES / "openai-chat").glob("*.jsonl")),
             *sorted((FIXTURES / "damaged").glob("*.jsonl"))]
    native_run, python_run = tmp_path / "native", tmp_path / "python"
    with isolated_registry():
        load_checks_file(checks)
        rubric = load_rubric("agent-basics") if which == "agent-basics" else parse_rubric(MIXED_RUBRIC, path="m.toml")
        info = score_run(files, rubric, native_run, workers=1, checks_files=[checks]).info
        with monkeypatch.context() as m:
            m.setenv("RUBRICATE_NO_KERNEL", "1")
            score_run(files, rubric, python_run, workers=1, checks_files=[checks])
    _assert_same(native_run, python_run)
    assert info["counts"]["kernel_episodes"] >= 600, info["counts"]  # every benchmark line, and fixture lines
    status = info["kernel"]
    python_items = {"answers_question", "stays_within_step_budget"} if which == "agent-basics" else \
        {"answers", "short", "budget"}
    assert status["used"] is True and set(status["python"]) == python_items
    assert set(status["native"]) | python_items == {item.id for item in rubric.items}
    assert "has no native version" in status["why"]


def test_openai_chat_fixtures_and_damaged_lines(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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


# answer_correct's quoted or bold phrases: named as the answer ('the correct word is "X"') or holding
# the truth as one side of "A and B"; near misses of each (no 'is', no word boundary, a line break or
# over 100 characters inside the marks, an unclosed mark)
QUOTED_ANSWERS = [
    'the correct identification of "shrimp and grits" as the missing course', "**Paris & Lyon**",
    'a "cloak of print" ... the correct word is "mistransmission"', "The answer is **Paris**, not Lyon",
    'The name was:\n "Paris"', '"shrimp\nand grits" shrimp', '"shrimp and" grits', "answers is **Paris**",
    "the_answer is **Lyon** Paris", '"' + "shrimp and grits " * 7 + '"', "**shrimp  AND\tgrits**",
    'RESULT  was  :  "Lyon" of Paris', '"Paris" and "Lyon"', "**shrimp and grits*", '"Paris"',
    "\u201cshrimp and grits\u201d", "the word is \u201cParis\u201d not Lyon", '"Lyon and Paris" and Paris',
    'the answer is "the shrimp and the grits"', "Answer is ** Lyon ** Paris"]


def _answers_against_truths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, texts: list[str],
                            truths: tuple[str, ...]) -> tuple[list[str], dict[str, Any]]:
    """Each final answer against each truth, scored by the kernel and by Python: the rows must be the
    same. Returns Python's `correct` reasons and the kernel run's info."""
    path = tmp_path / "answers.jsonl"
    with open(path, "w") as f:
        for text in texts:
            for truth in truths:
                f.write(json.dumps({"messages": [{"role": "user", "content": "Which one?"},
                                                 {"role": "assistant", "content": text}], "answer": truth}) + "\n")
    rubric = parse_rubric(ROLE_RUBRIC, path="roles.toml")
    native_run, python_run, info = _both(tmp_path, path, rubric, monkeypatch)
    _assert_same(native_run, python_run)
    return [r["reason"] for r in _rows(python_run, "verdicts.parquet") if r["item"] == "correct"], info


def test_quoted_answers_name_another_answer_alike(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every quoted answer against each truth it could hold: the kernel declines where Python's
    _named_answer or _more_than may apply, so the rows are the same; Python fails some of them."""
    reasons, info = _answers_against_truths(tmp_path, monkeypatch, QUOTED_ANSWERS,
                                            ("shrimp", "cloak", "Paris", "Lyon", "grits"))
    assert sum("as its answer" in r for r in reasons) >= 5 and sum("more than the expected" in r for r in reasons) >= 5
    assert sum(r.startswith("the answer contains") for r in reasons) >= 10
    assert info["counts"]["kernel_episodes"] > 0


# answer_correct's initials spelled out as another name ("Name (GRS)", "GRS (Name)"), and near misses
SPELLED_OUT = [
    "the **Gamma Regional Support (GRS) Team**", "The GRS (Guardsman Response Team) team", "GRS\u00a0(Global X Y)",
    "GRS \u2003 (Global X Y)", "Woods (GRS team commander)", "(the GRS Team for the CIA)", "GRS (the CIA team)",
    "Global Response (GRS)", "GRS(Global Response Team)", "( GRS )", "GRS (", "the FBI (Federal Bureau of Inquiry)",
    "Federal Bureau Inquiry (FBI) and FBI", "FBI (caf\u00e9 Team)", "\u00c9cole Normale (GRS)", "GRS_X (Global Y Z)"]


def test_spelled_out_initials_alike(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Initials spelled out, or beside brackets, against truths they are the initials of: the kernel
    declines where Python's _expansion may apply, so the rows are the same; Python fails some."""
    reasons, info = _answers_against_truths(tmp_path, monkeypatch, SPELLED_OUT + ["the GRS Team", "the FBI"],
                                            ("Global Response Staff", "Federal Bureau of Investigation"))
    assert sum(" out as " in r for r in reasons) >= 6
    assert sum("the initials of" in r for r in reasons) >= 4
    assert info["counts"]["kernel_episodes"] > 0


def _generated_records(seed: int, n: int) -> list[dict[str, Any]]:
    """Adversarial OpenAI-chat records: role-mapped tools, entity arguments, errors, retries,
    parallel and unpaired calls, answer tools, numbers with units, ground truths of every kind."""
    r = random.Random(seed)
    tools = ["Search_Pages", "list_tables", "read_section", "sql_query", "view_sections", "describe_table",
             "submit_answer", "other",
             # no_repeated_failing_call: a new successful call of a tool that runs code or writes excuses a repeat
             "execute_code", "Write_File"]
    tables = ["orders", "Orders", "t1", "sales.q1", "`odd name`", "x:y", " pad "]
    outputs = ["12,345.6 rows", "Error: no such table", "Traceback (most recent call last):\n boom",
               '{"error": null, "v": 17.5}', '{"error": "bad"}', "3.4 million and 12%", "page not found",
               "value 1,2345 and 0.175", "", "42", "revenue grew 7.5 percent to $1.2bn",
               '{"payment_id": "gift_card_1591784", "amount": 3720, "date": "2024-05-24"}']
    answers = ["The answer is 12,345.6", "\\boxed{17.5%}", "about 3.4 million", "no numbers here", "42",
               "Final answer: 1.2 billion", "Paris", "-0.0", "The total was 19.7.",
               "1. Origin and destination airports.\n2. Flight numbers and dates.",
               "Refunded to the gift card ending in 1784 within 5 to 7 business days.",
               "Departure on 2024-05-24 at 14:00 EST (May 24th); 2 free bags, then $50 each.",
               "Purchase ID: PUR-456789, reservation 5RJ7UH, total $1,200 for 3 passengers.",
               # answer_correct's precision and number words (the kernel reads the first, declines the second)
               "The year is 2007.", "It is 2018.4", "0.00049", "0.0334", "Two pods, 12 rockets in all.",
               "twenty-one", "a hundred", "Often, ONE", "seventeen_x", "\u00e9two",
               # grounded_answer with no quantity: dates, times and ids found in a tool output pass
               "Departure on 2024-05-24 (May 24th).", "1. Gift card 1591784\n2. On 2024-05-24 at 14:00",
               # answer_correct's whole truths (times, dates, lists, ids), parts, initials and "final results"
               "being 1:48.585.", "The record is 1:41.614", "80NSSC21K0223", "award 80GSFC21M0002.",
               "3/4,1/4,1/2,1/7", "132, 133, 134, 197 and 245", "- Iteration 2: x\nFinal results:\n- n: 3",
               "Universal Pictures in the US and Warner Bros. Pictures abroad", "the GRS Team for the CIA",
               "Data insufficient to solve the problem", "None of them", "Juan Jose Elhuyar and Fausto Elhuyar",
               # a quoted or bold phrase naming another answer, or more than the truth (the kernel declines)
               *QUOTED_ANSWERS]
    out = []
    for i in range(n):
        msgs: list[dict[str, Any]] = [
            {"role": r.choice(["system", "developer"]),
             "content": r.choice(["be good", "Gold members get 2 free bags; each extra bag is 50 dollars. Refunds take "
                                           "5 to 7 business days."])},
            {"role": "user", "content": r.choice(["What is 2024 revenue?", "Q 12", "hi", "My budget is $1,200."])}]
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
                ["12,345.6", "17.5%", "Paris", "3.4 million", 42, "", "  ", "2018", "0.00033", "0.033",
                 "2 pods (12 rockets)", "21", "100", "1", "1:41.614", "June 13, 2022", "132, 133, 134, 197, 245",
                 "80GSFC21M0002", "3/4,1/4,3/4", "Universal Pictures and Warner Bros. Pictures", "Global Response Staff",
                 "Juan Jose and Fausto Elhuyar", "(x - 3)(x - 1)", "Band of the Hand", "shrimp", "cloak"])
        if r.random() < 0.5:
            record["reward"] = r.choice([1, 0.5, True, None])
        if r.random() < 0.5:
            record["metadata"] = {"model": r.choice(["a", "b"]), "seed": i, "nested": {"k": [1, 2.5]}}
            if i % 50 == 0:  # an eval's scorer: answer_correct is na for a model grader's reference (Python's)
                record["metadata"]["score_name"] = "model_graded_fact" if i % 100 == 0 else "match"
        if r.random() < 0.3:
            record["final_answer"] = r.choice(answers)
        record["model"] = r.choice(["qwen", "gpt"])
        out.append(record)
    return out


def test_generated_records_with_role_mapped_rubric(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_every_declared_check_on_generated_records(native: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check the kernel declares (checks.h), as an item of one rubric with role-mapped tools, on
    adversarial chat and verifiers records: a check added to the declaration is compared with its
    Python version here without a new test."""
    params = ROLE_RUBRIC[ROLE_RUBRIC.index("[params]"):ROLE_RUBRIC.index("[[items]]")]
    items = "".join(f'[[items]]\nid = "{name}"\n' for name in native.CHECKS)
    rubric = parse_rubric(f'id = "declared"\nversion = "1"\n{params}{items}', path="declared.toml")
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps(rec) + "\n" for rec in _generated_records(11, 800)))
    run = tmp_path / "runs" / "gen" / "r1"
    run.mkdir(parents=True)
    (run / "metadata.json").write_text(json.dumps({"env_id": "wiki-search", "model": "gen"}))
    (run / "results.jsonl").write_text("".join(json.dumps(rec) + "\n" for rec in _generated_verifiers(12, 800)))
    native_run, python_run, info = _both(tmp_path, [chat, tmp_path / "runs"], rubric, monkeypatch)
    _assert_same(native_run, python_run)
    assert info["kernel"] == {"used": True, "formats": ["openai-chat", "verifiers-results"]}
    assert info["counts"]["kernel_episodes"] > 1000, info["counts"]


def test_a_model_graded_run_leaves_answer_correct_to_python(native: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Verifiers records that name a model-graded scorer (a record field, so episode metadata): the
    kernel declines answer_correct there, and the rows are Python's (na)."""
    run = tmp_path / "runs" / "graded" / "r1"
    run.mkdir(parents=True)
    (run / "metadata.json").write_text(json.dumps({"env_id": "qa", "model": "gen"}))
    records = [{**rec, "score_name": "model_graded_qa"} for rec in _generated_verifiers(13, 60)]
    (run / "results.jsonl").write_text("".join(json.dumps(rec) + "\n" for rec in records))
    rubric = parse_rubric(ROLE_RUBRIC, path="roles.toml")
    native_run, python_run, _ = _both(tmp_path, tmp_path / "runs", rubric, monkeypatch)
    _assert_same(native_run, python_run)
    reasons = [r["reason"] for r in _rows(python_run, "verdicts.parquet") if r["item"] == "correct"]
    assert sum("model grader (model_graded_qa)" in r for r in reasons) >= 10


WIKI = CORPORA / "verifiers-wiki-search"
SEARCH_RUBRIC = ROLE_RUBRIC.replace('id = "roles"', 'id = "search"').replace(
    '"Search_Pages", "list_tables"', '"Search_Pages", "list_tables", "search_pages"').replace(
    '"page_id", "table", "tables"', '"page_id", "section_id", "table", "tables"')


@pytest.mark.parametrize("rubric", ["tool-discipline", "search"])
def test_verifiers_wiki_search_is_scored_by_the_kernel(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       rubric: str) -> None:
    """The flagship corpus (verifiers-results, a metadata.json per run): the same rows as the Python
    path, the run's metadata merged into every episode, and nearly every episode scored natively.
    The `search` rubric maps the wiki tools to the roles (search = discovery, view_sections =
    schema, read_section = query; page_id / section_id as entities) so every check has work."""
    need(WIKI)
    spec = load_rubric("tool-discipline") if rubric == "tool-discipline" else parse_rubric(SEARCH_RUBRIC, path="s.toml")
    native, python, info = _both(tmp_path, WIKI, spec, monkeypatch)
    _assert_same(native, python)
    counts = info["counts"]
    assert counts["episodes"] == 1250 and counts["issues"] == 0
    assert counts["kernel_episodes"] > 0
    # the few others hold a character with no ASCII stand-in, or (13) an answer with a quoted phrase that
    # may name another answer than the truth it contains (correctness._named_answer, _more_than: Python's),
    # or (3) the truth's initials beside brackets, perhaps spelled out as another name (_expansion)
    assert counts["kernel_episodes"] >= 1190, counts
    rows = _rows(native, "episodes.parquet")
    assert all(r["format"] == "verifiers-results" for r in rows)
    meta = [json.loads(r["metadata"]) for r in rows]
    assert all(list(m)[:2] in (["env_id", "model"], ["env", "model"]) and "run" in m and m["task"] for m in meta)
    verdicts = {r["verdict"] for r in _rows(native, "verdicts.parquet")}
    assert {"pass", "fail"} <= verdicts


def test_verifiers_fixtures_with_declined_lines(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A verifiers run with lines the kernel declines between native ones (no stand-in, a string
    tool call that is not JSON, a record the reader refuses): the declined lines get the run's
    metadata on the Python path, and the rows and issues are the Python path's."""
    src = FIXTURES / "verifiers-results" / "wiki-search--gpt-4.1-nano" / "50fa4920"
    run = tmp_path / "runs" / "model" / "abc123"
    run.mkdir(parents=True)
    (run / "metadata.json").write_bytes((src / "metadata.json").read_bytes())
    good = [line for line in (src / "results.jsonl").read_bytes().split(b"\n") if line.strip()]
    odd = [
        json.dumps({"prompt": "How far is it\u00a0?", "completion": "12 km", "answer": "12", "reward": 1}).encode(),
        json.dumps({"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["{bad"]}], "reward": 0}).encode(),
        json.dumps({"prompt": "q", "reward": 0}).encode(),
        json.dumps({"prompt": "\u00c9t\u00e9 ?", "completion": "caf\u00e9 \u2013 5 m", "answer": "5", "reward": 0.5,
                    "task": "t\u00e2che", "model": "mine"}, ensure_ascii=False).encode(),
        b"{",
    ]
    lines = [good[0], *odd[:3], *good[1:], *odd[3:], good[0]]
    (run / "results.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    for rubric in (load_rubric("tool-discipline"), parse_rubric(SEARCH_RUBRIC, path="s.toml")):
        native, python, info = _both(tmp_path, tmp_path / "runs", rubric, monkeypatch, tag=rubric.id)
        _assert_same(native, python)
        counts = info["counts"]
        assert counts["issues"] == 3 and counts["episodes"] == len(lines) - 3
        assert counts["kernel_episodes"] == len(good) + 2, counts  # the NBSP line and the bad tool call declined
        rows = _rows(native, "episodes.parquet")
        assert all(json.loads(r["metadata"])["run"] == "abc123" for r in rows)


def _generated_verifiers(seed: int, n: int) -> list[dict[str, Any]]:
    """Adversarial verifiers-results rollouts: string and list prompts, tool calls as JSON strings
    and objects, results paired by order, non-ASCII page ids / outputs / answers / truths (some
    with characters that have no stand-in), errors and retries, numbers with units, answer tools."""
    r = random.Random(seed)
    pages = ["ryzen", "erdo\u011fan", "list_of_films_2020\u20132029", "caf\u00e9", "\u00c9cole", "plain",
             "\u0130stanbul", "\u03a3igma", " pad\u00e9 ", "x:y"]
    outputs = ["[{'page_id': 'caf\u00e9', 'title': 'Caf\u00e9'}]", "Error: no such page", "Invalid section_id format.",
               "revenue grew 7.5% to \u20ac1.2bn in 2020\u20132021", "Erdo\u011fan was born in 1954.", "",
               "Traceback (most recent call last):\n boom", "12,345.6 units \u2013 about 3.4 million",
               "temperature \u221240 \u00b0C", "\u00a0nbsp 12", "{\"error\": null, \"v\": 17.5}"]
    answers = ["Recep Tayyip Erdo\u011fan", "\\boxed{17.5%}", "about 3.4 million", "1954", "The Caf\u00e9 (Paris).",
               "\u20ac1.2bn", "It is \u221240 degrees", "no idea", "\u03a3 is sigma", "The answer is 12,345.6",
               # answer_correct's parts and initials beside characters above ASCII
               "the GRS team (caf\u00e9)", "Juan Jos\u00e9 Elhuyar and Fausto Elhuyar", "\u00e9GRS", "Caf\u00e9, then Bar"]
    truths = ["Erdo\u011fan", "1954", "17.5%", "caf\u00e9", "3.4 million", "\u00c9cole", "", "Paris", 42, None,
              "Global Response Staff", "Juan Jos\u00e9 and Fausto Elhuyar", "Caf\u00e9 and Bar"]
    tools = ["search_pages", "view_sections", "read_section", "submit_answer", "Search_Pages"]
    out = []
    for i in range(n):
        prompt: Any = "Who?" if r.random() < 0.2 else [
            {"content": "Use the tools.", "role": "system"},
            {"content": r.choice(["Who leads Turkey?", "Q 12 caf\u00e9", "\u00bfQu\u00e9?"]), "role": "user"}]
        completion: list[dict[str, Any]] = []
        for _ in range(r.randint(0, 6)):
            calls = []
            for _ in range(r.choice([1, 1, 2])):
                name = r.choice(tools)
                args = r.choice([{"query": r.choice(pages)}, {"page_id": r.choice(pages)},
                                 {"section_id": f"{r.choice(pages)}:intro"}, {"answer": r.choice(answers)}, {}])
                raw = json.dumps(args, ensure_ascii=r.random() < 0.5) if r.random() < 0.9 else r.choice(["{bad", "[1]"])
                call = {"id": f"call_{i}_{len(completion)}", "function": {"arguments": raw, "name": name},
                        "type": "function"}
                calls.append(json.dumps(call) if r.random() < 0.8 else call)
            completion.append({"content": r.choice(["", "Let me look.", "Je cherche\u2026"]), "role": "assistant",
                               "tool_calls": calls})
            for _ in calls:
                if r.random() < 0.9:
                    completion.append({"content": r.choice(outputs), "role": "tool", "tool_calls": None})
        if r.random() < 0.8:
            completion.append({"content": r.choice(answers), "role": "assistant", "tool_calls": None})
        record: dict[str, Any] = {r.choice(["example_id", "id"]): i, "prompt": prompt,
                                  "completion": completion if r.random() < 0.9 else r.choice(answers),
                                  "task": "default", "reward": r.choice([1.0, 0.0, 0.5]), "info": {},
                                  "generation_ms": 12.5}
        truth = r.choice(truths)
        if truth is not None:
            record["answer"] = truth
        if r.random() < 0.3:
            record["metadata"] = {"model": "own", "run": r.choice(["x", "y"])}
        out.append(record)
    return out


def test_generated_verifiers_runs(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "runs" / "gen" / "r1"
    run.mkdir(parents=True)
    (run / "metadata.json").write_text(json.dumps({"env_id": "wiki-search", "model": "gen", "num_examples": 3}))
    records = _generated_verifiers(5, 1500)
    with open(run / "results.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(rec, ensure_ascii=k % 2 == 0) + "\n" for k, rec in enumerate(records))
    for rubric in (load_rubric("tool-discipline"), parse_rubric(SEARCH_RUBRIC, path="s.toml")):
        native, python, info = _both(tmp_path, tmp_path / "runs", rubric, monkeypatch, tag=rubric.id)
        _assert_same(native, python)
        assert info["counts"]["episodes"] + info["counts"]["issues"] == 1500
        assert info["counts"]["kernel_episodes"] > 500, info["counts"]  # the others: no stand-in, a bad call


def test_real_corpora_agree(native: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every real corpus through both paths (the kernel reads its OpenAI-chat and verifiers files)."""
    corpora = [p for p in sorted(need(CORPORA).iterdir()) if p.is_dir() and p.name != "finqa"]
    for k, corpus in enumerate(corpora):
        native, python, _ = _both(tmp_path, corpus, load_rubric("tool-discipline"), monkeypatch, tag=str(k))
        _assert_same(native, python)
    assert os.environ.get("RUBRICATE_NO_KERNEL") is None


def test_spans_blocks_blank_lines_and_compression(native: Any, bench_corpus: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers over line-aligned byte ranges, blocks smaller than a line, blank lines, an
    unterminated last line and a .zst copy: the same rows, in file order, as the Python path."""
    import zstandard

    from rubricate.scoring import _native

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


def test_a_judged_run_scores_its_builtin_items_natively(native: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge items beside built-in checks: the judge's verdicts and the kernel's are both given to
    `Rubric.evaluate`; the rows are those of the Python path with the same judge."""
    from rubricate.rubrics.judges import JudgeConfig, ScriptedJudge

    rubric = load_rubric("tool-discipline")  # its judge items are asked once a judge is configured
    assert rubric.judges and rubric.checks
    files = sorted((FIXTURES / "openai-chat").glob("*.jsonl"))
    runs = {}
    with ScriptedJudge() as server:
        for name, env in (("native", None), ("python", "1")):
            with monkeypatch.context() as m:
                if env:
                    m.setenv("RUBRICATE_NO_KERNEL", env)
                config = JudgeConfig(model="scripted", base_url=server.base_url, api_key_env="PATH",
                                     cache_dir=str(tmp_path / f"cache-{name}"))
                runs[name] = score_run(files, rubric, tmp_path / name, workers=1, judge=config).info
    _assert_same(tmp_path / "native", tmp_path / "python")
    kernel = runs["native"]["kernel"]
    assert kernel["python"] == {item.id: "a judge item" for item in rubric.judges}
    assert kernel["native"] == [item.id for item in rubric.checks]
    assert runs["native"]["counts"]["kernel_episodes"] == runs["native"]["counts"]["episodes"] > 0
    items = {r["item"] for r in _rows(tmp_path / "native", "verdicts.parquet")}
    assert items == {item.id for item in rubric.items}  # judged and checked


def _chat(*turns: tuple[str, Any]) -> dict[str, Any]:
    """An OpenAI-chat record from (role, content) turns; an assistant turn whose content is a list of
    (tool, arguments, result) calls makes those calls, each followed by its result."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are an agent."}]
    for role, content in turns:
        if role != "calls":
            msgs.append({"role": role, "content": content})
            continue
        for k, (name, args, result) in enumerate(content):
            cid = f"c{len(msgs)}-{k}"
            msgs.append({"role": "assistant", "content": "", "tool_calls": [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]})
            msgs.append({"role": "tool", "tool_call_id": cid, "content": result})
    return {"messages": msgs}


FAIL = "Traceback (most recent call last):\n FileNotFoundError: data.csv"
REPEATS_AND_REFERENCES = [
    # Who&When Algorithm-Generated/118: the analysis fails, a new script creates the file, the analysis reruns
    _chat(("user", "q"), ("calls", [("execute_code", {"code": "analyze()"}, FAIL),
                                    ("execute_code", {"code": "make_data()"}, "exitcode: 0 (execution succeeded)"),
                                    ("execute_code", {"code": "analyze()"}, "35.00%")]), ("assistant", "35.00%")),
    # tau-bench gpt-4o-airline/8/1: a `think` between a failed booking and its unchanged repeat excuses nothing
    _chat(("user", "q"), ("calls", [("book_reservation", {"a": 1}, "Error: payment amount does not add up"),
                                    ("think", {"thought": "retry"}, ""),
                                    ("book_reservation", {"a": 1}, "Error: payment amount does not add up")])),
    # NeMo Gym mini_swe_agent_2:5: the same edit again is no new fix
    _chat(("user", "q"), ("calls", [("bash", {"c": "sed -i s/a/b/ f.py"}, "ok"), ("bash", {"c": "python3 t.py"}, FAIL),
                                    ("bash", {"c": "sed -i s/a/b/ f.py"}, "ok"), ("bash", {"c": "python3 t.py"}, FAIL)])),
    _chat(("user", "q"), ("calls", [("Run_Tests", {}, FAIL), ("Write_File", {"p": "x"}, "written"),
                                    ("Run_Tests", {}, FAIL), ("Run_Tests", {}, FAIL)])),
    _chat(("user", "q"), ("calls", [("lookup", {}, FAIL), ("write_\u00e9tat", {"p": "x"}, "ok"),
                                    ("lookup", {}, "found")])),
    # tau-bench gpt-4o-airline/13/0: the answer's numbers are a time and a date, both in the search result
    _chat(("user", "q"), ("calls", [("search_direct_flight", {"date": "2024-05-21"},
                                     '[{"flight_number": "HAT052", "date": "2024-05-21", "scheduled_departure_time_est": "03:00:00"}]')]),
          ("assistant", "Changed to flight HAT052, departing at 03:00 EST on May 21, 2024.")),
    _chat(("user", "q"), ("calls", [("search", {}, '{"date": "2024-05-21"}')]),
          ("assistant", "1. Flight on 2024-05-21\n2. Back on 2024-05-28")),
    _chat(("user", "q"), ("calls", [("search", {}, '{"date": "2024-05-21", "card": "gift_card_1591784"}')]),
          ("assistant", "1. Flight on 2024-05-21\n2. Paid with the card ending in 1784")),
]


def test_repeats_after_a_fix_and_answers_without_quantities(native: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The two rules of issue 13 on hand-made records, kernel against Python: a failed call repeated
    after a new successful call that runs code or writes is a retry after a fix (not after a `think`
    or the same edit again); an answer whose only numbers are dates, times and ids passes when they
    are all in a tool output, and stays na otherwise."""
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps(rec) + "\n" for rec in REPEATS_AND_REFERENCES))
    native_run, python_run, info = _both(tmp_path, chat, parse_rubric(ROLE_RUBRIC, path="r.toml"), monkeypatch)
    _assert_same(native_run, python_run)
    assert info["counts"]["kernel_episodes"] == len(REPEATS_AND_REFERENCES) - 1  # the non-ASCII tool name declines
    rows = _rows(python_run, "verdicts.parquet")
    repeats = [r["verdict"] for r in rows if r["item"] == "repeats"]
    grounded = [(r["verdict"], r["reason"]) for r in rows if r["item"] == "grounded"]
    assert repeats[:5] == ["pass", "fail", "fail", "fail", "pass"]
    assert grounded[5][0] == "pass" and "dates, times and identifiers" in grounded[5][1]
    assert grounded[6][0] == "na"  # 28 is in no tool output
    assert grounded[7][0] == "pass"  # the id tail 1784 is neither a quantity nor a reference; the date is found
