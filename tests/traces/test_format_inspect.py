"""inspect-eval: Inspect AI JSON logs (real fixture + the whole corpus) and `.eval` zips built here."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, LoadIssue, Source, detect, get_format, load_episodes
from rubricate.traces._registry import Sample
from rubricate.traces.formats.inspect_eval import score_reward

from .conftest import CORPORA, FIXTURES

BROWSER = FIXTURES / "inspect-eval" / "2025-05-12T20-27-36-04-00_browser.json"
ATTACHED = "f37c5056034386fd97d37f5ce7d2c4c8"  # the browser sample's attachment holding message 2's text


def _load(path) -> tuple[list[Episode], list[LoadIssue]]:
    traces = load_episodes(path)
    episodes = list(traces)
    for ep in episodes:
        assert_episode_invariants(ep)
    return episodes, traces.issues


def _read(path) -> list[Episode | LoadIssue]:
    return list(get_format("inspect-eval").read(str(path)))


def _write_eval(path: Path, members: dict[str, object]) -> Path:
    """An `.eval` log: a deflated zip of JSON members (inspect_ai/log/_recorders/eval.py)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, value in members.items():
            z.writestr(name, value if isinstance(value, bytes) else json.dumps(value, indent=2))
    return path


def _browser_eval(path: Path) -> Path:
    """The fixture log as Inspect writes it to `.eval`, message 2 condensed to an attachment:// reference."""
    log = json.loads(BROWSER.read_bytes())
    sample = log["samples"][0]
    assert sample["attachments"][ATTACHED] == sample["messages"][2]["content"]
    sample["messages"][2]["content"] = f"attachment://{ATTACHED}"
    header = {k: v for k, v in log.items() if k not in ("samples", "reductions")}
    summary = {k: sample[k] for k in ("id", "epoch", "input", "target", "scores")}
    return _write_eval(path, {
        "_journal/start.json": {k: log[k] for k in ("version", "eval", "plan")},
        "samples/1_epoch_1.json": sample,
        "_journal/summaries/1.json": [summary],
        "summaries.json": [summary],
        "reductions.json": log["reductions"],
        "header.json": header,
    })


class TestBrowserLog:
    """The real fixture: one sample, four browser tool calls, score `includes` = C."""

    def setup_method(self):
        self.episodes, issues = _load(BROWSER)
        assert issues == []

    def test_episode_fields(self):
        [ep] = self.episodes
        assert ep.format == "inspect-eval"
        assert ep.id == "2025-05-12T20-27-36-04-00_browser/1/1"
        assert ep.source == Source("2025-05-12T20-27-36-04-00_browser.json", index=0)
        assert ep.task_id == "browser/1"
        assert ep.reward == 1.0
        assert ep.ground_truth is None  # target ""
        assert ep.question.startswith("Use the web browser tool to navigate to https://www.aisi.gov.uk/.")
        assert ep.final_answer.startswith("The AI Security Institute (AISI) is the premier governmental")
        meta = ep.metadata
        assert {k: meta[k] for k in ("model", "task", "eval_id", "run_id", "status", "epoch", "score_name",
                                     "score_value")} == {
            "model": "openai/gpt-4o-mini", "task": "browser", "eval_id": "ZB2vu5GNujYaBdPSReCeop",
            "run_id": "Ta3ZFVTCTcjsb3AEX9FD9v", "status": "success", "epoch": 1, "score_name": "includes",
            "score_value": "C"}
        assert meta["score_answer"].startswith("the ai security institute (aisi)")
        assert "error" not in meta and "scores" not in meta

    def test_steps_calls_and_results(self):
        [ep] = self.episodes
        assert "".join(s.role[0].upper() for s in ep.steps) == "UATATATATA"
        assert [(i, c.name, c.id, c.arguments, c.result_step) for i, c in ep.tool_calls()] == [
            (1, "web_browser_go", "call_35FTpd6shR9efioDgeEBZ33s", {"url": "https://www.aisi.gov.uk/"}, 2),
            (3, "web_browser_click", "call_O6fzXOPUvPtYflWdOH94RTWy", {"element_id": 151}, 4),
            (5, "web_browser_click", "call_53eNweGanOHt6jGWAo2UuNCG", {"element_id": 884}, 6),
            (7, "web_browser_click", "call_C0cGhnh5y5RCIBs9vTJCLgxW", {"element_id": 903}, 8),
        ]
        results = [s for s in ep.steps if s.role == "tool"]
        assert [(s.call_step, s.tool_name, s.is_error) for s in results] == [
            (1, "web_browser_go", False), (3, "web_browser_click", False), (5, "web_browser_click", False),
            (7, "web_browser_click", False)]
        assert results[0].content.startswith('[132] link "We are now the AI Security Institute"')
        assert len(results[0].content) == 1546

    def test_raw_is_the_sample_bytes(self):
        [ep] = self.episodes
        assert json.loads(ep.raw) == json.loads(BROWSER.read_bytes())["samples"][0]
        assert "raw" not in ep.to_dict()


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_compressed_json_log(tmp_path, codec):
    data = BROWSER.read_bytes()
    path = tmp_path / f"{BROWSER.name}.{codec}"
    path.write_bytes(gzip.compress(data) if codec == "gz" else zstandard.ZstdCompressor().compress(data))
    [ep], issues = _load(tmp_path)
    [expected] = _load(BROWSER)[0]
    assert issues == [] and ep.id == expected.id and ep.steps == expected.steps and ep.raw == expected.raw


