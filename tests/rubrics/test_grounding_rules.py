"""grounded_answer on agents it was not tuned for: what counts as a source and what is not a quantity.

Each rule is tested on excerpts of the real corpora in ../shared/corpora (file and line cited; the
texts are copied, cut where "..." says so), and by a property over generated text:
- numbers given to the agent (system prompt / policy, user turns) are sources, as written;
- list ordinals, dates, times, identifiers and the tails of identifiers are not quantities.
The SQL-agent cases of the other grounding tests (test_answer_checks.py) are unchanged.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from _shared import CORPORA, need
from rubricate import load_rubric
from rubricate.rubrics._numbers import id_tail_at, numbers, quantities
from rubricate.testing import answer, call, episode, result, system, user
from rubricate.traces import load_episodes

from ._support import outcome

TAU = "tau-bench/gpt-4o-airline.json"
NEMO = "nemo-gym-rollouts/conversational_tool_use_simulation.example_rollouts.jsonl"
# tau-bench gpt-4o-airline.json line 51948 (the policy every airline episode starts with), cut
POLICY = ("# Airline Agent Policy\n\nThe current time is 2024-05-15 15:00:00 EST.\n\n... - Checked bag allowance: "
          "If the booking user is a regular member, 0 free checked bag for each basic economy passenger, 1 free "
          "checked bag for each economy passenger, and 2 free checked bags for each business passenger. If the "
          "booking user is a silver member, 1 free checked bag for each basic economy passenger, 2 free checked bag "
          "for each economy passenger, and 3 free checked bags for each business passenger. If the booking user "
          "is a gold member, 2 free checked bag for each basic economy passenger, 3 free checked bags for each "
          "economy passenger, and 3 free checked bags for each business passenger. Each extra baggage is 50 "
          "dollars.")


def grounded(*steps, **kw) -> tuple[str, str, tuple[int, ...]]:
    out = outcome("grounded_answer", episode(*steps, **kw))
    return out.verdict, out.reason, out.evidence


# ---------------------------------------------------------------- numbers given to the agent are sources

def test_the_policy_in_the_system_prompt_grounds_the_answer() -> None:
    """tau-bench (TAU) task 44 trial 3: lines 51948 (policy), 51952 and 51960 (user), 51963 (answer).
    No tool was called; every number comes from the policy. It failed with "the answer states 2 but
    no tool returned a successful output"."""
    steps = (system(POLICY),
             user("Hi! I'm trying to find out how many total suitcases I can take on my upcoming flight. I'm quite "
                  "sure I'm a gold member, if that helps."),
             answer("Certainly! As a gold member, here is the total number of free checked bags you can take per "
                    "passenger based on your cabin class:\n\n- **Basic Economy:** 2 bags\n- **Economy:** 3 bags\n- "
                    "**Business:** 3 bags\n\nIf you need to take more than these numbers, each additional bag will "
                    "cost $50."))
    verdict, reason, evidence = grounded(*steps)
    assert (verdict, reason) == ("pass", "all 4 numbers in the answer come from tool outputs or what the agent was given")
    assert evidence == (0, 2)  # the policy and the answer
    # a number the policy does not hold still fails, with the reason it always had
    changed = (*steps[:2], answer("Each additional bag will cost $75."))
    assert grounded(*changed)[:2] == ("fail", "the answer states $75 but no tool returned a successful output")


def test_numbers_of_a_user_turn_ground_the_answer() -> None:
    """tau-bench (TAU) task 9 trial 3: lines 42525 (user), 42545 (calculate's output), 42548 (answer):
    $500 and $300 are the user's, $400 the tool's."""
    verdict, reason, evidence = grounded(
        user("Hi! I'd like to know the sum of my gift card balances, please."),
        user("The total cost of the reservation is $1,200. The gift cards together total $300. How much will be "
             "charged to my MasterCard after using the $500 certificate and the gift cards?"),
        call("calculate", expression="1200 - 500 - 300"), result("400.0"),
        answer("After applying the $500 certificate and the $300 from the gift cards, the remaining balance to be "
               "charged to your MasterCard will be $400."))
    assert verdict == "pass" and "what the agent was given" in reason
    assert evidence == (1, 3, 4)


