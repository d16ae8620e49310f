"""episode.c's verifiers-results records against their reference, rubricate.traces.formats.verifiers
(VerifiersResults, with RecordFormat.read's merge of the run's metadata.json): the kernel's episode of
a JSONL line must be exactly the Python reader's, or "fallback" (the Python path reads that record).

Inputs: every line of the verifiers-wiki-search corpus with its run's metadata (nearly all native:
the few fallbacks are texts with a character that has no ASCII stand-in), the verifiers fixtures,
every JSONL line of the fixtures and corpora (any format), hand-written records, hypothesis-generated
records (string and list prompts/completions, tool calls as JSON strings and objects, tool results
without ids, non-ASCII text, odd fields, metadata, task, example_id vs id) and corrupted lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from _shared import need
from test_episode import (
    CORPORA,
    FIXTURES,
    MISSING,
    SETTINGS,
    SOURCE,
    Obj,
    Raw,
    Tally,
    arguments,
    corrupted,
    counts,
    episode_view,
    field_values,
    ids,
    maybe,
    metadata,
    names,
    obj,
    rewards,
    small_json,
    texts,
)
from test_episode import check as check_chat

from rubricate.traces._model import Episode
from rubricate.traces.formats.verifiers import VerifiersResults

READER = VerifiersResults()
WIKI = CORPORA / "verifiers-wiki-search"
_enc = msgspec.json.encode


# ---------------------------------------------------------------- the two views


def python_view(line: bytes, shared: dict[str, Any] | None = None) -> dict[str, Any] | str:
    """The Python reader's episode of one line (its file's metadata merged in as RecordFormat.read
    does), "invalid" (msgspec refuses it) or "issue" (a LoadIssue)."""
    try:
        record = msgspec.json.decode(line)
    except ValueError:  # msgspec.DecodeError, UnicodeDecodeError: RecordFormat's "invalid JSON" LoadIssue
        return "invalid"
    if not isinstance(record, dict):
        return "issue"
    try:
        ep = READER.episode(record, SOURCE, line)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):  # RecordFormat._convert
        return "issue"
    if shared:
        ep.metadata = {**shared, **ep.metadata}
    return episode_view(ep)


def kernel_view(kernel: ModuleType, line: bytes, shared: dict[str, Any] | None = None) -> dict[str, Any] | str:
    out = kernel._debug_verifiers(line) if shared is None else kernel._debug_verifiers(line, shared)
    if isinstance(out, str):
        assert out in ("invalid", "fallback"), out
        return out
    assert out["id"] is None  # verifiers: Episode.id is str(source), the caller's
    out["id"] = str(SOURCE)
    for step in out["steps"]:
        text, content = step.pop("text"), step["content"]
        # what the checks read: the content, or its ASCII stand-in
        assert text == (content if content.isascii() else kernel._debug_stand_in(content)), content
        for call in step["tool_calls"]:
            assert call.pop("lname") == call["name"].lower()
            assert call.pop("step") == step["index"]
    return out


def check(kernel: ModuleType, line: bytes, tally: Tally | None = None, shared: dict[str, Any] | None = None) -> str:
    """Compare the two views of `line`; returns "native", "fallback", "invalid" or "issue"."""
    got = kernel_view(kernel, line, shared)
    want = python_view(line, shared)
    if got == "invalid":
        assert want == "invalid", f"kernel says invalid JSON, msgspec reads it: {line!r}"
        return "invalid"
    if got == "fallback":
        if tally is not None:
            tally.fallback += 1
        return "fallback"
    assert isinstance(want, dict), f"kernel made an episode, Python says {want}: {line!r}"
    assert got == want, line
    assert _enc(got) == _enc(want), line  # types and key order too (1 vs 1.0 vs True; metadata order)
    if tally is not None:
        tally.native += 1
    return "native"


def _texts(record: dict[str, Any]) -> list[str]:
    """The texts of a record the kernel needs stand-ins for: message contents and the answer."""
    out = [record["answer"]] if isinstance(record.get("answer"), str) else []
    for part in (record.get("prompt"), record.get("completion")):
        if isinstance(part, str):
            out.append(part)
        for msg in part if isinstance(part, list) else ():
            if isinstance(msg, dict) and isinstance(msg.get("content"), str):
                out.append(msg["content"])
    return out


# ---------------------------------------------------------------- real files


def _run_files(root: Path) -> list[Path]:
    return sorted(root.rglob("results.jsonl"))


def test_wiki_search_corpus(kernel: ModuleType) -> None:
    """Every rollout of the flagship corpus, with its run's metadata: read natively but for lines
    holding a character with no ASCII stand-in (a non-ASCII space or digit, U+2212, a letter
    that case-folds to ASCII)."""
    files = _run_files(need(WIKI))
    tally = Tally()
    for path in files:
        shared = READER.file_metadata(str(path))
        assert shared.get("run") == path.parent.name
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            if check(kernel, line, tally, shared) == "fallback":
                texts_ = _texts(json.loads(line))
                assert any(kernel._debug_stand_in(t) is None for t in texts_), line[:300]
    print(f"\nverifiers-wiki-search: {tally.native} native, {tally.fallback} fallback")
    assert tally.native + tally.fallback == 1250
    assert tally.fallback <= 10, tally.fallback


def test_verifiers_fixtures(kernel: ModuleType) -> None:
    files = _run_files(FIXTURES / "verifiers-results")
    assert files
    n = 0
    for path in files:
        shared = READER.file_metadata(str(path))
        assert shared
        for line in path.read_bytes().split(b"\n"):
            if line.strip():
                assert check(kernel, line, shared=shared) == "native"
                assert check(kernel, line) == "native"
                n += 1
    assert n >= 4


def test_every_jsonl_line(kernel: ModuleType) -> None:
    """Every JSONL line of the fixtures and corpora (other formats too: agreement or fallback)."""
    paths = sorted(FIXTURES.rglob("*.jsonl"))
    if CORPORA.is_dir():
        paths += sorted(p for p in CORPORA.rglob("*.jsonl") if WIKI not in p.parents)
    for path in paths:
        for line in path.read_bytes().split(b"\n"):
            if line.strip():
                check(kernel, line)


# ---------------------------------------------------------------- hand-written records


def _line(record: Any, ascii: bool = True) -> bytes:
    return json.dumps(record, ensure_ascii=ascii).encode()


def _call(name: Any, args: Any, call_id: Any = "c1", as_string: bool = True, **extra: Any) -> Any:
    call = {"id": call_id, "function": {"arguments": args, "name": name}, "type": "function", **extra}
    return json.dumps(call) if as_string else call


SYSTEM = {"content": "Use the provided Wikipedia search tools to help answer questions.", "role": "system"}
NATIVE = [
    # the wiki-search shape: string tool calls, results without ids (paired by order), tool_calls null
    {"example_id": 3, "prompt": [SYSTEM, {"content": "Who built the Ryzen?", "role": "user"}],
     "completion": [{"content": "", "role": "assistant", "tool_calls": [_call("search_pages", '{"query": "Ryzen"}')]},
                    {"content": "[{'page_id': 'ryzen'}]", "role": "tool", "tool_calls": None},
                    {"content": "AMD, in 2017.", "role": "assistant", "tool_calls": None}],
     "task": "default", "reward": 1.0, "generation_ms": 1234.5, "info": {"x": [1]}, "answer": "AMD",
     "judge_reward_func": 1.0, "total_tool_calls": 1.0},
    # string prompt and completion; id instead of example_id; integer reward; bool and null fields
    {"id": 7, "prompt": "What is 2 + 2?", "completion": "4", "answer": 4, "reward": 1, "flag": True, "gone": None},
    # example_id present but null wins over id; reward a string-free list; answer a bool
    {"example_id": None, "id": "x1", "prompt": [], "completion": [], "reward": [1], "answer": False},
    # tool calls as objects and as strings, flattened calls, parallel calls, results by id and by order
    {"prompt": [{"role": "user", "content": [{"type": "text", "text": "q?"}, "more"]}],
     "completion": [{"role": "assistant", "content": None, "tool_calls": [
         _call("view_sections", '{"page_id": "p"}', "a"), _call("read_section", "{bad", "b", as_string=False),
         json.dumps({"name": "Flat", "arguments": '{"k": 1}', "id": "c"}), json.dumps({"function": "x", "name": None})]},
         {"role": "tool", "tool_call_id": "b", "content": "Error: no such section"},
         {"role": "tool", "content": "ok"}, {"role": "tool", "content": "fine", "name": "named"},
         {"role": "tool", "content": "extra result"}, {"role": "assistant", "content": "  "}],
     "answer": "", "reward": None, "example_id": True},
    # metadata object, a `task` there and at the top level (the top-level string wins, in place)
    {"prompt": "q", "completion": [{"role": "assistant", "content": "a"}], "task": "wiki",
     "metadata": {"task": "old", "model": "m", "n": [1, {"a": None}]}, "model": "other", "seed": 3,
     "state": {"s": 1}, "info": "ignored", "reward": -0.0},
    # a non-string task is not metadata; example_id a string
    {"prompt": "q", "completion": "a", "task": 5, "example_id": "ex-1", "metadata": "not a dict", "answer": "a"},
    # non-ASCII text: contents, answer, task, metadata, names and ids of results, string tool-call ids
    {"example_id": 1, "prompt": [{"role": "user", "content": "Qui est Erdo\u011fan ?", "name": "\u00e9l\u00e8ve"}],
     "completion": [{"role": "assistant", "content": "", "tool_calls": [
         _call("search_pages", json.dumps({"query": "Erdo\u011fan \u2013 2020"}), "c\u00e9"),
         _call("view_sections", json.dumps({"page_id": "l\u00e9a"}, ensure_ascii=False), "d")]},
         {"role": "tool", "tool_call_id": "c\u00e9", "content": "[{'page_id': 'recep_tayyip_erdo\u011fan'}]",
          "name": "s\u00e9arch"},
         {"role": "tool", "content": "\u00c9rror: \u2019x\u2019 \u03bb=2\u2013\u00bd"},
         {"role": "assistant", "content": "Recep Tayyip Erdo\u011fan \u2014 since 2014 (\u00df)."}],
     "answer": "Erdo\u011fan", "task": "t\u00e2che", "metadata": {"mod\u00e8le": "\u00e9"}, "\u00e9x": "\u00fc",
     "reward": 0.5},
]


@pytest.mark.parametrize("record", NATIVE)
def test_native_records(kernel: ModuleType, record: dict[str, Any]) -> None:
    for ascii in (True, False):
        line = _line(record, ascii)
        assert check(kernel, line) == "native"
        assert check(kernel, line, shared={"env_id": "wiki-search", "model": "gpt", "run": "r1"}) == "native"


def test_episode_fields(kernel: ModuleType) -> None:
    got = kernel_view(kernel, _line(NATIVE[0]), {"env_id": "wiki-search", "model": "gpt-4.1", "reward": 9, "run": "r"})
    assert isinstance(got, dict)
    assert got["id"] == "x:1" and got["task_id"] == "3" and got["question"] == "Who built the Ryzen?"
    assert got["final_answer"] == "AMD, in 2017." and got["ground_truth"] == "AMD" and got["reward"] == 1.0
    assert list(got["metadata"].items()) == [
        ("env_id", "wiki-search"), ("model", "gpt-4.1"), ("reward", 9), ("run", "r"), ("generation_ms", 1234.5),
        ("judge_reward_func", 1.0), ("total_tool_calls", 1.0), ("task", "default")]
    tool = got["steps"][3]
    assert tool["call_step"] == 2 and tool["name"] == "search_pages"
    assert got["steps"][2]["tool_calls"][0]["result_step"] == 3
    meta = kernel_view(kernel, _line(NATIVE[4]))["metadata"]
    assert list(meta.items()) == [("task", "wiki"), ("model", "m"), ("n", [1, {"a": None}]), ("seed", 3)]


def test_merge_of_the_run_metadata(kernel: ModuleType) -> None:
    """{**shared, **item.metadata}: shared keys first, the record's values win, its own keys follow."""
    line = _line({"prompt": "q", "completion": "a", "model": "mine", "task": "t", "metadata": {"z": 1, "env": None}})
    for shared in ({}, {"model": "run"}, {"run": "r", "model": "run", "env": "wiki", "num_examples": 5},
                   {"task": 1, "a": 2.5, "\u00e9": "\u00fc"}):
        assert check(kernel, line, shared=shared) == "native"
        got = kernel_view(kernel, line, shared)
        assert list(got["metadata"]) == list({**shared, "z": 1, "env": None, "model": "mine", "task": "t"})
    assert shared == {"task": 1, "a": 2.5, "\u00e9": "\u00fc"}  # the shared dict is not changed


