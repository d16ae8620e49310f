"""Loaded rubrics: items resolved to their checks and parameters, versioned and content-hashed."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from types import ModuleType
from typing import TYPE_CHECKING, Any

import msgspec
from pydantic import ValidationError

from ..errors import RubricError, UnknownCheckError
from ._check import Check, CheckContext, EpisodeFacts, Outcome, get_check, load_checks, run_check
from ._params import unread_params
from ._schema import ItemSpec, RubricSpec
from ._verdict import SCORES, Verdict

if TYPE_CHECKING:
    from ..traces import Episode
    from ._collapse import RewardResult

BUILTIN_PACKAGE = "rubricate.rubrics.builtin"
# Old names of built-in rubrics: the rubric they load now.
BUILTIN_ALIASES = {"tool-discipline": "sql-agent"}
# Built-in checks that can only judge an episode whose agent could call tools (na on text-only
# completions; an item can say so itself with the parameter `needs_tools = true`).
TOOL_CHECKS = frozenset({
    "discovers_tables", "inspects_schema", "recovers_from_errors", "no_repeated_failing_call",
    "grounded_answer",
})
_TEXT_ONLY = Outcome("na", "text-only completion: this item needs tool calls")


@dataclass(frozen=True)
class Item:
    """One resolved rubric item. `params` merges check defaults, rubric params and item params;
    `*_tools` lists become lower-cased frozensets."""

    id: str
    kind: str
    behavior: str
    description: str
    weight: float
    version: str
    params: dict[str, Any]
    check: Check | None = None
    spec: ItemSpec | None = field(default=None, compare=False, repr=False)

    @property
    def needs_tools(self) -> bool:
        """True when the item can only be judged on an episode whose agent could call tools."""
        flag = self.params.get("needs_tools")
        if isinstance(flag, bool):
            return flag
        return self.check is not None and self.check.name in TOOL_CHECKS


@dataclass(frozen=True)
class Rubric:
    """A rubric ready to score: id, version, content hash, items in file order."""

    id: str
    version: str
    description: str
    items: tuple[Item, ...]
    hash: str
    path: str | None = None
    spec: RubricSpec | None = field(default=None, compare=False, repr=False)
    check_sources: tuple[str, ...] = ()  # where its custom checks come from (`load_checks`), for workers

    @property
    def checks(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.kind == "check")

    @property
    def judges(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.kind == "judge")

    @cached_property
    def _plan(self) -> tuple[tuple[Item, Any, Mapping[str, Any], bool], ...]:
        return tuple((i, i.check.fn if i.check else None, i.params, i.needs_tools) for i in self.items)

    def evaluate(self, episode: Episode, *, given: Mapping[str, Verdict] | None = None, text_only: bool = False,
                 deadline: float | None = None) -> list[Verdict]:
        """Every item's verdict on one episode, in rubric order: the one function that scores an episode
        (`score`, `score_run`, its workers and every reward exporter call it).

        `given`: verdicts already decided for some items, by item id (the native kernel's, the judge's);
        a judge item with none given is left out (no judge, nothing to say about the agent).
        `text_only`: the agent could not call tools, so items that need tool calls are na.
        `deadline`: a `time.monotonic()` instant; TimeoutError when it passes before an item is run.
        """
        facts = EpisodeFacts(episode)
        eid = episode.id
        out: list[Verdict] = []
        for item, fn, params, tools in self._plan:
            if given is not None and item.id in given:
                out.append(given[item.id])
                continue
            if fn is None:  # a judge item nobody judged
                continue
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the deadline passed before every item was scored")
            o = _TEXT_ONLY if text_only and tools else run_check(fn, CheckContext(episode, params, facts))
            out.append(Verdict(eid, item.id, item.behavior, o.verdict, SCORES[o.verdict], o.reason, o.evidence))
        return out

    def reward(self, verdicts: Any) -> RewardResult:
        """The episode's verdicts collapsed into one reward by the rubric's `[reward]` table (`collapse`)."""
        from ._collapse import collapse

        return collapse(verdicts, self)

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def describe(self) -> dict[str, Any]:
        """What a run records about its rubric."""
        return {
            "id": self.id, "version": self.version, "hash": self.hash, "path": self.path,
            "items": [{"id": i.id, "kind": i.kind, "behavior": i.behavior, "weight": i.weight,
                       "version": i.version, "check": i.check.name if i.check else None,
                       "check_version": i.check.version if i.check else None, "description": i.description,
                       "outcome": bool(i.spec is not None and i.spec.outcome)} for i in self.items],
        }


def _resolve_params(*layers: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    for key, value in merged.items():
        if key.endswith("_tools") and isinstance(value, (list, tuple, set, frozenset)):
            merged[key] = frozenset(str(v).lower() for v in value)
        elif isinstance(value, list):
            merged[key] = tuple(value)
    return merged


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def rubric_from_spec(spec: RubricSpec, *, path: str | None = None) -> Rubric:
    """Resolve a validated spec: look up each item's check and merge its parameters."""
    where = path or f"rubric '{spec.id}'"
    items = []
    for i, s in enumerate(spec.items):
        check = None
        if s.kind == "check":
            try:
                check = get_check(s.check or s.id, where=f"{where}: items[{i}].check")
            except UnknownCheckError as exc:
                exc.path, exc.location = path, f"items[{i}].check"
                raise
        params = _resolve_params(check.params if check else {}, spec.params, s.params)
        items.append(Item(
            id=s.id, kind=s.kind, behavior=s.behavior or (check.behavior if check else "judgement"),
            description=s.description or (check.description if check else s.question or ""),
            weight=s.weight, version=s.version, params=params, check=check, spec=s,
        ))
    unread_params(spec, items, path)
    canonical = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    canonical.pop("$schema", None)
    canonical["_checks"] = {i.id: i.check.version for i in items if i.check}
    digest = hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).hexdigest()
    return Rubric(spec.id, spec.version, spec.description, tuple(items), f"sha256:{digest[:16]}", path, spec)


