"""Property tests: corrupting any fixture never raises from the loader."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, LoadIssue, TraceFile, get_format, iter_traces, read_file
from rubricate.traces.formats._spans import SpanFormat

from .conftest import DAMAGED, FORMAT_FIXTURES

FIXTURES = {**{name: path.read_bytes() for name, path in FORMAT_FIXTURES.items()},
            "damaged": DAMAGED.read_bytes()}
NAMES = sorted(FIXTURES)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def _written(name: str, data: bytes, suffix: str = ".jsonl") -> Iterator[Path]:
    """The bytes as a trace file; verifiers fixtures keep their metadata.json companion beside them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("results" + suffix)
        path.write_bytes(data)
        if name == "verifiers-results":
            shutil.copy(FORMAT_FIXTURES[name].parent / "metadata.json", Path(tmp) / "metadata.json")
        yield path


def _check_all(path: Path) -> list[Episode | LoadIssue]:
    items = list(iter_traces(path))
    items += list(read_file(TraceFile(str(path), os.path.dirname(path), path.stat().st_size)))
    for item in items:
        assert isinstance(item, (Episode, LoadIssue)), type(item)
        if isinstance(item, Episode):
            assert_episode_invariants(item)
        else:
            assert item.reason and item.path
    return items


def _forced_formats(path: Path) -> None:
    """Every reader, forced onto the damaged bytes, still yields only episodes and issues."""
    from rubricate.traces import formats

    for name in formats():
        for item in iter_traces(path, format=name):
            assert isinstance(item, (Episode, LoadIssue))
            if isinstance(item, Episode):
                assert_episode_invariants(item)


@SETTINGS
@given(name=st.sampled_from(NAMES), data=st.data())
def test_truncating_any_fixture_at_any_byte_never_raises(name, data):
    raw = FIXTURES[name]
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    with _written(name, raw[:cut]) as path:
        items = _check_all(path)
        _forced_formats(path)
    full_lines = raw[:cut].count(b"\n")
    # every record before the cut is still there (the cut line becomes an issue or, whole, an episode)
    episodes = [i for i in items[: len(items) // 2] if isinstance(i, Episode)]
    expected = sum(1 for line in raw.split(b"\n")[:full_lines] if line.strip())
    if name != "damaged" and full_lines and FORMAT_FIXTURES[name].suffix == ".jsonl" \
            and not isinstance(get_format(name), SpanFormat):  # records = lines (span formats group by trace)
        assert len(episodes) >= expected


@SETTINGS
@given(name=st.sampled_from(NAMES), data=st.data())
def test_flipping_and_inserting_bytes_never_raises(name, data):
    raw = bytearray(FIXTURES[name])
    for _ in range(data.draw(st.integers(1, 8), label="edits")):
        pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "newline"]), label="kind")
        if kind == "flip":
            raw[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif kind == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        elif kind == "delete":
            del raw[pos:pos + data.draw(st.integers(1, 16), label="n")]
        else:
            raw[pos:pos] = b"\n"
        if not raw:
            break
    with _written(name, bytes(raw)) as path:
        _check_all(path)
        _forced_formats(path)


@SETTINGS
@given(name=st.sampled_from(NAMES), codec=st.sampled_from(["gz", "zst"]), data=st.data())
def test_damaged_compressed_files_never_raise(name, codec, data):
    raw = FIXTURES[name]
    packed = bytearray(gzip.compress(raw) if codec == "gz" else zstandard.ZstdCompressor().compress(raw))
    if data.draw(st.booleans(), label="truncate"):
        packed = packed[: data.draw(st.integers(0, len(packed)), label="cut")]
    else:
        pos = data.draw(st.integers(0, len(packed) - 1), label="pos")
        packed[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    with _written(name, bytes(packed), suffix=f".jsonl.{codec}") as path:
        _check_all(path)


@SETTINGS
@given(records=st.lists(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["role", "content", "messages", "tool_calls", "function", "name", "arguments", "id",
                         "type", "call_id", "output", "input", "prompt", "completion", "reward", "is_error",
                         "tool_use_id", "system", "model", "response", "responses_create_params", "items"]),
        children, max_size=6),
    max_leaves=30), min_size=1, max_size=4))
def test_arbitrary_json_records_never_raise(records):
    """Valid JSON with the keys readers look for, in any shape: forced through every reader."""
    import msgspec

    body = b"\n".join(msgspec.json.encode(r) for r in records) + b"\n"
    with _written("generated", body) as path:
        _check_all(path)
        _forced_formats(path)
