"""otel-genai: OpenTelemetry GenAI spans grouped into one episode per trace (hand-built fixtures that
follow the semantic conventions; see tests/fixtures/otel-genai/README.md)."""

from __future__ import annotations

import json

from rubricate.traces import Episode, LoadIssue, Source, Span, detect, get_format, load_episodes
from rubricate.traces._normalise import looks_like_error
from rubricate.traces.formats.otel_genai import genai_messages

from .conftest import FIXTURES, roles as _roles, load_checked

SDK = FIXTURES / "otel-genai" / "agent-spans.jsonl"
OTLP = FIXTURES / "otel-genai" / "otlp-collector.jsonl"
TRACE_A = "6f1c2e8a9b3d4f5061728394a5b6c7d8"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"


def _load(path, **kw) -> tuple[list[Episode], list[LoadIssue]]:
    return load_checked(path, "otel-genai", **kw)


def _calls(ep: Episode) -> list[tuple[int, str, str | None, int | None]]:
    return [(i, c.name, c.id, c.result_step) for i, c in ep.tool_calls()]


def _span(trace, sid, name, start, attrs, parent=None, status=None):
    """A flat span as many exporters write one per line: ids and times at the top level."""
    span = {"trace_id": trace, "span_id": sid, "parent_span_id": parent, "name": name, "start_time": start,
            "attributes": attrs}
    if status:
        span["status"] = status
    return span


def _write(path, spans) -> None:
    path.write_text("".join((s if isinstance(s, str) else json.dumps(s)) + "\n" for s in spans))


class TestSdkFixture:
    """Two traces interleaved, spans in export (end) order, children before their parents."""

    def setup_method(self):
        self.episodes, issues = _load(SDK)
        assert issues == []

    def test_one_episode_per_trace_in_order_of_first_span(self):
        assert [ep.id for ep in self.episodes] == [TRACE_A, TRACE_B]
        assert [ep.source for ep in self.episodes] == [Source("agent-spans.jsonl", line=1),
                                                       Source("agent-spans.jsonl", line=2)]

    def test_agent_with_two_llm_calls_and_two_tools_one_failing(self):
        ep = self.episodes[0]
        assert _roles(ep) == "SUATTA"
        assert ep.steps[0].content.startswith("You are a weather assistant.")  # gen_ai.system_instructions
        assert ep.question == "Will I need an umbrella tomorrow in Paris or in Lyon?"
        assert _calls(ep) == [(2, "get_weather", "call_Qd7pT2", 3), (2, "get_weather", "call_8LmWz4", 4)]
        paris, lyon = ep.steps[2].tool_calls
        assert paris.arguments == {"city": "Paris", "date": "2025-09-19"}
        assert lyon.arguments == {"city": "Lyon", "date": "2025-09-19"} and lyon.arguments_error is None
        ok, failed = ep.steps[3], ep.steps[4]
        # the transcript's tool_call_response parts: one spelled `response`, the other `result`
        assert ok.content == '{"city": "Paris", "forecast": "light rain", "precip_mm": 4.2, "high_c": 17}'
        assert (ok.call_id, ok.tool_name, ok.call_step, ok.is_error) == \
            ("call_Qd7pT2", "get_weather", 2, False)
        assert failed.content == "weather service did not answer within 10 s"
        assert not looks_like_error(failed.content)  # the error flag comes from the span's status ERROR
        assert (failed.call_id, failed.call_step, failed.is_error) == ("call_8LmWz4", 2, True)
        assert ep.final_answer == ep.steps[5].content
        assert ep.final_answer.startswith("Take an umbrella in Paris")

    def test_agent_span_messages_do_not_duplicate_the_chat_transcript(self):
        # invoke_agent also carries the user message and the answer: chat spans win, nothing repeats
        ep = self.episodes[0]
        assert [s.role for s in ep.steps].count("user") == 1
        assert [s.role for s in ep.steps].count("assistant") == 2

    def test_result_only_on_the_execute_tool_span(self):
        # trace B stopped after one LLM call (max_turns): the result exists only on execute_tool
        ep = self.episodes[1]
        assert _roles(ep) == "SUAT"
        assert _calls(ep) == [(2, "convert", "call_u9Xb", 3)]
        assert ep.steps[3].content == '{"value": 22.2, "unit": "degC"}'  # gen_ai.tool.call.result
        assert ep.steps[3].is_error is False
        assert ep.final_answer is None

    def test_metadata(self):
        a, b = self.episodes
        assert a.metadata == {"trace_id": TRACE_A, "spans": 5, "root_span": "invoke_agent WeatherAssistant",
                              "model": "gpt-4o-2024-08-06", "provider": "openai", "agent": "WeatherAssistant",
                              "conversation_id": "conv_5j66UpCpwteGg4YS", "service": "weather-agent"}
        assert (b.metadata["spans"], b.metadata["agent"], b.metadata["service"]) == \
            (3, "converter", "unit-converter")
        assert a.task_id is None and a.reward is None

    def test_raw_keeps_the_trace_lines_in_file_order(self):
        lines = SDK.read_bytes().splitlines(keepends=True)
        assert self.episodes[0].raw == b"".join(lines[i] for i in (0, 2, 5, 6, 7))
        assert self.episodes[1].raw == b"".join(lines[i] for i in (1, 3, 4))


