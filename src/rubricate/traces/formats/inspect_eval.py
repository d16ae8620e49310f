"""Inspect AI eval logs: the JSON log (one document: header + `samples`) and the binary `.eval` log (a zip
of `header.json` or `_journal/start.json`, `samples/<id>_epoch_<n>.json`, `summaries.json`, ...).

One episode per sample and epoch, read with zipfile and msgspec (no `inspect_ai` needed), a sample at a time:
it is decoded into a struct that skips `events`, `store` and `output` without building them. Tool errors come
from the typed `error` of tool messages ({type, message}), never from the text; content given as
`attachment://<hash>` is resolved from the sample's `attachments`.

Episode id `<file path without suffix>/<sample id>/<epoch>`; task id `<task>/<sample id>` (sample ids are
dataset-local, often 1..N: bare, they would merge unrelated tasks). Reward: the first scorer's value (C 1,
I 0, P 0.5, N 0, numbers as they are, none for a dict or list value), its name and raw value in metadata
with the header's model, task, eval and run ids and the log status. A cancelled or failed log, or a sample
that ended in an error or a limit, still loads: the status, `error` and `limit` are in the metadata.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import msgspec

from ..files import READ_ERRORS, Span, open_binary, read_head, strip_bom
from .._model import Episode, LoadIssue, Source, ToolCall
from .._normalise import StepBuilder, as_float, scalar_text, tool_call
from .._registry import Sample, TraceFormat, display_path, trace_format
from .chat import first_user_text

_ZIP = b"PK\x03\x04"
_ATTACHMENT = ("attachment://", "tc://")  # tc:// is the older spelling Inspect still resolves
# What an Inspect JSON log starts with (pydantic writes `version`, `status`, `eval` first): sniffs a log too
# large to parse whole for sniffing, or one whose JSON is damaged.
_HEAD = re.compile(rb'\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:\s*"\w+"\s*,\s*"eval"\s*:\s*\{')
_HEADER_MEMBERS = ("header.json", "_journal/start.json", "start.json")  # newest layout first
# Inspect's value_to_float: C(orrect) 1, I(ncorrect) 0, P(artial) 0.5, N(o answer) 0, plus yes/no/true/false.
_SCORE_VALUES = {"c": 1.0, "correct": 1.0, "i": 0.0, "incorrect": 0.0, "p": 0.5, "partial": 0.5,
                 "n": 0.0, "noanswer": 0.0, "yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_SAMPLE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)
_ZIP_ERRORS = (zipfile.BadZipFile, NotImplementedError, RecursionError, *READ_ERRORS)


class _Header(msgspec.Struct):
    """The log header (`header.json`, `_journal/start.json`, or the top of a JSON log)."""

    version: int | None = None
    status: str | None = None
    eval: dict[str, Any] = {}
    error: Any = None


class _JsonLog(_Header):
    samples: list[msgspec.Raw] | None = None  # each sample's bytes, decoded one at a time


class _Sample(msgspec.Struct):
    """The fields of an EvalSample an episode needs; everything else (events, store, output) is skipped."""

    id: int | str
    epoch: int = 1
    input: Any = None
    target: Any = None
    messages: list[Any] = []
    scores: dict[str, Any] | None = None
    metadata: dict[str, Any] = {}
    error: Any = None
    limit: Any = None
    attachments: dict[str, str] = {}
    uuid: str | None = None


_decode_log = msgspec.json.Decoder(_JsonLog).decode
_decode_header = msgspec.json.Decoder(_Header).decode
_decode_sample = msgspec.json.Decoder(_Sample).decode


@trace_format("inspect-eval", priority=10)
class InspectEval(TraceFormat):
    """Inspect AI eval logs (`.json` and the zipped `.eval`): one episode per sample and epoch."""

    suffixes = (".eval",)

    def sniff(self, sample: Sample) -> bool:
        if sample.head.startswith(_ZIP):
            return sample.path.lower().endswith(".eval")
        record = sample.record
        if isinstance(record, dict):
            spec = record.get("eval")
            return isinstance(spec, dict) and "version" in record and "task" in spec and \
                ("samples" in record or "status" in record)
        return record is None and _HEAD.match(sample.head) is not None

    def read(self, path: str, span: Span = Span(), root: str | None = None) -> Iterator[Episode | LoadIssue]:
        rel = display_path(path, root)
        stem = _stem(rel)
        try:
            is_zip = read_head(path, 4).startswith(_ZIP)
        except READ_ERRORS as exc:
            yield LoadIssue(rel, f"cannot read the file: {exc}", format=self.name)
            return
        yield from (self._read_zip if is_zip else self._read_json)(path, rel, stem)

    def _read_json(self, path: str, rel: str, stem: str) -> Iterator[Episode | LoadIssue]:
        try:
            with open_binary(path) as f:
                log = _decode_log(strip_bom(f.read()))
        except (*READ_ERRORS, RecursionError) as exc:
            yield LoadIssue(rel, f"not a readable Inspect JSON log: {exc}", format=self.name)
            return
        if not log.samples:
            yield self._no_samples(rel)
            return
        for i, raw in enumerate(log.samples):
            yield self._sample(bytes(raw), Source(rel, index=i), log, stem, f"samples[{i}]")

    def _read_zip(self, path: str, rel: str, stem: str) -> Iterator[Episode | LoadIssue]:
        try:
            archive = zipfile.ZipFile(path)
        except _ZIP_ERRORS as exc:
            yield LoadIssue(rel, f"not a readable .eval (zip) file: {exc}", format=self.name)
            return
        with archive:
            names = archive.namelist()
            header = _Header()
            found = next((n for n in _HEADER_MEMBERS if n in names), None)
            try:
                if found is None:
                    raise ValueError(f"none of {', '.join(_HEADER_MEMBERS)} in the archive")
                header = _decode_header(archive.read(found))
            except _ZIP_ERRORS as exc:
                yield LoadIssue(rel, f"Inspect log header unreadable ({_why(exc)}); samples read without it",
                                format=self.name)
            if found == "start.json" and "results.json" in names:  # the oldest layout keeps the status apart
                try:
                    results = _decode_header(archive.read("results.json"))
                    header.status, header.error = results.status, results.error
                except _ZIP_ERRORS:
                    pass
            if header.status is None and found is not None:
                header.status = "started"  # a start record but no final header: still running, or it crashed
            members = [n for n in names if n.startswith("samples/") and n.endswith(".json")]
            if not members:
                yield self._no_samples(rel)
            for i, name in enumerate(members):
                try:
                    data = archive.read(name)
                except _ZIP_ERRORS as exc:
                    yield LoadIssue(rel, f"{name}: cannot read the zip member: {_why(exc)}", index=i,
                                    format=self.name)
                    continue
                yield self._sample(data, Source(rel, index=i), header, stem, name)

    def _no_samples(self, rel: str) -> LoadIssue:
        return LoadIssue(rel, "Inspect log has no samples (written with log_samples=False, or header only)",
                         format=self.name)

    def _sample(self, data: bytes, source: Source, header: _Header, stem: str,
                where: str) -> Episode | LoadIssue:
        try:
            return _episode(_decode_sample(data), source, header, stem, data, self.name)
        except _SAMPLE_ERRORS as exc:
            return LoadIssue(source.path, f"{where}: not an Inspect sample: {type(exc).__name__}: {exc}",
                             index=source.index, format=self.name)


def _why(exc: Exception) -> str:
    if isinstance(exc, NotImplementedError):  # zipfile before Python 3.14 cannot inflate method 93
        return f"{exc} (zstd-compressed members, written with INSPECT_USE_ZSTD, are not read yet)"
    return str(exc)


def _stem(rel: str) -> str:
    """The file's path (relative to the load's root) without its suffixes: the prefix of its episode ids,
    unique within a load as the paths are."""
    for suffix in (".gz", ".zst"):
        rel = rel.removesuffix(suffix)
    return os.path.splitext(rel)[0]


def _episode(sample: _Sample, source: Source, header: _Header, stem: str, raw: bytes, fmt: str) -> Episode:
    spec = header.eval
    builder = StepBuilder()
    messages = sample.messages or _input_messages(sample.input)
    _add_messages(builder, messages, sample.attachments)
    task = spec.get("task")
    meta: dict[str, Any] = dict(sample.metadata) if isinstance(sample.metadata, dict) else {}
    for key in ("model", "task", "eval_id", "run_id", "created"):
        if isinstance(spec.get(key), str):
            meta[key] = spec[key]
    meta["epoch"] = sample.epoch
    if header.status:
        meta["status"] = header.status
    if isinstance(header.error, dict) and header.error.get("message"):
        meta["log_error"] = header.error["message"]
    if sample.error is not None:
        meta["error"] = sample.error.get("message") if isinstance(sample.error, dict) else str(sample.error)
    if isinstance(sample.limit, dict) and sample.limit.get("type"):
        meta["limit"] = sample.limit["type"]
    if sample.uuid:
        meta["uuid"] = sample.uuid
    reward = _add_scores(meta, sample.scores)
    return Episode(
        id=f"{stem}/{sample.id}/{sample.epoch}",
        steps=builder.steps,
        source=source,
        format=fmt,
        task_id=f"{task}/{sample.id}" if isinstance(task, str) else str(sample.id),
        question=first_user_text(builder),
        final_answer=builder.final_answer(),
        ground_truth=_target(sample.target),
        reward=reward,
        metadata=meta,
        raw=raw,
    )


def _add_scores(meta: dict[str, Any], scores: dict[str, Any] | None) -> float | None:
    """The first scorer's value as the reward; its name, raw value, answer and explanation into `meta`."""
    if not scores:
        return None
    name, score = next(iter(scores.items()))
    if not isinstance(score, dict):
        raise ValueError(f"score {name!r} is a JSON {type(score).__name__}, not an object")
    meta["score_name"], meta["score_value"] = name, score.get("value")
    for key in ("answer", "explanation"):
        if isinstance(score.get(key), str):
            meta[f"score_{key}"] = score[key]
    if len(scores) > 1:
        meta["scores"] = {k: v.get("value") if isinstance(v, dict) else v for k, v in scores.items()}
    return score_reward(score.get("value"))


