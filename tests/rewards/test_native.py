"""The native reward path (`RewardScorer` with the kernel under it) gives exactly the Python path's result.

A differential test: the same samples scored by `RewardScorer(rubric)` (the kernel scores the built-in
items from the rollout written as a verifiers-results record, `Rubric.evaluate(given=...)` the rest) and by
`RewardScorer(rubric, native=False)` (the reference: every item in Python, as with RUBRICATE_NO_KERNEL=1)
must give equal `Scored` values: reward, reason, every item's score and verdict (na as None), and the tool
calls counted. Samples: every episode of every shared corpus as a TRL tool rollout, under an all-native
rubric, two mixed ones and the wiki-search example; the same rollouts as Qwen-format text; the FinQA
shapes of `benchmarks/bench_reward.py`; and inputs the kernel or the record declines (they must fall back
to Python and still agree). Each case also asserts how many samples the kernel scored, so a path that
silently never runs natively fails.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import jinja2
import pytest

from _shared import CORPORA, need
from rubricate import load_episodes
from rubricate.rewards import RewardScorer, as_trl_reward
from rubricate.rewards._episode import rollout_messages
from rubricate.rewards._record import record_of
from rubricate.rubrics import check, isolated_registry, parse_rubric
from rubricate.scoring import kernel_available

from ._shapes import split, to_messages, tool_schemas

ROOT = Path(__file__).resolve().parents[2]
WIKI = str(ROOT / "examples" / "wiki-search" / "rubric.toml")
RUBRICS = ("sql-agent", "agent-basics", "search-agent", WIKI)
CORPUS_NAMES = ("inspect-logs", "mast-mad-human", "nemo-gym-rollouts", "tau-bench", "verifiers-wiki-search",
                "who-and-when")



@pytest.fixture(autouse=True)
def _kernel_here():
    """Skip where the kernel is off (not built, RUBRICATE_NO_KERNEL); fail under RUBRICATE_REQUIRE_KERNEL."""
    if not kernel_available():
        why = "the native kernel is off here (not built, or RUBRICATE_NO_KERNEL is set)"
        if os.environ.get("RUBRICATE_REQUIRE_KERNEL"):
            pytest.fail(f"{why}; RUBRICATE_REQUIRE_KERNEL is set")
        pytest.skip(why)


def _pair(rubric, **options) -> tuple[RewardScorer, RewardScorer]:
    native, python = RewardScorer(rubric, **options), RewardScorer(rubric, native=False, **options)
    assert native.native is not None and python.native is None
    return native, python


def _natively_scored(scorer: RewardScorer, samples: list) -> int:
    """How many samples the kernel takes (the rest go to the Python path)."""
    n = 0
    for prompt, completion, truth in samples:
        try:
            messages, _ = rollout_messages(prompt, completion, scorer.tool_format)
        except ValueError:
            continue
        record = record_of(messages, truth)
        n += record is not None and scorer.native.verdicts(record.data, "x") is not None
    return n


def _differences(native: RewardScorer, python: RewardScorer, samples: list) -> list:
    got, want = native.score_batch(samples), python.score_batch(samples)
    assert len(got) == len(want) == len(samples)
    return [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]


@pytest.fixture(scope="module", params=CORPUS_NAMES)
def corpus(request):
    episodes = list(load_episodes(need(CORPORA / request.param)))
    assert episodes
    return request.param, episodes


def _trl_samples(episodes: list) -> list:
    out = []
    for ep in episodes:
        prompt, completion = split(to_messages(ep))
        out.append((prompt, completion, ep.ground_truth))
    return out


@pytest.mark.parametrize("rubric", RUBRICS, ids=lambda r: Path(r).stem)
def test_trl_rollouts_of_every_corpus(corpus, rubric):
    name, episodes = corpus
    native, python = _pair(rubric)
    samples = _trl_samples(episodes)
    assert _differences(native, python, samples) == []
    # the kernel reads most (nemo-gym: 48 of 65 under agent-basics, 56 under the others), the rest in Python
    taken = _natively_scored(native, samples)
    assert taken >= 0.7 * len(samples), f"the kernel took {taken} of {len(samples)} {name} rollouts"


def test_qwen_text_rollouts(corpus):
    """The same rollouts as Qwen 2.5 text (prompt rendered with a generation prompt, completion the rest),
    as TRL and OpenRLHF hand them over: read back into messages, then the same two paths."""
    from traces._render import render  # tests/ is on sys.path (rootdir packages)

    name, episodes = corpus
    samples = []
    for ep in episodes:
        messages = to_messages(ep, error_flags=False)
        prompt, _ = split(messages)
        tools = tool_schemas(messages)
        try:
            full = render("Qwen-Qwen2.5-7B-Instruct", messages, tools=tools)
            head = render("Qwen-Qwen2.5-7B-Instruct", prompt, tools=tools, add_generation_prompt=True)
        except jinja2.TemplateError:  # the template refuses it (a log that opens with an agent's message)
            continue
        if full.startswith(head):
            samples.append((head, full[len(head):], ep.ground_truth))
    if not samples:  # mast-mad-human: every log opens with an agent's message, which Qwen's template refuses
        assert name == "mast-mad-human"
        return
    native, python = _pair("agent-basics" if name != "verifiers-wiki-search" else WIKI)
    assert _differences(native, python, samples) == []
    assert _natively_scored(native, samples) >= 0.7 * len(samples)


def _bench():
    path = ROOT / "benchmarks" / "bench_reward.py"
    spec = importlib.util.spec_from_file_location("bench_reward", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finqa_shapes_and_the_synthetic_sql_shape(monkeypatch):
    need(CORPORA / "finqa" / "input_companies")
    monkeypatch.setenv("RUBRICATE_CORPORA", str(CORPORA))
    bench = _bench()
    tables = bench.finqa_tables()
    samples = [bench.finqa_completion(i, tables) for i in range(400)]
    samples += [bench.completion(i, 2) for i in range(100)]
    samples += [bench.completion(i, 2, "prose") for i in range(50)]
    native, python = _pair("sql-agent")
    assert _differences(native, python, samples) == []
    assert _natively_scored(native, samples) == len(samples)  # em dashes and all: none left to Python
    rewards = [r.reward for r in native.score_many(samples)]
    assert len(set(rewards)) > 2  # errors, retries and wrong answers: not one constant reward
    # the whole TRL call, item metrics included
    logged: dict[str, float] = {}
    for scorer in (native, python):
        fn = as_trl_reward(scorer)
        prompts, completions, truths = (list(x) for x in zip(*samples))
        out = fn(prompts=prompts, completions=completions, answer=truths,
                 log_metric=lambda k, v, s=scorer: logged.__setitem__((id(s), k), v))
        assert out == rewards
    assert {k: v for (s, k), v in logged.items() if s == id(native)} == \
        {k: v for (s, k), v in logged.items() if s == id(python)}


def _call(name, args):
    call = {"type": "function", "function": {"name": name, "arguments": args}}
    return {"role": "assistant", "content": "", "tool_calls": [call]}


PROMPT = [{"role": "user", "content": "What was revenue in 2024?"}]
GOOD = [_call("get_table_names", {}), {"role": "tool", "name": "get_table_names", "content": "['revenue']"},
        _call("get_table_info", {"table_name": "revenue"}), {"role": "tool", "name": "get_table_info",
                                                              "content": "year | value"},
        _call("sql_query", {"query": "SELECT value FROM revenue WHERE year = 2024"}),
        {"role": "tool", "name": "sql_query", "content": "value\n1234.5"},
        {"role": "assistant", "content": "Revenue was 1234.5 in 2024."}]


def _with(message: dict, **change) -> list:
    return [GOOD[0], GOOD[1], GOOD[2], GOOD[3], message, *GOOD[5:6], {**GOOD[6], **change}]


# (what, completion, ground truth, does the kernel take it)
DECLINED = [
    ("a NaN argument (JSON would write null)",
     _with(_call("sql_query", {"query": "SELECT 1", "limit": math.nan})), "1234.5", False),
    ("a tuple argument (JSON would write a list)", _with(_call("sql_query", {"query": ("SELECT value",)})),
     "1234.5", False),
    ("a non-str argument key", _with(_call("sql_query", {1: "SELECT value FROM revenue"})), "1234.5", False),
    ("an argument msgspec cannot encode", _with(_call("sql_query", {"query": object()})), "1234.5", False),
    ("a Unicode minus in the answer", _with(GOOD[4], content="Revenue was \u22121234.5 in 2024."), "-1234.5",
     False),
    ("Arabic-Indic digits in the answer", _with(GOOD[4], content="Revenue was \u0661\u0662\u0663 in 2024."),
     "123", False),
    ("a non-ASCII tool name", [_call("get_t\u00e4ble_names", {}), *GOOD[1:]], "1234.5", False),
    ("arguments as a JSON list", _with(_call("sql_query", ["SELECT 1"])), "1234.5", False),
    ("arguments as broken JSON text", _with(_call("sql_query", '{"query": "SELECT')), "1234.5", True),
    ("a message that is not an object", [*GOOD[:6], "the answer"], "1234.5", False),
    ("an unknown role", [*GOOD[:6], {"role": "narrator", "content": "x"}], "1234.5", False),
    ("tool_calls that is not a list", [{"role": "assistant", "content": "", "tool_calls": "sql"}, *GOOD[5:]],
     "1234.5", False),
    ("a float ground truth", GOOD, 1234.5, True),
    ("a list ground truth", GOOD, ["1234.5", "1,234.5"], True),
    ("an empty ground truth", GOOD, "", True),
    ("accented text (a stand-in exists)", _with(GOOD[4], content="Le chiffre d'affaires \u00e9tait 1234.5."),
     "1234.5", True),
    ("a legacy function_call with dict arguments",
     [{"role": "assistant", "content": "", "function_call": {"name": "get_table_names", "arguments": {}}},
      *GOOD[1:]], "1234.5", True),
    ("results out of call order (TRL's async tools)",
     [{"role": "assistant", "content": "",
       "tool_calls": [GOOD[0]["tool_calls"][0], GOOD[2]["tool_calls"][0]]},
      GOOD[3], GOOD[1], *GOOD[4:]], "1234.5", True),
]


@pytest.mark.parametrize("what,completion,truth,native_ok", DECLINED, ids=[d[0] for d in DECLINED])
def test_declined_and_edge_inputs_agree(what, completion, truth, native_ok):
    native, python = _pair("sql-agent")
    samples = [(PROMPT, completion, truth)]
    assert _differences(native, python, samples) == []
    assert _natively_scored(native, samples) == int(native_ok), what


def test_pydantic_messages_and_text_only_completions_agree():
    pydantic = pytest.importorskip("pydantic")

    class Message(pydantic.BaseModel):
        role: str
        content: str | None = None
        name: str | None = None
        tool_calls: list[dict] | None = None

    native, python = _pair("sql-agent")
    samples = [(PROMPT, [Message(**m) for m in GOOD], "1234.5"),  # verifiers hands over pydantic messages
               ("What was revenue?", "Revenue was 1234.5.", "1234.5"),  # text-only: tool items na
               (PROMPT, GOOD, "1234.5")]
    assert _differences(native, python, samples) == []
    texts = RewardScorer("sql-agent", text_only=True), RewardScorer("sql-agent", text_only=True, native=False)
    assert _differences(*texts, [(PROMPT, GOOD, "1234.5")]) == []


def test_mixed_rubric_with_a_custom_check():
    """A custom `@check` beside built-ins: the kernel's verdicts go in as `given`, the check in Python."""
    with isolated_registry():

        @check(behavior="grounding")
        def says_the_year(ctx):
            return "2024" in (ctx.episode.final_answer or "")

        rubric = parse_rubric('id = "mixed"\nversion = "1"\n[[items]]\nid = "says_the_year"\n'
                              '[[items]]\nid = "grounded_answer"\n'
                              '[[items]]\nid = "answer_correct"\nweight = 2\n')
        native, python = _pair(rubric)
        assert not native.native.complete
        samples = [(PROMPT, GOOD, "1234.5"), (PROMPT, _with(GOOD[4], content="It was 99."), "1234.5")]
        assert _differences(native, python, samples) == []
        assert [r.verdicts["says_the_year"] for r in native.score_many(samples)] == ["pass", "fail"]
        assert _natively_scored(native, samples) == 2


