"""The normalised trace model: Episode, Step, ToolCall, Source, LoadIssue.

Readers build these once; checks, judges and rewards never see a provider's shape. They are
msgspec Structs (typed, immutable by convention, ~10x cheaper to build than pydantic models),
because the scorer builds millions of them. They are not tracked by the cyclic garbage collector
(`gc=False`): they never form reference cycles, and tracking them costs the hot path ~10%.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Role = Literal["system", "user", "assistant", "tool"]


class Source(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """Where a record came from: file path, 1-based line (JSONL) or 0-based index (JSON array)."""

    path: str
    line: int | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.path}:{self.line}"
        if self.index is not None:
            return f"{self.path}[{self.index}]"
        return self.path


class ToolCall(msgspec.Struct, omit_defaults=True, gc=False):
    """One tool call an assistant step made.

    `arguments` is the parsed JSON object (None when the raw text is not a JSON object);
    `arguments_raw` is the text as the model produced it; `arguments_error` says why parsing failed.
    `result_step` is the index of the tool-result step paired with this call, if any.
    """

    name: str
    arguments: dict[str, Any] | None = None
    arguments_raw: str = ""
    arguments_error: str | None = None
    id: str | None = None
    result_step: int | None = None


class Step(msgspec.Struct, omit_defaults=True, gc=False):
    """One numbered message of an episode. `index` is the citation unit everywhere.

    Assistant steps carry `tool_calls`; tool steps carry `call_id`, `tool_name`, `is_error`
    and `call_step` (the index of the assistant step whose call they answer).
    """

    index: int
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = []
    call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False
    call_step: int | None = None
    name: str | None = None


class Episode(msgspec.Struct, omit_defaults=True, gc=False):
    """One agent run: numbered steps plus what is known about its task and outcome.

    `id` is unique within a load (the record's own id when it has one, else its source);
    `task_id` groups episodes of the same task (matching across runs); `reward` is the
    producer's outcome; `ground_truth` the expected answer; `final_answer` the agent's last
    text answer (or the one the record states). `raw` keeps the original record bytes for
    debugging and is left out of dumps.
    """

    id: str
    steps: list[Step]
    source: Source
    format: str
    task_id: str | None = None
    question: str | None = None
    final_answer: str | None = None
    ground_truth: str | None = None
    reward: float | None = None
    metadata: dict[str, Any] = {}
    raw: bytes | None = None

    def tool_calls(self) -> list[tuple[int, ToolCall]]:
        """Every tool call with the index of the assistant step that made it, in order."""
        return [(s.index, c) for s in self.steps if s.tool_calls for c in s.tool_calls]

    def result_of(self, call: ToolCall) -> Step | None:
        """The tool-result step paired with `call`, or None when the call got no result."""
        return None if call.result_step is None else self.steps[call.result_step]

    @property
    def n_tool_calls(self) -> int:
        return sum(len(s.tool_calls) for s in self.steps)

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """A plain-JSON view; `raw` bytes are left out unless asked for."""
        data = msgspec.to_builtins(self)
        if not raw:
            data.pop("raw", None)
        elif self.raw is not None:
            data["raw"] = self.raw.decode("utf-8", "replace")
        return data


class LoadIssue(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A record or file that could not be turned into an episode: where, and why."""

    path: str
    reason: str
    line: int | None = None
    index: int | None = None
    format: str | None = None

    def __str__(self) -> str:
        where = str(Source(self.path, self.line, self.index))
        return f"{where}: {self.reason}"
