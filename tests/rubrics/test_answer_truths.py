"""answer_correct on the kinds of ground truth the shared corpora hold: times, dates, lists and ids
compared whole, the conclusion under "Final results:", truths of parts, initials, and truths that
say there is no answer. Each case is an excerpt of a real episode (file and episode cited)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.rubrics.checks.correctness import marked_answer
from rubricate.testing import answer, call, episode, result, user

from ._support import outcome


def judged(text: str, truth: str) -> tuple[str, str]:
    ep = episode(user("Q?"), call("search", q="x"), result("r"), answer(text), ground_truth=truth)
    out = outcome("answer_correct", ep)
    return out.verdict, out.reason


def correct(text: str, truth: str) -> str:
    return judged(text, truth)[0]


# ---------------------------------------------------------------- ids, times, dates, lists: whole

@pytest.mark.parametrize(("text", "truth", "expected"), [
    # ../shared/corpora/who-and-when Hand-Crafted/21.json (step 24): another award of the same agency
    ("80NSSC21K0223", "80GSFC21M0002", "fail"),
    ("The award number is 80GSFC21M0002.", "80GSFC21M0002", "pass"),
    # Algorithm-Generated/27.json (step 10): a time whose minutes match but not the rest
    ("The world record time ... as of June 7, 2023, being 1:48.585.", "1:41.614", "fail"),
    ("The world record time is 1:41.614.", "1:41.614", "pass"),
    # Algorithm-Generated/36.json (step 9): six fractions for a list of seventeen
    ("```3/4,1/4,1/2,1/7,1/21,6```", "3/4,1/4,3/4,3/4,2/4,1/2,5/35,7/21,30/5,30/5,3/4,1/15,1/3,4/9,1/8,32/23,103/170",
     "fail"),
    # who-and-when's list truth "132, 133, 134, 197, 245": every member, in any order
    ("Pages 132, 133, 134, 197 and 245.", "132, 133, 134, 197, 245", "pass"),
    ("Pages 132, 133 and 134.", "132, 133, 134, 197, 245", "fail"),
    # verifiers-wiki-search "June 13, 2022" and "Surah Al-An'am 6:54": a date and a verse compare whole
    ("It premiered on 13 June 2022.", "June 13, 2022", "pass"),
    ("It premiered on June 13, 2021.", "June 13, 2022", "fail"),
    ("Surah Al-An'am, verse 6:54.", "Surah Al-An'am 6:54", "pass"),
    ("Surah Al-An'am 6:45.", "Surah Al-An'am 6:54", "fail"),
])
def test_ids_times_dates_and_lists_compare_whole(text, truth, expected):
    assert correct(text, truth) == expected


@pytest.mark.parametrize(("text", "truth"), [
    # ../shared/corpora/verifiers-wiki-search gpt-4.1/50519885/results.jsonl:73: the same polynomial
    # expanded; a truth whose numbers are neither a list nor a time keeps its first number as the answer
    (r"\boxed{\lambda^2 - 4\lambda + 3}", "(λ - 3)(λ - 1)"),
    # gpt-5/73850758/results.jsonl:16: the count of pods, the rockets given in brackets
    ("Two rocket pods, each with 6 rounds.", "2 pods (12 rockets)"),
])
def test_a_truth_that_is_not_a_list_is_its_first_number(text, truth):
    assert correct(text, truth) == "pass"


def test_reasons_name_the_whole_truth():
    assert judged("being 1:48.585.", "1:41.614") == ("fail", "the answer gives 1, 48.585; expected 1:41.614")
    assert judged("Pages 245, 197, 134, 133, 132.", "132, 133, 134, 197, 245") == \
        ("pass", "the answer gives every number of the expected '132, 133, 134, 197, 245'")
    assert judged("no idea", "1:41.614") == ("fail", "the answer gives no number; expected 1:41.614")
    assert judged("80NSSC21K0223", "80GSFC21M0002") == \
        ("fail", "the answer does not contain the expected text '80GSFC21M0002'")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(100, 999), min_size=2, max_size=6, unique=True), st.data())
def test_property_a_list_truth_needs_every_member(members, data):
    truth = ", ".join(map(str, members))
    kept = data.draw(st.lists(st.sampled_from(members), unique=True))
    text = "The pages are " + " and ".join(map(str, kept)) + "."
    assert correct(text, truth) == ("pass" if set(kept) == set(members) else "fail")


# ---------------------------------------------------------------- the marked conclusion

def test_the_conclusion_under_final_results_is_the_answer():
    # ../shared/corpora/who-and-when Algorithm-Generated/40.json (step 10): "Iteration 2" is not the answer
    text = ("- Iteration 1: x_n = -5.0\n- Iteration 2: x_n = -4.9375\n- Iteration 3: x_n = -4.936105444345276\n\n"
            "Final results:\n- The smallest \\( n \\): 3\n- The value of \\( x_n \\) after convergence: -4.9361\n\n"
            "TERMINATE")
    assert marked_answer(text) == "- The smallest \\( n \\): 3"
    assert judged(text, "2") == ("fail", "the answer gives 3; expected 2")
    assert correct(text, "3") == "pass"
    assert marked_answer("The final result is 5.") == "5."


# ---------------------------------------------------------------- text truths

@pytest.mark.parametrize(("text", "truth", "expected"), [
    # ../shared/corpora/verifiers-wiki-search gpt-4.1-mini/052a81ae/results.jsonl:46 (step 10)
    ("The two companies distributing Twisters are Universal Pictures in the United States and Warner Bros. "
     "Pictures internationally.", "Universal Pictures and Warner Bros. Pictures", "pass"),
    ("Universal Pictures distributes it in the United States.", "Universal Pictures and Warner Bros. Pictures", "fail"),
    # qwen3-30b 6c9b879e/results.jsonl:51: "Ballet, jazz, tap" as "ballet, jazz, and tap dance"
    ("During elementary school, Jeremy Allen White practiced ballet, jazz, and tap dance.", "Ballet, jazz, tap",
     "pass"),
    ("He practiced ballet and tap.", "Ballet, jazz, tap", "fail"),
])
def test_a_truth_of_parts_needs_each_part(text, truth, expected):
    assert correct(text, truth) == expected


@pytest.mark.parametrize(("text", "truth", "expected"), [
    # ../shared/corpora/verifiers-wiki-search gpt-5-nano/9a37a8bd/results.jsonl:23 (step 14)
    ("They were primarily former U.S. Navy SEALs (the GRS Team for the CIA).", "Global Response Staff", "pass"),
    ("the grs team", "Global Response Staff", "fail"),          # initials are written in capitals
    ("the GRSX team", "Global Response Staff", "fail"),         # a whole word
    ("the FBI", "Federal Bureau of Investigation", "pass"),     # small words have no initial
    ("the GS", "Global Response Staff", "fail"),
    ("PS", "Paris", "fail"),                                    # one word has no initials
    ("the GRS", "global response staff", "fail"),               # nor words not capitalised
])
def test_a_capitalised_name_matches_its_initials(text, truth, expected):
    assert correct(text, truth) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # ../shared/corpora/verifiers-wiki-search qwen3-30b 6c9b879e/results.jsonl:9 (the answer)
    ("belonged to the **Gamma Regional Support (GRS) Team**, a privately contracted security unit.", "fail"),
    # willcb/qwen3-4b-wiki-search 094df25d/results.jsonl:23 (the answer)
    ("Specifically:  - The GRS (Guardsman Response Team) team members were former Navy SEALs", "fail"),
    # qwen3-4b-instruct-2507 e762fd98/results.jsonl:23 (the answer)
    ("the team, known as the GRS (Global Response Team), included members who were formerly part of", "fail"),
    ("The GRS\u00a0(Global Response Team)", "fail"),                          # any space between
    # gpt-4.1-mini 052a81ae/results.jsonl:23: a description in brackets spells nothing out
    ('Tyrone "Rone" Woods (GRS team commander), and Glen "Bub" Doherty', "pass"),
    ("They were primarily former U.S. Navy SEALs (the GRS Team for the CIA).", "pass"),
    ("the GRS (the CIA's security contractors)", "pass"),
])
def test_initials_spelled_out_as_another_name_fail(text, expected):
    """The answer gives the initials but spells them out as another name: it names another unit."""
    assert correct(text, "Global Response Staff") == expected


def test_initials_spelled_out_reason():
    assert judged("The GRS (Guardsman Response Team) team", "Global Response Staff") == \
        ("fail", "the answer spells GRS out as 'Guardsman Response Team', not the expected 'Global Response Staff'")


@pytest.mark.parametrize(("text", "expected"), [
    # ../shared/corpora/mast-mad-human MAD_human_labelled_dataset.json[2] (step 9): GSM-Plus, no answer
    ('\\text{"Data insufficient to solve the problem"}', "pass"),
    ("There is not enough information to answer.", "pass"),
    ("The answer cannot be determined from the data.", "pass"),
    ("None", "pass"),
    ("The answer is 12 apples.", "fail"),
])
def test_a_truth_of_no_answer_matches_an_answer_that_finds_none(text, expected):
    assert correct(text, "None") == expected
    assert correct(text, "Paris") == "fail"


def test_text_rule_reasons():
    assert judged("the GRS Team", "Global Response Staff") == \
        ("pass", "the answer gives GRS, the initials of the expected 'Global Response Staff'")
    assert judged("ballet, jazz, and tap", "Ballet, jazz, tap") == \
        ("pass", "the answer names each part of the expected 'Ballet, jazz, tap'")
    assert judged("Data insufficient", "None") == \
        ("pass", "the expected answer is that there is none ('None'); the answer says 'insufficient'")


@pytest.mark.parametrize(("text", "truth"), [
    # ../shared/corpora/verifiers-wiki-search: the truth ends a sentence in the middle of the answer
    ("Greta Lee is married to Russ Armstrong. They have two sons together.", "Russ Armstrong"),  # gpt-4.1:79
    ("Washington, D.C. (United States).", "Washington, D.C."),  # gpt-5-nano a880a526:13
    ("is *O. J.: Made in America*. However, ...", "O.J.: Made in America"),  # qwen3-30b 6c9b879e:42
])
def test_a_truth_before_a_full_stop_matches(text, truth):
    assert correct(text, truth) == "pass"


def test_a_full_stop_goes_and_a_decimal_point_stays():
    from rubricate.rubrics.checks.correctness import _normal_text
    assert _normal_text("It grew 3.5 times. Then U.S. sales") == "it grew 3.5 times then u s sales"


@pytest.mark.parametrize(("text", "truth", "reason"), [
    # ../shared/corpora/who-and-when Algorithm-Generated/79.json (GAIA's answer is 'shrimp')
    ('the correct identification of "shrimp and grits" as the missing main course', "shrimp",
     "the answer names 'shrimp and grits', more than the expected 'shrimp'"),
    ("the correct answer is:\n\n**Salt & Pepper**", "salt", "the answer names 'Salt & Pepper', more than the expected 'salt'"),
    # Algorithm-Generated/62.json: the expected word only inside a quoted source passage
    ('obscured not by a "cloak of print" but by ... the correct word is "mistransmission"', "cloak",
     "the answer names 'mistransmission' as its answer; expected 'cloak'"),
    ("The answer is **Paris**, not Lyon.", "Lyon", "the answer names 'Paris' as its answer; expected 'Lyon'"),
])
def test_a_quoted_answer_that_names_another_or_more_fails(text, truth, reason):
    assert judged(text, truth) == ("fail", reason)


@pytest.mark.parametrize(("text", "truth"), [
    # ../shared/corpora/verifiers-wiki-search: a full title quoted for its short form is right
    ('The album is "Desire, I Want to Turn Into You".', "I Want to Turn Into You"),  # gpt-4.1-mini 052a81ae:36
    ('They were called "East Indiamen".', "Indiamen"),  # gpt-4.1-nano 8d8aecd4:58
    ('The speech "This Is Water: Some Thoughts, Delivered on a Significant Occasion"', "This Is Water"),  # :98
    # the truth also outside the phrase, or the phrase is the truth, or named as the answer
    ('"Shrimp and grits" was gone, so the answer is shrimp.', "shrimp"),
    ('The answer is "Romeo and Juliet".', "Romeo and Juliet"),
    ('The correct word is "cloak".', "cloak"),
])
def test_a_quoted_phrase_holding_the_truth_still_matches(text, truth):
    assert correct(text, truth) == "pass"


@pytest.mark.parametrize(("scorer", "expected"), [
    ("model_graded_fact", "na"), ("model_graded_qa", "na"), ("match", "fail"), ("includes", "fail")])
def test_a_model_graders_reference_is_not_matched_as_text(scorer, expected):
    """../shared/corpora/inspect-logs security-guide/2: 'Use prepared statements and parameterized
    queries.' for the model_graded_fact reference 'use parameterized queries and prepared statements'
    (Inspect's grader: correct). Containment would fail it; a reference is no exact answer."""
    ep = episode(user("How do I prevent sqli?"), answer("Use prepared statements and parameterized queries."),
                 ground_truth="use parameterized queries and prepared statements", metadata={"score_name": scorer})
    out = outcome("answer_correct", ep)
    assert out.verdict == expected
    if expected == "na":
        assert out.reason.startswith(f"the expected answer is a reference for the eval's model grader ({scorer})")
