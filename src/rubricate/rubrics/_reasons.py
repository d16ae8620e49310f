"""The reasons of the built-in checks: one table of templates (`REASONS`), by code.

A check module declares its reasons once, next to the check (`reasons("discovers_tables", ...)`),
and renders them with their arguments (`DISCOVERS.query_first(query=3, discovery=5)`). The native
kernel gives the same verdicts as codes with arguments, and the reason text is rendered from this
table too (scoring/_native.py), so the wording of a reason lives in one place.

A template is a `str.format` string with named fields. A field given a list (or tuple) shows its
elements joined by ", ", each written with the reason's `each` template (a tuple element fills its
positional fields: `each="{} (step {})"`).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason template: its code (`<check>.<name>`), text, and how a list field's elements read."""

    code: str
    text: str
    each: str = "{}"
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [f for _, f, _, _ in string.Formatter().parse(self.text) if f is not None]
        if any(not f.isidentifier() for f in names):
            raise ValueError(f"reason {self.code}: fields must be plain names, got {names}")
        object.__setattr__(self, "fields", tuple(dict.fromkeys(names)))

    def __call__(self, **args: Any) -> str:
        """The reason's text with its fields filled in."""
        return self.text.format_map({k: self._shown(v) for k, v in args.items()})

    def _shown(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            each = self.each
            return ", ".join(each.format(*e) if isinstance(e, tuple) else each.format(e) for e in value)
        return value


REASONS: dict[str, Reason] = {}


class Reasons:
    """The reasons one check declares, as attributes (`DISCOVERS.query_first`)."""

    def __init__(self, check: str, declared: Mapping[str, Reason]) -> None:
        self.check = check
        self.__dict__.update(declared)

    def __getattr__(self, name: str) -> Reason:  # only for names not declared
        raise AttributeError(f"check {self.check!r} declares no reason {name!r}")


def reasons(check: str, **templates: str | tuple[str, str]) -> Reasons:
    """Declare the reasons of `check` in the one table: name=text, or name=(text, each) for a reason
    with a list field. Codes are `<check>.<name>`."""
    declared = {}
    for name, template in templates.items():
        text, each = (template, "{}") if isinstance(template, str) else template
        reason = Reason(f"{check}.{name}", text, each)
        existing = REASONS.get(reason.code)
        if existing is not None and existing != reason:
            raise ValueError(f"reason {reason.code} is declared twice with different texts")
        REASONS[reason.code] = declared[name] = reason
    return Reasons(check, declared)