def _toml(text: str, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: not valid TOML: {exc}", path=path,
                          hint="check the line and column named above") from None


def _extended(data: dict[str, Any], path: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """`data` with the params and items of the rubric it `extends` merged in: the base's params under
    its own, the base's items (less `drop`) in order with those of the same id replaced, then its
    new items."""
    ref = data.get("extends")
    if not isinstance(ref, str):
        return data
    here = os.path.dirname(path) if not path.startswith(("builtin:", "<")) else ""
    try:
        base_text, base_path = _rubric_source(ref, here)
    except RubricError as exc:
        raise RubricError(f"{path}: extends: {exc.message}", path=path, location="extends",
                          hint=exc.hint) from None
    if base_path in seen:
        raise RubricError(f"{path}: extends: '{ref}' extends this rubric in turn (a cycle)", path=path,
                          location="extends",
                          hint="a rubric cannot extend itself, directly or through another")
    base = _extended(_toml(base_text, base_path), base_path, (*seen, base_path))
    base_items = [i for i in base.get("items", []) if isinstance(i, dict)]
    known = [i.get("id") for i in base_items]
    drop = data.get("drop", [])
    for k, name in enumerate(drop if isinstance(drop, list) else []):
        if name not in known:
            import difflib

            close = difflib.get_close_matches(str(name), [str(n) for n in known], n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"its items: {', '.join(map(str, known))}"
            raise RubricError(f"{path}: drop[{k}]: '{ref}' has no item '{name}'", path=path,
                              location=f"drop[{k}]", hint=hint)
    own = {i.get("id"): i for i in data.get("items", []) if isinstance(i, dict)}
    items = [own.pop(i.get("id"), i) for i in base_items if i.get("id") not in drop]
    merged = {**data, "params": {**base.get("params", {}), **data.get("params", {})},
              "items": items + list(own.values())}
    if "reward" not in data and "reward" in base:
        merged["reward"] = base["reward"]
    return merged


def _spec_from_text(text: str, path: str) -> RubricSpec:
    data = _extended(_toml(text, path), path)
    try:
        return RubricSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = _location(tuple(first["loc"]))
        msg = first["msg"].removeprefix("Value error, ")
        # a whole-file rule names its place in the message: `items[3].id: ...`, `reward.gates[0]: ...`
        if not first["loc"] and msg.startswith(("items[", "reward.")) and ": " in msg:
            loc, msg = msg.split(": ", 1)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RubricError(f"{path}: {loc}: {msg}{more}", path=path, location=loc,
                          hint="`rubricate rubrics schema` prints the rubric file schema") from None


def parse_rubric(text: str, *, path: str = "<string>") -> Rubric:
    """Parse rubric TOML text; errors name the file and the location (`items[3].check`)."""
    return rubric_from_spec(_spec_from_text(text, path), path=path)


def builtin_rubric_text(name: str) -> str:
    """The TOML text of a built-in rubric (old names included: BUILTIN_ALIASES); FileNotFoundError
    when there is none."""
    name = BUILTIN_ALIASES.get(name, name)
    return resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")


def read_rubric_spec(path: str) -> RubricSpec:
    """The validated spec of a rubric as a run records its path (a file, or `builtin:NAME`), without
    resolving its checks (custom checks need not be loaded to read its judge items)."""
    if path.startswith("builtin:"):
        text = builtin_rubric_text(path[8:])
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    return _spec_from_text(text, path)


def builtin_rubrics() -> dict[str, str]:
    """Names of the built-in rubrics and their descriptions (old names still load: BUILTIN_ALIASES)."""
    out = {}
    for entry in sorted(resources.files(BUILTIN_PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text("utf-8"))  # (the description only: no `extends` to follow)
            out[entry.name[:-5]] = str(data.get("description", "")).strip().split("\n")[0]
    return out


def load_rubric(name_or_path: str | os.PathLike[str], *,
                checks: Sequence[str | os.PathLike[str] | ModuleType] = ()) -> Rubric:
    """A built-in rubric by name (`sql-agent`) or a rubric TOML file by path.

    `checks`: where the custom checks its items use come from: modules (imported or by name) or .py
    files. They are registered first and travel with the rubric to `score_run`'s workers.
    """
    sources = tuple(dict.fromkeys(load_checks(c) for c in checks))
    rubric = _load(os.fspath(name_or_path))
    return dataclasses.replace(rubric, check_sources=sources) if sources else rubric


def _load(ref: str) -> Rubric:
    text, path = _rubric_source(ref)
    return parse_rubric(text, path=path)


def _rubric_source(ref: str, relative_to: str = "") -> tuple[str, str]:
    """The TOML text of a rubric file (`ref`, relative to `relative_to`) or of a built-in rubric by
    name, and the path a run records for it (the file, or `builtin:NAME`)."""
    file = os.path.join(relative_to, ref)
    if os.path.isfile(file):
        with open(file, encoding="utf-8") as f:
            return f.read(), file
    try:
        return builtin_rubric_text(ref), f"builtin:{BUILTIN_ALIASES.get(ref, ref)}"
    except FileNotFoundError:
        pass
    import difflib

    names = list(builtin_rubrics())
    close = difflib.get_close_matches(ref, [*names, *BUILTIN_ALIASES], n=1)
    hint = f"did you mean '{close[0]}'?" if close else \
        f"built-in rubrics: {', '.join(names)}; or pass the path of a rubric .toml file"
    raise RubricError(f"no rubric file or built-in rubric named '{ref}'", path=ref, hint=hint)
