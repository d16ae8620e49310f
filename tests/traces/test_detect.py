"""detect(): the chosen format with its reason, lower-priority claimants, misses and ties."""

from __future__ import annotations

import json

import pytest

from rubricate.errors import FormatError
from rubricate.traces import (
    Detection,
    Episode,
    RecordFormat,
    Source,
    detect,
    formats,
    load_episodes,
    trace_format,
)
from rubricate.traces._normalise import StepBuilder
from rubricate.traces._registry import isolated_formats

from .conftest import FORMAT_FIXTURES


def test_detect_explains_the_choice():
    found = detect(str(FORMAT_FIXTURES["verifiers-results"]))
    assert found == Detection(str(FORMAT_FIXTURES["verifiers-results"]), "verifiers-results",
                              ("verifiers-results",), "verifiers-results (priority 20)")


def test_detect_names_lower_priority_claimants():
    found = detect(str(FORMAT_FIXTURES["anthropic-messages"]))
    assert found.chosen == "anthropic-messages"
    assert found.claimed == ("anthropic-messages", "openai-chat")
    assert found.reason == "anthropic-messages (priority 10); also claimed by openai-chat (lower priority)"


def test_detect_miss_says_what_it_saw(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"event": "start", "ts": 1}) + "\n")
    found = detect(str(path))
    assert found.chosen is None and found.claimed == ()
    assert found.reason == "no format recognises it (jsonl; first record has keys ['event', 'ts'])"


def test_detect_unreadable_file(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    found = detect(str(path))
    assert found.chosen is None and found.reason.startswith("cannot read the file:")


def test_detect_sees_a_first_record_longer_than_the_head(tmp_path):
    """Real NeMo Gym rollouts have first lines over 64 KiB; sniffing must still see the record."""
    record = json.loads(FORMAT_FIXTURES["openai-responses"].read_text().splitlines()[0])
    record["padding"] = "x" * 200_000
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert detect(str(path)).chosen == "openai-responses"
    [ep] = list(load_episodes(path))
    assert ep.metadata["padding"] == "x" * 200_000


class _Claims(RecordFormat):
    def sniff_record(self, record):
        return "shared" in record

    def episode(self, record, source: Source, raw):
        b = StepBuilder()
        b.message("user", str(record["shared"]))
        return Episode(id=str(source), steps=b.steps, source=source, format=self.name)


def test_equal_priority_tie_is_not_decided_by_registration_order(tmp_path):
    path = tmp_path / "tie.jsonl"
    path.write_text(json.dumps({"shared": "hello"}) + "\n")
    before = set(formats())
    with isolated_formats():
        trace_format("tie-alpha", priority=5)(type("Alpha", (_Claims,), {}))
        trace_format("tie-beta", priority=5)(type("Beta", (_Claims,), {}))
        trace_format("tie-low", priority=1)(type("Low", (_Claims,), {}))
        found = detect(str(path))
        assert found.chosen is None
        assert found.claimed == ("tie-alpha", "tie-beta", "tie-low")
        assert "'tie-alpha'" in found.reason and "'tie-beta'" in found.reason
        assert "equal priority 5" in found.reason
        assert "tie-low" not in found.reason
        traces = load_episodes(path)
        assert list(traces) == []
        [issue] = traces.issues
        assert "(pass --format to choose)" in issue.reason and "'tie-beta'" in issue.reason
        # --format resolves the tie
        [ep] = list(load_episodes(path, format="tie-beta"))
        assert ep.format == "tie-beta" and ep.steps[0].content == "hello"
    assert set(formats()) == before, "isolated_formats() forgets what was registered inside it"


def test_a_broken_sniff_does_not_stop_detection(tmp_path):
    class Broken(RecordFormat):
        def sniff_record(self, record):
            raise RuntimeError("plugin bug")

    with isolated_formats():
        trace_format("broken-plugin", priority=100)(Broken)
        assert detect(str(FORMAT_FIXTURES["openai-chat"])).chosen == "openai-chat"


def test_registering_a_taken_name_with_another_class_fails():
    with isolated_formats():
        with pytest.raises(FormatError) as err:
            trace_format("openai-chat")(type("Impostor", (_Claims,), {}))
        assert "registered twice" in str(err.value) and err.value.hint
    assert type(formats()["openai-chat"]).__name__ == "OpenAIChat"


def test_formats_are_listed_by_priority():
    listed = [(f.priority, name) for name, f in formats().items()]
    assert listed == sorted(listed, key=lambda pn: (-pn[0], pn[1]))
    names = list(formats())
    assert names.index("verifiers-results") < names.index("anthropic-messages") < names.index("openai-chat")
    assert names[-1] == "openai-chat"  # the catch-all is tried last
    assert all(f.description for f in formats().values())


def test_formats_name_stays_the_function_after_the_subpackage_loads():
    """`rubricate.traces.formats` is a function although a `formats` subpackage exists beside it."""
    import importlib

    import rubricate.traces as traces

    importlib.import_module("rubricate.traces.formats.verifiers")
    assert callable(traces.formats) and "openai-chat" in traces.formats()
    from rubricate.traces import formats as again

    assert callable(again)


def test_isolated_formats_restores_after_an_error():
    before = dict(formats())
    with pytest.raises(RuntimeError), isolated_formats():
        trace_format("temporary", priority=3)(type("Temp", (_Claims,), {}))
        assert "temporary" in formats()
        raise RuntimeError("boom")
    assert formats() == before
