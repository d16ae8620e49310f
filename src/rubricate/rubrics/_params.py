"""Item parameters: what each built-in parameter means, and which parameters a check reads.

A check's parameters are its declared defaults (`@check(params=...)`) plus the keys its source
reads: `ctx.params["k"]`, `ctx.params.get("k")`, `ctx.tools("role")` / `ctx.calls("role")` (the
parameter `role_tools`), `ctx.answer` (`answer_tools`), followed into the module's own functions
that it hands `ctx` or `ctx.params` to. A check that reads a key it computes at run time, or hands
`ctx` to code it cannot follow, is *open*: it may read any parameter. The rubric loader uses this
to refuse parameters that no item reads (a misspelled `auth_tool` for `auth_tools`).
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import textwrap
from collections.abc import Callable, Sequence
from types import FunctionType
from typing import Any

# Read by the scoring engine itself, for every item.
ENGINE_PARAMS = {"needs_tools": "true: the item is na on text-only completions (the agent could not call tools)."}

PARAM_HELP: dict[str, str] = {
    **ENGINE_PARAMS,
    "discovery_tools": "Tools that list or search what exists (list tables, search pages): the discover role.",
    "schema_tools": "Tools that show an entity's structure (describe a table, view a page's sections): the "
                    "inspect role.",
    "query_tools": "Tools that read or query content (run SQL, read a section): the query role.",
    "answer_tools": "Tools whose call is the final answer (its `answer` argument); empty: the last assistant "
                    "text is the answer.",
    "handoff_tools": "Tools that hand the conversation to a person (transfer_to_human_agents): a legitimate "
                     "ending instead of an answer.",
    "end_markers": "Text a simulated user writes to end the conversation (###STOP###): a last user turn with one "
                   "needs no reply; one without it was never answered.",
    "entity_args": "Argument names that name the entity a call works on (table_name, page_id).",
    "entity_separator": "Cut an entity argument at this separator before comparing (section id 'page:section' "
                        "-> 'page'); empty: compare whole values.",
    "sql_args": "Argument names holding SQL; the tables in its FROM/JOIN are the entities a query reads.",
    "max_tool_calls": "The most tool calls an episode may make.",
    "max_steps": "The most steps (messages) an episode may have.",
    "auth_tools": "Tools that identify or authenticate the user (find_user_id_by_email, get_user_details, "
                  "authenticate_user): one must succeed before the first write.",
    "write_tools": "Tools that change the world for the user (book, cancel, modify, refund, send): the writes "
                   "that need authentication and confirmation.",
    "confirm_words": "Words or phrases of a user turn that confirm an action the agent proposed (yes, go ahead, "
                     "proceed).",
    "deny_words": "Words that make a user turn a refusal, not a confirmation, when it starts with them (no, wait).",
    "refusal_words": "Phrases that, right before a word for an action, make an agent sentence decline it "
                     "(cannot, unable to: \"it cannot be cancelled\").",
    "action_words": "For each write verb (the first word of a write tool's name), the words a message uses for "
                    "that action (update: modify, change, upgrade, ...).",
}

_ROLE_METHODS = {"tools", "calls"}


@functools.lru_cache(maxsize=None)
def read_params(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """(parameter keys `fn`'s source reads, open): open when it may read keys not found here."""
    keys: set[str] = set()
    is_open = _Scan(keys).function(fn)
    return frozenset(keys), is_open


class _Scan:
    """One walk over a check's source and the module functions it hands its context to."""

    def __init__(self, keys: set[str]) -> None:
        self.keys = keys
        self.seen: set[int] = set()
        self.maps: set[str] = {"params"}  # names bound to the parameters mapping

    def function(self, fn: Any) -> bool:
        if id(fn) in self.seen:
            return False
        self.seen.add(id(fn))
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            return True
        code = getattr(fn, "__code__", None)
        contexts = {"ctx", "context", *(code.co_varnames[:1] if code is not None and code.co_argcount else ())}
        nodes, parents = _walk(tree)
        self.maps |= {t.id for n in nodes if isinstance(n, ast.Assign) and self._is_mapping(n.value)
                      for t in n.targets if isinstance(t, ast.Name)}
        is_open = False
        for node in nodes:
            if isinstance(node, ast.Attribute) and node.attr == "answer" and isinstance(node.ctx, ast.Load):
                self.keys.add("answer_tools")
            if self._is_mapping(node) and isinstance(getattr(node, "ctx", None), ast.Load):
                is_open |= self._read(node, parents.get(node))
            elif isinstance(node, ast.Call):
                is_open |= self._call(node, contexts, getattr(fn, "__globals__", {}))
        return is_open

    def _is_mapping(self, node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "params") or \
            (isinstance(node, ast.Name) and node.id in self.maps)

    def _read(self, node: ast.AST, parent: ast.AST | None) -> bool:
        """A use of the parameters mapping: `params["k"]`; `.get(...)`, an alias and an argument are
        read elsewhere; any other use (iteration, `in`, `.items()`) may read any key (open)."""
        if isinstance(parent, ast.Subscript) and parent.value is node:
            return _add(parent.slice, self.keys, "")
        if isinstance(parent, ast.Attribute) and parent.attr == "get":
            return False
        return not isinstance(parent, (ast.Assign, ast.Call, ast.Starred))

    def _call(self, node: ast.Call, contexts: set[str], names: dict[str, Any]) -> bool:
        func = node.func
        first = node.args[0] if node.args else None
        if isinstance(func, ast.Attribute) and func.attr == "get" and self._is_mapping(func.value):
            return _add(first, self.keys, "")
        if isinstance(func, ast.Attribute) and func.attr in _ROLE_METHODS and _is_name(func.value, contexts):
            return first is not None and _add(first, self.keys, "_tools")
        if isinstance(func, ast.Name) and func.id == "tool_names" and len(node.args) > 1:
            return _add(node.args[1], self.keys, "_tools")
        handed = [*node.args, *(k.value for k in node.keywords)]
        if not any(_is_name(a, contexts) or self._is_mapping(a) or
                   (isinstance(a, ast.Starred) and self._is_mapping(a.value)) for a in handed):
            return False
        target = names.get(func.id) if isinstance(func, ast.Name) else None
        return not isinstance(target, FunctionType) or self.function(target)


def _walk(tree: ast.AST) -> tuple[list[ast.AST], dict[ast.AST, ast.AST]]:
    """Every node of `tree` in `ast.walk`'s order, and each node's parent: one pass (a check's scan
    is part of loading a rubric, so of every command's start-up)."""
    nodes, parents = [tree], {}
    for node in nodes:  # grows as it goes: breadth first
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                nodes.append(value)
                parents[value] = node
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        nodes.append(item)
                        parents[item] = node
    return nodes, parents


def _is_name(node: ast.AST, names: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in names


def _add(node: ast.AST | None, keys: set[str], suffix: str) -> bool:
    """Add a constant string key; True (open) when the key is computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        keys.add(node.value + suffix)
        return False
    return True


def unread_params(spec: Any, items: Sequence[Any], path: str | None) -> None:
    """Refuse a parameter that no item reads (RubricError with a did-you-mean hint): a misspelled
    parameter would otherwise leave its item on the default, silently."""
    from ..errors import RubricError

    where = path or f"rubric '{spec.id}'"
    read_by_any: set[str] = set(ENGINE_PARAMS)
    any_open = False
    for k, item in enumerate(items):
        reads, is_open = item.check.reads if item.check is not None else (frozenset(), False)
        read_by_any |= reads
        any_open |= is_open
        own = set(reads) | set(ENGINE_PARAMS)
        for key in sorted(set(item.spec.params) - own) if not is_open else ():
            what = f"check '{item.check.name}'" if item.check is not None else "a judge item"
            raise RubricError(f"{where}: items[{k}].params.{key}: item '{item.id}' ({what}) does not read "
                              f"parameter '{key}'", path=path, location=f"items[{k}].params.{key}",
                              hint=_hint(key, own - set(ENGINE_PARAMS)))
    for key in sorted(set(spec.params) - read_by_any) if not any_open else ():
        raise RubricError(f"{where}: params.{key}: no item of the rubric reads parameter '{key}'",
                          path=path, location=f"params.{key}", hint=_hint(key, read_by_any - set(ENGINE_PARAMS)))


def _hint(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if known:
        return f"parameters its items read: {', '.join(sorted(known))}; `rubricate rubrics show` lists them"
    return "its items read no parameters: remove it"


def parameter_rows(rubric: Any) -> list[dict[str, Any]]:
    """Every parameter each check item reads: its value, the check's default, where the value comes
    from (default, rubric or item) and what it means. Parameters an open check may read besides are
    not listed."""
    rows = []
    shared = rubric.spec.params if rubric.spec is not None else {}
    for item in rubric.checks:
        reads, _ = item.check.reads
        own = item.spec.params if item.spec is not None else {}
        for key in sorted(reads | (set(own) | set(shared)) & set(ENGINE_PARAMS)):
            default = item.check.params.get(key)
            if key.endswith("_tools") and isinstance(default, (list, tuple, set, frozenset)):
                default = frozenset(str(v).lower() for v in default)  # as an item holds it
            source = "item" if key in own else "rubric" if key in shared else "default"
            rows.append({"item": item.id, "name": key, "value": _plain(item.params.get(key)),
                         "default": _plain(default), "set_in": source,
                         "meaning": item.check.param_help.get(key) or PARAM_HELP.get(key, "")})
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value
