"""Programmatic rubric items: the `@check` decorator, its registry, and what a check returns.

A check is a function of one `CheckContext` (the episode plus the item's parameters) returning
`True`/`False` (pass/fail), `None` (not applicable) or an `Outcome` with a reason and the step
indices it rests on. A check that raises gives an `error` verdict, never a `fail`.

    @check(behavior="discovery")
    def lists_tables_first(ctx: CheckContext) -> Outcome | bool | None: ...
"""

from __future__ import annotations

import contextlib
import functools
import difflib
import importlib.util
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import msgspec

from .._plugins import entry_points
from ..errors import CheckError, UnknownCheckError
from ..traces import Episode, ToolCall
from ._params import read_params
from ._reasons import reasons

VerdictValue = Literal["pass", "fail", "na", "error"]
VERDICTS: tuple[VerdictValue, ...] = ("pass", "fail", "na", "error")


class Outcome(msgspec.Struct, frozen=True):
    """What a check decided: verdict, a one-sentence reason, and the step indices it rests on."""

    verdict: VerdictValue
    reason: str = ""
    evidence: tuple[int, ...] = ()


def passed(reason: str, *evidence: int) -> Outcome:
    return Outcome("pass", reason, tuple(sorted(set(evidence))))


def failed(reason: str, *evidence: int) -> Outcome:
    return Outcome("fail", reason, tuple(sorted(set(evidence))))


def not_applicable(reason: str) -> Outcome:
    return Outcome("na", reason)


@dataclass(frozen=True, slots=True)
class Answer:
    """The episode's final answer as the rubric defines it: the text and the step it is in."""

    text: str
    step: int


class EpisodeFacts:
    """What every item of a rubric asks of one episode, computed once per episode and shared:
    the tool calls as (step index, call, lower-cased name), and the answer per answer-tool set."""

    __slots__ = ("episode", "_calls", "_answers")

    def __init__(self, episode: Episode) -> None:
        self.episode = episode
        self._calls: list[tuple[int, ToolCall, str]] | None = None
        self._answers: dict[frozenset[str], Answer | None] = {}

    @property
    def calls(self) -> list[tuple[int, ToolCall, str]]:
        if self._calls is None:
            self._calls = [(s.index, c, c.name.lower()) for s in self.episode.steps if s.tool_calls
                           for c in s.tool_calls]
        return self._calls

    def answer(self, answer_tools: frozenset[str]) -> Answer | None:
        if answer_tools not in self._answers:
            self._answers[answer_tools] = self._find_answer(answer_tools)
        return self._answers[answer_tools]

    def _find_answer(self, answer_tools: frozenset[str]) -> Answer | None:
        if answer_tools:
            last = None
            for index, call, name in self.calls:
                if name in answer_tools:
                    last = (index, call)
            if last is not None:
                index, call = last
                args = call.arguments or {}
                value = args.get("answer", next((v for v in args.values() if isinstance(v, (str, int, float))),
                                                call.arguments_raw))
                return Answer(str(value), index)
        final = self.episode.final_answer
        if final is None:
            return None
        for step in reversed(self.episode.steps):
            if step.role == "assistant" and step.content == final:
                return Answer(final, step.index)
        return Answer(final, len(self.episode.steps) - 1)


def tool_names(params: Mapping[str, Any], role: str) -> frozenset[str]:
    """Tool names playing `role` in an item's parameters (`<role>_tools`), lower-cased."""
    value = params.get(f"{role}_tools", ())
    return value if isinstance(value, frozenset) else frozenset(str(v).lower() for v in value)


class CheckContext:
    """The one input of a check: `episode`, the item's `params`, and derived views of the episode."""

    __slots__ = ("episode", "params", "facts")

    def __init__(self, episode: Episode, params: Mapping[str, Any], facts: EpisodeFacts | None = None) -> None:
        self.episode = episode
        self.params = params
        self.facts = facts if facts is not None else EpisodeFacts(episode)

    def tools(self, role: str) -> frozenset[str]:
        """Tool names playing `role` (parameter `<role>_tools`), lower-cased."""
        return tool_names(self.params, role)

    def calls(self, role: str | None = None) -> list[tuple[int, ToolCall]]:
        """(step index, call) of every tool call, or of the calls whose tool plays `role`."""
        if role is None:
            return [(i, c) for i, c, _ in self.facts.calls]
        names = self.tools(role)
        return [(i, c) for i, c, n in self.facts.calls if n in names]

    def succeeded(self, call: ToolCall) -> bool:
        """True when the call got a result that is not an error."""
        result = self.episode.result_of(call)
        return result is not None and not result.is_error

    @property
    def answer(self) -> Answer | None:
        """The last call of an answer tool (its `answer` argument), else the final assistant text."""
        return self.facts.answer(self.tools("answer"))


