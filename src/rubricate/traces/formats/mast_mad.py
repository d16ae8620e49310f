"""MAST / MAD human-labelled traces ("Why Do Multi-Agent LLM Systems Fail?"): a JSON array of records
`{round, mas_name, benchmark_name, trace_id, trace, annotations}`, `trace` being the raw log of one run of a
multi-agent system and `annotations` one boolean per failure mode from each of three annotators.

Steps. The logs of the seven systems share no structure (AppWorld, ChatDev, MetaGPT, OpenManus and
Magentic-One print framework logs; HyperAgent logs are JSON whose `trajectory` is a list of log lines).
Only AG2 traces hold real messages: a JSON object whose `trajectory` is a list of `{role, name, content}`
(content a list of lines). Those become one step per message, `Step.name` the agent, every agent an
`assistant` (the `role` field is relative to the agent that logged the chat) except a "human"/"user"
speaker. Every other trace is one `assistant` step named after the system, holding `trace` verbatim (no
final answer is taken from it).

Labels go to metadata: `failure_modes` = {annotator: [modes marked true]}, `failure_modes_rated` = the
modes of the record's round (their names change between rounds; kept as written, first line only),
`failure_modes_missing` = {annotator: [modes with no boolean]} (the file holds two `NaN` labels),
`system` (`mas_name`), `benchmark`, `round`, `trace_id`, `layout` ("messages" or "log"), and an AG2 or
HyperAgent trace's own annotator `note`. Two records name the benchmark "GAIA" as `mas_name` and the
system (Magentic, OpenManus) as `benchmark_name`; they are read swapped back. AG2 traces also state the
outcome (`other_data.correct` as reward), the expected `answer` and the system's `given` answer.
The file is not strict JSON (`NaN`), so this reader decodes with Python's json where msgspec refuses;
a NaN label reads as missing.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..files import decode_json, decode_lenient
from .._model import Episode, Source
from .._normalise import StepBuilder, as_float, scalar_text, text_of
from .._registry import NotAnEpisode, RecordFormat, Sample, trace_format

_ANNOTATORS = ("annotator_1", "annotator_2", "annotator_3")
_HEAD_KEYS = re.compile(rb'^\s*\[?\s*\{[^{}]{0,400}?"mas_name"\s*:[^{}]{0,400}?"trace"\s*:', re.DOTALL)
_APPWORLD_TASK = re.compile(r"^\*{5,} Task [^\n]*?\(([^)\n]+)\)\s*\*{5,}\n([^\n]+)", re.MULTILINE)
_CHATDEV_TASK = re.compile(r"^\*\*task_prompt\*\*: ?([^\n]+)", re.MULTILINE)
_USERS = frozenset(("human", "user"))
_BENCHMARKS = frozenset(("GAIA",))  # a benchmark found in `mas_name`: that record has the two fields swapped


def _lines(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else text_of(value)


def _embedded(trace: str) -> dict[str, Any] | None:
    """The trace as a JSON object (AG2, HyperAgent, MetaGPT wrappers), else None."""
    if not trace.lstrip().startswith("{"):
        return None
    try:
        value = decode_json(trace)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def _messages(doc: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    trajectory = doc.get("trajectory") if doc else None
    if isinstance(trajectory, list) and trajectory and all(
            isinstance(m, dict) and "content" in m and isinstance(m.get("name", m.get("role")), str)
            for m in trajectory):
        return trajectory
    return None


def _modes(annotations: Any) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    if not isinstance(annotations, list):
        raise NotAnEpisode(f"'annotations' must be a list, got {type(annotations).__name__}")
    rated: list[str] = []
    marked: dict[str, list[str]] = {a: [] for a in _ANNOTATORS}
    missing: dict[str, list[str]] = {}
    for i, item in enumerate(annotations):
        mode = item.get("failure mode") if isinstance(item, dict) else None
        if not isinstance(mode, str):
            raise NotAnEpisode(f"annotations[{i}] has no 'failure mode' text")
        name = mode.strip().split("\n", 1)[0].strip()
        rated.append(name)
        for annotator in _ANNOTATORS:
            label = item.get(annotator)
            if label is True:
                marked[annotator].append(name)
            elif label is not False:
                missing.setdefault(annotator, []).append(name)
    return rated, marked, missing


def _question(doc: dict[str, Any] | None, trace: str) -> tuple[str | None, str | None]:
    """(question, task id) where the trace states them."""
    if doc:
        question = doc.get("problem_statement", doc.get("prompt"))
        task = doc.get("instance_id")
        text = _lines(question) if question is not None else ""
        return text or None, None if task is None else str(task)
    head = trace[:20000]
    if match := _APPWORLD_TASK.search(head):
        return match.group(2).strip(), match.group(1).strip()
    if match := _CHATDEV_TASK.search(head):
        return match.group(1).strip(), None
    return None, None


def _labels(record: dict[str, Any]) -> dict[str, Any]:
    """failure_modes (+ rated, missing) and the record's system / benchmark / round / trace_id."""
    rated, marked, missing = _modes(record.get("annotations"))
    meta: dict[str, Any] = {"failure_modes": marked, "failure_modes_rated": rated}
    if missing:
        meta["failure_modes_missing"] = missing
    system, benchmark = record.get("mas_name"), record.get("benchmark_name")
    if system in _BENCHMARKS:  # the two records with the fields swapped
        system, benchmark = benchmark, system
    for key, value in (("system", system), ("benchmark", benchmark), ("round", record.get("round")),
                       ("trace_id", record.get("trace_id"))):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            meta[key] = value
    return meta


