"""The kernel's one declaration (src/kernel/checks.h: its checks, the parameters they read, the
reasons they give) against the Python side that derives from it, and what the installed kernel
exports."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.rubrics import load_rubric, registered_checks
from rubricate.rubrics.checks import REASONS
from rubricate.scoring import _native


def test_every_declared_check_is_a_builtin_check(native: Any) -> None:
    checks = registered_checks()
    assert native.CHECKS and len(set(native.CHECKS)) == len(native.CHECKS)
    for name in native.CHECKS:
        assert name in checks, name
        assert checks[name].fn.__module__.startswith("rubricate.rubrics.checks."), name
    assert set(_native.native_checks().values()) == set(native.CHECKS)


def test_every_declared_reason_has_its_template_with_the_same_fields(native: Any) -> None:
    codes = [code for code, _ in native.REASONS]
    assert len(set(codes)) == len(codes)
    for code, fields in native.REASONS:
        assert code in REASONS, f"the kernel gives {code}, which has no template"
        assert sorted(fields) == sorted(REASONS[code].fields), code
    templates = _native.reason_templates(native)
    query_first = templates[codes.index("discovers_tables.query_first")]
    assert query_first == ((("first query at step ", 0, False), (" comes before discovery at step ", 1, False)),
                           (("", 0, False),), ", ")
    contains = templates[codes.index("answer_correct.contains")]
    assert contains[0] == (("the answer contains the expected text ", 0, True),)


def test_every_reason_of_a_native_check_is_declared_for_the_kernel(native: Any) -> None:
    """The kernel declares every reason the Python versions of its checks give (a reason missing
    from checks.h would be a reason the kernel cannot give)."""
    declared = {code for code, _ in native.REASONS}
    prefixes = {f"{name}." for name in native.CHECKS} | {"episode."}
    table = {code for code in REASONS if any(code.startswith(p) for p in prefixes)}
    assert table <= declared, table - declared


def test_a_reason_the_table_lacks_stops_the_renderer(native: Any) -> None:
    class Fake:
        REASONS = (("discovers_tables.query_first", ("query", "discovery")), ("no_such.reason", ()))

    with pytest.raises(ValueError, match="no_such.reason"):
        _native.reason_templates(Fake)

    class Swapped:
        REASONS = (("discovers_tables.query_first", ("query", "answer")),)

    with pytest.raises(ValueError, match="query_first"):
        _native.reason_templates(Swapped)


def test_parameters_by_kind(native: Any) -> None:
    kinds = dict(native.PARAMS)
    assert set(kinds.values()) <= {"TOOLS", "KEYS", "TEXT"}
    item = load_rubric("tool-discipline").item("grounded_answer")
    params = _native.kernel_params(item.params)
    assert params is not None and set(params) == set(kinds)
    assert params["answer_tools"] == ("final_answer", "submit_answer")  # sorted, lower-cased
    assert _native.kernel_params({**item.params, "entity_separator": 3}) is None
    assert _native.kernel_params({**item.params, "entity_args": ("a\0b",)}) is None
    assert _native.kernel_params({**item.params, "entity_args": ("table", 7)})["entity_args"] == ("table",)


def test_the_installed_kernel_has_no_debug_entry_points(native: Any) -> None:
    if os.environ.get("RUBRICATE_KERNEL_SO"):
        pytest.skip("RUBRICATE_KERNEL_SO names a build of scripts/build-kernel.sh, not the installed kernel")
    assert native.DEBUG == 0
    assert [name for name in dir(native) if name.startswith("_debug")] == []


def test_the_test_build_has_them(kernel: Any) -> None:
    assert kernel.DEBUG == 1 and callable(kernel._debug_numbers)
    assert kernel.CHECKS == _native._kernel.CHECKS  # the same sources


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_SCALAR = st.one_of(st.integers(-(2**63), 2**63 - 1), _TEXT)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_kernel_fills_every_reason_as_the_python_table_renders_it(kernel: Any, data: st.DataObject) -> None:
    """Every reason the kernel declares, with arguments of every kind (ints, any text, lists of
    values or of tuples), filled by the kernel from the pieces equals the Python rendering."""
    import msgspec

    plan = _plan(kernel, msgspec)
    k = data.draw(st.integers(0, len(kernel.REASONS) - 1))
    code, fields = kernel.REASONS[k]
    reason = REASONS[code]
    width = max(1, len([f for _, f, _ in reason.pieces()[1] if f is not None]))
    element = _SCALAR if width == 1 else st.tuples(*[_SCALAR] * width)
    args = tuple(data.draw(st.one_of(_SCALAR, st.lists(element, max_size=5))) for _ in fields)
    assert plan._debug_reason(k, args) == reason(**dict(zip(fields, args)))


_PLANS: dict[int, Any] = {}


def _plan(kernel: Any, msgspec: Any) -> Any:
    if id(kernel) not in _PLANS:
        _PLANS[id(kernel)] = kernel.Plan([], msgspec.json.encode, lambda signature: None,
                                         _native.reason_templates(kernel))
    return _PLANS[id(kernel)]


def test_a_kernel_out_of_step_with_the_reason_table_is_not_used(native: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build older than the Python side (a reason the table lost) is reported and left off, not a crash."""
    from rubricate.rubrics.checks import REASONS as table

    monkeypatch.delitem(table, "discovers_tables.query_first")
    _native._stale_kernel.cache_clear()
    try:
        status = _native.kernel_status(load_rubric("tool-discipline"), judged=False)
    finally:
        _native._stale_kernel.cache_clear()
    assert status["used"] is False
    assert "discovers_tables.query_first" in status["why"] and "rebuild it" in status["why"]


def test_the_kernel_word_tables_are_the_python_checks_own(native: Any) -> None:
    """Word lists the C checks hold a copy of (src/kernel/checks.c), each the same set as in Python."""
    from rubricate.rubrics.checks import correctness, tool_discipline

    assert set(native.WORDS["effect_words"]) == tool_discipline.EFFECT_WORDS
    assert set(native.WORDS["small_words"]) == correctness._SMALL_WORDS
    assert set(native.WORDS["no_answer_truths"]) == correctness._NO_ANSWER_TRUTHS
    assert all(len(set(words)) == len(words) for words in native.WORDS.values())
