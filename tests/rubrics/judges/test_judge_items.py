"""Judge items in rubric files: choices, pass_from, examples; the answer-to-verdict mapping."""

from __future__ import annotations

import pytest

from rubricate.errors import RubricError
from rubricate.rubrics import load_rubric, parse_rubric
from rubricate.rubrics.judges import JudgeItem

HEAD = 'id = "r"\nversion = "1"\n[[items]]\nid = "q"\nkind = "judge"\nquestion = "Good?"\n'


def _item(extra: str = "") -> JudgeItem:
    return JudgeItem.from_item(parse_rubric(HEAD + extra).item("q"))


def test_yes_no_answers_map_to_pass_fail_na():
    item = _item()
    assert item.answers == ("yes", "no") and not item.graded
    assert item.verdict("yes") == ("pass", 1.0)
    assert item.verdict("no") == ("fail", 0.0)
    assert item.verdict("na") == ("na", None)


def test_choices_score_by_position_and_pass_in_the_better_half():
    item = _item('choices = ["bad", "partial", "good"]\n')
    assert [item.verdict(c) for c in item.answers] == [("fail", 0.0), ("fail", 0.5), ("pass", 1.0)]
    four = _item('choices = ["a", "b", "c", "d"]\n')
    assert [four.verdict(c)[0] for c in four.answers] == ["fail", "fail", "pass", "pass"]
    lenient = _item('choices = ["bad", "partial", "good"]\npass_from = "partial"\n')
    assert lenient.verdict("partial") == ("pass", 0.5)
    outcome, score = item.outcome("partial", "half of it", (1, 2))
    assert outcome.reason == "partial: half of it" and outcome.evidence == (1, 2) and score == 0.5


def test_item_hash_changes_with_the_question_only_for_that_item():
    a = parse_rubric(HEAD + '[[items]]\nid = "z"\nkind = "judge"\nquestion = "Other?"\n')
    b = parse_rubric(HEAD.replace("Good?", "Better?") + '[[items]]\nid = "z"\nkind = "judge"\nquestion = "Other?"\n')
    ha = {i.id: JudgeItem.from_item(i).hash for i in a.judges}
    hb = {i.id: JudgeItem.from_item(i).hash for i in b.judges}
    assert ha["z"] == hb["z"] and ha["q"] != hb["q"]


@pytest.mark.parametrize(("extra", "message"), [
    ('choices = ["a", "a"]\n', "distinct"),
    ('choices = ["a", "na"]\n', "cannot contain 'na'"),
    ('choices = ["a"]\n', "at least 2"),
    ('choices = ["a", "b"]\npass_from = "c"\n', "pass_from"),
    ('examples = [{ situation = "x", verdict = "maybe" }]\n', "examples[0].verdict 'maybe'"),
])
def test_invalid_judge_fields_name_the_item(extra, message):
    with pytest.raises(RubricError) as info:
        parse_rubric(HEAD + extra, path="r.toml")
    assert str(info.value).startswith("r.toml: items[0]") and message in str(info.value)


@pytest.mark.parametrize("field", ['choices = ["a", "b"]', 'examples = [{ situation = "x", verdict = "yes" }]',
                                   'pass_from = "a"'])
def test_judge_fields_on_a_check_item_are_refused(field):
    with pytest.raises(RubricError, match="belongs to judge items"):
        parse_rubric(f'id = "r"\nversion = "1"\n[[items]]\nid = "discovers_tables"\n{field}\n')


def test_examples_are_kept_and_valid_examples_pass():
    item = _item('choices = ["bad", "good"]\nexamples = [{ situation = "it lied", verdict = "bad", reason = "r" }, '
                 '{ situation = "nothing to judge", verdict = "na" }]\n')
    assert [e.verdict for e in item.examples] == ["bad", "na"]


def test_builtin_judge_items_are_yes_no_with_weight_zero():
    rubric = load_rubric("tool-discipline")
    items = [JudgeItem.from_item(i) for i in rubric.judges]
    assert [i.id for i in items] == ["acknowledges_tool_errors", "answer_follows_from_data", "no_fabricated_entities"]
    assert all(not i.graded and i.question.endswith("?") and i.guidance for i in items)
