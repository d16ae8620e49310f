"""Never stalls, never raises: malformed completions, huge inputs, unicode and slow checks give None or
a score within the collapse's bounds, deterministically; every call keeps its deadline."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubricate.rewards import (
    RewardScorer,
    as_trl_reward,
    as_verl_compute_score,
    verifiers_reward_funcs,
)
from rubricate.rubrics import check, isolated_registry, parse_rubric

WIKI = "examples/wiki-search/rubric.toml"

TEXT = st.text(st.characters(codec=None), max_size=60) | st.sampled_from(
    [
        "",
        "\ud800",
        "{'error': 'x'}",
        "Error: boom",
        "1901",
        "\\boxed{12.5}",
        "é" * 50,
        "\x00",
        "Traceback (most recent call last)",
        '{"error": null}',
    ]
)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
ROLE = st.sampled_from(["system", "user", "assistant", "tool", "function", "developer", "robot", None, 7])
CALL = st.fixed_dictionaries(
    {},
    optional={
        "type": st.just("function"),
        "id": SCALAR,
        "function": st.fixed_dictionaries(
            {}, optional={"name": SCALAR, "arguments": SCALAR | st.dictionaries(TEXT, SCALAR, max_size=3)}
        ),
        "name": SCALAR,
        "arguments": SCALAR,
    },
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "role": ROLE,
        "content": SCALAR | st.lists(st.dictionaries(st.sampled_from(["type", "text"]), SCALAR), max_size=3),
        "tool_calls": st.none() | st.lists(CALL | TEXT, max_size=3) | SCALAR,
        "tool_call_id": SCALAR,
        "name": SCALAR,
        "is_error": SCALAR,
    },
)
PART = TEXT | st.lists(MESSAGE | SCALAR, max_size=6) | SCALAR | st.dictionaries(TEXT, SCALAR, max_size=3)


@pytest.fixture(scope="module")
def scorer() -> RewardScorer:
    return RewardScorer(WIKI)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=PART, completion=PART, truth=SCALAR)
def test_any_input_gives_none_or_a_bounded_deterministic_score(scorer, prompt, completion, truth):
    first = scorer.score(prompt, completion, truth)
    assert first == scorer.score(prompt, completion, truth)
    if first.reward is not None:
        assert math.isfinite(first.reward)
        assert scorer.bounds[0] <= first.reward <= scorer.bounds[1]
    else:
        assert first.reason


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompts=st.lists(PART, max_size=4), completions=st.lists(PART, min_size=1, max_size=4), extra=SCALAR)
def test_exporters_never_raise_and_keep_lengths(scorer, prompts, completions, extra):
    rewards = as_trl_reward(scorer)(prompts=prompts, completions=completions, answer=extra)
    assert len(rewards) == len(completions)
    assert all(r is None or math.isfinite(r) for r in rewards)
    funcs, _ = verifiers_reward_funcs(scorer)
    assert all(
        isinstance(f(prompt=prompts, completion=completions, answer=extra, state={}), float) for f in funcs
    )
    assert isinstance(
        as_verl_compute_score(scorer)("d", completions, extra, {"prompt": prompts})["score"], float
    )


def test_trl_with_missing_or_odd_arguments(scorer):
    fn = as_trl_reward(scorer)
    assert fn() == []
    assert fn(prompts=None, completions=["x"]) == [None]
    assert fn(prompts=["q"], completions=5) == []


def test_huge_input_is_refused_quickly():
    scorer = RewardScorer(WIKI, max_chars=100_000)
    huge = [{"role": "assistant", "content": "word " * 1_000_000}]
    started = time.perf_counter()
    result = scorer.score("q", huge, "1")
    assert time.perf_counter() - started < 0.5
    assert result.reward is None and "too large" in result.reason
    deep: list = []
    node = deep
    for _ in range(100_000):  # deeper than the recursion limit
        node.append([])
        node = node[0]
    assert scorer.score("q", deep, "1").reward is None


def test_a_two_megabyte_unicode_completion_is_scored_within_seconds():
    scorer = RewardScorer(WIKI, max_chars=4_000_000)
    text = ("Le résultat est 1901 — 東京 🚀 " * 80_000)[:2_000_000]  # 70,000 numbers for the number checks
    started = time.perf_counter()
    result = scorer.score("Quand ?", [{"role": "assistant", "content": text}], "1901")
    assert time.perf_counter() - started < 10
    assert result.reward is not None


def test_a_call_keeps_its_deadline():
    with isolated_registry():

        @check(behavior="slow")
        def slow_item(ctx):
            time.sleep(0.05)
            return True

        rubric = parse_rubric(
            'id = "slow"\nversion = "1"\n[[items]]\nid = "slow_item"\n[[items]]\nid = "answer_correct"\n'
        )
        scorer = RewardScorer(rubric, deadline_s=0.3)
        fn = as_trl_reward(scorer)
        started = time.perf_counter()
        rewards = fn(prompts=["q"] * 40, completions=["1"] * 40, answer=["1"] * 40)
        elapsed = time.perf_counter() - started
    assert elapsed < 0.3 + 0.2  # at most one check past the deadline
    assert rewards[0] == 1.0 and rewards[-1] is None
    assert 3 <= sum(r is not None for r in rewards) <= 7


def test_a_raising_check_gives_none_never_zero():
    with isolated_registry():

        @check(behavior="broken")
        def broken_item(ctx):
            raise RuntimeError("boom")

        rubric = parse_rubric(
            'id = "b"\nversion = "1"\n[[items]]\nid = "broken_item"\n[[items]]\nid = "answer_correct"\n'
        )
        result = RewardScorer(rubric).score("q", "1", "1")
    assert result.reward is None and "boom" in result.reason
