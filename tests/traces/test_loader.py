"""Loading: directory walks, companions, compression and containers, forced formats, damaged input."""

from __future__ import annotations

import gzip
import json
import shutil

import msgspec
import pytest
import zstandard

from rubricate.errors import FormatError, LoadIssueError
from rubricate.traces import (
    Episode,
    LoadIssue,
    TraceFile,
    find_trace_files,
    iter_traces,
    load_episodes,
    read_file,
)

from .conftest import DAMAGED, FORMAT_FIXTURES, VERIFIERS_DIR, VERIFIERS_RUN


def _key(ep: Episode):
    """What must not change when the same records come from another container or compression."""
    data = ep.to_dict()
    data.pop("source")
    if ep.id == str(ep.source):  # records without an id of their own are named by their source
        data.pop("id")
    return data


# --- walking ---------------------------------------------------------------------------------

def test_directory_walk_is_recursive_sorted_and_skips_companions(tmp_path):
    shutil.copytree(VERIFIERS_DIR, tmp_path / "runs")
    (tmp_path / "runs" / "b-chat").mkdir()
    shutil.copy(FORMAT_FIXTURES["openai-chat"], tmp_path / "runs" / "b-chat" / "z.jsonl")
    shutil.copy(FORMAT_FIXTURES["anthropic-messages"], tmp_path / "runs" / "b-chat" / "a.jsonl")
    (tmp_path / "runs" / "notes.txt").write_text("not a trace")
    (tmp_path / "runs" / ".hidden.jsonl").write_text("{}\n")
    (tmp_path / "runs" / ".cache").mkdir()
    (tmp_path / "runs" / ".cache" / "x.jsonl").write_text("{}\n")

    found = [f.path[len(str(tmp_path / "runs")) + 1:] for f in find_trace_files(tmp_path / "runs")]
    assert found == [
        "b-chat/a.jsonl",
        "b-chat/z.jsonl",
        "wiki-search--gpt-4.1-nano/50fa4920/results.jsonl",
        "wiki-search--gpt-4.1-nano/8d8aecd4/results.jsonl",
    ]
    traces = load_episodes(tmp_path / "runs")
    episodes = list(traces)
    assert traces.issues == [], "metadata.json beside results.jsonl is a companion, not a load issue"
    assert [ep.format for ep in episodes] == ["anthropic-messages"] * 3 + ["openai-chat"] * 3 + \
        ["verifiers-results"] * 4
    assert [str(ep.source) for ep in episodes][:4] == [
        "b-chat/a.jsonl:1", "b-chat/a.jsonl:2", "b-chat/a.jsonl:3", "b-chat/z.jsonl:1"]
    assert {ep.metadata["model"] for ep in episodes if ep.format == "verifiers-results"} == {"gpt-4.1-nano"}


def test_metadata_json_without_results_is_not_a_companion(tmp_path):
    shutil.copy(VERIFIERS_RUN / "metadata.json", tmp_path / "metadata.json")
    traces = load_episodes(tmp_path)
    assert list(traces) == []
    [issue] = traces.issues
    assert issue.path == "metadata.json"
    assert "no format recognises it" in issue.reason and "'env_id'" in issue.reason


def test_several_paths_and_a_single_file():
    eps = list(load_episodes([FORMAT_FIXTURES["openai-chat"], FORMAT_FIXTURES["anthropic-messages"]]))
    assert [ep.format for ep in eps] == ["openai-chat"] * 3 + ["anthropic-messages"] * 3
    # a single file's source path is its name (relative to its own directory)
    assert eps[0].source.path == "tau-bench-gpt-4o-airline.jsonl"


def test_missing_path_raises_with_a_hint(tmp_path):
    with pytest.raises(FormatError) as err:
        list(load_episodes(tmp_path / "nope"))
    assert err.value.hint and "directory" in err.value.hint


def test_single_verifiers_file_gets_run_metadata():
    eps = list(load_episodes(VERIFIERS_RUN / "results.jsonl"))
    assert [ep.metadata["model"] for ep in eps] == ["gpt-4.1-nano"] * 3
    assert [ep.metadata["run"] for ep in eps] == ["8d8aecd4"] * 3


# --- containers and compression ----------------------------------------------------------------

