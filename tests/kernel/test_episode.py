"""episode.c against its reference, rubricate.traces.formats.openai_chat: the kernel's episode of a
JSONL line must be exactly the Python reader's, or "fallback" (the Python path reads that record).

Inputs: every line of the OpenAI-chat benchmark file (no fallback allowed there), every JSONL line of
the test fixtures, hand-written records the kernel must handle natively, hypothesis-generated records
(roles, contents, tool calls, ids, arguments, pairing, record fields, metadata, duplicate keys) and
corrupted lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubricate.traces._model import Episode, Source
from rubricate.traces.formats.openai_chat import OpenAIChat

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
from _shared import CORPORA, need  # noqa: E402
SOURCE = Source("x", line=1)
READER = OpenAIChat()
SETTINGS = settings(max_examples=int(os.environ.get("RUBRICATE_KERNEL_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
_enc = msgspec.json.encode


# ---------------------------------------------------------------- the two views


def episode_view(ep: Episode) -> dict[str, Any]:
    return {
        "id": ep.id,
        "task_id": ep.task_id,
        "question": ep.question,
        "final_answer": ep.final_answer,
        "ground_truth": ep.ground_truth,
        "reward": ep.reward,
        "metadata": ep.metadata,
        "steps": [
            {
                "index": s.index,
                "role": s.role,
                "content": s.content,
                "name": s.tool_name if s.role == "tool" else s.name,
                "is_error": s.is_error,
                "call_step": s.call_step,
                "tool_calls": [
                    {"name": c.name, "arguments": c.arguments, "arguments_raw": c.arguments_raw, "id": c.id,
                     "result_step": c.result_step}
                    for c in s.tool_calls
                ],
            }
            for s in ep.steps
        ],
    }


def python_view(line: bytes) -> dict[str, Any] | str:
    """The Python reader's episode of one line, "invalid" (msgspec refuses it) or "issue" (a LoadIssue)."""
    try:
        record = msgspec.json.decode(line)
    except ValueError:  # msgspec.DecodeError, UnicodeDecodeError: RecordFormat's "invalid JSON" LoadIssue
        return "invalid"
    if not isinstance(record, dict):
        return "issue"
    try:
        ep = READER.episode(record, SOURCE, line)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
        return "issue"
    return episode_view(ep)


def kernel_view(kernel: ModuleType, line: bytes) -> dict[str, Any] | str:
    out = kernel._debug_episode(line)
    if isinstance(out, str):
        assert out in ("invalid", "fallback"), out
        return out
    if out["id"] is None:
        out["id"] = str(SOURCE)
    for step in out["steps"]:
        assert step.pop("text") == step["content"]  # OpenAI-chat text is ASCII: the checks read it as it is
        for call in step["tool_calls"]:
            assert call.pop("lname") == call["name"].lower()
            assert call.pop("step") == step["index"]
    return out


class Tally:
    def __init__(self) -> None:
        self.native = self.fallback = 0

    def assert_mostly_native(self, least: float) -> None:
        """Run after the generated-records test (file order): the generator is not so odd that the
        kernel falls back on everything (at least `least` of the records are native)."""
        total = self.native + self.fallback
        if total < 100:
            pytest.skip("test_generated_records did not run first")
        assert self.native >= total * least, (self.native, self.fallback)


def check(kernel: ModuleType, line: bytes, tally: Tally | None = None) -> str:
    """Compare the two views of `line`; returns "native", "fallback", "invalid" or "issue"."""
    got = kernel_view(kernel, line)
    want = python_view(line)
    if got == "invalid":
        assert want == "invalid", f"kernel says invalid JSON, msgspec reads it: {line!r}"
        return "invalid"
    if got == "fallback":
        if tally is not None:
            tally.fallback += 1
        return "fallback"
    assert isinstance(want, dict), f"kernel made an episode, Python says {want}: {line!r}"
    assert got == want, line
    assert _enc(got) == _enc(want), line  # types and key order too (1 vs 1.0 vs True)
    if tally is not None:
        tally.native += 1
    return "native"


def counts(view: dict[str, Any]) -> tuple[int, int, int]:
    """PartWriter.add_episode's n_steps, n_tool_calls, n_tool_errors."""
    calls = errors = 0
    for s in view["steps"]:
        if s["tool_calls"]:
            calls += len(s["tool_calls"])
        elif s["is_error"]:
            errors += 1
    return len(view["steps"]), calls, errors


# ---------------------------------------------------------------- real files


