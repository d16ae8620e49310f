"""openinference: OpenInference spans (flattened `llm.input_messages.N.message.*` attributes) grouped into
one episode per trace (hand-built fixture; see tests/fixtures/openinference/README.md)."""

from __future__ import annotations

import json

from rubricate.traces import Episode, LoadIssue, Source, detect, load_episodes

from .conftest import FIXTURES, roles as _roles, load_checked

SDK = FIXTURES / "openinference" / "agent-spans.jsonl"
TRACE_E = "8c3b1f0e2d4a6b7c9e0f1a2b3c4d5e6f"
TRACE_F = "1d2c3b4a59687766554433221100ffee"


def _load(path) -> tuple[list[Episode], list[LoadIssue]]:
    return load_checked(path, "openinference")


def _calls(ep: Episode) -> list[tuple[int, str, str | None, int | None]]:
    return [(i, c.name, c.id, c.result_step) for i, c in ep.tool_calls()]


def _write(path, spans) -> None:
    path.write_text("".join((s if isinstance(s, str) else json.dumps(s)) + "\n" for s in spans))


def _span(trace, sid, start, attrs, parent=None, status=None, name="span"):
    span = {"name": name, "context": {"trace_id": trace, "span_id": sid}, "parent_id": parent,
            "start_time": f"2025-01-01T00:00:0{start}.000000Z", "attributes": attrs}
    if status:
        span["status"] = status
    return span


def _llm(inp: list[dict], out: list[dict]) -> dict:
    attrs: dict = {"openinference.span.kind": "LLM"}
    for prefix, msgs in (("llm.input_messages", inp), ("llm.output_messages", out)):
        for i, m in enumerate(msgs):
            for key, value in m.items():
                attrs[f"{prefix}.{i}.{key}"] = value
    return attrs


class TestFixture:
    def setup_method(self):
        self.episodes, issues = _load(SDK)
        assert issues == []

    def test_one_episode_per_trace_in_order_of_first_span(self):
        assert [ep.id for ep in self.episodes] == [TRACE_E, TRACE_F]
        assert [ep.source for ep in self.episodes] == [Source("agent-spans.jsonl", line=1),
                                                       Source("agent-spans.jsonl", line=2)]
        assert detect(str(SDK)).claimed == ("openinference",)

    def test_agent_with_three_llm_calls_and_two_tools_one_failing(self):
        ep = self.episodes[0]
        assert _roles(ep) == "SUATATA"
        assert ep.question == "Book me the cheapest flight from Berlin to Lisbon on 3 October."
        assert _calls(ep) == [(2, "search_flights", "call_Hs81", 3), (4, "book_flight", "call_Bk22", 5)]
        assert ep.steps[2].tool_calls[0].arguments == \
            {"origin": "BER", "destination": "LIS", "date": "2025-10-03"}
        found, failed = ep.steps[3], ep.steps[5]
        # search_flights' TOOL span has no id: paired by tool name; it succeeded
        assert (found.call_id, found.tool_name, found.call_step, found.is_error) == \
            ("call_Hs81", "search_flights", 2, False)
        assert json.loads(found.content)[0]["flight"] == "TP 541"
        assert ep.steps[4].content == "TP 541 is the cheapest; booking it now."
        # book_flight's TOOL span (tool.id call_Bk22) has status ERROR
        assert failed.content.startswith("An error occurred while running the tool.")
        assert (failed.call_id, failed.tool_name, failed.call_step, failed.is_error) == \
            ("call_Bk22", "book_flight", 4, True)
        assert ep.final_answer.startswith("The cheapest flight is TP 541")

    def test_metadata(self):
        ep = self.episodes[0]
        assert ep.metadata == {"trace_id": TRACE_E, "spans": 6, "root_span": "FlightAgent",
                               "model": "gpt-4.1-2025-04-14", "provider": "openai", "agent": "FlightAgent",
                               "session_id": "sess-91c0", "user_id": "u-5521", "service": "travel-desk"}

    def test_trace_without_llm_spans_uses_the_root_chain_and_its_tool(self):
        ep = self.episodes[1]
        assert _roles(ep) == "UATA"
        assert ep.question == "What is the capital of Australia?"
        assert _calls(ep) == [(1, "wikipedia_lookup", None, 2)]
        assert ep.steps[1].tool_calls[0].arguments == {"title": "Australia"}
        assert ep.steps[2].content.endswith("Its capital is Canberra, and its largest city is Sydney.")
        assert ep.final_answer == "The capital of Australia is Canberra."

    def test_raw_keeps_the_trace_lines(self):
        lines = SDK.read_bytes().splitlines(keepends=True)
        assert self.episodes[1].raw == lines[1] + lines[3]