def _variants(src, tmp_path):
    data = src.read_bytes()
    records = [json.loads(line) for line in data.splitlines() if line.strip()]
    stem = src.name.split(".")[0]
    out = {}
    out["jsonl.gz"] = tmp_path / f"{stem}.jsonl.gz"
    out["jsonl.gz"].write_bytes(gzip.compress(data))
    out["jsonl.zst"] = tmp_path / f"{stem}.jsonl.zst"
    out["jsonl.zst"].write_bytes(zstandard.ZstdCompressor().compress(data))
    out["json"] = tmp_path / f"{stem}.json"
    out["json"].write_bytes(msgspec.json.encode(records))
    out["json.zst"] = tmp_path / f"{stem}.json.zst"
    out["json.zst"].write_bytes(zstandard.ZstdCompressor().compress(msgspec.json.encode(records)))
    out["json.gz"] = tmp_path / f"{stem}.json.gz"
    out["json.gz"].write_bytes(gzip.compress(json.dumps(records, indent=2).encode()))
    # several zstd frames (as `zstd` appends or parallel compressors write)
    out["multi-frame.zst"] = tmp_path / f"{stem}-frames.jsonl.zst"
    cctx = zstandard.ZstdCompressor()
    frames = [cctx.compress(line) for line in data.splitlines(keepends=True)]
    out["multi-frame.zst"].write_bytes(b"".join(frames))
    return out


# The variants are built from JSONL lines; document formats test their compressed copies themselves.
@pytest.mark.parametrize("name", sorted(n for n, p in FORMAT_FIXTURES.items() if p.suffix == ".jsonl"))
def test_compressed_and_array_files_load_the_same_episodes(name, tmp_path):
    src = FORMAT_FIXTURES[name]
    if name in ("verifiers-results", "verifiers-traces"):  # the same run folder, its run file beside the copies
        tmp_path = tmp_path / src.parent.name
        tmp_path.mkdir()
        for run_file in ("metadata.json", "config.toml"):
            if (src.parent / run_file).exists():
                shutil.copy(src.parent / run_file, tmp_path / run_file)
    plain = list(load_episodes(src))
    assert plain
    for kind, path in _variants(src, tmp_path).items():
        traces = load_episodes(path)
        got = list(traces)
        assert traces.issues == [], (kind, traces.issues)
        assert [_key(e) for e in got] == [_key(e) for e in plain], kind
        assert all(e.format == name for e in got)
        if kind in ("json", "json.gz", "json.zst"):
            assert [e.source.index for e in got] == list(range(len(plain))), (kind, [e.source for e in got])
            assert all(e.source.line is None for e in got)
        else:
            assert [e.source.line for e in got] == [e.source.line for e in plain]


def test_single_json_object_file(tmp_path):
    record = json.loads(FORMAT_FIXTURES["anthropic-messages"].read_text().splitlines()[0])
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record, indent=2))
    [ep] = list(load_episodes(path))
    assert ep.id == "claude-weather-001"
    assert ep.source.line is None and ep.source.index is None and ep.source.path == "one.json"


# --- forcing a format -----------------------------------------------------------------------

def test_forced_format_reads_a_file_detection_would_give_to_another(tmp_path):
    src = FORMAT_FIXTURES["anthropic-messages"]
    detected = list(load_episodes(src))
    assert {e.format for e in detected} == {"anthropic-messages"}
    forced = list(load_episodes(src, format="openai-chat"))
    assert [e.format for e in forced] == ["openai-chat"] * 3
    # the catch-all reads Anthropic blocks as text only: the tool_use blocks are not calls to it
    assert sum(e.n_tool_calls for e in forced) == 0 < sum(e.n_tool_calls for e in detected)


def test_forced_format_that_does_not_fit_gives_issues_not_exceptions():
    traces = load_episodes(FORMAT_FIXTURES["openai-chat"], format="verifiers-results")
    assert list(traces) == []
    assert [i.line for i in traces.issues] == [1, 2, 3]
    assert all(i.format == "verifiers-results" and "not a verifiers-results episode" in i.reason
               for i in traces.issues)


def test_unknown_format_name_raises_with_did_you_mean():
    with pytest.raises(FormatError) as err:
        next(iter(load_episodes(FORMAT_FIXTURES["openai-chat"], format="openai-chatt")))
    assert "unknown trace format 'openai-chatt'" in str(err.value)
    assert err.value.hint == "did you mean 'openai-chat'?"
    with pytest.raises(FormatError) as err:
        list(iter_traces(FORMAT_FIXTURES["openai-chat"], format="langchain"))
    assert "known formats:" in err.value.hint and "verifiers-results" in err.value.hint


# --- damaged input ------------------------------------------------------------------------------

def test_damaged_lines_become_issues_and_every_good_episode_loads():
    traces = load_episodes(DAMAGED)
    episodes = list(traces)
    assert [(e.id, e.source.line) for e in episodes] == [
        ("good-1", 1), ("good-2", 3), ("good-3", 7), ("raw-args", 9)]
    issues = {i.line: i for i in traces.issues}
    assert sorted(issues) == [2, 4, 6, 8]
    assert all(i.path == "chat-damaged.jsonl" and i.format == "openai-chat" for i in traces.issues)
    assert issues[2].reason.startswith("invalid JSON")
    assert issues[4].reason == "record is a JSON list, not an object"
    assert "messages must be a list" in issues[6].reason
    assert "unknown role 'robot'" in issues[8].reason
    assert str(issues[4]) == "chat-damaged.jsonl:4: record is a JSON list, not an object"


