"""Span attribute values: OTLP AnyValue decoding, one flat dict per span, flattened lists
(`prefix.0.rest`) and structured attributes recorded as JSON strings. Used by the span readers."""

from __future__ import annotations

from typing import Any

import msgspec

from ..files import decode_json
_decode = decode_json


def any_value(value: Any) -> Any:
    """An OTLP AnyValue (`{"stringValue": ...}`, `{"intValue": "3"}`, arrays, kvlists) as plain JSON."""
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        iv = value["intValue"]
        return int(iv) if isinstance(iv, str) and iv.lstrip("-").isdigit() else iv
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values") or ()]
    if "kvlistValue" in value:
        return _kv((value["kvlistValue"] or {}).get("values"))
    return None


def _kv(items: Any) -> dict[str, Any]:
    return {item["key"]: any_value(item.get("value")) for item in items or ()
            if isinstance(item, dict) and isinstance(item.get("key"), str)}


def flat_attrs(value: Any) -> dict[str, Any]:
    """Span attributes as one flat dict: an OTLP key-value list is decoded; an object's top-level keys
    without a dot that hold objects (Phoenix nests `{"llm": {"model_name": ...}}`) are flattened to
    dotted keys, while a dotted key keeps its structured value (`gen_ai.tool.call.arguments`)."""
    if isinstance(value, list):
        return _kv(value)
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key, v in value.items():
        if isinstance(v, dict) and v and "." not in key:
            _flatten(v, key + ".", out)
        else:
            out[key] = v
    return out


def _flatten(d: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, v in d.items():
        if isinstance(v, dict) and v:
            _flatten(v, f"{prefix}{key}.", out)
        else:
            out[prefix + key] = v


def indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The objects of a flattened list attribute: `prefix.0.rest`, `prefix.1.rest` ... as
    `[{rest: value}, ...]` in index order (or the elements when `prefix` holds a real list)."""
    value = attrs.get(prefix)
    if isinstance(value, list):
        return [flat_attrs(v) if isinstance(v, dict) else {} for v in value]
    head = prefix + "."
    groups: dict[int, dict[str, Any]] = {}
    for key, v in attrs.items():
        if key.startswith(head):
            idx, _, rest = key[len(head):].partition(".")
            if idx.isdigit() and rest:
                groups.setdefault(int(idx), {})[rest] = v
    return [groups[i] for i in sorted(groups)]


def as_json(value: Any) -> Any:
    """A structured attribute that may arrive as a JSON string (GenAI content on spans)."""
    if isinstance(value, str):
        try:
            return _decode(value)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return value