@pytest.mark.parametrize("line", [
    b"[]", b"5", b'"x"', b"{}", b'{"prompt": "q"}', b'{"completion": "a"}', b'{"prompt": null, "completion": "a"}',
    b'{"prompt": "q", "completion": null}', b'{"prompt": {}, "completion": "a"}', b'{"prompt": "q", "completion": 5}',
    b'{"prompt": "q", "completion": true}', b'{"prompt": [1], "completion": []}',
    b'{"prompt": [{"role": "robot"}], "completion": []}', b'{"prompt": "q", "completion": [{"content": "x"}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["{bad"]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": [""]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["5"]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["[]"]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["\\"{}\\""]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["{} x"]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["{\\"a\\": \\"x\\ny\\"}"]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": ["\\"\\\\ud800\\""]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": [5]}]}',
    b'{"prompt": "q", "completion": [{"role": "assistant", "tool_calls": "x"}]}',
    b'{"prompt": "q", "completion": [{"role": "us\\u00e9r"}]}',
])
def test_issues_fall_back(kernel: ModuleType, line: bytes) -> None:
    assert python_view(line) == "issue"
    assert kernel._debug_verifiers(line) == "fallback"


@pytest.mark.parametrize("record", [
    # characters with no stand-in, in a content or the answer
    {"prompt": "q\u00a0", "completion": "a"}, {"prompt": "q", "completion": "\u22125"},
    {"prompt": "q", "completion": [{"role": "tool", "content": "\u0130stanbul"}]},
    {"prompt": "q", "completion": "a", "answer": "\u0663"}, {"prompt": "\u212a", "completion": "a"},
    {"prompt": [{"role": "system", "content": "\u2028"}], "completion": "a"},
    # a non-ASCII tool name; floats and containers where str() or msgspec's encoding would be needed
    {"prompt": "q", "completion": [{"role": "assistant", "tool_calls": [_call("s\u00e9arch", "{}")]}]},
    {"prompt": "q", "completion": "a", "example_id": 1.5}, {"prompt": "q", "completion": "a", "id": [1]},
    {"prompt": "q", "completion": "a", "answer": 2.5}, {"prompt": "q", "completion": "a", "answer": ["x"]},
    {"prompt": "q", "completion": "a", "reward": "1"},
])
def test_shapes_that_fall_back(kernel: ModuleType, record: dict[str, Any]) -> None:
    for ascii in (True, False):
        line = _line(record, ascii)
        assert isinstance(python_view(line), dict)
        assert check(kernel, line) == "fallback"