def test_given_numbers_count_as_written_not_as_a_base_for_arithmetic() -> None:
    """Only tool outputs feed the one-step derivations: 1,200 - 500 (both from the user) is not grounded."""
    verdict, reason, _ = grounded(
        user("The total cost of the reservation is $1,200 and I have a $500 certificate."),
        call("calculate", expression="2 + 2"), result("4"),
        answer("You will be charged $700."))
    assert verdict == "fail" and reason.endswith(": $700")


def test_a_later_user_turn_is_no_source_for_an_earlier_answer() -> None:
    verdict, _, _ = grounded(user("How many bags?"), call("get", x="y"), result("none"), answer("You have 7 bags."),
                             user("I have 7 bags."))
    assert verdict == "fail"


# ---------------------------------------------------------------- not quantities

def test_the_tail_of_an_identifier_is_not_a_quantity() -> None:
    """tau-bench (TAU) task 47 trial 2: lines 39103 (get_reservation_details' output, cut), 39134
    (answer) and the refund sentence of its policy (line 39043, cut). "1784" is the tail of
    gift_card_1591784. It failed with "1 of 3 numbers ... 1784"."""
    output = ('{"reservation_id": "S5IK51", "user_id": "raj_sanchez_7340", ... "payment_history": '
              '[{"payment_id": "gift_card_1591784", "amount": 3720}], "created_at": "2024-05-06T16:45:47"}')
    text = ("Your reservation with ID S5IK51 has been successfully cancelled. The refund will be processed to the "
            "original payment method (gift card ending in 1784) within 5 to 7 business days.")
    policy = "# Airline Agent Policy\n\n... - The refund will go to original payment methods in 5 to 7 business days."
    verdict, reason, evidence = grounded(system(policy), user("Hi! I'd like to cancel a reservation, please."),
                                         call("get_reservation_details", reservation_id="S5IK51"), result(output),
                                         answer(text))
    assert verdict == "pass" and reason.startswith("all 2 numbers in the answer come from")  # 5 and 7
    # a card tail the tools never showed is a number to ground, and it is not grounded
    verdict, reason, _ = grounded(system(policy), call("get_reservation_details", reservation_id="S5IK51"),
                                  result(output), answer(text.replace("1784", "2468")))
    assert verdict == "fail" and reason.endswith(": 2468")


def test_list_ordinals_are_not_quantities() -> None:
    """tau-bench (TAU) task 9 trial 3: line 42564 (the last answer). The "2" of "2. Flight numbers"
    failed: "1 of 2 numbers ... 2"."""
    verdict, reason, _ = grounded(
        user("Hi! I'd like to know the sum of my gift card balances, please."),
        call("calculate", expression="1200 - 500 - 300"), result("400.0"),
        answer("To proceed with booking your new business class reservation, I'll need the following details from "
               "your original reservation:\n\n1. Origin and destination airports.\n2. Flight numbers and dates.\n\n"
               "Once you provide these details, I can complete the booking for you."))
    assert (verdict, reason) == ("na", "the answer states no quantity (its numbers are list numbers, dates, times "
                                       "or identifiers)")


def test_identifiers_are_not_quantities() -> None:
    """tau-bench (TAU) line 1836: a numbered list of reservation ids, one starting with a digit (5RJ7UH);
    NeMo Gym (NEMO) line 3: ids written with a prefix and a hyphen (PUR-456789, EVT-789456)."""
    assert quantities("I found your reservations. Here are the reservation IDs you have:\n\n1. UM3OG5\n2. 5RJ7UH\n"
                      "3. FQ8APE\n4. QKRY03\n\nPlease let me know which reservation ID you would like to modify.") == []
    text = ("- **Purchase ID:** PUR-456789\n- **Quantity:** 1 copy\n- **Loyalty Points Used:** 350 points "
            "(maximum 50% discount applied)\n3. **Event Linkage:** This pre-order is linked to your workshop "
            "registration (EVT-789456)")
    assert [n.text for n in quantities(text)] == ["1", "350", "50%"]