def _lines(path: Path) -> list[bytes]:
    """The lines of a JSONL file as the reader's iter_lines cuts them (at b"\\n" only)."""
    return path.read_bytes().split(b"\n")


def _fixture_lines() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(FIXTURES.rglob("*.jsonl")):
        for i, line in enumerate(_lines(path), 1):
            if line.strip():
                out.append((f"{path.relative_to(FIXTURES)}:{i}", line))
    return out


def test_benchmark_file_matches_with_no_fallback(kernel: ModuleType, bench_chat: Path) -> None:
    tally = Tally()
    n = 0
    with bench_chat.open("rb") as f:
        for line in f:
            if line.strip():
                n += 1
                assert check(kernel, line, tally) in ("native", "fallback")
    assert n > 0
    assert tally.fallback == 0 and tally.native == n


def test_fixture_lines(kernel: ModuleType) -> None:
    lines = _fixture_lines()
    assert lines
    outcomes = [check(kernel, line) for _, line in lines]
    chat = [o for (where, _), o in zip(lines, outcomes) if where.startswith(("openai-chat/", "damaged/"))]
    assert chat.count("native") >= 5, chat  # the good openai-chat records are read natively


def test_corpora(kernel: ModuleType) -> None:
    """Every JSONL line of ../shared/corpora, and every tau-bench trajectory re-wrapped as an OpenAI-chat
    record (as tests/fixtures/openai-chat was made): the real trajectories are read natively."""
    need(CORPORA)
    for path in sorted(CORPORA.rglob("*.jsonl")):
        for line in _lines(path):
            if line.strip():
                check(kernel, line)
    tally = Tally()
    for path in sorted(CORPORA.rglob("tau-bench/*.json")):
        for r in json.loads(path.read_bytes()):
            if isinstance(r, dict) and "traj" in r:
                rec = {"id": f"{path.stem}/{r.get('task_id')}/{r.get('trial')}", "task_id": r.get("task_id"),
                       "trial": r.get("trial"), "messages": r["traj"], "reward": r.get("reward"), "info": r.get("info")}
                check(kernel, json.dumps(rec).encode(), tally)
                check(kernel, json.dumps(rec, ensure_ascii=False).encode(), tally)
    assert tally.native >= tally.fallback, (tally.native, tally.fallback)


def test_damaged_fixture(kernel: ModuleType) -> None:
    lines = (FIXTURES / "damaged" / "chat-damaged.jsonl").read_bytes().splitlines()
    assert kernel._debug_episode(lines[1]) == "invalid"  # truncated JSON
    assert kernel._debug_episode(lines[3]) == "fallback"  # [1, 2]: a LoadIssue the Python path writes
    assert kernel._debug_episode(lines[5]) == "fallback"  # messages is a string
    assert kernel._debug_episode(lines[7]) == "fallback"  # role robot
    raw = kernel._debug_episode(lines[8])
    assert isinstance(raw, dict)
    call = raw["steps"][1]["tool_calls"][0]
    assert call["arguments"] is None and call["arguments_raw"] == '{"order_id": 7'


def test_counts_agree_with_the_reader(kernel: ModuleType, bench_chat: Path) -> None:
    """n_steps, n_tool_calls and n_tool_errors of every episode the Python reader makes."""
    paths = [p for p in sorted(FIXTURES.rglob("*.jsonl"))] + [bench_chat]
    compared = 0
    for path in paths:
        data = _lines(path)
        for item in READER.read(str(path)):
            if not isinstance(item, Episode):
                continue
            got = kernel._debug_episode(data[item.source.line - 1])
            if got == "fallback":
                continue
            assert isinstance(got, dict)
            assert counts(got) == counts(episode_view(item)), (path, item.source.line)
            compared += 1
    assert compared >= 5


# ---------------------------------------------------------------- hand-written records: native and exact


def _line(record: Any) -> bytes:
    return json.dumps(record).encode()