@pytest.mark.parametrize("line", [
    b'{"prompt": "q", "completion": "a", "prompt": "r"}', b'{"prompt": "q", "completion": "a", "metadata": {"a": 1, "a": 2}}',
    b'{"prompt": "\xff", "completion": "a"}', b'{"prompt": "\\udc00", "completion": "a"}',
])
def test_duplicate_keys_and_bad_text_fall_back(kernel: ModuleType, line: bytes) -> None:
    assert kernel._debug_verifiers(line) == "fallback"
    check(kernel, line)


def test_duplicates_below_the_top_level(kernel: ModuleType) -> None:
    call = '{"id": "x", "function": {"name": "a", "name": "B"}, "id": "y", "function": {"name": "c", "arguments": "{}"}}'
    line = _line({"prompt": [{"role": "robot", "content": "a"}], "completion": [
        {"role": "assistant", "tool_calls": [call]}, {"role": "tool", "content": "z"}]}).replace(
        b'"role": "robot"', b'"role": "robot", "role": "user"')
    assert check(kernel, line) == "native"


def test_reuse_across_formats(kernel: ModuleType) -> None:
    """One KEpisode serves both formats in turn (the reset between records)."""
    big = _line({"prompt": "q" * 5000, "completion": [{"role": "assistant", "tool_calls": [
        _call(f"tool{i}", json.dumps({"k": "\u00e9" * i}), f"c{i}") for i in range(200)]}] +
        [{"role": "tool", "content": f"r\u2013{i}"} for i in range(200)]})
    small = _line(NATIVE[1])
    chat = b'{"messages": [{"role": "user", "content": "hi"}], "id": 3}'
    for line in (small, big, chat, small, b"{", big, chat, big, small):
        if line is chat:
            assert check_chat(kernel, line) == "native"
        else:
            assert check(kernel, line) in ("native", "invalid")
    assert check_chat(kernel, small) == "fallback"  # not an OpenAI-chat record
    assert check(kernel, chat) == "fallback"


