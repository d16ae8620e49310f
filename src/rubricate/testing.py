"""Public helpers for tests (yours and ours): an episode builder and contract checks.

    from rubricate.testing import episode, user, call, result, answer
    ep = episode(
        user("What was revenue in 2019?"),
        call("get_table_names"),
        result('["revenue"]'),
        call("sql_query", query="SELECT total FROM revenue WHERE year = 2019"),
        result("total\\n12.5"),
        answer("Revenue was 12.5 million."),
        ground_truth="12.5 million",
    )

Steps go through the same builder the readers use, so pairing and error detection are identical.

`ScriptedJudge` is an OpenAI-compatible server on loopback for testing judge items with the real
`openai` client (scripted answers, and faults at set rates: 429, 500, timeouts, garbage)::

    with ScriptedJudge({"acknowledges_tool_errors": "no"}, faults={"rate_limit": 0.1}) as server:
        verdicts = rubricate.score(ep, "tool-discipline", judge=server.config())
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .rubrics import VERDICTS, Check, CheckContext, Outcome, run_check
from .rubrics.judges import FAULTS, JudgeRequest, ScriptedJudge, default_answer
from .traces import Episode, Source, TraceFormat, get_format
from .traces import StepBuilder, sample_of, tool_call


@dataclass(frozen=True)
class CallSpec:
    name: str
    arguments: Any
    id: str | None = None


@dataclass(frozen=True)
class StepSpec:
    role: str
    content: str = ""
    calls: tuple[CallSpec, ...] = ()
    error: bool | None = None
    call_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def system(text: str) -> StepSpec:
    return StepSpec("system", text)


def user(text: str) -> StepSpec:
    return StepSpec("user", text)


def answer(text: str) -> StepSpec:
    """An assistant step with text and no tool call (a final answer when it comes last)."""
    return StepSpec("assistant", text)


def tc(name: str, _raw: str | None = None, _id: str | None = None, **arguments: Any) -> CallSpec:
    """One tool call for `assistant(...)`; `_raw` gives the arguments as raw text instead."""
    return CallSpec(name, _raw if _raw is not None else arguments, _id)


def assistant(text: str = "", *calls: CallSpec) -> StepSpec:
    """An assistant step with optional text and any number of (parallel) tool calls."""
    return StepSpec("assistant", text, tuple(calls))


def call(name: str, _raw: str | None = None, **arguments: Any) -> StepSpec:
    """An assistant step making one tool call."""
    return assistant("", tc(name, _raw, **arguments))


def result(content: str, *, error: bool | None = None, call_id: str | None = None) -> StepSpec:
    """A tool result; paired with the oldest unanswered call unless `call_id` says otherwise.
    `error=None` lets the error heuristics decide, as for text-only formats."""
    return StepSpec("tool", content, error=error, call_id=call_id)


def episode(*steps: StepSpec, id: str = "test-episode", question: str | None = None,
            ground_truth: str | None = None, reward: float | None = None, task_id: str | None = None,
            final_answer: str | None = None, metadata: dict[str, Any] | None = None) -> Episode:
    """Build an Episode from step specs; the question defaults to the first user text."""
    builder = StepBuilder()
    for spec in steps:
        if spec.role == "assistant":
            builder.assistant(spec.content, [tool_call(c.name, c.arguments, c.id) for c in spec.calls])
        elif spec.role == "tool":
            builder.tool_result(spec.content, call_id=spec.call_id, is_error=spec.error)
        else:
            builder.message(spec.role, spec.content)  # type: ignore[arg-type]
    first_user = next((s.content for s in builder.steps if s.role == "user"), None)
    return Episode(
        id=id, steps=builder.steps, source=Source("<test>"), format="test", task_id=task_id,
        question=question if question is not None else first_user,
        final_answer=final_answer if final_answer is not None else builder.final_answer(),
        ground_truth=ground_truth, reward=reward, metadata=metadata or {},
    )


def assert_episode_invariants(ep: Episode) -> None:
    """Step indices contiguous; every call/result pairing consistent in both directions."""
    for i, step in enumerate(ep.steps):
        assert step.index == i, f"{ep.id}: step {i} has index {step.index}"
        if step.role == "tool" and step.call_step is not None:
            caller = ep.steps[step.call_step]
            assert caller.role == "assistant", f"{ep.id}: step {i} pairs with non-assistant step"
            assert any(c.result_step == i for c in caller.tool_calls), f"{ep.id}: step {i} pairing is one-sided"
        for c in step.tool_calls:
            if c.result_step is not None:
                assert ep.steps[c.result_step].role == "tool", f"{ep.id}: call result is not a tool step"
                assert ep.steps[c.result_step].call_step == i, f"{ep.id}: call at step {i} pairing is one-sided"


def assert_format_contract(fmt: str | TraceFormat, fixture: str, *, others: Iterable[str] = ()) -> list[Episode]:
    """The contract every trace format meets on its own fixture file: sniffs it (and not `others`),
    reads at least one episode, invariants hold, episodes round-trip through msgspec. Returns them."""
    reader = get_format(fmt) if isinstance(fmt, str) else fmt
    assert reader.sniff(sample_of(fixture)), f"{reader.name} does not sniff its own fixture {fixture}"
    for other in others:
        assert not reader.sniff(sample_of(other)), f"{reader.name} claims a foreign file {other}"
    episodes = [e for e in reader.read(fixture) if isinstance(e, Episode)]
    assert episodes, f"{reader.name} read no episode from {fixture}"
    for ep in episodes:
        assert_episode_invariants(ep)
        assert ep.format == reader.name
        assert ep.source.line is not None or ep.source.index is not None or ep.source.path
        data = msgspec.json.encode(ep)
        assert msgspec.json.decode(data, type=Episode) == ep, f"{ep.id} does not round-trip"
    return episodes


def assert_check_contract(chk: Check, episodes: Iterable[Episode], params: dict[str, Any] | None = None) -> None:
    """The contract every check meets: na on an empty episode; on any episode an Outcome with a known
    verdict, a reason, and evidence indices that exist. (Whether `error` is acceptable is the
    caller's to assert: built-in checks never give it on well-formed episodes.)"""
    merged = {**chk.params, **(params or {})}
    empty = Episode(id="empty", steps=[], source=Source("<empty>"), format="test")
    assert run_check(chk.fn, CheckContext(empty, merged)).verdict == "na"
    for ep in episodes:
        out = run_check(chk.fn, CheckContext(ep, merged))
        assert isinstance(out, Outcome) and out.verdict in VERDICTS
        assert out.reason, f"{chk.name} gave no reason on {ep.id}"
        assert all(0 <= i < len(ep.steps) for i in out.evidence), f"{chk.name}: bad evidence on {ep.id}"


__all__ = [
    "FAULTS", "CallSpec", "JudgeRequest", "ScriptedJudge", "StepSpec", "answer", "assert_check_contract", "assert_episode_invariants",
    "assert_format_contract", "assistant", "call", "default_answer", "episode", "result", "system", "tc", "user",
]