NATIVE = [
    # content as a list of parts, nested parts, a {text} dict, numbers and bools
    {"messages": [{"role": "user", "content": ["a", {"type": "text", "text": "b"}, {"type": "image"}, 5, None,
                                               {"content": "c"}, {"content": ["d", {"text": "e"}, []]},
                                               {"text": 5, "content": "f"}, [1]]},
                  {"role": "assistant", "content": {"type": "text", "text": "done"}},
                  {"role": "assistant", "content": 7}, {"role": "assistant", "content": True},
                  {"role": "assistant", "content": []}]},
    # legacy function_call and flattened calls; names with upper case; missing names
    {"messages": [{"role": "assistant", "content": None, "function_call": {"name": "Get_Table", "arguments": "{}"}},
                  {"role": "function", "name": "Get_Table", "content": "ok"},
                  {"role": "assistant", "tool_calls": [{"name": "Flat", "arguments": "{\"a\": [1, 2.5]}"},
                                                       {"function": "x", "name": None}],
                   "function_call": None},
                  {"role": "ipython", "content": "Error: nope"}, {"role": "tool", "content": "{\"error\": \"x\"}"}]},
    # pairing by id, out of order, duplicates, results without ids, extra results
    {"messages": [{"role": "assistant", "tool_calls": [
        {"id": "a", "function": {"name": "f", "arguments": "{\"x\":1}"}},
        {"id": "b", "function": {"name": "g", "arguments": "[1]"}},
        {"id": "a", "function": {"name": "h", "arguments": "{bad"}},
        {"id": "", "function": {"name": "i"}}, {"id": None, "function": {"name": "j", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "b", "content": "1"}, {"role": "tool", "tool_call_id": "a", "content": "2"},
        {"role": "tool", "content": "3"}, {"role": "tool", "tool_call_id": "zz", "content": "4"},
        {"role": "tool", "tool_call_id": "", "content": "5"}, {"role": "tool", "content": "6", "is_error": True},
        {"role": "tool", "tool_call_id": "a", "content": "Traceback (most recent call last)", "is_error": "yes"},
        {"role": "assistant", "content": "  answer  "}]},
    # record fields of every native type; metadata with nested values and extra scalars
    {"id": 12, "task_id": True, "question": "", "answer": 0, "final_answer": "", "reward": 1,
     "metadata": {"b": 1, "a": {"x": [1, 2.0, None]}, "model": "m"}, "model": "other", "trial": 3, "score": 0.5,
     "flag": False, "lst": [1], "obj": {}, "nothing": None,
     "messages": [{"role": "developer", "content": "sys", "name": "root"},
                  {"role": "user", "content": "", "name": ""}, {"role": "user", "content": "q?", "name": "bob"}]},
    {"episode_id": "", "uid": "u", "example_id": -5, "expected": "", "target": False, "reward": True,
     "metadata": "not a dict", "messages": []},
    {"rollout_id": "r", "question_id": "q", "gold": "g", "reward": -0.0, "question": "Q", "final_answer": None,
     "messages": [{"role": "assistant", "content": "x"}, {"role": "tool", "content": ""}]},
    {"reward": [1], "ground_truth": True, "final_answer": 3, "question": 4, "messages": [{"role": "system"}]},
    {"reward": None, "metadata": {}, "messages": [{"role": "assistant", "content": "a", "tool_calls": []},
                                                  {"role": "assistant", "content": " \t", "tool_calls": None}]},
]


@pytest.mark.parametrize("record", NATIVE)
def test_native_records(kernel: ModuleType, record: dict[str, Any]) -> None:
    assert check(kernel, _line(record)) == "native"


def test_raw_literals_and_whitespace(kernel: ModuleType) -> None:
    base = b'{"messages": [{"role": "user", "content": "hi"}], "id": %s, "reward": %s, "extra": %s}'
    for i, r, x in [(b"-0", b"-0", b"-0.0"), (b"0", b"1E2", b"1e-2"), (b"9223372036854775807", b"-1", b"0.1")]:
        assert check(kernel, base % (i, r, x)) == "native"
    assert check(kernel, b'  \t{"messages":[]}\r\n') == "native"


@pytest.mark.parametrize("line", [
    # duplicate keys below the top level: dict semantics, the last one wins
    b'{"messages": [{"role": "robot", "content": "a", "role": "user", "content": "b"}]}',
    (b'{"messages": [{"role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "a", "name": "B"},'
    b' "id": "y", "function": {"name": "c", "arguments": "{\\"k\\": 1, \\"k\\": 2}"}}]},'
    b' {"role": "tool", "tool_call_id": "x", "tool_call_id": "y", "content": "z"}]}'),
    (b'{"messages": [{"role": "tool", "is_error": true, "is_error": "no", "content": "Error: x"}],'
    b' "metadata": {"a": {"b": 1, "b": 2}}}'),
    (b'{"messages": [{"role": "assistant", "tool_calls": [], "tool_calls": [{"name": "f"}], "content": [{"text": 1,'
    b' "text": "t"}]}]}'),
])
def test_duplicates_below_the_top_level(kernel: ModuleType, line: bytes) -> None:
    assert check(kernel, line) == "native"


@pytest.mark.parametrize("line", [
    b'[]', b'5', b'"x"', b'{}', b'{"messages": null}', b'{"messages": {}}', b'{"messages": [1]}',
    b'{"messages": [{"role": "robot"}]}', b'{"messages": [{"role": null}]}', b'{"messages": [{}]}',
    b'{"messages": [{"role": ["user"]}]}',
    b'{"messages": [{"role": "assistant", "tool_calls": "x"}]}',
    b'{"messages": [{"role": "assistant", "tool_calls": [5]}]}',
])
def test_issues_fall_back(kernel: ModuleType, line: bytes) -> None:
    assert python_view(line) == "issue"
    assert kernel._debug_episode(line) == "fallback"


@pytest.mark.parametrize("line", [
    b'{"messages": [], "messages": []}', b'{"id": 1, "id": 2, "messages": []}',
    b'{"messages": [], "metadata": {"a": 1, "a": 2}}',
])
def test_duplicate_keys_fall_back(kernel: ModuleType, line: bytes) -> None:
    assert isinstance(python_view(line), dict)
    assert kernel._debug_episode(line) == "fallback"


def test_reuse_of_one_episode_across_lines(kernel: ModuleType) -> None:
    """The shim reuses one KEpisode across calls, as the scorer does: a large record after a small
    one, a fallback and an invalid line in between, and back."""
    small = _line(NATIVE[0])
    big = _line({"messages": [{"role": "assistant", "tool_calls": [
        {"id": f"c{i}", "function": {"name": f"Tool{i}", "arguments": json.dumps({"k": "v" * i})}}
        for i in range(300)]}] + [{"role": "tool", "tool_call_id": f"c{i}", "content": "x"} for i in range(299, -1, -1)]})
    for line in (small, big, b'{"messages": [1]}', small, b"{", big, small):
        check(kernel, line)
    for line in (small, big, small, big):
        assert check(kernel, line) == "native"


# ---------------------------------------------------------------- generated records


class Obj:
    """A JSON object as ordered (key, value) pairs: duplicate keys allowed."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return dumps(self)


class Raw(str):
    """JSON text written as is (numbers Python cannot round-trip: -0, 1e400, 1E2)."""


def dumps(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(x)}" for k, x in v.pairs) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    return json.dumps(v)


MISSING = object()

# Each strategy comes in two kinds: "clean" draws only shapes the kernel reproduces natively (so most
# records are compared field by field), "wild" adds every shape the Python reader handles differently
# or refuses (the kernel must fall back, or agree).
_clean_texts = st.one_of(
    st.sampled_from(["", " ", "  \n", "ok", "42", "Hello World", "Error: boom", "error: x", "ValueError: bad",
                     "  exception raised", "Invalid input", "table t not found", "No such file", "cannot do",
                     "unknown tool x", "Traceback (most recent call last):\n  x", '{"error": "x"}',
                     '{"error": null}', "{'error': ''}", '{"result": 1}', "Permission denied", "\t\x0b", "\x1c x \x1f"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=12),
    st.text(alphabet=st.sampled_from("aZ \t\n\\\"/\x01\x7f"), max_size=6),
)
_wild_texts = st.one_of(_clean_texts, st.sampled_from(["caf\u00e9", "\ud83d\ude00", "\x85x"]))
_clean_numbers = st.one_of(st.integers(-10, 10), st.integers(-2**63, 2**63 - 1),
                           st.floats(allow_nan=False, allow_infinity=False),
                           st.sampled_from([Raw("-0"), Raw("-0.0"), Raw("1E2"), Raw("1e-7"), Raw("0.1")]))
_wild_numbers = st.one_of(_clean_numbers, st.sampled_from([Raw("1e400"), Raw("18446744073709551616")]))


def texts(wild: bool) -> st.SearchStrategy[Any]:
    return _wild_texts if wild else _clean_texts


def _nest(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3))


def small_json(wild: bool) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), _wild_numbers if wild else _clean_numbers, texts(wild))
    return st.recursive(scalars, _nest, max_leaves=6)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(MISSING), strategy)


def obj(draw: Any, fields: list[tuple[str, Any]], dup: bool) -> Obj:
    """An object of the drawn fields (MISSING left out), sometimes shuffled, sometimes with a
    duplicate key (where `dup`)."""
    pairs = [(k, v) for k, v in fields if v is not MISSING]
    pairs = draw(st.permutations(pairs)) if draw(st.booleans()) else pairs
    if dup and pairs and draw(st.integers(0, 9)) == 0:
        k, _ = draw(st.sampled_from(pairs))
        pairs.insert(draw(st.integers(0, len(pairs))), (k, draw(small_json(False))))
    return Obj(pairs)


def contents(wild: bool) -> st.SearchStrategy[Any]:
    t = texts(wild)
    parts = st.one_of(t, st.builds(lambda x: {"type": "text", "text": x}, t), st.builds(lambda x: {"content": x}, t),
                      st.builds(lambda x: {"content": [x, {"text": x}]}, t), st.just({"type": "image_url"}),
                      st.just({"text": 5, "content": "c"}), st.just(5), st.none(), st.just([]))
    clean = st.one_of(st.none(), t, t, st.lists(parts, max_size=4), st.builds(lambda x: {"text": x}, t),
                      st.integers(-5, 5), st.booleans())
    return st.one_of(clean, st.sampled_from([{"foo": 1}, 1.5, {"text": None}])) if wild else clean


def ids(wild: bool) -> st.SearchStrategy[Any]:
    clean = st.one_of(st.sampled_from(["c1", "c2", "c3", ""]), st.none())
    return st.one_of(clean, st.integers(0, 3), st.just(["c1"])) if wild else clean


def names(wild: bool) -> st.SearchStrategy[Any]:
    clean = st.one_of(st.sampled_from(["run_sql", "Get_Table", "describe_table", "", "search"]), st.none())
    return st.one_of(clean, st.just(5), st.just(True)) if wild else clean


def arguments(wild: bool) -> st.SearchStrategy[Any]:
    clean = st.one_of(
        st.sampled_from(['{"a": 1}', '{"table":"Orders"}', "{}", " {} ", "{bad", "[1,2]", '"str"', "1", "null", "",
                         '{"a":1,"a":2}', '{"x": "\\n"}', '{"x": "a\nb"}', "{\"a\": 1} x", "{\"a\": [1,}",
                         '{"sql": "SELECT * FROM t WHERE x = \'y\'"}', '{"n": -0, "f": 1E2}']),
        st.none(), st.builds(json.dumps, small_json(False)))
    wilder = st.one_of(st.sampled_from(["1e400", '{"x": "\\u00e9"}', '{"n": 18446744073709551616}']),
                       st.just({"a": 1}), st.just([1]), st.just(3), st.builds(json.dumps, small_json(True)))
    return st.one_of(clean, wilder) if wild else clean


@st.composite
def tool_calls(draw: Any, wild: bool) -> Any:
    shape = draw(st.integers(0 if wild else 1, 9))
    if shape == 0:
        return draw(st.sampled_from(['{"id": "c1", "function": {"name": "f", "arguments": "{}"}}', 5, None]))
    fn = obj(draw, [("name", draw(maybe(names(wild)))), ("arguments", draw(maybe(arguments(wild))))], wild)
    if shape <= 6:
        return obj(draw, [("id", draw(maybe(ids(wild)))), ("type", "function"), ("function", fn)], wild)
    if shape == 7:
        return obj(draw, [("id", draw(maybe(ids(wild)))), ("function", draw(st.sampled_from(["x", None, 1])))]
                   + fn.pairs, wild)
    return obj(draw, [("id", draw(maybe(ids(wild))))] + fn.pairs, wild)


@st.composite
def messages(draw: Any, wild: bool) -> Any:
    kind = draw(st.sampled_from(["system", "developer", "user", "assistant", "assistant", "assistant", "tool",
                                 "tool", "tool", "function", "ipython"] + (["odd"] if wild else [])))
    content = draw(maybe(contents(wild)))
    if kind == "odd":
        return draw(st.sampled_from([Obj([("role", "robot")]), Obj([("content", "x")]), Obj([("role", None)]),
                                     Obj([("role", 5)]), Obj([("role", "User")]), 5, "user", None]))
    if kind == "assistant":
        calls = st.one_of(st.just(MISSING), st.none(), st.just([]), st.lists(tool_calls(wild), min_size=1, max_size=4),
                          st.just({}), st.just(0), st.just(""))
        if wild:
            calls = st.one_of(calls, st.sampled_from([{"a": 1}, "x", 1, True]))
        legacy = draw(st.one_of(st.just(MISSING), st.just(MISSING), st.none(), st.just("f"),
                                st.builds(lambda n, a: obj(draw, [("name", n), ("arguments", a)], wild),
                                          maybe(names(wild)), maybe(arguments(wild)))))
        return obj(draw, [("role", kind), ("content", content), ("tool_calls", draw(calls)),
                          ("function_call", legacy), ("name", draw(maybe(names(wild))))], wild)
    if kind in ("tool", "function", "ipython"):
        call_id = st.one_of(ids(wild), st.just(0), st.just(False))
        return obj(draw, [("role", kind), ("content", content), ("tool_call_id", draw(maybe(call_id))),
                          ("name", draw(maybe(names(wild)))),
                          ("is_error", draw(maybe(st.sampled_from([True, False, "yes", None, 1, 0]))))], wild)
    name = st.sampled_from(["bob", "", None, "Alice", 0, []] + ([5, "caf\u00e9"] if wild else []))
    return obj(draw, [("role", kind), ("content", content), ("name", draw(maybe(name)))], wild)


def field_values(wild: bool) -> st.SearchStrategy[Any]:
    clean = st.one_of(st.none(), st.just(""), texts(wild), st.integers(-3, 3), st.booleans(), st.just(Raw("-0")),
                      st.just(Raw("12345678901234")))
    return st.one_of(clean, st.sampled_from([1.5, [1], {"a": 1}, [], {}])) if wild else clean


def rewards(wild: bool) -> st.SearchStrategy[Any]:
    clean = st.one_of(st.none(), st.booleans(), _clean_numbers, st.just([1]), st.just({}))
    return st.one_of(clean, _wild_numbers, st.sampled_from(["0.5", "x", "nan", ""])) if wild else clean


def metadata(wild: bool) -> st.SearchStrategy[Any]:
    clean = st.one_of(st.dictionaries(st.sampled_from(["model", "env", "seed", "x"]), small_json(wild), max_size=4),
                      st.just("meta"), st.just([1]), st.none())
    dups = st.builds(Obj, st.lists(st.tuples(st.sampled_from(["a", "b"]), small_json(False)), max_size=4))
    return st.one_of(clean, dups) if wild else clean


@st.composite
def records(draw: Any, wild: bool | None = None) -> Obj:
    if wild is None:
        wild = draw(st.integers(0, 3)) == 0
    fields: list[tuple[str, Any]] = [("messages", draw(st.lists(messages(wild), max_size=8)))]
    for key in ("id", "episode_id", "uid", "rollout_id", "task_id", "example_id", "question_id", "ground_truth",
                "answer", "expected", "expected_answer", "target", "gold", "question", "final_answer"):
        if draw(st.integers(0, 3)) == 0:
            fields.append((key, draw(field_values(wild))))
    fields.append(("reward", draw(maybe(rewards(wild)))))
    fields.append(("metadata", draw(maybe(metadata(wild)))))
    for key in draw(st.lists(st.sampled_from(["model", "trial", "score", "flag", "lst", "obj", "env", "seed", "x"]),
                             max_size=4, unique=True)):
        fields.append((key, draw(small_json(wild))))
    return obj(draw, fields, wild)


GENERATED = Tally()


@SETTINGS
@given(records())
def test_generated_records(kernel: ModuleType, record: Obj) -> None:
    check(kernel, dumps(record).encode(), GENERATED)


@SETTINGS
@given(records(wild=False))
def test_clean_records_are_native(kernel: ModuleType, record: Obj) -> None:
    """Records of only the shapes the kernel reproduces: never a fallback."""
    assert check(kernel, dumps(record).encode()) == "native"


def corrupted(text: bytes, data: st.DataObject, alphabet: bytes) -> bytes:
    """`text` with one to three cuts, deletions, insertions or replacements (bytes from `alphabet`)."""
    line = bytearray(text)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(line)))
        op = data.draw(st.sampled_from(["cut", "delete", "insert", "replace"]))
        byte = data.draw(st.sampled_from(alphabet))
        if op == "cut":
            del line[pos:]
        elif op == "delete":
            del line[pos:pos + 1]
        elif op == "insert":
            line.insert(pos, byte)
        elif pos < len(line):
            line[pos] = byte
    return bytes(line)


@SETTINGS
@given(records(), st.data())
def test_corrupted_lines(kernel: ModuleType, record: Obj, data: st.DataObject) -> None:
    line = corrupted(dumps(record).encode(), data, b' ,:{}[]"\\0-e.tnx\x00\x80')
    if line.strip():
        check(kernel, line)


def test_generated_records_are_mostly_native(kernel: ModuleType) -> None:
    GENERATED.assert_mostly_native(1 / 2)