def score_reward(value: Any) -> float | None:
    """An Inspect score value as a reward: C/I/P/N letters (and yes/no, true/false), numbers as they are;
    None for a list or dict value (several metrics: no single reward) or anything else."""
    if isinstance(value, str):
        mapped = _SCORE_VALUES.get(value.strip().lower())
        reward = mapped if mapped is not None else as_float(value)
    elif isinstance(value, (bool, int, float)):
        reward = as_float(value)
    else:
        return None
    return reward if reward is not None and math.isfinite(reward) else None


def _target(target: Any) -> str | None:
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    return scalar_text(target) if target not in ("", []) else None


def _input_messages(value: Any) -> list[Any]:
    """A sample that stopped before any message was recorded: its input as the conversation."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return value if isinstance(value, list) else []


def _resolve(value: Any, attachments: dict[str, str]) -> Any:
    """`value` with every `attachment://<hash>` string (at any depth) replaced by the attachment's text."""
    if isinstance(value, str):
        for prefix in _ATTACHMENT:
            if value.startswith(prefix):
                return attachments.get(value[len(prefix):], value)
    elif isinstance(value, list):
        return [_resolve(v, attachments) for v in value]
    elif isinstance(value, dict):
        return {k: _resolve(v, attachments) for k, v in value.items()}
    return value