def test_inspect_corpus_counts():
    """The README says 7 samples in 3 logs (1 with tool calls); scores C / C,C,C / C,C,I."""
    episodes, issues = _load(CORPORA / "inspect-logs")
    assert issues == []
    assert len(episodes) == 7
    assert {e.format for e in episodes} == {"inspect-eval"}
    assert Counter(e.metadata["task"] for e in episodes) == \
        {"browser": 1, "popularity": 3, "security_guide": 3}
    assert Counter(e.metadata["status"] for e in episodes) == {"success": 4, "cancelled": 3}
    assert Counter(e.reward for e in episodes) == {1.0: 6, 0.0: 1}
    assert [e.task_id for e in episodes if e.reward == 0.0] == ["popularity/3"]
    assert sum(e.n_tool_calls for e in episodes) == 4 and sum(e.n_tool_calls > 0 for e in episodes) == 1
    assert len({e.id for e in episodes}) == 7 and len({e.task_id for e in episodes}) == 7
    assert sum(e.ground_truth is not None for e in episodes) == 6  # the browser target is ""
    popularity = [e for e in episodes if e.metadata["task"] == "popularity"]
    assert [e.ground_truth for e in popularity] == [" Yes", " No", " Yes"]  # as the dataset has them
    assert popularity[0].metadata["nested"] == {"foo": "bar"}  # sample metadata kept
    assert all(s.role != "tool" or not s.is_error for e in episodes for s in e.steps)


def test_eval_zip_reads_like_the_json_log_and_resolves_attachments(tmp_path):
    path = _browser_eval(tmp_path / "2025-05-12T20-27-36-04-00_browser.eval")
    found = detect(str(path))
    assert (found.chosen, found.claimed) == ("inspect-eval", ("inspect-eval",))
    episodes, issues = _load(tmp_path)  # found by its `.eval` suffix
    assert issues == []
    [ep] = episodes
    [expected] = _load(BROWSER)[0]
    assert ep.steps == expected.steps  # the attachment:// reference resolved to the full text
    assert ep.steps[2].content == json.loads(BROWSER.read_bytes())["samples"][0]["attachments"][ATTACHED]
    assert (ep.id, ep.task_id, ep.reward, ep.ground_truth, ep.metadata) == \
        (expected.id, expected.task_id, expected.reward, expected.ground_truth, expected.metadata)
    assert ep.source == Source("2025-05-12T20-27-36-04-00_browser.eval", index=0)
    assert json.loads(ep.raw)["messages"][2]["content"] == f"attachment://{ATTACHED}"  # raw stays as stored