EPISODE = reasons("episode", no_steps="the episode has no steps")
_EMPTY = Outcome("na", EPISODE.no_steps())
CheckFn = Callable[[CheckContext], "Outcome | bool | None"]


@dataclass(frozen=True, slots=True)
class Check:
    """A registered check: its name, default behavior, description, version and function."""

    name: str
    behavior: str
    description: str
    version: str
    fn: CheckFn
    params: dict[str, Any]
    param_help: dict[str, str] = field(default_factory=dict)

    @property
    def reads(self) -> tuple[frozenset[str], bool]:
        """(the parameter keys this check takes, open): open when it may read others too. The keys its
        source reads (see `_params`), and for a custom check also those it declares defaults for (a
        built-in's defaults are shared role lists, not a statement of use)."""
        keys, is_open = read_params(self.fn)
        if not self.fn.__module__.startswith("rubricate."):
            keys |= frozenset(self.params)
        return keys, is_open


_CHECKS: dict[str, Check] = {}
_BY_MODULE: dict[str, dict[str, Check]] = {}  # module name -> the checks it registered
_plugins_loaded = False


def check(behavior: str, *, name: str | None = None, description: str | None = None,
          version: str = "1", params: Mapping[str, Any] | None = None,
          param_help: Mapping[str, str] | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register a function of one CheckContext as a programmatic rubric item.

    `params` are the check's defaults; a rubric's `[params]` and an item's `params` override them.
    `param_help` says what each parameter means (`rubricate rubrics show` prints it). Registering the
    same function again (the same file and name, e.g. a module imported and then loaded as a checks
    file) replaces the earlier registration; another function under a taken name is an error.
    """

    def register(fn: CheckFn) -> CheckFn:
        if not callable(fn):
            raise CheckError(f"@check must decorate a function, got {type(fn).__name__}")
        key = name or fn.__name__
        namespace = _plugin_namespace(fn.__module__)
        if namespace:
            key = f"{namespace}/{key}"
        existing = _CHECKS.get(key)
        if existing is not None and _source(existing.fn) != _source(fn):
            raise CheckError(f"check '{key}' is registered twice ({existing.fn.__module__} and {fn.__module__})",
                             hint="rename one of them with @check(..., name='...')")
        doc = description or " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        registered = Check(key, behavior, doc, version, fn, dict(params or {}), dict(param_help or {}))
        _CHECKS[key] = registered
        _BY_MODULE.setdefault(fn.__module__, {})[key] = registered
        return fn

    return register


def _source(fn: Any) -> tuple[str, str]:
    """Where a function is defined: its file (resolved) and qualified name. The same function imported
    twice (as `my_checks` and as a checks file) has the same source."""
    code = getattr(fn, "__code__", None)
    path = os.path.realpath(code.co_filename) if code is not None else getattr(fn, "__module__", "")
    return path, getattr(fn, "__qualname__", repr(fn))


@functools.lru_cache(maxsize=1)
def _plugin_packages() -> dict[str, str]:
    """Top-level module of each `rubricate.checks` entry point -> its name (the namespace)."""
    return {ep.value.split(":")[0].split(".")[0]: ep.name for ep in entry_points("rubricate.checks")}


def _plugin_namespace(module: str) -> str | None:
    """A check defined in a plugin package is namespaced by its entry point, however it was imported
    (e.g. first through the package's `rubricate.formats` entry point)."""
    if module.startswith("rubricate.") or module.startswith("rubricate_user_checks_"):
        return None
    return _plugin_packages().get(module.split(".")[0])


def _load_builtins_and_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from . import checks  # noqa: F401  (built-in checks register on import)

    for ep in entry_points("rubricate.checks"):
        ep.load()  # its @check functions are namespaced `ep.name/...` (see _plugin_namespace)


def registered_checks() -> dict[str, Check]:
    _load_builtins_and_plugins()
    return dict(sorted(_CHECKS.items()))


def get_check(name: str, *, where: str = "") -> Check:
    checks = registered_checks()
    if name in checks:
        return checks[name]
    close = difflib.get_close_matches(name, checks, n=1)
    hint = f"did you mean '{close[0]}'?" if close else \
        "register it with @check in a module passed to --checks, or see `rubricate rubrics checks`"
    prefix = f"{where}: " if where else ""
    raise UnknownCheckError(f"{prefix}unknown check '{name}'", name=name, hint=hint)


def load_checks_file(path: str | os.PathLike[str]) -> None:
    """Import a Python file whose `@check` functions register custom items (`--checks FILE`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckError(f"{path}: no such checks file", hint="pass the path of a .py file with @check functions")
    _load_builtins_and_plugins()
    module_name = f"rubricate_user_checks_{abs(hash(os.path.abspath(path)))}"
    module = sys.modules.get(module_name)
    if module is not None and all(_CHECKS.get(k) is c for k, c in _registered_by(module_name).items()):
        return  # imported before, and its checks are still registered (isolated_registry may drop them)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CheckError(f"{path}: cannot import as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise CheckError(f"{path}: importing the checks file failed: {type(exc).__name__}: {exc}") from exc


def _registered_by(module_name: str) -> dict[str, Check]:
    """The checks a module registered when it was loaded (remembered across isolated_registry)."""
    return _BY_MODULE.get(module_name, {})


MODULE_PREFIX = "module:"


def load_checks(source: str | os.PathLike[str] | ModuleType) -> str:
    """Register the `@check` functions of `source`: a module (imported already), `module:NAME` or an
    importable module name, or the path of a .py file. Returns the source as a string that another
    process can load again with `load_checks` (`module:NAME` or an absolute path)."""
    if isinstance(source, ModuleType):
        _load_builtins_and_plugins()
        name = source.__name__
        if name.startswith("rubricate_user_checks_") or name == "__main__":
            path = getattr(source, "__file__", None)
            if path is None:
                raise CheckError(f"module {name!r} has no file to load its checks from in another process")
            return os.path.abspath(path)
        return MODULE_PREFIX + name
    text = os.fspath(source)
    if text.startswith(MODULE_PREFIX) or (not os.path.exists(text) and _is_module_name(text)):
        name = text.removeprefix(MODULE_PREFIX)
        _load_builtins_and_plugins()
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CheckError(f"checks module {name!r} cannot be imported: {exc}",
                             hint="pass an importable module name or the path of a .py file") from exc
        return MODULE_PREFIX + name
    load_checks_file(text)
    return os.path.abspath(text)


def _is_module_name(text: str) -> bool:
    return all(part.isidentifier() for part in text.split(".")) and not text.endswith(".py")


def run_check(fn: CheckFn, ctx: CheckContext) -> Outcome:
    """Call a check and turn whatever it returns (or raises) into an Outcome.

    An episode without steps is `na` for every item: there is nothing to judge.
    """
    if not ctx.episode.steps:
        return _EMPTY
    try:
        result = fn(ctx)
    except Exception as exc:  # a broken check is an error verdict, never a fail
        return Outcome("error", raised_reason(exc))
    if result is True:
        return Outcome("pass", "check returned True")
    if result is False:
        return Outcome("fail", "check returned False")
    if result is None:
        return Outcome("na", "check returned None (not applicable)")
    if isinstance(result, Outcome):
        steps = len(ctx.episode.steps)
        if any(not (0 <= i < steps) for i in result.evidence):
            return Outcome(result.verdict, result.reason, tuple(i for i in result.evidence if 0 <= i < steps))
        return result
    return Outcome("error", f"check returned {type(result).__name__}; expected Outcome, bool or None")


_OURS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the rubricate package
_LIBRARIES = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")})
MAX_REASON = 500


def raised_reason(exc: BaseException) -> str:
    """The error reason of a check that raised: the exception and where, in the check's own code
    (the innermost frame outside rubricate and the standard library), e.g.
    "check raised KeyError: 'x' (at my_checks.py:12, in few_calls)"."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # [0] is run_check
    mine = [f for f in frames if not f.filename.startswith(_OURS) and
            not (f.filename.startswith(_LIBRARIES) and "site-packages" not in f.filename)]
    frame = mine[-1] if mine else (frames[-1] if frames else None)
    where = ""
    if frame is not None:
        path = os.path.relpath(frame.filename) if not os.path.isabs(frame.filename) or \
            frame.filename.startswith(os.getcwd() + os.sep) else frame.filename
        where = f" (at {path}:{frame.lineno}, in {frame.name})"
    message = f"check raised {type(exc).__name__}: {exc}"
    return message[: MAX_REASON - len(where)] + where


@contextlib.contextmanager
def isolated_registry() -> Iterator[None]:
    """Test helper: register checks inside the block without leaking them to other tests."""
    _load_builtins_and_plugins()  # else built-ins first imported inside the block would vanish after it
    saved = dict(_CHECKS)
    try:
        yield
    finally:
        _CHECKS.clear()
        _CHECKS.update(saved)