def _content(content: Any, attachments: dict[str, str]) -> str:
    """Text of Inspect message content: a string or a list of content parts (only `text` parts are text;
    reasoning, images and other media are left out)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return _resolve(content, attachments) if attachments else content
    if not isinstance(content, list):
        raise ValueError(f"message content is a JSON {type(content).__name__}")
    texts = [_resolve(p["text"], attachments) for p in content
             if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)]
    return "\n".join(texts)


def _call(raw: Any, attachments: dict[str, str]) -> ToolCall:
    if not isinstance(raw, dict):
        raise ValueError(f"tool call is a JSON {type(raw).__name__}, not an object")
    arguments = raw.get("arguments")
    if attachments and arguments:
        arguments = _resolve(arguments, attachments)
    call = tool_call(raw.get("function"), arguments, raw.get("id"))
    if raw.get("parse_error"):
        call.arguments, call.arguments_error = None, f"arguments could not be parsed: {raw['parse_error']}"
    return call


def _add_messages(builder: StepBuilder, messages: Any, attachments: dict[str, str]) -> None:
    """ChatMessageSystem/User/Assistant/Tool to steps. A tool message is an error exactly when it has a typed
    `error` (or the older `tool_error` text); its text is the error message when the content is empty."""
    if not isinstance(messages, list):
        raise ValueError(f"messages must be a list, got a JSON {type(messages).__name__}")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"message {i} is a JSON {type(msg).__name__}, not an object")
        role = msg.get("role")
        content = _content(msg.get("content"), attachments)
        if role == "assistant":
            calls = msg.get("tool_calls") or []
            if not isinstance(calls, list):
                raise ValueError(f"message {i}: tool_calls must be a list")
            builder.assistant(content, [_call(c, attachments) for c in calls])
        elif role == "tool":
            error = msg.get("error") or msg.get("tool_error")
            if isinstance(error, dict):
                error = error.get("message") or error.get("type") or "error"
            if error and not content:
                content = str(error)
            builder.tool_result(content, msg.get("tool_call_id") or None, msg.get("function") or None,
                                bool(error))
        elif role in ("system", "user"):
            builder.message(role, content)
        else:
            raise ValueError(f"message {i} has unknown role {role!r}")