def test_dates_and_times_are_not_quantities() -> None:
    """NeMo Gym (NEMO) line 5 (the answer, cut): a date and times that failed "13 of 16 numbers ...
    2025, 12, 08, 10, 30"; line 3: "October 18th, 2024 at 2:00 PM"; tau-bench (TAU) line 15627:
    an ISO date and clock times."""
    nemo = ("**Cancellation processed for reservation KIDS456:**\n- **Event:** Children's Storytime (2025-12-08 "
            "10:30:00)\n- **Cancellation time:** 2025-12-07 16:14:56 CST (approximately 18 hours before event)\n- "
            "**Refund amount:** $0")
    assert [n.text for n in quantities(nemo)] == ["18", "$0"]
    assert quantities("**Hold Expiry:** **October 18th, 2024 at 2:00 PM** (72 hours post-event)")[0].text == "72"
    tau = ("Your reservation has been successfully updated to the new economy flights on 2024-05-24:\n\n- **Flight "
           "HAT110** from ATL to LGA\n  - Departure: 14:00 EST\n  - Arrival: 16:30 EST")
    assert quantities(tau) == [] and len(numbers(tau)) == 7
    for text in ("May 20th", "20 May 2024", "5/15/2024", "September 2020", "Oct 18, 2024", "the 3rd of June"):
        assert quantities(text) == [], text


def test_a_year_on_its_own_and_ranges_stay_quantities() -> None:
    """What the rules leave alone: a bare year ("1980." is a whole wiki-search answer), ranges, units."""
    assert [n.text for n in quantities("1980.")] == ["1980"]
    assert [n.text for n in quantities("within 5 to 7 business days, 5-7 days, 5GB, 3rd")] == \
        ["5", "7", "5", "7", "5", "3"]


def test_the_three_tau_bench_false_positives_are_gone() -> None:
    """agent-basics on the whole tau-bench corpus: grounded_answer fails nowhere, and the three
    episodes of the issue pass or are na."""
    rubric = load_rubric("agent-basics")
    item = rubric.item("grounded_answer")
    verdicts = {}
    for ep in load_episodes(need(CORPORA / "tau-bench")):
        verdicts[ep.id] = next(v for v in rubric.evaluate(ep) if v.item == item.id).verdict
    assert len(verdicts) == 200
    assert verdicts["gpt-4o-airline/47/2"] == "pass"   # gift card ending in 1784
    assert verdicts["gpt-4o-airline/9/3"] == "na"      # "2." list numbering
    assert verdicts["gpt-4o-airline/44/3"] == "pass"   # 2 bags, from the policy
    assert "fail" not in verdicts.values()


# ---------------------------------------------------------------- properties

DAYS = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%d/%m/%y", "%Y/%m/%d", "%B %d, %Y", "%b %d", "%d %B %Y", "%B %Y",
                "%b. %d, %Y", "%H:%M", "%H:%M:%S", "%Y-%m-%dT%H:%M:%S"]


@settings(max_examples=300, deadline=None)
@given(day=DAYS, fmt=st.sampled_from(DATE_FORMATS), hour=st.integers(0, 23), minute=st.integers(0, 59),
       before=st.sampled_from(["", "on ", "(", "at "]), after=st.sampled_from(["", ".", ")", " EST", ", then"]))
def test_no_date_or_time_is_a_quantity(day: dt.date, fmt: str, hour: int, minute: int, before: str,
                                       after: str) -> None:
    stamp = dt.datetime(day.year, day.month, day.day, hour, minute).strftime(fmt)
    assert quantities(before + stamp + after) == [], stamp


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.text("abcdefgh XYZ$%", min_size=1, max_size=12), min_size=1, max_size=9),
       sep=st.sampled_from([". ", ") "]), indent=st.sampled_from(["", "  ", "\t"]))
def test_list_numbering_is_never_a_quantity(items: list[str], sep: str, indent: str) -> None:
    text = "Steps:\n" + "\n".join(f"{indent}{k}{sep}{item}" for k, item in enumerate(items, 1))
    assert quantities(text) == quantities("Steps:\n" + "\n".join(f"{indent}{item}" for item in items))


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(["gift_card_", "credit_card_", "raj_sanchez_", "certificate_", "user", "PUR-"]),
       digits=st.integers(10**3, 10**9).map(str), k=st.integers(3, 9))
