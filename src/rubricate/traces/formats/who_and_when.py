"""Who&When failure-attribution logs (Agents_Failure_Attribution, ICML 2025): one failed multi-agent run
per JSON object, a `history` of named speaker messages and the human label of who failed, when and why.

Two subsets share the shape. *Algorithm-Generated* (AG2 CaptainAgent teams): messages carry `name` (the
agent) and `role`; the record adds `system_prompt` (per agent) and `is_correct`. *Hand-Crafted*
(Magentic-One): the speaker is in `role` ("Orchestrator (-> WebSurfer)", "WebSurfer", "human") and the
record has `is_corrected`. The records' `role` field is relative to the agent that logged the chat, not a
message role, so it is not used as one.

Steps, in order:
- one `system` step per entry of `system_prompt` (named after its agent), then
- one step per `history` message, in order, each with `Step.name` = the agent (the speaker label before
  " (", so "Orchestrator (thought)" is "Orchestrator"; full labels that differ are kept in metadata
  `speaker_labels`, keyed by step index). "human"/"user" speak as `user`; every other agent as
  `assistant`.
- Code execution is a tool call only where the data marks it: a message of the code-executor agent
  (`Computer_terminal` / `ComputerTerminal`) whose first line reports an exit code ("exitcode: 1
  (execution failed)", "The script ran, then exited with Unix exit code: 0") is the `tool` result of an
  `execute_code` call (arguments: the fenced code blocks) on the nearest earlier message with a fenced
  code block since the previous execution report; `is_error` is a non-zero exit code. Executor messages
  without an exit code ("There is no code from the last 1 message ...") and reports with no fresh code
  message before them stay `user` messages from the executor.

Labels go to metadata: `responsible_agent` (`mistake_agent`, spelled as the speaker it names when they
differ only in case), `decisive_step` (`mistake_step`, a 0-based index into `history`, mapped to our step
index: plus the number of system-prompt steps; the annotation itself stays in `annotated_step`) and
`failure_reason`. Every run failed, so `reward` is 0.0 (from `is_correct` / `is_corrected`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .._model import Episode, Source, Step, ToolCall
from .._normalise import StepBuilder, as_float, scalar_text, text_of
from .._registry import NotAnEpisode, RecordFormat, trace_format

_EXECUTORS = frozenset(("computer_terminal", "computerterminal"))
_USERS = frozenset(("human", "user"))
_EXIT = re.compile(r"\bexit ?code(?: was)?: ?(-?\d+)", re.IGNORECASE)
_FENCE = re.compile(r"```([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_FINAL = re.compile(r"^FINAL ANSWER:[ \t]*(.*)$", re.MULTILINE)
_TERMINATE = re.compile(r"\s*TERMINATE\s*$")
_LABELS = ("mistake_agent", "mistake_step", "mistake_reason")
_CONSUMED = frozenset(("history", "question", "question_ID", "ground_truth", "system_prompt", "is_correct",
                       "is_corrected", *_LABELS))


def _speaker(msg: dict[str, Any]) -> str:
    label = msg.get("name") or msg.get("role")
    return label.strip() if isinstance(label, str) else ""


def _agent(label: str) -> str:
    return label.split(" (", 1)[0].strip() or label


def _exit_code(content: str) -> int | None:
    match = _EXIT.search(content.lstrip().split("\n", 1)[0])
    return int(match.group(1)) if match else None


def _code_call(content: str) -> ToolCall:
    blocks = [{"language": lang or "", "code": code} for lang, code in _FENCE.findall(content)]
    arguments = {"blocks": blocks}
    return ToolCall("execute_code", arguments, msgspec.json.encode(arguments).decode())


def _executions(agents: list[str], texts: list[str]) -> dict[int, int]:
    """{code message index: execution report index}: each report pairs with the nearest earlier
    message holding a fenced code block, looking no further back than the previous report."""
    pairs: dict[int, int] = {}
    boundary = -1
    for i, agent in enumerate(agents):
        if agent.lower() not in _EXECUTORS:
            continue
        if _exit_code(texts[i]) is not None:
            for k in range(i - 1, boundary, -1):
                if agents[k].lower() not in _EXECUTORS | _USERS and _FENCE.search(texts[k]):
                    pairs[k] = i
                    break
            boundary = i
    return pairs


def _final_answer(steps: list[Step], magentic: bool) -> str | None:
    """The `FINAL ANSWER:` line Magentic-One prints last; for AG2 teams, the last agent text that is not
    just TERMINATE, unless a tool result comes after it."""
    if steps:
        found = _FINAL.findall(steps[-1].content)
        if found:
            return found[-1].strip()
    if magentic:
        return None
    for step in reversed(steps):
        if step.role == "tool":
            return None
        if step.role == "assistant" and _TERMINATE.sub("", step.content).strip():
            return step.content
    return None


@trace_format("who-and-when", priority=30)
class WhoAndWhen(RecordFormat):
    """Who&When multi-agent failure logs: `history` of named speakers + human mistake labels."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        history = record.get("history")
        return isinstance(history, list) and bool(history) and isinstance(history[0], dict) \
            and "content" in history[0] and any(k in record for k in (*_LABELS, "question_ID"))

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        history = record.get("history")
        if not isinstance(history, list):
            raise NotAnEpisode(f"'history' must be a list, got {type(history).__name__}")
        for i, msg in enumerate(history):
            if not isinstance(msg, dict):
                raise NotAnEpisode(f"history[{i}] is a JSON {type(msg).__name__}, not an object")
        labels = [_speaker(m) for m in history]
        agents = [_agent(label) for label in labels]
        texts = [text_of(m.get("content")) for m in history]
        builder = StepBuilder()
        prompts = record.get("system_prompt")
        if isinstance(prompts, dict):
            for agent, prompt in prompts.items():
                builder.message("system", text_of(prompt), name=str(agent))
        offset = len(builder.steps)
        calls = _executions(agents, texts)
        reports = set(calls.values())
        for i, (agent, text) in enumerate(zip(agents, texts)):
            if i in reports:
                step = builder.tool_result(text, tool_name="execute_code", is_error=_exit_code(text) != 0)
            elif agent.lower() in _USERS or agent.lower() in _EXECUTORS:
                step = builder.message("user", text)
            else:
                step = builder.assistant(text, [_code_call(text)] if i in calls else [])
            step.name = agent or None
        meta = self._labels(record, agents, offset)
        relabelled = {str(offset + i): label for i, (label, agent) in enumerate(zip(labels, agents))
                      if label != agent}
        if relabelled:
            meta["speaker_labels"] = relabelled
        magentic = "system_prompt" not in record and not any("name" in m for m in history)
        meta["subset"] = "Hand-Crafted" if magentic else "Algorithm-Generated"
        meta["system"] = "Magentic-One" if magentic else "CaptainAgent (AG2)"
        for key, value in record.items():
            if key not in _CONSUMED and isinstance(value, (str, int, float, bool)):
                meta.setdefault(key, value)
        correct = record.get("is_correct", record.get("is_corrected"))
        task = record.get("question_ID")
        return Episode(
            id=str(source),
            steps=builder.steps,
            source=source,
            format=self.name,
            task_id=None if task in (None, "") else str(task),
            question=scalar_text(record.get("question")),
            final_answer=_final_answer(builder.steps, magentic),
            ground_truth=scalar_text(record.get("ground_truth")),
            reward=as_float(correct) if isinstance(correct, bool) else None,
            metadata=meta,
            raw=raw if raw is not None else msgspec.json.encode(record),
        )

    @staticmethod
    def _labels(record: dict[str, Any], agents: list[str], offset: int) -> dict[str, Any]:
        """responsible_agent / decisive_step (our step index) / failure_reason from the human label."""
        meta: dict[str, Any] = {}
        who = record.get("mistake_agent")
        if isinstance(who, str) and who:
            spelled = {a.lower(): a for a in agents}
            meta["responsible_agent"] = who if who in agents else spelled.get(who.lower(), who)
        when = record.get("mistake_step")
        if isinstance(when, str) and when.strip().isdigit():
            when = int(when)
        step = when if isinstance(when, int) and not isinstance(when, bool) else None
        if step is not None:
            meta["annotated_step"] = step
            if 0 <= step < len(agents):
                meta["decisive_step"] = offset + step
        why = record.get("mistake_reason")
        if isinstance(why, str) and why:
            meta["failure_reason"] = why
        return meta
