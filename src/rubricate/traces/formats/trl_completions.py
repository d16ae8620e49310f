"""TRL GRPO completion tables: the Parquet files `GRPOTrainer.log()` writes when `log_completions=True`, one
per logging step, at `<output_dir>/completions/completions_<global_step:05d>.parquet`.

Columns (TRL `grpo_trainer.py`, `log()`): `step` (the global step), `prompt`, `completion`, one float column
per reward function (named after it), any `log_extra` columns, and `advantage`. One row is one episode. The
file is read one row group at a time (never the whole table in memory).

- `prompt` / `completion` are text (TRL logs the decoded text; a conversational prompt arrives rendered
  through the chat template) or a list of chat messages: a JSON string of messages, or a list-of-struct column
  (subclasses that log the message lists themselves). Text a chat template wrote is read back into messages,
  tool calls and results included (`rubricate.traces.toolcalls`); plain text becomes one user step / one
  assistant step;
  messages go through `add_chat_messages`, so TRL's dict `arguments` and id-less `tool` results (paired by
  order) are handled.
- metadata: `step`, `advantage`, `rewards` ({reward function: value}; a NaN, TRL's "the function does not
  apply", becomes None), and the other scalar columns (e.g. `log_extra` text, `mode`).
- reward: a `reward` column when the table has one; otherwise the sum of the reward-function columns, skipping
  NaN (TRL's own total is `nansum(rewards_per_func * reward_weights)`; the weights are not in the table, so
  the sum is TRL's reward under the default weights of 1.0). None when no reward column holds a value.
- Reward columns are the floating-point columns other than `advantage`; a float `log_extra` column cannot be
  told apart and is counted as one (integer and text extras are metadata).
- task_id: `prompt-<hash of the prompt>`, so the completions of one GRPO group (and of the same prompt in
  another run) share it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from hashlib import blake2b
from typing import Any

import msgspec

from ..files import Span, decode_json
from .._model import Episode, LoadIssue, Source
from .._normalise import StepBuilder
from .._registry import NotAnEpisode, Sample, TraceFormat, display_path, trace_format
from ..toolcalls import AUTO, parse_chat_text
from .chat import add_chat_messages, first_user_text

_KNOWN = frozenset(("step", "prompt", "completion", "advantage", "image", "images"))
_STEP_IN_NAME = re.compile(r"completions_(\d+)\.parquet$")
_encode = msgspec.json.encode


def _read_errors() -> tuple[type[BaseException], ...]:
    import pyarrow as pa

    return (pa.ArrowException, OSError, ValueError, EOFError, IndexError, TypeError)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _messages(text: str) -> list[Any] | None:
    """The chat messages a JSON string holds, or None when it is plain text."""
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return None
    try:
        value = decode_json(stripped)
    except msgspec.DecodeError:
        return None
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return value
    return None


def _add(builder: StepBuilder, value: Any, column: str) -> None:
    if isinstance(value, str):
        messages = _messages(value)
        if messages is None:
            messages = _rendered(value, column)
        if messages is None:
            if column == "prompt":
                builder.message("user", value)
            else:
                builder.assistant(value, [])
            return
        value = messages
    if not isinstance(value, list):
        raise NotAnEpisode(f"'{column}' is {'missing' if value is None else type(value).__name__}, "
                           "not text or a list of messages")
    add_chat_messages(builder, value)


def _rendered(text: str, column: str) -> list[Any] | None:
    """The messages of text a chat template wrote (tool calls and results read back from its markup,
    `rubricate.traces.toolcalls`), or None for plain text. A prompt's trailing empty assistant turn (the
    generation prompt) is left out: the completion is that turn."""
    read = parse_chat_text(text, AUTO, start_role="user" if column == "prompt" else "assistant")
    if read.tool_format is None:
        return None
    messages = read.messages
    if column == "prompt" and messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"] \
            and not messages[-1].get("tool_calls"):
        messages = messages[:-1]
    return messages


def _in_span(group: Any, span: Span) -> bool:
    """Whether a row group belongs to `span` (its first data page lies in the byte range), so that byte-range
    workers, which cut every file into spans, read each row group exactly once."""
    if span.start == 0 and span.end is None:
        return True
    column = group.column(0)
    offset = column.data_page_offset
    if column.has_dictionary_page and column.dictionary_page_offset:
        offset = min(offset, column.dictionary_page_offset)
    return span.start <= offset and (span.end is None or offset < span.end)


@trace_format("trl-completions", priority=20)
class TRLCompletions(TraceFormat):
    """TRL GRPO completion tables (`completions/completions_<step>.parquet`): one row per completion."""

    suffixes = (".parquet",)

    def sniff(self, sample: Sample) -> bool:
        if sample.container != "binary" or not sample.head.startswith(b"PAR1"):
            return False
        import pyarrow.parquet as pq

        names = set(pq.read_schema(sample.path).names)  # the footer only
        return {"prompt", "completion"} <= names and bool(names & {"step", "advantage"})

    def read(self, path: str, span: Span = Span(), root: str | None = None) -> Iterator[Episode | LoadIssue]:
        import pyarrow.parquet as pq

        errors = _read_errors()
        rel = display_path(path, root)
        try:
            table = pq.ParquetFile(path)
        except errors as exc:
            yield LoadIssue(rel, f"cannot read Parquet file: {exc}", format=self.name)
            return
        try:
            yield from self._rows(table, rel, span, errors, path)
        finally:
            table.close()

    def _rows(self, table: Any, rel: str, span: Span, errors: tuple[type[BaseException], ...],
              path: str) -> Iterator[Episode | LoadIssue]:
        import pyarrow as pa

        try:
            schema = table.schema_arrow
            groups = [table.metadata.row_group(i) for i in range(table.metadata.num_row_groups)]
        except errors as exc:
            yield LoadIssue(rel, f"cannot read Parquet file: {exc}", format=self.name)
            return
        missing = [c for c in ("prompt", "completion") if c not in schema.names]
        if missing:
            names = ", ".join(repr(c) for c in missing)
            yield LoadIssue(rel, f"not a TRL completions table: no {names} column", format=self.name)
            return
        rewards = [f.name for f in schema if f.name not in _KNOWN and pa.types.is_floating(f.type)]
        match = _STEP_IN_NAME.search(os.path.basename(path))
        file_step = int(match.group(1)) if match else None
        first = 0
        for i, group in enumerate(groups):
            if _in_span(group, span):
                try:
                    rows = table.read_row_group(i).to_pylist()
                except errors as exc:
                    last = first + group.num_rows - 1
                    yield LoadIssue(rel, f"row group {i} (rows {first}-{last}) cannot be read: {exc}",
                                    index=first, format=self.name)
                    rows = []
                for k, row in enumerate(rows):
                    yield self._convert(row, Source(rel, index=first + k), rewards, file_step)
            first += group.num_rows

    def _convert(self, row: dict[str, Any], source: Source, rewards: list[str],
                 file_step: int | None) -> Episode | LoadIssue:
        try:
            return self.episode(row, source, rewards, file_step)
        except (NotAnEpisode, ValueError, TypeError, KeyError, AttributeError, IndexError,
                OverflowError) as exc:
            reason = str(exc) if isinstance(exc, NotAnEpisode) else f"{type(exc).__name__}: {exc}"
            return LoadIssue(source.path, f"not a {self.name} row: {reason}", index=source.index,
                             format=self.name)

    def episode(self, row: dict[str, Any], source: Source, rewards: list[str],
                file_step: int | None) -> Episode:
        builder = StepBuilder()
        _add(builder, row.get("prompt"), "prompt")
        _add(builder, row.get("completion"), "completion")
        scores = {name: _finite(row.get(name)) for name in rewards if name != "reward"}
        if "reward" in rewards:
            reward = _finite(row.get("reward"))
        else:
            given = [v for v in scores.values() if v is not None]
            reward = math.fsum(given) if given else None
        meta: dict[str, Any] = {}
        step = row.get("step")
        if isinstance(step, float) and step.is_integer() or isinstance(step, str) and step.isdigit():
            step = int(step)
        step = step if isinstance(step, int) and not isinstance(step, bool) else file_step
        if step is not None:
            meta["step"] = step
        if "advantage" in row:
            meta["advantage"] = _finite(row["advantage"])
        if scores:
            meta["rewards"] = scores
        for key, value in row.items():
            if key not in _KNOWN and key not in rewards and isinstance(value, (str, int, float, bool)):
                meta[key] = value
        prompt = row.get("prompt")
        key = prompt if isinstance(prompt, str) else _encode(prompt).decode()
        return Episode(
            id=str(source),
            steps=builder.steps,
            source=source,
            format=self.name,
            task_id="prompt-" + blake2b(key.encode(), digest_size=8).hexdigest(),
            question=first_user_text(builder),
            final_answer=builder.final_answer(),
            reward=reward,
            metadata=meta,
            raw=_encode(row),
        )
