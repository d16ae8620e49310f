"""The reasons of the built-in checks: one table of templates (`REASONS`), by code.

A check module declares its reasons once, next to the check (`reasons("discovers_tables", ...)`),
and renders them with their arguments (`DISCOVERS.query_first(query=3, discovery=5)`). The native
kernel gives the same verdicts as codes with arguments, and the reason text is rendered from this
table too (scoring/_native.py), so the wording of a reason lives in one place.

A template is a `str.format` string with named fields, each shown as it is or as its repr
(`{truth!r}`); no format specs. A field given a list (or tuple) shows its elements joined by ", ",
each written with the reason's `each` template (a tuple element fills its positional fields:
`each="{} (step {})"`). The kernel fills the same templates from their `pieces`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


SEPARATOR = ", "  # between the elements of a list field
Piece = tuple[str, "str | None", bool]  # literal text, then the field shown after it (or None), as repr?


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason template: its code (`<check>.<name>`), text, and how a list field's elements read."""

    code: str
    text: str
    each: str = "{}"
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [f for _, f, _, _ in _pieces(self.code, self.text) if f is not None]
        if any(not f.isidentifier() for f in names):
            raise ValueError(f"reason {self.code}: fields must be plain names, got {names}")
        each = [f for _, f, _, _ in _pieces(self.code, self.each) if f is not None]
        if any(f and not f.isdigit() for f in each) or (any(not f for f in each) and any(f for f in each)):
            raise ValueError(f"reason {self.code}: `each` takes positional fields ({{}} or {{0}}), got {each}")
        object.__setattr__(self, "fields", tuple(dict.fromkeys(names)))

    def pieces(self) -> tuple[list[Piece], list[Piece]]:
        """The template and `each` as pieces (literal text, field after it, shown as repr?): what the
        kernel fills in. `each`'s fields are element positions ("0", "1", ...)."""
        text = [(lit, name, conv == "r") for lit, name, _, conv in _pieces(self.code, self.text)]
        each, auto = [], 0
        for lit, name, _, conv in _pieces(self.code, self.each):
            if name == "":
                name, auto = str(auto), auto + 1
            each.append((lit, name, conv == "r"))
        return text, each

    def __call__(self, **args: Any) -> str:
        """The reason's text with its fields filled in."""
        return self.text.format_map({k: self._shown(v) for k, v in args.items()})

    def _shown(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            each = self.each
            return SEPARATOR.join(each.format(*e) if isinstance(e, tuple) else each.format(e) for e in value)
        return value


def _pieces(code: str, template: str) -> list[tuple[str, str | None, str, str | None]]:
    """string.Formatter's parse of a template, limited to what the kernel fills in too."""
    parsed = list(string.Formatter().parse(template))
    for _, name, spec, conv in parsed:
        if name is not None and (spec or conv not in (None, "r")):
            raise ValueError(f"reason {code}: a field is shown as it is or as its repr ({{name}}, {{name!r}}), "
                             f"without a format spec; got {template!r}")
    return parsed


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