class TestOtlpCollectorFixture:
    """OTLP JSON lines (ExportTraceServiceRequest per line): KeyValue attributes, status code 2."""

    def setup_method(self):
        self.episodes, issues = _load(OTLP)
        assert issues == []

    def test_detected(self):
        assert detect(str(OTLP)).chosen == "otel-genai"

    def test_structured_attributes_and_status_code_2(self):
        ep = self.episodes[0]
        assert ep.id == "5b8efff798038103d269b633813fc60c"
        assert ep.source == Source("otlp-collector.jsonl", line=1)
        assert _roles(ep) == "SUATATA"
        assert _calls(ep) == [(2, "read_file", "toolu_01RkVd", 3), (4, "list_files", "toolu_02Wm8s", 5)]
        assert ep.steps[2].tool_calls[0].arguments == {"path": "notes.txt"}  # a kvlistValue
        assert ep.steps[3].content == "notes.txt: no such file"
        assert ep.steps[3].is_error is True  # status {"code": 2}
        assert ep.steps[4].content == "notes.txt is missing; I will list the files."  # text and a call
        assert ep.steps[5].content == '{"files":["NOTES.md","README.md","src"]}'  # a structured response
        assert ep.steps[5].is_error is False
        assert ep.final_answer.startswith("There is no notes.txt")
        assert ep.metadata["service"] == "repo-assistant" and ep.metadata["provider"] == "anthropic"
        assert ep.raw == OTLP.read_bytes()  # its spans are on both lines

    def test_older_prompt_and_completion_events(self):
        ep = self.episodes[1]
        assert ep.id == "2f9c4e1a7d6b8c3e5a0f1d2c3b4a5968"
        assert _roles(ep) == "SUA"
        assert ep.question == "What time does the office open on Saturdays?"
        assert ep.final_answer == "The office opens at 10:00 on Saturdays."
        assert (ep.metadata["provider"], ep.metadata["service"]) == ("openai", "faq-bot")  # gen_ai.system
        assert ep.raw == OTLP.read_bytes().splitlines(keepends=True)[0]

    def test_one_json_document_reads_the_same(self, tmp_path):
        doc = tmp_path / "export.json"
        envelopes = [json.loads(line) for line in OTLP.read_text().splitlines()]
        merged = {"resourceSpans": [rs for env in envelopes for rs in env["resourceSpans"]]}
        doc.write_text(json.dumps(merged, indent=2))
        got, issues = _load(doc)
        assert issues == []
        assert [e.to_dict() | {"source": None} for e in got] == \
            [e.to_dict() | {"source": None} for e in self.episodes]
        assert all(e.source == Source("export.json") for e in got)


def test_messages_accept_response_and_result_spellings():
    msgs = genai_messages(json.dumps([{"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "a", "response": {"ok": True}},
        {"type": "tool_call_response", "id": " b", "result": "rainy, 57°F"}]}]))
    assert [(m.role, m.text, m.call_id) for m in msgs] == [
        ("tool", '{"ok":true}', "a"), ("tool", "rainy, 57°F", "b")]