def test_phoenix_nested_attributes_and_span_kind_field(tmp_path):
    """Phoenix-style spans: `span_kind` and `status_code` fields, attributes nested as objects and lists."""
    path = tmp_path / "phoenix.jsonl"
    llm = {"name": "ChatOpenAI", "context": {"trace_id": "P1", "span_id": "a"}, "parent_id": None,
           "span_kind": "LLM", "start_time": "2025-01-01T00:00:01+00:00", "status_code": "OK",
           "attributes": {"llm": {"model_name": "gpt-4o", "input_messages": [
               {"message": {"role": "user", "content": "2+2?"}}], "output_messages": [
               {"message": {"role": "assistant", "tool_calls": [
                   {"tool_call": {"id": "c1", "function": {"name": "calc",
                                                           "arguments": "{\"expr\": \"2+2\"}"}}}]}}]}}}
    tool = {"name": "calc", "context": {"trace_id": "P1", "span_id": "b"}, "parent_id": None,
            "span_kind": "TOOL", "start_time": "2025-01-01T00:00:02+00:00", "status_code": "ERROR",
            "status_message": "ZeroDivisionError",
            "attributes": {"tool": {"name": "calc"}, "input": {"value": "{\"expr\": \"2+2\"}"}}}
    _write(path, [llm, tool])
    assert detect(str(path)).chosen == "openinference"
    [ep], issues = _load(path)
    assert issues == []
    assert _roles(ep) == "UAT"
    assert _calls(ep) == [(1, "calc", "c1", 2)]
    assert (ep.steps[2].content, ep.steps[2].is_error) == ("ZeroDivisionError", True)
    assert ep.metadata["model"] == "gpt-4o"


def test_message_contents_legacy_function_call_and_completions(tmp_path):
    path = tmp_path / "spans.jsonl"
    _write(path, [
        _span("Q1", "1", 1, _llm(
            [{"message.role": "user", "message.contents.0.message_content.type": "text",
              "message.contents.0.message_content.text": "Look at this:",
              "message.contents.1.message_content.type": "image",
              "message.contents.1.message_content.image.image.url": "https://example.com/x.png"}],
            [{"message.role": "assistant", "message.function_call_name": "describe",
              "message.function_call_arguments_json": "{\"detail\": \"high\"}"}])),
        _span("Q2", "2", 2, {"openinference.span.kind": "LLM", "llm.prompts.0.prompt.text": "def fib(n):",
                             "llm.choices.0.completion.text": " return n if n < 2 else fib(n-1) + fib(n-2)"}),
    ])
    first, second = _load(path)[0]
    assert first.steps[0].content == "Look at this:"
    assert [(c.name, c.arguments) for c in first.steps[1].tool_calls] == [("describe", {"detail": "high"})]
    assert [(s.role, s.content) for s in second.steps] == [
        ("user", "def fib(n):"), ("assistant", " return n if n < 2 else fib(n-1) + fib(n-2)")]


def test_otlp_export_with_openinference_attributes(tmp_path):
    def kv(d):
        return [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
                for k, v in d.items()]
    span = {"traceId": "ABCDEF", "spanId": "01", "name": "llm", "startTimeUnixNano": "1700000000000000000",
            "attributes": kv(_llm([{"message.role": "user", "message.content": "hi"}],
                                  [{"message.role": "assistant", "message.content": "hello"}])
                             | {"llm.token_count.total": 7}), "status": {"code": 1}}
    path = tmp_path / "otlp.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    assert detect(str(path)).chosen == "openinference"
    [ep], issues = _load(path)
    assert (ep.id, _roles(ep), ep.final_answer, ep.source) == ("abcdef", "UA", "hello", Source("otlp.json"))


def test_damaged_input_gives_issues_and_other_traces_load(tmp_path):
    path = tmp_path / "damaged.jsonl"
    good = _llm([{"message.role": "user", "message.content": "q"}],
                [{"message.role": "assistant", "message.content": "a"}])
    _write(path, [
        _span("G1", "1", 1, good),
        "{not json",
        {"name": "llm", "context": {"span_id": "x"}, "attributes": good},  # no trace id
        _span("B1", "2", 2, _llm([{"message.role": "robot", "message.content": "q"}], [])),
        _span("G2", "3", 3, good),
    ])
    traces = load_episodes(path)
    episodes = list(traces)
    assert [ep.id for ep in episodes] == ["g1", "g2"]
    assert [(i.line, i.format) for i in traces.issues] == [(2, "openinference"), (3, "openinference"),
                                                          (4, "openinference")]
    assert traces.issues[0].reason.startswith("invalid JSON")
    assert traces.issues[1].reason == "span 'llm' has no trace id"
    # the span's own issue says why trace b1 has no episode; no second issue repeats it
    assert traces.issues[2].reason == "trace b1: span 'span': ValueError: message 0 has unknown role 'robot'"
