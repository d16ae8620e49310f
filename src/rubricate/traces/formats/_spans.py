"""OpenTelemetry span exports to episodes, shared by `otel-genai` and `openinference`.

Reads OTLP JSON (`resourceSpans[].scopeSpans[].spans[]`, attributes as `[{key, value: {stringValue|...}}]`)
and flat spans (one per line or in a JSON array, attributes as an object, as the Python SDK's
`span.to_json()` and many exporters write them), groups spans by trace id (one episode per trace,
spans ordered by start time) and turns a trace into steps (`_transcript.py`; attribute values are
decoded by `_attrs.py`). A format module says where a span keeps its messages (`conversation`) and
its tool executions (`tool_run`).

A trace can be spread over a whole file, so these readers hold one file's spans in memory, and a
byte range that does not start at 0 reads nothing: the range at offset 0 reads the whole file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from ..files import (READ_ERRORS, DamagedStream, Span, container_of, decode_json, iter_lines, open_binary,
                     read_document, read_head)
from .._model import Episode, LoadIssue, Source
from .._registry import Sample, TraceFormat, display_path
from ._attrs import flat_attrs
from .chat import first_user_text
from ._transcript import Conversation, SpanRecord, ToolRun, build_steps

TRACE_KEYS = ("trace_id", "traceId")
_SPAN_KEYS = ("span_id", "spanId")
_PARENT_KEYS = ("parent_span_id", "parentSpanId", "parent_id")
_START_KEYS = ("start_time", "startTimeUnixNano", "start_time_unix_nano", "startTime")
_SCOPE_KEYS = ("scopeSpans", "scope_spans", "instrumentationLibrarySpans", "instrumentation_library_spans")
_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)
_decode = decode_json


def is_span_record(record: Any) -> bool:
    """An OTLP export (`resourceSpans`) or a flat span: a name, attributes and a trace id."""
    if not isinstance(record, dict):
        return False
    if isinstance(record.get("resourceSpans", record.get("resource_spans")), list):
        return True
    ctx = record.get("context")
    has_trace = any(k in record for k in TRACE_KEYS) or \
        (isinstance(ctx, dict) and any(k in ctx for k in TRACE_KEYS))
    return has_trace and "name" in record and isinstance(record.get("attributes"), (dict, list))


class SpanFormat(TraceFormat):
    """A reader of span exports; subclasses say which spans hold messages and tool executions."""

    splittable = False  # a trace's spans can be anywhere in the file: read it whole
    markers: ClassVar[tuple[bytes, ...]] = ()  # one of these must be in the first 64 KiB
    meta_keys: ClassVar[dict[str, tuple[str, ...]]] = {}  # metadata field -> attribute keys, first wins

    def conversation(self, span: SpanRecord) -> Conversation | None:
        raise NotImplementedError

    def tool_run(self, span: SpanRecord) -> ToolRun | None:
        raise NotImplementedError

    def sniff(self, sample: Sample) -> bool:
        record = sample.record
        if record is None and sample.container == "json":  # a `.json` file of one export per line
            try:
                record = _decode(sample.head.lstrip().split(b"\n", 1)[0])
            except msgspec.DecodeError:
                return False
        return is_span_record(record) and any(m in sample.head for m in self.markers)

    def read(self, path: str, span: Span = Span(), root: str | None = None) -> Iterator[Episode | LoadIssue]:
        if span.start:
            return
        rel = display_path(path, root)
        traces: dict[str, list[SpanRecord]] = {}
        for item in self._spans(path, rel):
            if isinstance(item, LoadIssue):
                yield item
            else:
                traces.setdefault(item.trace_id, []).append(item)
        for trace_id, spans in traces.items():
            yield from self._episode(trace_id, spans, rel)

    # --- reading spans --------------------------------------------------------------------------

    def _spans(self, path: str, rel: str) -> Iterator[SpanRecord | LoadIssue]:
        container = container_of(path, read_head(path, 4096))
        if container == "binary":
            yield self._issue(rel, "span exports are JSON; this is a binary (zip or Parquet) file")
            return
        counter = itertools.count()
        if container == "json":
            try:
                doc = read_document(path)
            except msgspec.DecodeError as exc:
                # the collector's file exporter writes one export per line, often into `*.json`
                if not _first_line_is_spans(path):
                    yield self._issue(rel, f"cannot read JSON document: {exc}")
                    return
            except READ_ERRORS as exc:
                yield self._issue(rel, f"cannot read JSON document: {exc}")
                return
            else:
                for i, value in enumerate(doc) if isinstance(doc, list) else [(None, doc)]:
                    yield from self._decoded(value, rel, None, i, None, counter)
                return
        try:
            for rec in iter_lines(path):
                try:
                    value = _decode(rec.data)
                except msgspec.DecodeError as exc:
                    yield self._issue(rel, f"invalid JSON: {exc}", line=rec.line)
                    continue
                yield from self._decoded(value, rel, rec.line, None, rec.data, counter)
        except DamagedStream as exc:  # the spans before it still make their traces
            yield self._issue(rel, str(exc), line=exc.line)

    def _decoded(self, value: Any, rel: str, line: int | None, index: int | None, raw: bytes | None,
                 counter: Iterator[int]) -> Iterator[SpanRecord | LoadIssue]:
        if not isinstance(value, dict):
            yield self._issue(rel, f"record is a JSON {type(value).__name__}, not a span", line, index)
            return
        envelope = value.get("resourceSpans", value.get("resource_spans"))
        if envelope is None:
            found = [(value, {})]
        else:
            found = [(sp, resource) for resource, sp in _otlp_spans(envelope)]
        for sp, resource in found:
            try:
                rec = _span_record(sp, resource, line, index, raw, next(counter))
            except _ERRORS as exc:
                rec = f"not a span: {type(exc).__name__}: {exc}"
            yield self._issue(rel, rec, line, index) if isinstance(rec, str) else rec

    # --- one trace to one episode -----------------------------------------------------------------

    def _episode(self, trace_id: str, spans: list[SpanRecord], rel: str) -> Iterator[Episode | LoadIssue]:
        if all(s.start is not None for s in spans):
            spans.sort(key=lambda s: (s.start, s.order))
        first = min(spans, key=lambda s: s.order)
        where = Source(rel, first.line, first.index)
        parts: list[tuple[int, Conversation | ToolRun]] = []
        damaged = False
        for pos, sp in enumerate(spans):
            try:
                part = self.conversation(sp) or self.tool_run(sp)
            except _ERRORS as exc:
                yield self._issue(rel, f"trace {trace_id}: span {sp.name!r}: {type(exc).__name__}: {exc}",
                                  sp.line, sp.index)
                damaged = True
                continue
            if part is not None:
                parts.append((pos, part))
        try:
            builder = build_steps(parts)
        except _ERRORS as exc:
            yield self._issue(rel, f"trace {trace_id}: {type(exc).__name__}: {exc}", first.line, first.index)
            return
        if not builder.steps:
            if damaged:  # its spans' issues say why
                return
            yield self._issue(rel, f"trace {trace_id}: none of its {len(spans)} spans holds {self.name} "
                                   "messages or tool executions", first.line, first.index)
            return
        yield Episode(id=trace_id, steps=builder.steps, source=where, format=self.name,
                      question=first_user_text(builder), final_answer=builder.final_answer(),
                      metadata=self._metadata(trace_id, spans), raw=_raw(spans))

    def _metadata(self, trace_id: str, spans: list[SpanRecord]) -> dict[str, Any]:
        meta: dict[str, Any] = {"trace_id": trace_id, "spans": len(spans)}
        root = next((s for s in spans if not s.parent_id), None)
        if root is not None:
            meta["root_span"] = root.name
        for field, keys in {**self.meta_keys, "service": ("service.name",)}.items():
            value = next((a[k] for k in keys for sp in spans for a in (sp.attrs, sp.resource)
                          if isinstance(a.get(k), (str, int, float)) and a[k] != ""), None)
            if value is not None:
                meta[field] = value
        return meta

    def _issue(self, rel: str, reason: str, line: int | None = None, index: int | None = None) -> LoadIssue:
        return LoadIssue(rel, reason, line=line, index=index, format=self.name)


def _first_line_is_spans(path: str) -> bool:
    with open_binary(path) as f:
        for line in f:
            if line.strip():
                try:
                    return is_span_record(_decode(line))
                except msgspec.DecodeError:
                    return False
    return False


def _raw(spans: list[SpanRecord]) -> bytes:
    """The trace's lines in file order (a line holding several traces' spans appears once), or its
    span objects as a JSON array when they came from a JSON document."""
    ordered = sorted(spans, key=lambda s: s.order)
    if all(isinstance(s.raw, bytes) for s in ordered):
        seen: dict[int | None, bytes] = {}
        for s in ordered:
            seen.setdefault(s.line, s.raw)  # type: ignore[arg-type]
        return b"".join(seen.values())
    return msgspec.json.encode([s.raw for s in ordered])


def _otlp_spans(envelope: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    for rs in envelope if isinstance(envelope, list) else ():
        if not isinstance(rs, dict):
            continue
        res = rs.get("resource")
        resource = flat_attrs(res.get("attributes")) if isinstance(res, dict) else {}
        scopes = next((rs[k] for k in _SCOPE_KEYS if isinstance(rs.get(k), list)), [])
        for scope in scopes:
            for sp in scope.get("spans") or () if isinstance(scope, dict) else ():
                yield resource, sp


def _span_record(sp: Any, resource: dict[str, Any], line: int | None, index: int | None, raw: bytes | None,
                 order: int) -> SpanRecord | str:
    if not isinstance(sp, dict):
        return f"span is a JSON {type(sp).__name__}, not an object"
    ctx = sp["context"] if isinstance(sp.get("context"), dict) else {}
    name = sp.get("name")
    if not isinstance(sp.get("attributes"), (dict, list)) and name is None:
        return f"not a span: no 'name' or 'attributes' (keys: {sorted(sp)[:10]})"
    trace = _first(sp, TRACE_KEYS) or _first(ctx, TRACE_KEYS)
    if not trace:
        return f"span {name!r} has no trace id"
    if isinstance(sp.get("resource"), dict):
        res = sp["resource"]
        resource = flat_attrs(res["attributes"] if "attributes" in res else res)
    error, message = _status(sp)
    events = [(str(ev.get("name") or ""), flat_attrs(ev.get("attributes")))
              for ev in sp.get("events") or () if isinstance(ev, dict)]
    return SpanRecord(
        trace_id=_norm_id(trace), span_id=_norm_id(_first(sp, _SPAN_KEYS) or _first(ctx, _SPAN_KEYS)),
        parent_id=_norm_id(_first(sp, _PARENT_KEYS)), name=str(name or ""),
        start=_time(_first(sp, _START_KEYS)), attrs=flat_attrs(sp.get("attributes")), events=events,
        error=error, status_message=message, kind=str(sp.get("span_kind") or ""), resource=resource,
        line=line, index=index, order=order, raw=raw if raw is not None else sp)


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((d[k] for k in keys if d.get(k) not in (None, "")), None)


def _norm_id(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).strip().lower()
    return text[2:] if text.startswith("0x") else text


def _time(value: Any) -> float | None:
    """A start time as nanoseconds: an integer (or its string, as OTLP JSON writes it) or ISO 8601."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value.isdigit():
            return float(int(value))
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e9
        except ValueError:
            return None
    return None


def _status(sp: dict[str, Any]) -> tuple[bool, str]:
    """(is an error, message) from OTLP `status.code` 2, the SDK's `status.status_code` "ERROR", or a
    top-level `status_code` (Phoenix)."""
    status = sp.get("status")
    if isinstance(status, dict):
        code = _first(status, ("code", "status_code", "statusCode"))
        message = _first(status, ("message", "description"))
    else:
        code, message = status if status is not None else sp.get("status_code"), sp.get("status_message")
    error = code in (2, "2") or (isinstance(code, str) and code.upper() in ("ERROR", "STATUS_CODE_ERROR"))
    return error, str(message or "")