def test_flat_spans_with_top_level_ids_and_tool_spans_only(tmp_path):
    """`trace_id`/`span_id`/`parent_span_id`, start times in ns; no chat span: each execute_tool span
    becomes a call and its result, in start order; `gen_ai.tool.call.response` is read as the result."""
    path = tmp_path / "spans.jsonl"
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    _write(path, [
        _span("T1", "s2", "execute_tool search", 2_000,
              {**tool, "gen_ai.tool.call.id": "c2", "gen_ai.tool.call.arguments": '{"q": "b"}'},
              parent="s0", status={"code": "ERROR", "message": "quota"}),
        _span("T1", "s1", "execute_tool search", 1_000,
              {**tool, "gen_ai.tool.call.id": "c1", "gen_ai.tool.call.arguments": '{"q": "a"}',
               "gen_ai.tool.call.response": "found a"}, parent="s0"),
        _span("T1", "s0", "invoke_agent finder", 500, {"gen_ai.operation.name": "invoke_agent"}),
    ])
    [ep], issues = _load(path)
    assert issues == []
    assert _roles(ep) == "ATAT"
    assert _calls(ep) == [(0, "search", "c1", 1), (2, "search", "c2", 3)]
    assert ep.steps[0].tool_calls[0].arguments == {"q": "a"}
    assert (ep.steps[1].content, ep.steps[1].is_error) == ("found a", False)
    assert (ep.steps[3].content, ep.steps[3].is_error) == ("quota", True)  # status message of a failed call
    assert ep.metadata["root_span"] == "invoke_agent finder"


def test_openllmetry_indexed_prompt_attributes(tmp_path):
    path = tmp_path / "spans.jsonl"
    _write(path, [_span("T9", "s1", "openai.chat", "2025-01-01T00:00:00Z", {
        "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Weather in Oslo?",
        "gen_ai.prompt.1.role": "assistant", "gen_ai.prompt.1.tool_calls.0.id": "c1",
        "gen_ai.prompt.1.tool_calls.0.name": "weather",
        "gen_ai.prompt.1.tool_calls.0.arguments": '{"city": "Oslo"}',
        "gen_ai.prompt.2.role": "tool", "gen_ai.prompt.2.tool_call_id": "c1",
        "gen_ai.prompt.2.content": "9 °C",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "It is 9 °C in Oslo."})])
    [ep], issues = _load(path)
    assert issues == []
    assert _roles(ep) == "UATA"
    assert _calls(ep) == [(1, "weather", "c1", 2)]
    assert ep.final_answer == "It is 9 °C in Oslo."


def test_damaged_lines_are_issues_and_other_traces_still_load(tmp_path):
    path = tmp_path / "damaged.jsonl"
    def said(role, text):
        return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])

    chat = {"gen_ai.operation.name": "chat", "gen_ai.input.messages": said("user", "hi"),
            "gen_ai.output.messages": said("assistant", "hello")}
    _write(path, [
        _span("AA", "1", "chat m", 1, chat),
        '{"trace_id": "AA", "name": "chat m", "attri',  # truncated
        {"span_id": "9", "name": "chat m", "attributes": chat},  # no trace id
        "[1, 2]",
        _span("BB", "2", "chat m", 2, {**chat, "gen_ai.input.messages": "[{not json"}),
        _span("BB", "3", "chat m", 3, chat),
        _span("CC", "4", "GET /health", 4, {"http.route": "/health"}),
    ])
    traces = load_episodes(path)
    episodes = list(traces)
    assert [ep.id for ep in episodes] == ["aa", "bb"]
    assert [_roles(ep) for ep in episodes] == ["UA", "UA"]
    assert [(i.line, i.reason.split(":")[0]) for i in traces.issues] == [
        (2, "invalid JSON"), (3, "span 'chat m' has no trace id"), (4, "record is a JSON list, not a span"),
        (5, "trace bb"), (7, "trace cc")]
    assert "span 'chat m': ValueError: gen_ai.input.messages: not valid JSON" in traces.issues[3].reason
    assert "none of its 1 spans" in traces.issues[4].reason
    assert all(i.path == "damaged.jsonl" and i.format == "otel-genai" for i in traces.issues)


