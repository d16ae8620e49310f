"""Built-in checks for any tool-using agent: does it answer, and does it stay within its budget."""

from __future__ import annotations

from .._check import CheckContext, Outcome, check, failed, not_applicable, passed

BUDGET = {"max_tool_calls": 30, "max_steps": 100}


# What a simulated user writes to end a conversation (tau-bench, tau2): its last turn needs no reply.
END_MARKERS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")


@check(behavior="answering", params={"answer_tools": (), "handoff_tools": (), "end_markers": END_MARKERS})
def answers_question(ctx: CheckContext) -> Outcome:
    """The episode ends with an answer (an answer-tool call, or a final assistant text after the last
    tool result) or with a hand-off to a person (its last tool call is one of `handoff_tools` and did
    not fail); a user turn after it that the agent never answers (the episode was cut off) fails,
    unless it ends the conversation (one of `end_markers`)."""
    answer = ctx.answer
    if answer is not None and answer.text.strip():
        last = ctx.episode.steps[-1]
        markers = tuple(str(m) for m in ctx.params.get("end_markers", END_MARKERS))
        if last.role == "user" and last.index > answer.step and not any(m in last.content for m in markers):
            return failed(f"the user's last turn (step {last.index}) is never answered: the episode was cut off",
                          answer.step, last.index)
        return passed("the episode ends with an answer", answer.step)
    calls = ctx.facts.calls
    handoff = ctx.tools("handoff")
    if calls and calls[-1][2] in handoff:
        index, call, _ = calls[-1]
        result = ctx.episode.result_of(call)
        if result is None or not result.is_error:
            return passed(f"the episode ends with a hand-off ({call.name} at step {index})", index)
        return failed(f"the hand-off {call.name} at step {index} failed and no answer follows", index, result.index)
    last = len(ctx.episode.steps) - 1
    return failed("the episode ends without an answer", last)


@check(behavior="efficiency", params=BUDGET)
def stays_within_step_budget(ctx: CheckContext) -> Outcome:
    """At most `max_tool_calls` tool calls and `max_steps` steps (parameters)."""
    max_calls, max_steps = ctx.params.get("max_tool_calls"), ctx.params.get("max_steps")
    if max_calls is None and max_steps is None:
        return not_applicable("no budget configured (max_tool_calls, max_steps)")
    calls = ctx.facts.calls
    steps = len(ctx.episode.steps)
    if max_calls is not None and len(calls) > max_calls:
        return failed(f"{len(calls)} tool calls, over the budget of {max_calls}", calls[int(max_calls)][0])
    if max_steps is not None and steps > max_steps:
        return failed(f"{steps} steps, over the budget of {max_steps}", int(max_steps))
    return passed(f"{len(calls)} tool calls and {steps} steps, within budget")