@trace_format("mast-mad", priority=30)
class MastMad(RecordFormat):
    """MAST / MAD multi-agent traces: raw log `trace` + per-failure-mode labels of three annotators."""

    def sniff(self, sample: Sample) -> bool:
        if sample.record is not None:
            return super().sniff(sample)
        return sample.container != "binary" and bool(_HEAD_KEYS.match(sample.head))  # NaN: no record decoded

    def sniff_record(self, record: dict[str, Any]) -> bool:
        return isinstance(record.get("trace"), str) and isinstance(record.get("annotations"), list) \
            and "mas_name" in record

    def decode(self, data: bytes) -> Any:
        return decode_lenient(data)  # the corpus file holds NaN labels

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        trace = record.get("trace")
        if not isinstance(trace, str):
            raise NotAnEpisode(f"'trace' must be a string, got {type(trace).__name__}")
        meta = _labels(record)
        doc = _embedded(trace)
        messages = _messages(doc)
        builder = StepBuilder()
        if messages is not None:
            for msg in messages:
                name = str(msg.get("name") or msg.get("role"))
                text = _lines(msg["content"])
                if name.lower() in _USERS:
                    step = builder.message("user", text)
                else:
                    step = builder.assistant(text, [])
                step.name = name
        else:
            builder.assistant(trace, []).name = meta.get("system")
        meta["layout"] = "messages" if messages is not None else "log"
        other = doc.get("other_data") if doc else None
        other = other if isinstance(other, dict) else {}
        note = doc.get("note") if doc else None
        if isinstance(note, dict) and note.get("text"):
            meta["note"] = _lines(note["text"]).strip()
        question, task = _question(doc, trace)
        correct = other.get("correct")
        return Episode(
            id=str(source),
            steps=builder.steps,
            source=source,
            format=self.name,
            task_id=task,
            question=question,
            final_answer=scalar_text(other.get("given")) if messages is not None else None,
            ground_truth=scalar_text(other.get("answer")) if messages is not None else None,
            reward=as_float(correct) if isinstance(correct, bool) else None,
            metadata=meta,
            raw=raw if raw is not None else msgspec.json.encode(record),
        )