def test_only_the_range_at_offset_zero_reads_the_file():
    fmt = get_format("otel-genai")
    assert list(fmt.read(str(SDK), Span(start=100, first_line=2))) == []
    assert [e.id for e in fmt.read(str(SDK), Span(start=0, end=100))] == [TRACE_A, TRACE_B]


def test_sniff_needs_spans_and_genai_attributes(tmp_path):
    plain = tmp_path / "http.jsonl"
    _write(plain, [_span("T", "1", "GET /", 1, {"http.route": "/"})])
    assert detect(str(plain)).chosen is None
    both = tmp_path / "both.jsonl"
    _write(both, [_span("T", "1", "chat", 1, {"openinference.span.kind": "LLM", "gen_ai.system": "openai"})])
    found = detect(str(both))
    assert found.chosen == "openinference" and found.claimed == ("openinference", "otel-genai")


def test_handoff_to_another_agent_keeps_one_history(tmp_path):
    """The second agent's chat span repeats the conversation under its own system instructions: only its
    system prompt and what is new are added (OpenAI Agents SDK handoffs look like this)."""
    def msg(role, text=None, call=None, response=None):
        parts = [{"type": "text", "content": text}] if text else []
        if call:
            parts.append({"type": "tool_call", "id": call, "name": "transfer_to_billing", "arguments": {}})
        if response:
            parts.append({"type": "tool_call_response", "id": response,
                          "response": '{"assistant": "Billing"}'})
        return {"role": role, "parts": parts}

    def chat(system, inp, out):
        return {"gen_ai.operation.name": "chat", "gen_ai.system_instructions": system,
                "gen_ai.input.messages": json.dumps(inp), "gen_ai.output.messages": json.dumps(out)}

    user, handoff = msg("user", "I was charged twice."), msg("assistant", call="h1")
    result, refund = msg("tool", response="h1"), msg("assistant", "I have refunded the duplicate charge.")
    path = tmp_path / "handoff.jsonl"
    _write(path, [
        _span("H", "1", "chat triage", 1, chat("You are triage.", [user], [handoff])),
        _span("H", "2", "execute_tool transfer_to_billing", 2, {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "transfer_to_billing",
            "gen_ai.tool.call.id": "h1"}),
        _span("H", "3", "chat billing", 3, chat("You are billing.", [user, handoff, result], [refund])),
    ])
    [ep], issues = _load(path)
    assert issues == []
    assert [(s.role, s.content) for s in ep.steps] == [
        ("system", "You are triage."), ("user", "I was charged twice."), ("assistant", ""),
        ("tool", '{"assistant": "Billing"}'), ("system", "You are billing."),
        ("assistant", "I have refunded the duplicate charge.")]
    assert _calls(ep) == [(2, "transfer_to_billing", "h1", 3)]


def test_collector_export_lines_in_a_json_file(tmp_path):
    """The collector's file exporter writes one export per line, often to `traces.json`."""
    path = tmp_path / "traces.json"
    path.write_bytes(OTLP.read_bytes())
    assert detect(str(path)).chosen == "otel-genai"
    got, issues = _load(path)
    assert issues == []
    assert [(e.id, e.source.line, len(e.steps)) for e in got] == [
        ("5b8efff798038103d269b633813fc60c", 1, 7), ("2f9c4e1a7d6b8c3e5a0f1d2c3b4a5968", 1, 3)]


def test_plain_text_prompt_and_completion(tmp_path):
    path = tmp_path / "spans.jsonl"
    _write(path, [_span("TT", "1", "completion", 1, {
        "gen_ai.system": "openai", "gen_ai.prompt": "Say hi", "gen_ai.completion": "Hi!"})])
    [ep], issues = _load(path)
    assert issues == []
    assert [(s.role, s.content) for s in ep.steps] == [("user", "Say hi"), ("assistant", "Hi!")]
