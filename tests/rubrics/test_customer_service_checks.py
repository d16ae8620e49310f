"""The customer-service checks (authenticate and confirm before a write, no write after a refusal) and
answers_question's hand-offs and cut-off endings, on hand-built tau-bench-shaped episodes. The same
checks are held to hand-checked verdicts on the real corpus in test_golden.py (golden/tau-bench.toml)."""

from __future__ import annotations

from functools import cache

import pytest

from rubricate.rubrics import Rubric, load_rubric
from rubricate.testing import answer, assistant, call, episode, result, system, user

from ._support import outcome


@cache
def cs() -> Rubric:
    return load_rubric("customer-service")


def verdict(item: str, ep, **params) -> str:
    return outcome(item, ep, rubric=cs(), **params).verdict


RESERVATION = '{"reservation_id": "ABC123", "user_id": "mia_1", "cabin": "economy", ' \
              '"flights": [{"flight_number": "HAT001", "date": "2024-05-20", "price": 100}]}'


def booking(*middle, first=(), end=(answer("Done."),)):
    """An airline episode: the user asks, the agent looks the user up (unless `first` replaces it)."""
    lookup = first or (call("get_user_details", user_id="mia_1"), result('{"name": "Mia"}'))
    return episode(system("policy"), user("Please cancel ABC123, my id is mia_1."), *lookup, *middle, *end)


def cancel():
    return (call("cancel_reservation", reservation_id="ABC123"), result(RESERVATION))


# ---------------------------------------------------------------- authenticates_before_write

def test_auth_passes_when_the_user_is_looked_up_before_the_first_write():
    ep = booking(assistant("Cancel ABC123? Please confirm."), user("Yes."), *cancel())
    out = outcome("authenticates_before_write", ep, rubric=cs())
    assert out.verdict == "pass" and out.evidence == (2, 6)


def test_auth_fails_when_the_write_comes_first_and_a_failed_lookup_does_not_count():
    first = (call("get_reservation_details", reservation_id="ABC123"), result(RESERVATION))
    ep = booking(*cancel(), first=first)
    out = outcome("authenticates_before_write", ep, rubric=cs())
    assert out.verdict == "fail" and "cancel_reservation at step 4" in out.reason
    failed_lookup = (call("get_user_details", user_id="x"), result("Error: user not found"))
    assert verdict("authenticates_before_write", booking(*cancel(), first=failed_lookup)) == "fail"


def test_auth_is_na_without_a_write_or_without_roles():
    assert verdict("authenticates_before_write", booking()) == "na"
    ep = booking(*cancel())
    out = outcome("authenticates_before_write", ep, rubric=cs(), auth_tools=frozenset())
    assert out.verdict == "na" and "auth_tools" in out.reason


# ---------------------------------------------------------------- confirms_before_write

@pytest.mark.parametrize(("ask", "reply", "expected"), [
    ("I will cancel ABC123. Would you like me to proceed?", "Yes, please go ahead.", "pass"),
    ("Cancelling ABC123 refunds $100. Please confirm.", "I confirm.", "pass"),
    ("Cancelling ABC123 refunds $100. Please confirm.", "No, wait. Keep it.", "fail"),    # a no, not a yes
    ("Here are your reservations: ABC123, XYZ789.", "Cancel ABC123 please.", "fail"),     # a request
    ("Here are your reservations: ABC123, XYZ789.", "Yes, that one.", "fail"),            # yes to no question
])
def test_confirmation_needs_an_explicit_yes_to_an_ask(ask, reply, expected):
    ep = booking(assistant(ask), user(reply), *cancel())
    assert verdict("confirms_before_write", ep) == expected


def test_confirmation_fails_on_the_first_unconfirmed_write_and_names_it():
    ep = booking(assistant("Cancel ABC123? Please confirm."), user("Yes."), *cancel(),   # 4, 5, 6, 7
                 assistant("Done. Anything else?"), user("Add a bag too."),             # 8, 9
                 call("update_reservation_baggages", reservation_id="ABC123", total_baggages=1), result("{}"))
    out = outcome("confirms_before_write", ep, rubric=cs())
    assert out.verdict == "fail" and out.evidence == (9, 10)
    assert "update_reservation_baggages at step 10" in out.reason


def test_confirmation_words_are_parameters():
    ep = booking(assistant("Cancel ABC123? Please confirm."), user("Oui, allez-y."), *cancel())
    assert verdict("confirms_before_write", ep) == "pass"  # 'oui' is a default
    assert verdict("confirms_before_write", ep, confirm_words=("yes",)) == "fail"


# ---------------------------------------------------------------- no_write_after_refusal

def declined(text: str, *writes):
    return booking(call("get_reservation_details", reservation_id="ABC123"), result(RESERVATION),
                   assistant(text), user("Please do it anyway."), *writes)


def test_cancelling_what_the_agent_said_cannot_be_cancelled_fails():
    ep = declined("Reservation ABC123 is basic economy, so it cannot be cancelled.", *cancel())
    out = outcome("no_write_after_refusal", ep, rubric=cs())
    assert out.verdict == "fail" and out.evidence == (6, 8)
    assert out.reason == ("cancel_reservation at step 8 on ABC123 does what the agent declined at step 6: "
                          "'Reservation ABC123 is basic economy, so it cannot be cancelled.'")


def test_a_refusal_naming_no_id_is_about_what_the_agent_just_looked_up():
    ep = declined("I'm sorry, but it cannot be cancelled.", *cancel())
    assert verdict("no_write_after_refusal", ep) == "fail"


