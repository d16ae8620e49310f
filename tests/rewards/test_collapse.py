"""The collapse: every rule of `rubricate.rewards._collapse`, the [reward] schema, and properties
(bounds, determinism, order invariance, None never 0) checked with hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.errors import RubricError
from rubricate.rewards import RewardScorer, collapse, reward_bounds
from rubricate.rubrics import Outcome, Verdict, parse_rubric

ITEMS = (
    "answer_correct",
    "grounded_answer",
    "recovers_from_errors",
    "no_repeated_failing_call",
    "answers_question",
)


def rubric(weights: dict[str, float], reward: str = ""):
    text = 'id = "r"\nversion = "1"\n'
    for item, w in weights.items():
        text += f'[[items]]\nid = "{item}"\nweight = {w}\n'
    return parse_rubric(text + reward)


def test_weighted_mean_over_pass_fail_only():
    r = rubric({"answer_correct": 2, "grounded_answer": 1, "answers_question": 1})
    res = collapse({"answer_correct": "pass", "grounded_answer": "fail", "answers_question": "na"}, r)
    assert res.reward == pytest.approx(2 / 3)
    assert res.scores == {"answer_correct": 1.0, "grounded_answer": 0.0, "answers_question": None}
    assert res.verdicts["answers_question"] == "na"


def test_weight_zero_is_reported_not_rewarded_and_its_error_does_not_matter():
    r = rubric({"answer_correct": 1, "grounded_answer": 0})
    assert collapse({"answer_correct": "fail", "grounded_answer": "pass"}, r).reward == 0.0
    res = collapse({"answer_correct": "pass", "grounded_answer": "error"}, r)
    assert res.reward == 1.0 and res.scores["grounded_answer"] is None


def test_pitfalls_score_minus_one_when_failed_and_drop_out_when_passed():
    r = rubric({"answer_correct": 3, "no_repeated_failing_call": -1})
    assert collapse({"answer_correct": "pass", "no_repeated_failing_call": "pass"}, r).reward == 1.0
    assert collapse({"answer_correct": "pass", "no_repeated_failing_call": "na"}, r).reward == 1.0
    assert collapse(
        {"answer_correct": "pass", "no_repeated_failing_call": "fail"}, r
    ).reward == pytest.approx(0.5)
    assert collapse(
        {"answer_correct": "fail", "no_repeated_failing_call": "fail"}, r
    ).reward == pytest.approx(-0.25)
    # only pitfalls apply: a hit one gives -1, passed ones leave nothing to reward
    assert collapse({"answer_correct": "na", "no_repeated_failing_call": "fail"}, r).reward == -1.0
    assert collapse({"answer_correct": "na", "no_repeated_failing_call": "pass"}, r).reward is None


def test_error_in_a_rewarded_item_gives_none_never_zero():
    r = rubric({"answer_correct": 1, "grounded_answer": 1})
    res = collapse({"answer_correct": Outcome("pass", "ok"), "grounded_answer": Outcome("error", "boom")}, r)
    assert (res.reward, res.reason) == (None, "item grounded_answer could not be scored (error: boom)")
    rows = [Verdict("e", "answer_correct", "correctness", "pass", 1.0, "ok"),
            Verdict("e", "grounded_answer", "grounding", "error", None, "boom")]
    assert collapse(rows, r) == res  # the rows Rubric.evaluate gives
    assert res.reward is None and "grounded_answer" in res.reason and "boom" in res.reason


def test_all_na_and_unscored_give_none():
    r = rubric({"answer_correct": 1, "grounded_answer": 1})
    assert collapse({"answer_correct": "na", "grounded_answer": "na"}, r).reward is None
    res = collapse({"answer_correct": "pass"}, r)
    assert res.reward is None and "not scored" in res.reason


@pytest.mark.parametrize(
    "gate, verdict, expected",
    [
        ('gate = "zero"', "fail", 0.0),
        ('gate = "zero"', "pass", 0.5),
        ('gate = "zero"', "na", 0.5),
        ('gate = "cap"\ncap = 0.3', "fail", 0.3),
        ('gate = "cap"\ncap = 0.3', "pass", 0.5),
    ],
)
def test_gates(gate, verdict, expected):
    r = rubric(
        {"answer_correct": 0, "grounded_answer": 1, "answers_question": 1},
        f'[reward]\ngates = ["answer_correct"]\n{gate}\n',
    )
    res = collapse({"answer_correct": verdict, "grounded_answer": "pass", "answers_question": "fail"}, r)
    assert res.reward == pytest.approx(expected)


def test_a_gate_never_raises_a_reward():
    r = rubric(
        {"answer_correct": 0, "grounded_answer": 1},
        '[reward]\ngates = ["answer_correct"]\ngate = "cap"\ncap = 0.3\n',
    )
    assert collapse({"answer_correct": "fail", "grounded_answer": "fail"}, r).reward == 0.0


@pytest.mark.parametrize(
    "shape, right, process, expected",
    [
        ("correct", "pass", ("pass", "pass"), 1.0),
        ("correct", "pass", ("fail", "fail"), 0.5),
        ("correct", "pass", ("pass", "fail"), 0.75),
        ("correct", "fail", ("pass", "pass"), 0.0),
        ("correct", "pass", ("na", "na"), 1.0),
        ("incorrect", "pass", ("fail", "fail"), 1.0),
        ("incorrect", "fail", ("pass", "pass"), 0.5),
        ("incorrect", "fail", ("pass", "fail"), 0.25),
        ("incorrect", "fail", ("fail", "fail"), 0.0),
    ],
)
def test_outcome_gated(shape, right, process, expected):
    r = rubric(
        {"answer_correct": 2, "grounded_answer": 1, "answers_question": 1},
        f'[reward]\nmode = "outcome_gated"\noutcome_item = "answer_correct"\nshape_among = "{shape}"\n',
    )
    res = collapse(
        {"answer_correct": right, "grounded_answer": process[0], "answers_question": process[1]}, r
    )
    assert res.reward == pytest.approx(expected)


def test_outcome_gated_needs_the_outcome():
    r = rubric(
        {"answer_correct": 1, "grounded_answer": 1},
        '[reward]\nmode = "outcome_gated"\noutcome_item = "answer_correct"\n',
    )
    res = collapse({"answer_correct": "na", "grounded_answer": "pass"}, r)
    assert res.reward is None and "outcome" in res.reason


def test_judge_holistic_is_none_with_a_reason_and_refused_for_export():
    r = rubric({"answer_correct": 1}, '[reward]\nmode = "judge_holistic"\n')
    res = collapse({"answer_correct": "pass"}, r)
    assert res.reward is None and "judge" in res.reason
    with pytest.raises(RubricError, match="judge_holistic"):
        RewardScorer(r)


def test_rewarded_judge_items_are_refused_for_export_weight_zero_ones_are_skipped():
    base = (
        'id = "r"\nversion = "1"\n[[items]]\nid = "answer_correct"\n[[items]]\nid = "j"\nkind = "judge"\n'
        'question = "Is it polite?"\n'
    )
    with pytest.raises(RubricError, match="judge items take part"):
        RewardScorer(parse_rubric(base))
    scorer = RewardScorer(parse_rubric(base + "weight = 0\n"))
    assert scorer.item_ids == ("answer_correct",)
    assert collapse({"answer_correct": "pass"}, scorer.rubric).reward == 1.0  # the unscored judge is ignored


@pytest.mark.parametrize(
    "reward, message",
    [
        ('[reward]\ngates = ["nope"]\n', "reward.gates[0]: unknown item 'nope'"),
        ('[reward]\ngate = "cap"\n', "needs `cap`"),
        ("[reward]\ncap = 0.3\n", "`cap` applies only"),
        ('[reward]\nmode = "outcome_gated"\n', "needs `outcome_item`"),
        ('[reward]\noutcome_item = "answer_correct"\n', "applies only with mode"),
        ('[reward]\nmode = "outcome_gated"\noutcome_item = "zz"\n', "reward.outcome_item: unknown item 'zz'"),
        ('[reward]\nmode = "best"\n', "reward.mode"),
        ('[reward]\ngate = "cap"\ncap = 3\n', "reward.cap"),
        ("[reward]\nextra = 1\n", "reward.extra"),
    ],
)
def test_reward_table_errors_name_the_place(reward, message):
    with pytest.raises(RubricError) as info:
        rubric({"answer_correct": 1}, reward)
    assert message in str(info.value)


def test_reward_table_changes_the_rubric_hash_and_default_table_does_not_exist():
    plain = rubric({"answer_correct": 1})
    gated = rubric({"answer_correct": 1}, '[reward]\ngates = ["answer_correct"]\n')
    assert plain.hash != gated.hash
    assert plain.spec.reward is None


# ---------------------------------------------------------------- properties

VERDICT = st.sampled_from(["pass", "fail", "na", "error"])
WEIGHT = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, -0.5, -1.0, -2.0])


@st.composite
def rubric_and_verdicts(draw):
    weights = {i: draw(WEIGHT) for i in ITEMS}
    if all(w == 0 for w in weights.values()):
        weights["answer_correct"] = 1.0
    table = ""
    mode = draw(st.sampled_from(["weighted_mean", "outcome_gated"]))
    if mode == "outcome_gated":
        table += (
            f'mode = "outcome_gated"\noutcome_item = "answer_correct"\n'
            f'shape_among = "{draw(st.sampled_from(["correct", "incorrect"]))}"\n'
        )
    gates = draw(st.lists(st.sampled_from(ITEMS), max_size=2, unique=True))
    if gates:
        table += "gates = [" + ", ".join(f'"{g}"' for g in gates) + "]\n"
        if draw(st.booleans()):
            table += f'gate = "cap"\ncap = {draw(st.sampled_from([0.0, 0.3, -0.5, 0.9]))}\n'
    r = rubric(weights, "[reward]\n" + table if table else "")
    verdicts = {i: draw(VERDICT) for i in ITEMS}
    return r, verdicts


@settings(max_examples=300, deadline=None)
@given(rubric_and_verdicts())
def test_collapse_is_bounded_deterministic_and_order_invariant(case):
    r, verdicts = case
    lo, hi = reward_bounds(r)
    first = collapse(verdicts, r)
    assert first == collapse(verdicts, r)
    assert first == collapse(dict(reversed(list(verdicts.items()))), r)
    if first.reward is not None:
        assert math.isfinite(first.reward)
        assert -1.0 <= lo <= first.reward <= hi <= 1.0
    involved = {i.id for i in r.items if i.weight != 0} | set(r.spec.reward.gates if r.spec.reward else ())
    if any(verdicts[i] == "error" for i in involved):
        assert first.reward is None


@settings(max_examples=200, deadline=None)
@given(rubric_and_verdicts(), st.sampled_from(ITEMS))
def test_passing_an_item_never_lowers_the_weighted_mean(case, item):
    r, verdicts = case
    if r.spec.reward is not None:  # gates and outcome tiers are monotone too, but keep the property plain
        return
    failed = collapse({**verdicts, item: "fail"}, r).reward
    passed = collapse({**verdicts, item: "pass"}, r).reward
    if failed is not None and passed is not None:
        assert passed >= failed - 1e-12
