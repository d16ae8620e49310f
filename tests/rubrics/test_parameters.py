"""Item parameters: which keys a check reads (found in its source), the refusal of parameters no item
reads (a misspelling would otherwise leave its item on the default), and what `parameter_rows`
(`rubricate rubrics show`) reports."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rubricate.errors import RubricError
from rubricate.rubrics import (
    BUILTIN_ALIASES, PARAM_HELP, CheckContext, builtin_rubrics, check, isolated_registry, load_checks_file,
    load_rubric, parameter_rows, parse_rubric, registered_checks, run_check,
)
from rubricate.rubrics._params import ENGINE_PARAMS, _walk, read_params

from ._support import builder_episodes

HEAD = 'id = "p"\nversion = "1"\n'


class Recording(Mapping[str, Any]):
    """Item parameters that remember every key a check looks up."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data, self.read = dict(data), set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a built-in check iterates over its parameters: the source scan cannot follow it")

    def __len__(self) -> int:
        return len(self.data)


BUILTIN_CHECKS = sorted(n for n, c in registered_checks().items() if c.fn.__module__.startswith("rubricate."))


@pytest.mark.parametrize("name", BUILTIN_CHECKS)
def test_a_builtin_check_reads_no_parameter_its_source_scan_misses(name):
    """The scan behind the unused-parameter error must not miss a key a built-in really reads (that
    would refuse a rubric that sets it): run each built-in on every builder episode and compare."""
    chk = registered_checks()[name]
    keys, is_open = chk.reads
    assert not is_open, f"{name}: the scan cannot follow how it reads its parameters"
    for rubric_name in builtin_rubrics():
        rubric = load_rubric(rubric_name)
        for item in (i for i in rubric.checks if i.check is chk):
            for ep in builder_episodes():
                params = Recording(item.params)
                run_check(chk.fn, CheckContext(ep, params))
                assert params.read - keys <= set(ENGINE_PARAMS), (name, ep.id, params.read - keys)


def test_a_function_without_source_is_open():
    fn = eval("lambda ctx: ctx.params['x']")  # noqa: S307  (compiled from a string: no source file to scan)
    assert read_params(fn) == (frozenset(), True)


def test_the_scan_reads_a_checks_file(tmp_path):
    path = tmp_path / "scan_checks.py"
    path.write_text(textwrap.dedent('''
        from rubricate import check

        def _limit(ctx):
            return ctx.params["limit"]

        @check(behavior="x")
        def scanned(c):
            p = c.params
            writes = c.calls("write")
            return len(writes) <= _limit(c) and p.get("strict", True) and bool(c.answer)

        @check(behavior="x")
        def dynamic(ctx):
            return all(ctx.params[k] for k in ("a", "b"))
    '''), encoding="utf-8")
    with isolated_registry():
        load_checks_file(path)
        checks = registered_checks()
        assert checks["scanned"].reads == (frozenset({"limit", "strict", "write_tools", "answer_tools"}), False)
        assert checks["dynamic"].reads[1] is True  # a computed key: it may read anything


# ---------------------------------------------------------------- parameters no item reads

def test_a_misspelled_shared_parameter_is_refused_with_the_close_name(tmp_path):
    path = tmp_path / "auth_checks.py"
    path.write_text(textwrap.dedent('''
        from rubricate import check

        @check(behavior="authentication")
        def identifies_user(ctx):
            return bool(ctx.calls("auth"))
    '''), encoding="utf-8")
    with isolated_registry():
        load_checks_file(path)
        text = HEAD + '[params]\nauth_tool = ["get_user_details"]\n\n[[items]]\nid = "identifies_user"\n'
        with pytest.raises(RubricError) as info:
            parse_rubric(text, path="r.toml")
        assert str(info.value) == "r.toml: params.auth_tool: no item of the rubric reads parameter 'auth_tool'"
        assert info.value.hint == "did you mean 'auth_tools'?"
        assert info.value.location == "params.auth_tool"
        fixed = parse_rubric(text.replace("auth_tool =", "auth_tools ="), path="r.toml")
        assert fixed.item("identifies_user").params["auth_tools"] == frozenset({"get_user_details"})


def test_an_item_parameter_its_check_does_not_read_is_refused():
    text = HEAD + '[[items]]\nid = "recovers_from_errors"\nparams = { discovery_tools = ["list"] }\n'
    with pytest.raises(RubricError) as info:
        parse_rubric(text, path="r.toml")
    assert str(info.value).startswith("r.toml: items[0].params.discovery_tools: item 'recovers_from_errors' "
                                      "(check 'recovers_from_errors') does not read parameter 'discovery_tools'")
    assert "answer_tools" in (info.value.hint or "")
    with pytest.raises(RubricError, match=r"items\[0\]\.params\.budget: .*a judge item"):
        parse_rubric(HEAD + '[[items]]\nid = "j"\nkind = "judge"\nquestion = "Ok?"\nparams = { budget = 3 }\n')


def test_engine_parameters_and_open_checks_accept_anything():
    assert parse_rubric(HEAD + '[params]\nneeds_tools = true\n[[items]]\nid = "answers_question"\n')
    with isolated_registry():
        @check(behavior="x", params={"threshold": 1})
        def declared(ctx):
            return True

        assert parse_rubric(HEAD + '[params]\nthreshold = 2\n[[items]]\nid = "declared"\n')


@pytest.mark.parametrize("name", [*builtin_rubrics(), *BUILTIN_ALIASES])
def test_every_builtin_rubric_sets_only_parameters_its_items_read(name):
    assert load_rubric(name).items  # loading validates the parameters


# ---------------------------------------------------------------- what `rubrics show` reports

def test_parameter_rows_give_value_default_origin_and_meaning():
    rows = {(r["item"], r["name"]): r for r in parameter_rows(load_rubric("customer-service"))}
    auth = rows[("authenticates_before_write", "auth_tools")]
    assert auth["set_in"] == "rubric" and "get_user_details" in auth["value"]
    assert auth["meaning"] == PARAM_HELP["auth_tools"]
    confirm = rows[("confirms_before_write", "confirm_words")]
    assert confirm["set_in"] == "default" and confirm["value"] == confirm["default"] and "yes" in confirm["value"]
    assert ("answers_question", "handoff_tools") in rows and ("answers_question", "auth_tools") not in rows
    assert all(r["meaning"] for r in rows.values()), [k for k, r in rows.items() if not r["meaning"]]


def test_the_scan_walks_every_node_once_in_ast_walk_order_with_its_parent() -> None:
    """`_walk` (one pass: nodes and parents) sees what `ast.walk` sees, in its order, on the sources of
    every module that defines a built-in check; the parent map is the one `iter_child_nodes` gives."""
    modules = {inspect.getsourcefile(c.fn) for c in registered_checks().values()
               if c.fn.__module__.startswith("rubricate.")}
    assert len(modules) >= 4
    for path in sorted(modules):
        tree = ast.parse(Path(path).read_text())
        nodes, parents = _walk(tree)
        assert nodes == list(ast.walk(tree))
        assert parents == {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