def test_other_actions_other_entities_and_notes_are_not_contradictions():
    other = (call("cancel_reservation", reservation_id="XYZ789"), result("{}"))
    assert verdict("no_write_after_refusal", declined("ABC123 cannot be cancelled.", *other)) == "pass"
    bags = (call("update_reservation_baggages", reservation_id="ABC123", total_baggages=2), result("{}"))
    assert verdict("no_write_after_refusal", declined("ABC123 cannot be cancelled.", *bags)) == "pass"
    note = "Please note that basic economy reservations cannot be cancelled unless insured."
    assert verdict("no_write_after_refusal", declined(note, *cancel())) == "na"
    relayed = "It seems the certificate cannot be used for ABC123."  # no action word after the refusal
    assert verdict("no_write_after_refusal", declined(relayed, *cancel())) == "na"


def test_a_partial_write_counts_only_when_it_changes_the_part_declined():
    same = (call("update_reservation_flights", reservation_id="ABC123", cabin="business",
                 flights=[{"flight_number": "HAT001", "date": "2024-05-20"}]), result(RESERVATION))
    changed = (call("update_reservation_flights", reservation_id="ABC123", cabin="economy",
                    flights=[{"flight_number": "HAT999", "date": "2024-05-21"}]), result(RESERVATION))
    text = "ABC123 is basic economy: its flights cannot be modified."
    assert verdict("no_write_after_refusal", declined(text, *same)) == "pass"      # a cabin change
    assert verdict("no_write_after_refusal", declined(text, *changed)) == "fail"   # new flights


def test_a_write_in_between_lifts_the_refusal():
    upgrade = (call("update_reservation_flights", reservation_id="ABC123", cabin="business",
                    flights=[{"flight_number": "HAT001", "date": "2024-05-20"}]), result(RESERVATION))
    ep = declined("ABC123 cannot be cancelled as basic economy.", *upgrade, *cancel())
    assert verdict("no_write_after_refusal", ep) == "pass"


def test_a_list_after_a_colon_names_what_was_declined():
    text = ("These can be cancelled:\n\n1. **XYZ789**\n\n"
            "However, these cannot be cancelled:\n\n1. **ABC123**\n\nProceed?")
    other = (call("cancel_reservation", reservation_id="XYZ789"), result("{}"))
    assert verdict("no_write_after_refusal", declined(text, *other)) == "pass"
    assert verdict("no_write_after_refusal", declined(text, *cancel())) == "fail"


# ---------------------------------------------------------------- answers_question: hand-offs, cut-offs

def test_a_hand_off_is_an_ending_unless_it_failed():
    handoff = (call("transfer_to_human_agents", summary="wants a refund"), result("Transfer successful"))
    ep = booking(*handoff, end=())
    out = outcome("answers_question", ep, rubric=cs())
    assert out.verdict == "pass" and "hand-off (transfer_to_human_agents at step 4)" in out.reason
    broken = (call("transfer_to_human_agents", summary="x"), result("Error: no agents available"))
    assert verdict("answers_question", booking(*broken, end=())) == "fail"
    assert verdict("answers_question", booking(*handoff, end=()), handoff_tools=frozenset()) == "fail"


def test_a_user_turn_left_unanswered_is_a_cut_off_unless_it_ends_the_conversation():
    asks = (assistant("The total is $305. Shall I book it?"),)
    cut = booking(*asks, end=(user("Yes, book it with my Visa."),))
    out = outcome("answers_question", cut, rubric=cs())
    assert out.verdict == "fail" and "user's last turn (step 5) is never answered" in out.reason
    assert verdict("answers_question", booking(*asks, end=(user("Thanks! ###STOP###"),))) == "pass"
    assert verdict("answers_question", booking(*asks, end=(user("ok"),)), end_markers=("ok",)) == "pass"


def test_a_refusal_of_the_whole_reservation_holds_for_what_the_user_asked() -> None:
    """tau-bench gpt-4o-airline/13/0 (golden row): asked to change a flight (1), the agent looks the
    reservation up (4-5) and says "Your reservation is in basic economy class, which cannot be
    modified." (6), naming neither the id nor a part; later it changes the flights (24). The sentence
    declines the reservation as a whole (its noun, then "which cannot be modified" with nothing
    after), so it holds for what the user had asked about (the flight): fail. A cabin-only change
    with the same flights (tau-bench 5/1's kind of write) is not what was declined."""
    from rubricate.testing import answer, call, episode, result, user
    flights = [{"flight_number": "HAT252", "date": "2024-05-21"}]
    steps = (user("Hello! I'd like to change my upcoming flight, please."),
             call("get_reservation_details", reservation_id="XEWRD9"),
             result('{"reservation_id": "XEWRD9", "cabin": "basic_economy", "flights": '
                    '[{"flight_number": "HAT252", "date": "2024-05-21", "price": 75}]}'),
             answer("Your reservation is in basic economy class, which cannot be modified."),
             user("If changing requires an upgrade to economy class, I'm willing to do that."))
    changed = outcome("no_write_after_refusal", episode(*steps, call(
        "update_reservation_flights", reservation_id="XEWRD9", cabin="economy",
        flights=[{"flight_number": "HAT052", "date": "2024-05-21"}], payment_id="gift_card_4643416"), result("{}")),
        rubric=cs())
    assert changed.verdict == "fail" and changed.evidence == (3, 5)
    upgraded = outcome("no_write_after_refusal", episode(*steps, call(
        "update_reservation_flights", reservation_id="XEWRD9", cabin="economy", flights=flights,
        payment_id="gift_card_4643416"), result("{}")), rubric=cs())
    assert upgraded.verdict == "pass"
