"""Byte ranges of JSONL files (for parallel workers), containers and compression helpers."""

from __future__ import annotations

import gzip
import json
import os
import random

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.traces import Episode, Span, get_format
from rubricate.traces import files as files_module
from rubricate.traces._json import array_elements
from rubricate.traces.files import (
    compression,
    container_of,
    count_lines,
    is_trace_file,
    iter_lines,
    read_head,
    split_jsonl,
)


def _chat_line(r: random.Random, i: int, pad: int) -> str:
    record = {"id": f"ep-{i}", "task_id": f"t{i % 17}", "reward": r.choice([0.0, 1.0]), "messages": [
        {"role": "user", "content": f"question {i} " + "é" * r.randint(0, 40)},
        {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}", "type": "function",
         "function": {"name": "sql_query", "arguments": json.dumps({"q": "x" * r.randint(0, pad)})}}]},
        {"role": "tool", "tool_call_id": f"c{i}", "content": "total\n" + "9" * r.randint(1, max(pad, 1))},
        {"role": "assistant", "content": f"answer {i}"}]}
    return json.dumps(record, ensure_ascii=False)


@pytest.fixture(scope="module")
def big_jsonl(tmp_path_factory):
    """~4 MB of chat records: varied lengths, blank and whitespace-only lines, one line over 1 MB,
    multi-byte UTF-8, no newline after the last line."""
    r = random.Random(1234)
    lines = []
    for i in range(2500):
        lines.append(_chat_line(r, i, 2500))
        if i % 97 == 0:
            lines.append("")
        if i % 301 == 0:
            lines.append("   \t")
        if i == 1200:
            lines.append(_chat_line(r, 99999, 0).replace('"answer 99999"', '"' + "z" * 1_200_000 + '"'))
    path = tmp_path_factory.mktemp("split") / "big.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert path.stat().st_size > 3_000_000
    return path


def _whole(path):
    return [(rec.line, rec.data) for rec in iter_lines(str(path))]


@pytest.mark.parametrize("parts", [2, 3, 4, 7, 16, 64])
def test_spans_read_every_line_exactly_once(big_jsonl, parts):
    spans = split_jsonl(str(big_jsonl), parts)
    size = big_jsonl.stat().st_size
    assert 1 < len(spans) <= parts
    assert spans[0].start == 0 and spans[0].first_line == 1 and spans[-1].end == size
    data = big_jsonl.read_bytes()
    for a, b in zip(spans, spans[1:]):
        assert a.end == b.start, "spans are contiguous"
        assert data[b.start - 1:b.start] == b"\n", "every span starts on a line boundary"
        assert b.first_line == data.count(b"\n", 0, b.start) + 1
    pieces = [(rec.line, rec.data) for span in spans for rec in iter_lines(str(big_jsonl), span)]
    assert pieces == _whole(big_jsonl)


@pytest.mark.parametrize("native", [True, False])
def test_unnumbered_spans_and_count_lines_give_the_same_line_numbers(big_jsonl, native):
    """What the scoring workers do: spans cut without counting, numbered by counting each span, with
    the native kernel's newline counter over mapped windows, or in Python (an install without it)."""
    from rubricate.scoring._native import kernel_counter

    counter = kernel_counter() if native else None
    if native and counter is None:
        if os.environ.get("RUBRICATE_REQUIRE_KERNEL"):
            pytest.fail("the native kernel is not built (RUBRICATE_REQUIRE_KERNEL is set)")
        pytest.skip("the native kernel is not built")
    numbered = split_jsonl(str(big_jsonl), 7)
    cut = split_jsonl(str(big_jsonl), 7, number_lines=False)
    assert [(s.start, s.end) for s in cut] == [(s.start, s.end) for s in numbered]
    assert cut[0].first_line == 1 and all(s.first_line == 0 for s in cut[1:])
    first = 1
    for span, want in zip(cut, numbered):
        assert first == want.first_line
        first += count_lines(str(big_jsonl), span.start, span.end, counter=counter)
    data = big_jsonl.read_bytes()
    assert count_lines(str(big_jsonl), 10, 5000, counter=counter) == data.count(b"\n", 10, 5000)
    assert count_lines(str(big_jsonl), 5, 5, counter=counter) == 0


@pytest.mark.parametrize("window", [1 << 16, 3 << 16, 1 << 22])
def test_count_lines_maps_one_window_at_a_time(big_jsonl, monkeypatch, window):
    """count_lines maps the file a window at a time (a whole mapping counts in the peak RSS); ranges
    that start and end anywhere, inside or across windows, count every newline once."""
    monkeypatch.setattr(files_module, "COUNT_WINDOW", window)
    data = big_jsonl.read_bytes()
    r = random.Random(window)
    cuts = [(0, len(data)), (1, len(data) - 1), (window - 1, window + 1), (window, 2 * window + 7)]
    cuts += [tuple(sorted(r.sample(range(len(data) + 1), 2))) for _ in range(25)]
    from rubricate.scoring._native import kernel_counter

    for start, end in cuts:
        for counter in {kernel_counter(), None}:
            assert count_lines(str(big_jsonl), start, end, counter=counter) == data.count(b"\n", start, end), \
                (start, end, counter)