def _edge_samples() -> list[dict]:
    user = {"role": "user", "content": "Is 7 prime? Check with the tool."}
    calls = [{"id": "c1", "function": "is_prime", "arguments": {"n": 7}},
             {"id": "c2", "function": "factor", "arguments": {}, "parse_error": "Expecting value: line 1"}]
    assistant = {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "use the tool"},
                                                  {"type": "text", "text": "Checking."}], "tool_calls": calls}
    return [
        {"id": "q1", "epoch": 1, "input": "Is 7 prime?", "target": ["yes"], "messages": [
            {"role": "system", "content": "Be brief."}, user, assistant,
            {"role": "tool", "tool_call_id": "c1", "function": "is_prime", "content": "",
             "error": {"type": "parsing", "message": "Found 1 validation errors parsing tool input"}},
            {"role": "tool", "tool_call_id": "c2", "function": "factor", "content": "Error: none, 7 is prime",
             "error": None},
            {"role": "assistant", "content": "Yes."}],
         "scores": {"grader": {"value": "P", "answer": "Yes."}, "second": {"value": 0.2}},
         "error": {"message": "RuntimeError: sandbox died", "traceback": "Traceback ..."},
         "limit": {"type": "message", "limit": 10}},
        {"id": "q1", "epoch": 2, "input": "Is 7 prime?", "target": ["yes", "true"], "messages": [
            user, {"role": "assistant", "content": "", "tool_calls": [calls[0]]},
            {"role": "tool", "tool_call_id": "c1", "content": "", "tool_error": "timed out"}],
         "scores": {"grader": {"value": 0.75}}},
        {"id": 2, "epoch": 1, "input": "Name a color.", "target": "", "messages": [],
         "scores": {"grader": {"value": {"accuracy": 1, "f1": 0.5}}}},
    ]


def test_hand_built_eval_errors_scores_and_epochs(tmp_path):
    spec = {"task": "prime", "model": "mockllm/model", "eval_id": "E1", "run_id": "R1"}
    members: dict[str, object] = {"_journal/start.json": {"version": 2, "eval": spec, "plan": {}}}
    for s in _edge_samples():
        members[f"samples/{s['id']}_epoch_{s['epoch']}.json"] = s
    members["header.json"] = {"version": 2, "status": "error", "eval": spec,
                              "error": {"message": "too many sample errors", "traceback": "..."}}
    path = _write_eval(tmp_path / "prime.eval", members)
    episodes, issues = _load(path)
    assert issues == []
    first, second, third = episodes
    assert [e.id for e in episodes] == ["prime/q1/1", "prime/q1/2", "prime/2/1"]
    assert [e.task_id for e in episodes] == ["prime/q1", "prime/q1", "prime/2"]
    assert [e.reward for e in episodes] == [0.5, 0.75, None]
    assert [e.ground_truth for e in episodes] == ["yes", '["yes","true"]', None]
    assert all(e.metadata["status"] == "error" and e.metadata["log_error"] == "too many sample errors"
               for e in episodes)
    # the typed error flags the result (its text is the message); "Error: ..." text without one is no error
    assert "".join(s.role[0].upper() for s in first.steps) == "SUATTA"
    assert first.steps[2].content == "Checking."  # reasoning parts are not text
    assert [(s.is_error, s.content) for s in first.steps if s.role == "tool"] == [
        (True, "Found 1 validation errors parsing tool input"), (False, "Error: none, 7 is prime")]
    bad = first.steps[2].tool_calls[1]
    assert bad.arguments is None
    assert bad.arguments_error == "arguments could not be parsed: Expecting value: line 1"
    assert first.metadata["error"] == "RuntimeError: sandbox died" and first.metadata["limit"] == "message"
    assert first.metadata["scores"] == {"grader": "P", "second": 0.2}
    assert first.final_answer == "Yes."
    assert [(s.is_error, s.content, s.call_step) for s in second.steps if s.role == "tool"] == \
        [(True, "timed out", 1)]
    assert "error" not in second.metadata
    # no messages recorded: the input is the conversation; a dict score value is no single reward
    assert [(s.role, s.content) for s in third.steps] == [("user", "Name a color.")]
    assert third.metadata["score_value"] == {"accuracy": 1, "f1": 0.5}


def test_eval_without_final_header_is_a_started_run(tmp_path):
    sample = _edge_samples()[1]
    path = _write_eval(tmp_path / "running.eval", {
        "_journal/start.json": {"version": 2, "eval": {"task": "prime", "model": "m"}, "plan": {}},
        "samples/q1_epoch_2.json": sample})
    [ep] = _read(path)
    assert ep.metadata["status"] == "started" and ep.metadata["model"] == "m"