def test_the_tail_of_an_identifier_shown_to_the_agent(prefix: str, digits: str, k: int) -> None:
    """Any last k >= 3 digits of an identifier that a tool output shows: not a number to ground; and
    not grounded when the identifier is not shown."""
    tail = digits[-k:] if k < len(digits) else digits[1:]
    shown = f'{{"payment_id": "{prefix}{digits}", "amount": 12}}'
    assert id_tail_at(shown, tail)
    text = f"Refunded to the card ending in {tail}."
    steps = (user("Please refund me."), call("get_details", id="x"))
    assert grounded(*steps, result(shown), answer(text))[0] == "na"
    assert grounded(*steps, result('{"status": "refunded"}'), answer(text))[0] == "fail"


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.integers(0, 10**7).map(str), st.decimals(0, 10**5, places=2).map(str)),
       where=st.sampled_from(["system", "user"]))
def test_a_number_the_agent_was_given_grounds_the_answer_as_written(value: str, where: str) -> None:
    given_step = system(f"Policy: the limit is {value} per day.") if where == "system" else \
        user(f"Note that my limit is {value} per day.")
    verdict, _, evidence = grounded(user("What is my daily limit?"), given_step, answer(f"Your limit is {value}."))
    assert verdict == "pass" and evidence == (1, 2)


# ---------------------------------------------------------------- answers with no quantity

# tau-bench (TAU) task 13 trial 0: the flight search result (cut) and the final answer, line 4514
SEARCH_13 = ('[{"flight_number": "HAT052", "origin": "ATL", "destination": "LAS", "scheduled_departure_time_est": '
             '"03:00:00", "scheduled_arrival_time_est": "07:00:00", "status": "available"}]')
ANSWER_13 = ("Your reservation has been successfully updated. The flight from Atlanta (ATL) to Las Vegas (LAS) has "
             "been changed to flight HAT052, departing at 03:00 EST on May 21, 2024, and the cabin has been upgraded "
             "to economy class.")
RESERVATION_13 = '{"reservation_id": "XEWRD9", "flights": [{"flight_number": "HAT252", "date": "2024-05-21"}]}'


def test_dates_times_and_ids_found_in_tool_outputs_pass() -> None:
    """tau-bench task 13 trial 0 (the golden row that disagreed): the answer's only numbers are a time
    (03:00) and a date (May 21, 2024); the search result (step 4) holds 03:00:00, the reservation
    (step 2) 2024-05-21. That is evidence of grounding: pass, citing those steps, not na."""
    verdict, reason, evidence = grounded(user("change my flight"), call("get_reservation_details"),
                                         result(RESERVATION_13), call("search_direct_flight"), result(SEARCH_13),
                                         answer(ANSWER_13))
    assert verdict == "pass" and "dates, times and identifiers" in reason
    assert evidence == (2, 4, 5)


def test_dates_not_in_any_tool_output_stay_na_never_fail() -> None:
    """The same answer after only the search result: 21 and 2024 are in no tool output, so the check
    has no evidence either way (they are not quantities): na, never a false fail."""
    verdict, reason, _ = grounded(user("change my flight"), call("search_direct_flight"), result(SEARCH_13),
                                  answer(ANSWER_13))
    assert verdict == "na" and "no quantity" in reason


def test_list_ordinals_are_not_references() -> None:
    """tau-bench task 9 trial 3 numbers its answer ("1. ...", "2. ..."): the ordinals need no source;
    the date in the list item does (found here, so pass on one number set: 2024, 05, 24)."""
    verdict, reason, evidence = grounded(user("q"), call("get_reservation_details"),
                                         result('{"date": "2024-05-24"}'),
                                         answer("1. Your flight on 2024-05-24\n2. Origin and destination airports."))
    assert (verdict, evidence) == ("pass", (2, 3)) and "3 numbers" in reason