@pytest.mark.parametrize("max_chars", [50, 400, 800, 1200, 2000, 4000, 100_000])
def test_input_size_limit_agrees(max_chars):
    """Message lists are sized from the record's length (at most 8 characters counted per byte) and
    counted exactly only above that: the limit must cut exactly where the Python path cuts."""
    native, python = _pair("sql-agent", max_chars=max_chars)
    samples = [(PROMPT, GOOD[:k], "1234.5") for k in range(1, len(GOOD) + 1)]
    # malformed as well as large: the size is what the Python path reports first
    samples += [(PROMPT, [{"role": "assistant", "content": "x" * n, "tool_calls": 5}], "1") for n in (10, 3000)]
    assert _differences(native, python, samples) == []


def test_rubricate_no_kernel_turns_it_off(monkeypatch):
    monkeypatch.setenv("RUBRICATE_NO_KERNEL", "1")
    assert RewardScorer("sql-agent").native is None
    monkeypatch.delenv("RUBRICATE_NO_KERNEL")
    assert RewardScorer("sql-agent").native is not None
    assert os.environ.get("RUBRICATE_NO_KERNEL") is None


def test_threads_share_one_scorer():
    """The HTTP server scores from a thread pool with one scorer: the kernel's plan is used by one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    native, python = _pair("sql-agent")
    samples = [(PROMPT, GOOD[:k], "1234.5") for k in range(1, len(GOOD) + 1)] * 40
    want = python.score_many(samples)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: native.score(*s), samples))
    assert got == want