def test_spans_read_the_same_episodes_as_the_whole_file(big_jsonl):
    fmt = get_format("openai-chat")
    whole = [(e.id, e.source.line) for e in fmt.read(str(big_jsonl)) if isinstance(e, Episode)]
    assert len(whole) == 2501
    spans = split_jsonl(str(big_jsonl), 5)
    pieces = [(e.id, e.source.line) for s in spans for e in fmt.read(str(big_jsonl), s)
              if isinstance(e, Episode)]
    assert pieces == whole


def test_a_line_longer_than_a_part_collapses_cuts(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text('{"a": 1}\n' + '{"b": "' + "x" * 3_000_000 + '"}\n{"c": 3}\n')
    spans = split_jsonl(str(path), 8)
    assert len(spans) == 2  # no cut can fall inside the long line
    assert [rec.line for s in spans for rec in iter_lines(str(path), s)] == [1, 2, 3]


def test_small_or_compressed_files_are_one_span(tmp_path, big_jsonl):
    small = tmp_path / "small.jsonl"
    small.write_text('{"a": 1}\n' * 100)
    assert split_jsonl(str(small), 8) == [Span()]
    assert split_jsonl(str(big_jsonl), 1) == [Span()]
    packed = tmp_path / "big.jsonl.gz"
    packed.write_bytes(gzip.compress(big_jsonl.read_bytes(), compresslevel=1))
    assert split_jsonl(str(packed), 8) == [Span()]


def test_iter_lines_skips_blank_lines_but_counts_them(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n  \r\n{"b": 2}\r\n{"c": 3}')
    assert [(r.line, r.data) for r in iter_lines(str(path))] == [
        (1, b'{"a": 1}\n'), (4, b'{"b": 2}\r\n'), (5, b'{"c": 3}')]


@pytest.mark.parametrize(("name", "expected"), [
    ("a.jsonl", True), ("a.json", True), ("a.ndjson", True), ("A.JSONL", True),
    ("a.jsonl.gz", True), ("a.json.zst", True), ("results.zst", True),
    ("a.txt", False), ("a.txt.gz", False), ("a.parquet", False), ("a.jsonl.bz2", False),
])
def test_is_trace_file(name, expected):
    assert is_trace_file(f"/runs/{name}") is expected


def test_compression_and_container():
    assert [compression(p) for p in ("a.jsonl", "a.jsonl.gz", "a.json.ZST")] == [None, "gz", "zst"]
    assert container_of("a.jsonl.zst", b"[1]") == "jsonl"  # the name decides when it can
    assert container_of("a.json.gz", b'{"a": 1}\n{"b": 2}\n') == "json"
    assert container_of("noext", b'  [{"a": 1}]') == "json"
    assert container_of("noext", b'{"a": 1}\n{"b": 2}\n') == "jsonl"
    assert container_of("noext", b'{"a": 1}\n') == "json"
    assert container_of("noext", b'{\n  "a": 1\n}\n') == "json"


def test_read_head_decompresses(tmp_path):
    data = b'{"a": 1}\n' * 20000
    zst = zstandard.ZstdCompressor().compress(data)
    packed_files = {"h.jsonl.gz": gzip.compress(data), "h.jsonl.zst": zst}
    for name, packed in packed_files.items():
        path = tmp_path / name
        path.write_bytes(packed)
        assert read_head(str(path), 1000) == data[:1000]
        assert read_head(str(path)) == data[: 1 << 16]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='[]{},:"\\ \n\tabcé\u2028'),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(alphabet='[]{}",\\ab'), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON, max_size=6), st.sampled_from([None, 0, 2]), st.booleans(), st.booleans())
def test_array_elements_find_each_element_without_decoding(values, indent, ascii_only, bom):
    """The byte ranges `array_elements` finds decode to the array's elements, whatever the strings
    hold (brackets, commas, quotes, backslashes) and however the array is laid out."""
    doc = json.dumps(values, indent=indent, ensure_ascii=ascii_only).encode()
    data = (b"\xef\xbb\xbf" if bom else b"") + b" \n" + doc + b"\n"
    ranges = list(array_elements(data))
    assert [json.loads(data[a:b]) for a, b in ranges] == values


def test_array_elements_of_what_is_no_array_or_is_cut_short():
    assert array_elements(b'{"a": [1, 2]}') is None
    assert array_elements(b"  ") is None
    data = b'[{"a": "x"}, [1, 2], {"b": ['
    assert [data[a:b] for a, b in array_elements(data)] == [b'{"a": "x"}', b" [1, 2]", b' {"b": [']
