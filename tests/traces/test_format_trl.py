"""trl-conversational (dataset rows) and trl-completions (GRPO completion tables in Parquet)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, LoadIssue, Source, detect, get_format, iter_traces, load_episodes
from rubricate.traces.files import Span
from rubricate.traces._registry import sample_of

from .conftest import FIXTURES, FORMAT_FIXTURES, roles as _roles, load_checked

CONVERSATIONAL = FORMAT_FIXTURES["trl-conversational"]
TABLE = FORMAT_FIXTURES["trl-completions"]


def _load(path) -> list[Episode]:
    episodes, issues = load_checked(path)
    assert issues == []
    return episodes


def _calls(ep: Episode) -> list[tuple[int, str, dict | None, str | None, int | None]]:
    return [(i, c.name, c.arguments, c.id, c.result_step) for i, c in ep.tool_calls()]


# --- trl-conversational ------------------------------------------------------------------------

class TestConversationalGolden:
    def setup_method(self):
        self.episodes = _load(CONVERSATIONAL)

    def test_messages_row_with_dict_arguments_and_tools_column(self):
        ep = self.episodes[0]
        assert ep.format == "trl-conversational"
        assert ep.id == "toolcall.jsonl:1" and ep.source == Source("toolcall.jsonl", line=1)
        assert _roles(ep) == "UATA"
        assert ep.question == "What's the weather like tomorrow in Berlin?"
        assert _calls(ep) == [(1, "get_weather_forecast", {"city": "Berlin", "date": "2025-06-16"}, None, 2)]
        call = ep.steps[1].tool_calls[0]
        assert call.arguments_raw == '{"city":"Berlin","date":"2025-06-16"}' and call.arguments_error is None
        tool = ep.steps[2]
        assert (tool.tool_name, tool.call_step, tool.call_id) == ("get_weather_forecast", 1, None)
        assert not tool.is_error
        assert tool.content == "{'temperature': 22, 'condition': 'partly cloudy'}"  # a Python repr, no error
        assert ep.final_answer == "Tomorrow in Berlin will be partly cloudy with a high of 22°C."
        assert ep.metadata == {"tools": ["get_weather_forecast", "get_wind_conditions"]}
        assert ep.reward is None and ep.ground_truth is None and ep.task_id is None

    def test_parallel_calls_pair_with_id_less_results_by_order(self):
        ep = self.episodes[1]
        assert _roles(ep) == "UATTA"
        assert _calls(ep) == [(1, "control_light", {"room": "living room", "state": "on"}, None, 2),
                              (1, "play_music", {"playlist": "electronic"}, None, 3)]
        assert [(s.tool_name, s.call_step) for s in ep.steps[2:4]] == [("control_light", 1),
                                                                        ("play_music", 1)]
        assert ep.final_answer == "Done!"
        assert ep.metadata == {}

    def test_prompt_completion_row_flags_the_tool_failure_repr(self):
        ep = self.episodes[2]
        assert _roles(ep) == "UATATA"
        assert _calls(ep) == [(1, "get_time", {"location": "Tokyo"}, None, 2),
                              (3, "get_current_time", {"location": "Tokyo"}, None, 4)]
        # TRL's tool loop turns a failing tool into the Python repr of {"error": str(exc)}
        assert ep.steps[2].content == "{'error': 'Tool get_time not found.'}"
        assert [s.index for s in ep.steps if s.is_error] == [2]
        assert ep.ground_truth == "06:22"  # the dataset's `answer` column
        assert ep.final_answer == "The current time in Tokyo is 06:22 AM."
        assert ep.metadata == {"tools": ["get_current_time"]}

    def test_solution_column_is_the_ground_truth(self):
        ep = self.episodes[3]
        assert _roles(ep) == "SUA"
        assert ep.question == "A box holds 7 rows of 8 eggs. How many eggs are in the box?"
        assert ep.ground_truth == "56"
        assert ep.final_answer == "<think>7 rows times 8 eggs is 56.</think>\nThe box holds 56 eggs."
        assert ep.metadata == {"data_source": "hand-built"}


class TestConversationalDetection:
    VERIFIERS_ROW = {"prompt": [{"role": "user", "content": "q"}],
                     "completion": [{"role": "assistant", "content": "a"}], "answer": "a", "task": "default",
                     "info": {}, "reward": 1.0, "example_id": 3}
    TRL_ROW = {"prompt": [{"role": "user", "content": "q"}],
               "completion": [{"role": "assistant", "content": "a"}],
               "answer": "a"}

    def test_sniff_rules_are_disjoint_from_verifiers_results(self):
        trl, verifiers = get_format("trl-conversational"), get_format("verifiers-results")
        assert trl.sniff_record(self.TRL_ROW) and not verifiers.sniff_record(self.TRL_ROW)
        assert verifiers.sniff_record(self.VERIFIERS_ROW) and not trl.sniff_record(self.VERIFIERS_ROW)

    def test_real_verifiers_fixture_is_not_claimed(self):
        sample = sample_of(str(FORMAT_FIXTURES["verifiers-results"]))
        assert not get_format("trl-conversational").sniff(sample)

    def test_fixture_detection_names_the_catch_all(self):
        found = detect(str(CONVERSATIONAL))
        assert found.chosen == "trl-conversational"
        assert found.claimed == ("trl-conversational", "openai-chat")

    @pytest.mark.parametrize("record", [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi"}]},  # chat
        {"messages": [{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                            "function": {"name": "f", "arguments": "{}"}}]},
                      {"role": "tool", "tool_call_id": "c1", "content": "ok"}]},  # OpenAI: string args, ids
        {"prompt": [{"role": "user", "content": "q"}]},  # prompt-only (a GRPO dataset row): no completion
        {"prompt": "The sky is", "completion": " blue."},  # standard (text) format
    ])
    def test_rows_without_a_trl_mark_are_not_claimed(self, record):
        assert not get_format("trl-conversational").sniff_record(record)


def test_conversational_damaged_lines_are_issues_and_good_rows_load(tmp_path):
    good = CONVERSATIONAL.read_text().splitlines()
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join([good[2], '{"prompt": [{"role": "user", "content": "cut', good[3],
                               '{"prompt": [{"role": "user", "content": "q"}], "completion": "not messages"}',
                               '{"messages": [{"role": "robot", "content": "?"}]}']) + "\n")
    items = list(iter_traces(path, format="trl-conversational"))
    assert [type(i).__name__ for i in items] == ["Episode", "LoadIssue", "Episode", "LoadIssue", "LoadIssue"]
    bad = [i for i in items if isinstance(i, LoadIssue)]
    assert [(i.path, i.line) for i in bad] == [("rows.jsonl", 2), ("rows.jsonl", 4), ("rows.jsonl", 5)]
    assert bad[0].reason.startswith("invalid JSON")
    assert "messages must be a list" in bad[1].reason
    assert "unknown role 'robot'" in bad[2].reason
    assert [i.source.line for i in items if isinstance(i, Episode)] == [1, 3]


# --- trl-completions ---------------------------------------------------------------------------

class TestCompletionsGolden:
    def setup_method(self):
        self.episodes = _load(FIXTURES / "trl-completions")  # found by its .parquet suffix

    def test_rows_are_episodes_with_step_rewards_and_advantage(self):
        assert [str(ep.source) for ep in self.episodes] == [
            f"completions/completions_00050.parquet[{i}]" for i in range(4)]
        assert all(ep.format == "trl-completions" and ep.id == str(ep.source) for ep in self.episodes)
        ep = self.episodes[0]
        assert _roles(ep) == "UA"
        assert ep.question.startswith("Natalia sold clips to 48 of her friends in April")
        assert ep.final_answer.endswith("Natalia sold \\boxed{72} clips.")
        assert ep.reward == 2.0  # accuracy_reward + think_format_reward (TRL's default weights of 1.0)
        assert ep.metadata == {"step": 50, "advantage": 0.707,
                               "rewards": {"accuracy_reward": 1.0, "think_format_reward": 1.0}}
        assert [ep.reward for ep in self.episodes] == [2.0, 1.0, 0.0, 1.0]
        assert [ep.metadata["advantage"] for ep in self.episodes] == [0.707, -0.707, -0.707, 0.707]

    def test_nan_reward_is_none_and_left_out_of_the_sum(self):
        ep = self.episodes[2]  # accuracy_reward returned None (NaN in the table)
        assert ep.metadata["rewards"] == {"accuracy_reward": None, "think_format_reward": 0.0}
        assert ep.reward == 0.0

    def test_generations_of_one_prompt_share_the_task_id(self):
        ids = [ep.task_id for ep in self.episodes]
        assert ids[0] == ids[1] != ids[2] == ids[3]
        assert all(i.startswith("prompt-") and len(i) == len("prompt-") + 16 for i in ids)

    def test_raw_is_the_row_as_json(self):
        row = msgspec.json.decode(self.episodes[2].raw)
        assert row["step"] == 50 and row["accuracy_reward"] is None and row["think_format_reward"] == 0.0

    def test_detected_by_content_and_suffix(self):
        assert detect(str(TABLE)).reason == "trl-completions (priority 20)"


def _write(path, columns: dict, **kwargs) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, **kwargs)
    return str(path)


def _call(name: str) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": {"location": "Tokyo"}}}


TOOL_COMPLETION = [
    {"role": "assistant", "tool_calls": [_call("get_time")]},
    {"role": "tool", "name": "get_time", "content": "{'error': 'Tool get_time not found.'}"},
    {"role": "assistant", "tool_calls": [_call("get_current_time")]},
    {"role": "tool", "name": "get_current_time", "content": "06:22:48"},
    {"role": "assistant", "content": "It is 06:22 in Tokyo."},
]


def _check_tool_episode(ep: Episode) -> None:
    assert_episode_invariants(ep)
    assert _roles(ep) == "UATATA"
    assert [(i, c.name, c.arguments, c.result_step) for i, c in ep.tool_calls()] == [
        (1, "get_time", {"location": "Tokyo"}, 2), (3, "get_current_time", {"location": "Tokyo"}, 4)]
    assert [s.index for s in ep.steps if s.is_error] == [2]
    assert ep.final_answer == "It is 06:22 in Tokyo."


def test_conversational_completions_as_json_text(tmp_path):
    path = _write(tmp_path / "completions" / "completions_00007.parquet", {
        "step": [7], "prompt": [json.dumps([{"role": "user", "content": "What time is it in Tokyo?"}])],
        "completion": [json.dumps(TOOL_COMPLETION)], "tool_reward": [0.25], "advantage": [0.0]})
    [ep] = _load(path)
    _check_tool_episode(ep)
    assert ep.question == "What time is it in Tokyo?"
    assert ep.reward == 0.25
    assert ep.metadata == {"step": 7, "advantage": 0.0, "rewards": {"tool_reward": 0.25}}


def test_conversational_completions_as_list_of_struct_columns(tmp_path):
    # a subclass that logs the message lists themselves: pandas/pyarrow store them as list<struct> columns,
    # every struct field present on every message (None where a message lacks it)
    path = _write(tmp_path / "c.parquet", {
        "step": [3], "prompt": [[{"role": "user", "content": "What time is it in Tokyo?"}]],
        "completion": [TOOL_COMPLETION], "advantage": [1.0]})
    assert pq.read_schema(path).field("completion").type.value_type.num_fields > 2
    [ep] = _load(path)
    _check_tool_episode(ep)
    assert ep.reward is None  # no reward column at all
    assert ep.metadata == {"step": 3, "advantage": 1.0}


def test_reward_column_is_the_total_and_other_columns_are_metadata(tmp_path):
    path = _write(tmp_path / "completions_00012.parquet", {
        "step": ["12"], "prompt": ["p"], "completion": ["c"], "reward": [0.5], "format_reward": [1.0],
        "correctness": [0.0], "advantage": [float("nan")], "mode": ["train"], "judge_note": ["terse"],
        "num_tokens": pa.array([42], pa.int64())})
    [ep] = _load(path)
    assert ep.reward == 0.5  # the table's own total wins over the sum of the reward functions
    assert ep.metadata == {"step": 12, "advantage": None,
                           "rewards": {"format_reward": 1.0, "correctness": 0.0},
                           "mode": "train", "judge_note": "terse", "num_tokens": 42}


def test_step_from_the_file_name_when_the_column_is_missing(tmp_path):
    path = _write(tmp_path / "completions_00300.parquet",
                  {"prompt": ["p"], "completion": ["c"], "advantage": [0.1]})
    [ep] = _load(path)
    assert ep.metadata["step"] == 300


def _three_row_groups(tmp_path):
    return _write(tmp_path / "completions" / "completions_00001.parquet", {
        "step": [1] * 6, "prompt": [f"prompt {i} " * 20 for i in range(6)],
        "completion": [f"completion {i} " * 30 for i in range(6)], "r": [0.5] * 6, "advantage": [0.0] * 6},
        row_group_size=2, compression="snappy")


def test_row_groups_are_read_one_by_one_with_global_row_indices(tmp_path):
    path = _three_row_groups(tmp_path)
    assert pq.ParquetFile(path).num_row_groups == 3
    episodes = [e for e in get_format("trl-completions").read(path) if isinstance(e, Episode)]
    assert [e.source.index for e in episodes] == list(range(6))
    assert [e.steps[0].content.split()[1] for e in episodes] == [str(i) for i in range(6)]


def test_byte_range_spans_read_each_row_group_once(tmp_path):
    """The analyzer cuts large files into byte spans for workers; a Parquet row group belongs to the span
    holding its first page, so the spans together read every row exactly once."""
    path = _three_row_groups(tmp_path)
    fmt = get_format("trl-completions")
    second = pq.read_metadata(path).row_group(1).column(0)
    cut = second.dictionary_page_offset + 1  # inside row group 1's first page
    parts = [[e.source.index for e in fmt.read(path, span)] for span in (Span(0, cut), Span(cut, None))]
    assert parts == [[0, 1, 2, 3], [4, 5]]
    size = Path(path).stat().st_size
    thirds = [Span(0, size // 3), Span(size // 3, 2 * size // 3), Span(2 * size // 3, size)]
    assert sorted(e.source.index for span in thirds for e in fmt.read(path, span)) == list(range(6))


def test_a_corrupt_row_group_is_an_issue_and_the_others_load(tmp_path):
    path = _three_row_groups(tmp_path)
    column = pq.read_metadata(path).row_group(1).column(2)  # the middle group's completion chunk
    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
    data = bytearray(Path(path).read_bytes())
    for k in range(start + 20, start + column.total_compressed_size - 5):
        data[k] ^= 0xFF
    Path(path).write_bytes(data)
    items = list(iter_traces(tmp_path))
    assert [type(i).__name__ for i in items] == ["Episode", "Episode", "LoadIssue", "Episode", "Episode"]
    issue = items[2]
    assert issue.path == "completions/completions_00001.parquet" and issue.index == 2
    assert issue.reason.startswith("row group 1 (rows 2-3) cannot be read")
    assert [i.source.index for i in items if isinstance(i, Episode)] == [0, 1, 4, 5]


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.9, 0.999])
def test_a_truncated_table_is_an_issue_never_an_exception(tmp_path, cut):
    data = TABLE.read_bytes()
    (tmp_path / "completions_00050.parquet").write_bytes(data[: int(len(data) * cut)])
    (tmp_path / "good.parquet").write_bytes(data)
    traces = load_episodes(tmp_path)
    episodes = list(traces)
    assert [str(e.source) for e in episodes] == [f"good.parquet[{i}]" for i in range(4)]
    [issue] = traces.issues
    assert issue.path == "completions_00050.parquet"
    # detection cannot read the footer any more: the loader says so instead of raising
    assert "no format recognises it" in issue.reason
    forced = list(iter_traces(tmp_path / "completions_00050.parquet", format="trl-completions"))
    assert len(forced) == 1 and isinstance(forced[0], LoadIssue)
    assert forced[0].reason.startswith("cannot read Parquet file")


def test_a_parquet_file_of_another_kind_is_not_claimed(tmp_path):
    path = _write(tmp_path / "metrics.parquet", {"step": [1], "loss": [0.3]})
    assert not get_format("trl-completions").sniff(sample_of(path))
    [issue] = list(iter_traces(path, format="trl-completions"))
    assert issue.reason == "not a TRL completions table: no 'prompt', 'completion' column"


def test_rows_without_text_are_issues_with_their_index(tmp_path):
    path = _write(tmp_path / "c.parquet", {"step": [1, 1], "prompt": ["p", "q"], "completion": ["fine", None],
                                           "advantage": [0.0, 0.0]})
    items = list(iter_traces(path))
    assert isinstance(items[0], Episode)
    assert isinstance(items[1], LoadIssue) and items[1].index == 1
    assert items[1].reason == ("not a trl-completions row: 'completion' is missing, "
                               "not text or a list of messages")


def test_rewards_are_finite_or_none(tmp_path):
    path = _write(tmp_path / "c.parquet", {"step": [1, 1], "prompt": ["p", "p"], "completion": ["a", "b"],
                                           "r1": [float("inf"), float("nan")], "advantage": [0.0, 0.0]})
    episodes = _load(path)
    assert [e.reward for e in episodes] == [None, None]
    assert all(e.reward is None or math.isfinite(e.reward) for e in episodes)
