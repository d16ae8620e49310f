"""The format contract, parametrised over every registered format with its real fixture file."""

from __future__ import annotations

import pytest

from rubricate.testing import assert_format_contract
from rubricate.traces import Episode, detect, formats, get_format
from rubricate.traces._registry import sample_of
from rubricate.traces.formats._spans import SpanFormat

from .conftest import FORMAT_FIXTURES

REGISTERED = sorted(formats())


def test_every_registered_format_has_a_fixture():
    assert sorted(FORMAT_FIXTURES) == REGISTERED


@pytest.mark.parametrize("name", REGISTERED)
def test_format_contract(name):
    """Sniffs its own fixture and no fixture of a format of equal or lower priority (a lower-priority
    catch-all such as openai-chat may claim a more specific format's file: priority decides there);
    invariants hold; every episode round-trips through msgspec."""
    me = get_format(name)
    others = [str(path) for other, path in FORMAT_FIXTURES.items()
              if other != name and get_format(other).priority <= me.priority]
    episodes = assert_format_contract(name, str(FORMAT_FIXTURES[name]), others=others)
    assert all(isinstance(ep, Episode) and ep.steps for ep in episodes)
    assert len({ep.id for ep in episodes}) == len(episodes), "episode ids are not unique within a file"


@pytest.mark.parametrize("name", REGISTERED)
def test_fixture_is_detected_as_its_format(name):
    found = detect(str(FORMAT_FIXTURES[name]))
    assert found.chosen == name, found.reason
    # every other claimant has a strictly lower priority
    for other in found.claimed:
        if other != name:
            assert get_format(other).priority < get_format(name).priority


# One record per line holds for JSONL fixtures of record formats only: JSON documents (Inspect logs,
# tau-bench arrays) and span formats (one episode per trace) count their records in their own tests.
ONE_PER_LINE = [n for n in REGISTERED if FORMAT_FIXTURES[n].suffix == ".jsonl"
                and not isinstance(get_format(n), SpanFormat)]


@pytest.mark.parametrize("name", ONE_PER_LINE)
def test_reader_reads_every_record_of_its_fixture(name):
    path = FORMAT_FIXTURES[name]
    records = [line for line in path.read_bytes().splitlines() if line.strip()]
    items = list(get_format(name).read(str(path)))
    assert len(items) == len(records)
    assert all(isinstance(item, Episode) for item in items), [i for i in items if not isinstance(i, Episode)]
    assert [ep.source.line for ep in items] == list(range(1, len(records) + 1))
    assert [ep.raw for ep in items] == [r + b"\n" for r in records], "raw keeps the record's bytes"


def test_catch_all_claims_anthropic_records_but_loses_on_priority():
    """openai-chat is the catch-all: it sniffs any `messages` list, so detection relies on priority."""
    sample = sample_of(str(FORMAT_FIXTURES["anthropic-messages"]))
    assert get_format("openai-chat").sniff(sample)
    found = detect(str(FORMAT_FIXTURES["anthropic-messages"]))
    assert found.chosen == "anthropic-messages"
    assert found.claimed == ("anthropic-messages", "openai-chat")


@pytest.mark.parametrize("name", REGISTERED)
def test_episode_dump_leaves_raw_out(name):
    ep = next(e for e in get_format(name).read(str(FORMAT_FIXTURES[name])) if isinstance(e, Episode))
    assert ep.raw
    assert "raw" not in ep.to_dict()
    assert ep.to_dict(raw=True)["raw"] == ep.raw.decode()