# ---------------------------------------------------------------- generated records

# non-ASCII characters with an ASCII stand-in (letters, symbols, marks) and without one
U_CLEAN = ["\u00e9", "\u014d", "\u00df", "\u03bb", "\u0440", "\u2013", "\u2014", "\u2019", "\u201c", "\u20ac",
           "\u00d7", "\u0301", "\u00bd", "\u4e94", "\U0001f600", "\ufeff", "\u03a3", "\u00c9"]
U_WILD = ["\u00a0", "\u2212", "\u0130", "\u0131", "\u017f", "\u212a", "\u0663", "\u00b2", "\u2028", "\x85"]


def utexts(wild: bool) -> st.SearchStrategy[str]:
    chars = st.sampled_from(U_CLEAN + (U_WILD if wild else []))
    return st.lists(st.one_of(texts(wild), chars), max_size=4).map("".join)


def ujson(value: Any, ascii: bool) -> str:
    """JSON text of a generated value (Obj keeps duplicate keys; Raw is written as it is)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, (Obj, dict)):
        pairs = value.pairs if isinstance(value, Obj) else list(value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=ascii)}:{ujson(x, ascii)}" for k, x in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(ujson(x, ascii) for x in value) + "]"
    return json.dumps(value, ensure_ascii=ascii)


def line_of(record: Any, ascii: bool) -> bytes:
    """The JSONL line of a generated record; lone surrogates (test_episode's wild texts hold some)
    written as they are: invalid UTF-8, which the reader refuses."""
    return ujson(record, ascii).encode("utf-8", "surrogatepass")


def contents(wild: bool) -> st.SearchStrategy[Any]:
    t = utexts(wild)
    parts = st.one_of(t, st.builds(lambda x: {"type": "text", "text": x}, t), st.builds(lambda x: {"content": x}, t),
                      st.just({"type": "image_url"}), st.just(5), st.none())
    clean = st.one_of(st.none(), t, t, t, st.lists(parts, max_size=3), st.builds(lambda x: {"text": x}, t),
                      st.integers(-5, 5), st.booleans())
    return st.one_of(clean, st.sampled_from([{"foo": 1}, 1.5])) if wild else clean


def v_arguments(wild: bool) -> st.SearchStrategy[Any]:
    unicode_args = st.builds(lambda q, a: json.dumps({"query": q, "page_id": q}, ensure_ascii=a), utexts(False),
                             st.booleans())
    return st.one_of(arguments(wild), unicode_args)


def v_ids(wild: bool) -> st.SearchStrategy[Any]:
    return st.one_of(ids(wild), st.just("c\u00e9"))


def v_names(wild: bool) -> st.SearchStrategy[Any]:
    return st.one_of(names(wild), st.just("s\u00e9arch")) if wild else names(wild)


@st.composite
def v_tool_calls(draw: Any, wild: bool) -> Any:
    """A call object, or (as verifiers writes them) its JSON text in a string."""
    fn = obj(draw, [("arguments", draw(maybe(v_arguments(wild)))), ("name", draw(maybe(v_names(wild))))], wild)
    shape = draw(st.integers(0, 9))
    if shape <= 5:
        call = obj(draw, [("id", draw(maybe(v_ids(wild)))), ("function", fn), ("type", "function")], wild)
    elif shape <= 7:
        call = obj(draw, [("id", draw(maybe(v_ids(wild))))] + fn.pairs, wild)
    else:
        call = obj(draw, [("function", draw(st.sampled_from(["x", None, 1])))] + fn.pairs, wild)
    if draw(st.integers(0, 3)) == 0:
        return call
    if wild and draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(["{bad", "", " ", "5", "[]", '"x"', "null", "{} {}", '{"a": "\n"}', 5, None,
                                     '{"function": {"name": "f"}}\u00e9', '{"id": "\\ud800"}']))
    return ujson(call, draw(st.booleans()))


@st.composite
def v_messages(draw: Any, wild: bool) -> Any:
    kind = draw(st.sampled_from(["system", "user", "user", "assistant", "assistant", "assistant", "tool", "tool",
                                 "tool", "developer"] + (["odd"] if wild else [])))
    content = draw(maybe(contents(wild)))
    if kind == "odd":
        return draw(st.sampled_from([Obj([("role", "robot")]), Obj([("content", "x")]), Obj([("role", None)]), 5,
                                     "user", None, Obj([("role", "\u00e9")])]))
    if kind == "assistant":
        calls = st.one_of(st.just(MISSING), st.none(), st.just([]), st.lists(v_tool_calls(wild), min_size=1, max_size=4))
        if wild:
            calls = st.one_of(calls, st.sampled_from([{"a": 1}, "x", 1, True]))
        return obj(draw, [("content", content), ("role", kind), ("tool_calls", draw(calls))], wild)
    if kind == "tool":
        call_id = draw(st.one_of(st.just(MISSING), st.just(MISSING), v_ids(wild)))
        return obj(draw, [("content", content), ("role", kind), ("tool_calls", None), ("tool_call_id", call_id),
                          ("name", draw(maybe(st.sampled_from(["search", "", None, "s\u00e9"]))))], wild)
    return obj(draw, [("content", content), ("role", kind), ("name", draw(maybe(st.sampled_from(["bob", "", None]))))],
               wild)


@st.composite
def parts(draw: Any, wild: bool) -> Any:
    shape = draw(st.integers(0, 9 if wild else 7))
    if shape <= 1:
        return draw(utexts(wild))
    if shape <= 7:
        return draw(st.lists(v_messages(wild), max_size=6))
    return draw(st.sampled_from([MISSING, None, {}, 5, [5], True]))


@st.composite
def v_records(draw: Any, wild: bool | None = None) -> Obj:
    if wild is None:
        wild = draw(st.integers(0, 3)) == 0
    fields: list[tuple[str, Any]] = [("prompt", draw(parts(wild))), ("completion", draw(parts(wild)))]
    values = st.one_of(field_values(wild), utexts(wild))
    for key in ("example_id", "id", "answer", "task"):
        if draw(st.integers(0, 2)) == 0:
            fields.append((key, draw(values)))
    fields.append(("reward", draw(maybe(rewards(wild)))))
    fields.append(("metadata", draw(maybe(metadata(wild)))))
    for key in draw(st.lists(st.sampled_from(["info", "state", "generation_ms", "model", "judge_reward_func", "seed",
                                              "total_tool_calls", "\u00e9tat", "x"]), max_size=4, unique=True)):
        fields.append((key, draw(st.one_of(small_json(wild), utexts(wild)))))
    return obj(draw, fields, wild)


SHARED = st.one_of(st.none(), st.dictionaries(st.sampled_from(["env_id", "model", "run", "task", "seed", "\u00e9"]),
                                              st.one_of(st.text(max_size=3), st.integers(), st.floats(allow_nan=False),
                                                        st.booleans()), max_size=4))
GENERATED = Tally()


@SETTINGS
@given(v_records(), st.booleans(), SHARED)
def test_generated_records(kernel: ModuleType, record: Obj, ascii: bool, shared: dict[str, Any] | None) -> None:
    check(kernel, line_of(record, ascii), GENERATED, shared)


@SETTINGS
@given(v_records(wild=False), st.booleans(), SHARED)
@example(Obj([("prompt", "q\u00e9"), ("completion", [Obj([("role", "assistant"), ("tool_calls", [
    '{"id": "c1", "function": {"arguments": "{\\"q\\": \\"\\\\u00e9\\"}", "name": "f"}}'])])])]), True, None)
def test_clean_records_are_native(kernel: ModuleType, record: Obj, ascii: bool, shared: dict[str, Any] | None) -> None:
    """Records of only the shapes the kernel reproduces (non-ASCII text with stand-ins included):
    never a fallback."""
    assert check(kernel, line_of(record, ascii), shared=shared) == "native"


@SETTINGS
@given(v_records(), st.data())
def test_corrupted_lines(kernel: ModuleType, record: Obj, data: st.DataObject) -> None:
    line = corrupted(line_of(record, data.draw(st.booleans())), data, b' ,:{}[]"\\0-e.tnux\x00\x80\xc3\xa9\xff')
    if line.strip():
        check(kernel, line)


def test_generated_records_are_mostly_native(kernel: ModuleType) -> None:
    GENERATED.assert_mostly_native(1 / 3)


def test_counts_agree_with_the_reader(kernel: ModuleType) -> None:
    """n_steps, n_tool_calls and n_tool_errors of every episode the Python reader makes of the
    verifiers files (RecordFormat.read: the file metadata merged in)."""
    files = _run_files(FIXTURES / "verifiers-results") + _run_files(WIKI)
    compared = 0
    for path in files:
        data = path.read_bytes().split(b"\n")
        shared = READER.file_metadata(str(path))
        for item in READER.read(str(path)):
            assert isinstance(item, Episode)
            got = kernel_view(kernel, data[item.source.line - 1], shared)
            if got == "fallback":
                continue
            assert isinstance(got, dict)
            assert counts(got) == counts(episode_view(item)), (path, item.source.line)
            assert got["metadata"] == item.metadata and list(got["metadata"]) == list(item.metadata)
            compared += 1
    assert compared >= 4
    assert os.environ.get("RUBRICATE_NO_KERNEL") is None
