"""Custom checks: a checks file with @check functions, scored through rubricate.score; broken checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rubricate
from rubricate.errors import CheckError
from rubricate.rubrics import (
    CheckContext, Outcome, check, get_check, isolated_registry, load_checks_file, parse_rubric, registered_checks,
    run_check,
)
from rubricate.testing import answer, call, episode, result, user

CHECKS_FILE = '''
from rubricate import Outcome, check, failed, not_applicable, passed


@check(behavior="x", params={"min_calls": 1})
def made_enough_calls(ctx):
    """At least `min_calls` tool calls."""
    n = len(ctx.calls())
    if not ctx.episode.steps:
        return None
    return passed(f"{n} calls", 1) if n >= ctx.params["min_calls"] else failed(f"only {n} calls")


@check(behavior="x")
def says_please(ctx):
    return "please" in (ctx.episode.question or "").lower()


@check(behavior="x")
def never_applies(ctx):
    return None


@check(behavior="x")
def explodes(ctx):
    raise ZeroDivisionError("boom at step 3")


@check(behavior="x")
def returns_a_number(ctx):
    return 0.5


@check(behavior="x")
def cites_too_far(ctx):
    return Outcome("pass", "cites steps that do not exist", (-1, 0, 2, 99))
'''

RUBRIC = '''
id = "custom"
version = "1"

[[items]]
id = "made_enough_calls"
params = { min_calls = 2 }

[[items]]
id = "says_please"

[[items]]
id = "never_applies"

[[items]]
id = "explodes"

[[items]]
id = "returns_a_number"

[[items]]
id = "cites_too_far"
weight = 0

[[items]]
id = "discovers_tables"
'''


@pytest.fixture
def custom_checks(tmp_path):
    path = tmp_path / "my_checks.py"
    path.write_text(CHECKS_FILE, encoding="utf-8")
    with isolated_registry():
        load_checks_file(path)
        yield path


def _episode():
    return episode(user("Revenue in 2019, please?"),                     # 0
                   call("get_table_names"), result('["t"]'),              # 1, 2
                   call("sql_query", query="SELECT a FROM t"), result("1"),  # 3, 4
                   answer("1"))                                           # 5


def test_custom_checks_score_through_rubricate_score(custom_checks):
    rubric = parse_rubric(RUBRIC, path="custom.toml")
    verdicts = {v.item: v for v in rubricate.score(_episode(), rubric)}
    assert verdicts["made_enough_calls"].verdict == "pass"
    assert verdicts["made_enough_calls"].reason == "2 calls"
    assert verdicts["made_enough_calls"].evidence == (1,)
    assert verdicts["made_enough_calls"].behavior == "x"
    assert verdicts["says_please"].verdict == "pass" and verdicts["says_please"].score == 1.0
    assert verdicts["never_applies"].verdict == "na" and verdicts["never_applies"].score is None
    assert verdicts["discovers_tables"].verdict == "pass"


def test_a_check_that_raises_is_an_error_verdict_with_the_exception(custom_checks):
    (v,) = [v for v in rubricate.score(_episode(), parse_rubric(RUBRIC)) if v.item == "explodes"]
    assert v.verdict == "error"
    assert v.score is None
    assert "ZeroDivisionError" in v.reason and "boom at step 3" in v.reason


def test_a_check_returning_an_unsupported_type_is_an_error(custom_checks):
    (v,) = [v for v in rubricate.score(_episode(), parse_rubric(RUBRIC)) if v.item == "returns_a_number"]
    assert v.verdict == "error"
    assert "float" in v.reason


def test_evidence_out_of_range_is_dropped(custom_checks):
    (v,) = [v for v in rubricate.score(_episode(), parse_rubric(RUBRIC)) if v.item == "cites_too_far"]
    assert v.verdict == "pass"
    assert v.evidence == (0, 2)


def test_item_params_reach_the_check(custom_checks):
    rubric = parse_rubric(RUBRIC.replace("min_calls = 2", "min_calls = 3"))
    (v,) = [v for v in rubricate.score(_episode(), rubric) if v.item == "made_enough_calls"]
    assert v.verdict == "fail" and v.reason == "only 2 calls"


def test_every_item_is_na_on_an_episode_without_steps(custom_checks):
    empty = rubricate.Episode(id="empty", steps=[], source=rubricate.traces.Source("<t>"), format="test")
    verdicts = rubricate.score(empty, parse_rubric(RUBRIC))
    assert {v.verdict for v in verdicts} == {"na"}


def test_isolated_registry_does_not_leak_checks(tmp_path):
    path = tmp_path / "leaky.py"
    path.write_text(CHECKS_FILE.replace("made_enough_calls", "leaky_check"), encoding="utf-8")
    before = set(registered_checks())
    with isolated_registry():
        load_checks_file(path)
        assert "leaky_check" in registered_checks()
    assert set(registered_checks()) == before


def test_a_missing_checks_file_is_a_check_error(tmp_path):
    with pytest.raises(CheckError, match="no such checks file"):
        load_checks_file(tmp_path / "nope.py")


def test_a_checks_file_that_fails_to_import_is_a_check_error(tmp_path):
    path = tmp_path / "bad_checks.py"
    path.write_text("import definitely_not_a_module_here\n", encoding="utf-8")
    with isolated_registry(), pytest.raises(CheckError) as info:
        load_checks_file(path)
    assert str(path) in str(info.value) and "ModuleNotFoundError" in str(info.value)


def test_duplicate_registration_with_a_different_function_raises():
    with isolated_registry():
        @check(behavior="x", name="twice")
        def first(ctx):
            return True

        with pytest.raises(CheckError, match="'twice' is registered twice") as info:
            @check(behavior="x", name="twice")
            def second(ctx):
                return False

        assert info.value.hint
        assert get_check("twice").fn is first


def test_a_checks_file_cannot_replace_a_builtin_check(tmp_path):
    path = tmp_path / "shadow.py"
    path.write_text(textwrap.dedent('''
        from rubricate import check

        @check(behavior="discovery")
        def discovers_tables(ctx):
            return True
    '''), encoding="utf-8")
    builtin = get_check("discovers_tables").fn
    with isolated_registry(), pytest.raises(CheckError, match="registered twice"):
        load_checks_file(path)
    assert get_check("discovers_tables").fn is builtin


def test_registering_the_same_function_again_is_allowed():
    with isolated_registry():
        def again(ctx):
            return True

        check(behavior="x")(again)
        check(behavior="x")(again)
        assert get_check("again").fn is again


def test_check_needs_a_function():
    with isolated_registry(), pytest.raises(CheckError):
        check(behavior="x")("not a function")  # type: ignore[arg-type]


def test_run_check_turns_returns_into_outcomes():
    ctx = CheckContext(_episode(), {})
    assert run_check(lambda c: True, ctx).verdict == "pass"
    assert run_check(lambda c: False, ctx).verdict == "fail"
    assert run_check(lambda c: None, ctx).verdict == "na"
    assert run_check(lambda c: "yes", ctx).verdict == "error"
    assert run_check(lambda c: 1 / 0, ctx).reason.startswith("check raised ZeroDivisionError")
    out = Outcome("fail", "because", (3,))
    assert run_check(lambda c: out, ctx) is out
    for fn in (lambda c: True, lambda c: False, lambda c: None, lambda c: "yes", lambda c: 1 / 0):
        assert run_check(fn, ctx).reason


def test_isolated_registry_as_the_first_use_keeps_the_builtins():
    # In a fresh process the built-ins register lazily; entering isolated_registry() first must not
    # make them vanish when the block ends.
    code = textwrap.dedent("""
        from rubricate.rubrics import isolated_registry, registered_checks
        with isolated_registry():
            pass
        assert "discovers_tables" in registered_checks(), sorted(registered_checks())
    """)
    env = {**os.environ, "RUBRICATE_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- where a raising check failed

def test_a_raising_checks_reason_names_the_line_in_the_checks_file(custom_checks):
    (v,) = [v for v in rubricate.score(_episode(), parse_rubric(RUBRIC)) if v.item == "explodes"]
    line = CHECKS_FILE.splitlines().index('    raise ZeroDivisionError("boom at step 3")') + 1
    assert v.reason == f"check raised ZeroDivisionError: boom at step 3 (at {custom_checks}:{line}, in explodes)"


def test_an_error_inside_rubricate_is_placed_at_the_checks_own_line(tmp_path):
    path = tmp_path / "deep_checks.py"
    path.write_text(textwrap.dedent('''
        from rubricate import check

        @check(behavior="x")
        def asks_for_a_result_of_nothing(ctx):
            return ctx.episode.result_of(object())
    '''), encoding="utf-8")
    with isolated_registry():
        load_checks_file(path)
        rubric = parse_rubric('id = "d"\nversion = "1"\n[[items]]\nid = "asks_for_a_result_of_nothing"\n')
        (v,) = rubricate.score(_episode(), rubric)
    assert v.verdict == "error" and v.reason.startswith("check raised AttributeError")
    assert v.reason.endswith(f"(at {path}:6, in asks_for_a_result_of_nothing)")


def test_a_long_message_keeps_the_location():
    from rubricate.rubrics._check import MAX_REASON

    def long(ctx):
        raise ValueError("x" * 2000)

    reason = run_check(long, CheckContext(_episode(), {})).reason
    assert len(reason) <= MAX_REASON and reason.endswith(", in long)") and "test_custom_checks.py:" in reason


# ---------------------------------------------------------------- checks from modules, registered once

MODULE_CHECKS = '''
from rubricate import check


@check(behavior="x")
def module_check(ctx):
    """Passes when the episode has a tool call."""
    return bool(ctx.calls())
'''
MODULE_RUBRIC = 'id = "mod"\nversion = "1"\n[[items]]\nid = "module_check"\n'


@pytest.fixture
def checks_module(tmp_path, monkeypatch):
    (tmp_path / "fidelity_user_checks.py").write_text(MODULE_CHECKS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with isolated_registry():
        yield tmp_path / "fidelity_user_checks.py"
        sys.modules.pop("fidelity_user_checks", None)


def test_importing_a_checks_module_then_loading_its_file_registers_it_once(checks_module):
    import importlib

    module = importlib.import_module("fidelity_user_checks")
    load_checks_file(checks_module)  # the same functions, imported again under another name
    assert get_check("module_check").fn.__code__.co_filename == str(checks_module)
    assert module.module_check.__module__ == "fidelity_user_checks"


def test_load_rubric_takes_checks_as_modules_names_or_files(checks_module, tmp_path):
    import importlib

    toml = tmp_path / "mod.toml"
    toml.write_text(MODULE_RUBRIC, encoding="utf-8")
    by_name = rubricate.load_rubric(toml, checks=["fidelity_user_checks"])
    assert by_name.check_sources == ("module:fidelity_user_checks",)
    by_module = rubricate.load_rubric(toml, checks=[importlib.import_module("fidelity_user_checks")])
    assert by_module.check_sources == ("module:fidelity_user_checks",) and by_module.hash == by_name.hash
    by_path = rubricate.load_rubric(toml, checks=[checks_module])
    assert by_path.check_sources == (str(checks_module),)
    assert [v.verdict for v in rubricate.score(_episode(), by_path)] == ["pass"]
    with pytest.raises(CheckError, match="cannot be imported"):
        rubricate.load_rubric(toml, checks=["no_such_checks_module_here"])


def test_module_checks_reach_spawned_scoring_workers(checks_module, tmp_path, monkeypatch):
    from rubricate.scoring import _engine, _workers

    monkeypatch.setattr(_workers, "START_METHOD", "spawn")
    monkeypatch.setitem(_engine.BYTES_PER_WORKER, "spawn", 1)
    toml = tmp_path / "mod.toml"
    toml.write_text(MODULE_RUBRIC, encoding="utf-8")
    rubric = rubricate.load_rubric(toml, checks=["fidelity_user_checks"])
    traces = Path(__file__).resolve().parents[2] / "examples" / "wiki-search" / "traces"
    result = rubricate.score_run(traces, rubric, tmp_path / "run", workers=2)
    run = rubricate.open_run(result.path)
    assert run.info["timings"]["workers"] == 2
    assert set(run.verdicts()["verdict"]) <= {"pass", "fail"}  # never an unknown-check error