@pytest.mark.parametrize("value, reward", [
    ("C", 1.0), ("I", 0.0), ("P", 0.5), ("N", 0.0), ("correct", 1.0), ("yes", 1.0), ("false", 0.0),
    ("0.25", 0.25),
    (3, 3.0), (0.5, 0.5), (True, 1.0), ("maybe", None), ([1, 0], None), ({"a": 1}, None), (None, None)])
def test_score_values(value, reward):
    assert score_reward(value) == reward


# --- damaged input: issues, never exceptions ---------------------------------------------------------

def test_truncated_eval_at_any_point_is_an_issue(tmp_path):
    data = _browser_eval(tmp_path / "full.eval").read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 97)):
        path = tmp_path / "cut" / f"x{cut}.eval"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data[:cut])
        items = _read(path)
        assert items and all(isinstance(i, (Episode, LoadIssue)) for i in items)
        assert any(isinstance(i, LoadIssue) for i in items), cut
        path.unlink()


def test_corrupt_sample_member_loses_only_that_sample(tmp_path):
    path = _browser_eval(tmp_path / "two.eval")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("samples/2_epoch_1.json", b'{"id": 2, "epoch": 1, "messages": [')  # bad JSON
        z.writestr("samples/3_epoch_1.json", json.dumps({"epoch": 1, "messages": []}))  # no id
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:  # flip a byte inside the deflated data of the first sample
        info = z.getinfo("samples/1_epoch_1.json")
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    items = _read(path)
    assert [type(i).__name__ for i in items] == ["LoadIssue", "LoadIssue", "LoadIssue"]
    assert "samples/1_epoch_1.json: cannot read the zip member" in items[0].reason
    assert items[1].reason.startswith("samples/2_epoch_1.json: not an Inspect sample")
    assert "missing required field `id`" in items[2].reason and items[2].index == 2


def test_zstd_members_are_reported_not_read(tmp_path):
    """Inspect writes zstd members (zip method 93) when INSPECT_USE_ZSTD is set; zipfile cannot read them."""
    path = _write_eval(tmp_path / "z.eval", {"header.json": {"version": 2, "status": "success", "eval": {}},
                                             "samples/1_epoch_1.json": _edge_samples()[2]})
    data = bytearray(path.read_bytes())
    for magic, at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # method field of local and central headers
        i = data.find(magic)
        while i >= 0:
            data[i + at:i + at + 2] = (93).to_bytes(2, "little")
            i = data.find(magic, i + 4)
    path.write_bytes(bytes(data))
    items = _read(path)
    assert [type(i).__name__ for i in items] == ["LoadIssue", "LoadIssue"]
    assert items[1].reason.startswith("samples/1_epoch_1.json: cannot read the zip member")
    assert "zstd-compressed members" in items[1].reason


def test_bad_json_logs_are_issues(tmp_path):
    data = BROWSER.read_bytes()
    (tmp_path / "cut.json").write_bytes(data[: len(data) // 2])
    (tmp_path / "header-only.json").write_text(json.dumps({k: v for k, v in json.loads(data).items()
                                                           if k != "samples"}))
    (tmp_path / "not-a-zip.eval").write_bytes(b"PK\x03\x04 but not a zip")
    traces = load_episodes(tmp_path)
    assert list(traces) == []
    reasons = {i.path: i.reason for i in traces.issues}
    assert reasons["cut.json"].startswith("not a readable Inspect JSON log")
    assert reasons["header-only.json"].startswith("Inspect log has no samples")
    assert reasons["not-a-zip.eval"].startswith("not a readable .eval (zip) file")


def test_sniff_uses_the_head_when_the_log_is_too_large_to_parse():
    fmt = get_format("inspect-eval")
    head = BROWSER.read_bytes()[:65536]
    assert fmt.sniff(Sample(str(BROWSER), head, "json", None))
    assert not fmt.sniff(Sample("x.json", b'{"version": 2, "items": []}', "json", None))
    assert not fmt.sniff(Sample("x.zip", b"PK\x03\x04" + bytes(26) + b"word/document.xml", "binary", None))