def test_strict_raises_at_the_first_issue():
    seen = []
    with pytest.raises(LoadIssueError) as err:
        for ep in load_episodes(DAMAGED, strict=True):
            seen.append(ep.id)
    assert seen == ["good-1"]
    assert err.value.line == 2 and err.value.path == "chat-damaged.jsonl"
    assert isinstance(err.value.issue, LoadIssue) and err.value.issue.line == 2
    assert err.value.hint


def test_issues_are_reset_on_each_iteration():
    traces = load_episodes(DAMAGED)
    list(traces)
    list(traces)
    assert len(traces.issues) == 4


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_compressed_file_gives_an_issue(tmp_path, suffix, keep):
    data = b"".join(FORMAT_FIXTURES[n].read_bytes() for n in ("openai-chat", "openai-chat", "openai-chat"))
    packed = gzip.compress(data) if suffix.endswith("gz") else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(packed[: int(len(packed) * keep)])
    items = list(iter_traces(path))
    assert all(isinstance(i, (Episode, LoadIssue)) for i in items)
    issues = [i for i in items if isinstance(i, LoadIssue)]
    assert issues, "a truncated file must not load silently"
    assert all(i.path == path.name for i in issues)
    assert len(items) - len(issues) < 9


def test_zst_cut_between_frames_is_reported(tmp_path):
    """A file cut inside a later frame, after whole frames of whole lines: zstandard's reader would
    end silently there; the loader reports the truncation."""
    lines = FORMAT_FIXTURES["openai-chat"].read_bytes().splitlines(keepends=True)
    cctx = zstandard.ZstdCompressor()
    frames = [cctx.compress(line) for line in lines]
    path = tmp_path / "frames.jsonl.zst"
    path.write_bytes(frames[0] + frames[1] + frames[2][: len(frames[2]) // 2])
    items = list(iter_traces(path))
    issues = [i for i in items if isinstance(i, LoadIssue)]
    assert len(issues) == 1 and "truncated" in issues[0].reason


def test_truncated_plain_jsonl_keeps_the_records_before_the_cut(tmp_path):
    data = FORMAT_FIXTURES["openai-chat"].read_bytes()
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[: len(data) - 100])
    items = list(iter_traces(path))
    assert [type(i).__name__ for i in items] == ["Episode", "Episode", "LoadIssue"]
    assert items[2].line == 3 and items[2].reason.startswith("invalid JSON")


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"foo": 1, "bar": [2]}\n', "no format recognises it (jsonl; first record has keys ['bar', 'foo'])"),
    (b"[1, 2, 3]\n[4]\n",
     "no format recognises it (jsonl; first record is a JSON list) (tried its first 2 records)"),
    (b"not json at all\n", "no format recognises it (jsonl; no record could be decoded)"),
    (b"", "the file is empty"),
    (b"\n  \n", "the file holds only blank lines"),
])
def test_unrecognised_file_is_an_issue_naming_the_problem(tmp_path, content, expected):
    path = tmp_path / "mystery.jsonl"
    path.write_bytes(content)
    traces = load_episodes(tmp_path)
    assert list(traces) == []
    assert traces.issues == [LoadIssue("mystery.jsonl", expected)]


def test_unreadable_json_document_is_an_issue(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"messages": [{"role": "user", "content": "hi"}]}, {"messa')
    traces = load_episodes(path)
    assert list(traces) == []
    [issue] = traces.issues
    assert issue.path == "broken.json" and "no format recognises it (json;" in issue.reason


def test_read_file_directly_on_a_forced_format():
    trace = TraceFile(str(DAMAGED), str(DAMAGED.parent), DAMAGED.stat().st_size)
    items = list(read_file(trace, "openai-chat"))
    assert [type(i).__name__ for i in items] == ["Episode", "LoadIssue", "Episode", "LoadIssue", "LoadIssue",
                                                 "Episode", "LoadIssue", "Episode"]


def test_huge_integer_reward_is_an_issue_not_a_crash(tmp_path):
    path = tmp_path / "big.jsonl"
    good = {"id": "ok", "messages": [{"role": "user", "content": "hi"}], "reward": 1}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "huge", "reward": 10 ** 400}) + "\n")
    traces = load_episodes(path)
    assert [e.id for e in traces] == ["ok"]
    [issue] = traces.issues
    assert issue.line == 2 and "OverflowError" in issue.reason
