"""rllm: rLLM `Episode.to_dict()` records and EpisodeLogger files (trajectories of steps, chat histories)."""

from __future__ import annotations

import json

import pytest

from rubricate.traces import Episode, LoadIssue, detect, get_format, iter_traces

from .conftest import FIXTURES, FORMAT_FIXTURES, roles as _roles, load_checked

EPISODES = FORMAT_FIXTURES["rllm"]
LOGS = FIXTURES / "rllm" / "logs"


def _load(path) -> list[Episode]:
    episodes, issues = load_checked(path)
    assert issues == []
    return episodes


@pytest.fixture(scope="module")
def episodes() -> list[Episode]:
    return _load(EPISODES)


def test_tool_agent_episode_golden(episodes):
    ep = episodes[0]
    assert ep.format == "rllm"
    assert ep.id == "3f1e9d2c-7b6a-4c5d-8e9f-0a1b2c3d4e5f:0"
    assert ep.task_id == "3f1e9d2c-7b6a-4c5d-8e9f-0a1b2c3d4e5f"  # rLLM ids are task_id:rollout_idx
    assert ep.question == "What is the square root of 1764, plus 6?"  # task.question
    assert ep.ground_truth == "48"  # task.ground_truth
    # three cumulative chat histories, each message taken once
    assert _roles(ep) == "SUATATA"
    assert ep.steps[2].content.startswith("<tool_call>")  # ToolAgent keeps the raw reply as the content
    assert [(i, c.name, c.arguments, c.id, c.result_step) for i, c in ep.tool_calls()] == [
        (2, "python", {"code": "print(sqrt(1764) + 6)"}, "9b1f6c2e-5a4d-4c3b-8e7f-0a1b2c3d4e5f", 3),
        (4, "python", {"code": "import math\nprint(math.sqrt(1764) + 6)"},
         "4d2c1b0a-9e8f-4a7b-b6c5-d4e3f2a1b0c9", 5),
    ]  # the calls come from each step's `action`; the synthetic `finish` of the last step is left out
    assert ep.steps[6].tool_calls == []
    assert [s.index for s in ep.steps if s.is_error] == [3]  # the NameError traceback
    assert ep.steps[5].content == "48.0" and not ep.steps[5].is_error
    assert ep.final_answer == "The square root of 1764 is 42, so the answer is \\boxed{48}."
    assert ep.reward == 1.0
    assert all(s.name is None for s in ep.steps)  # one trajectory: no names
    assert ep.metadata == {"is_correct": True, "termination_reason": "env_done",
                           "metrics": {"default_traj_name_acc": 1.0}}


def test_multi_agent_episode_names_steps_by_trajectory(episodes):
    ep = episodes[1]
    assert _roles(ep) == "UAUAUA"
    assert [s.name for s in ep.steps] == ["solver", "solver", "solver", "solver", "judge", "judge"]
    assert ep.question == "Find the remainder when 2^10 is divided by 7."  # task.question, not a prompt
    assert ep.ground_truth == "2"
    assert ep.final_answer == "Solution 1 computes 1024 = 7 * 146 + 2 correctly. <answer>1</answer>"
    assert ep.n_tool_calls == 0  # a string action (the parsed answer) is not a tool call
    assert ep.reward == 2.0  # 1.0 + 0.0 + 1.0: the sum rLLM's is_correct is decided on
    assert ep.metadata == {
        "is_correct": True, "termination_reason": "env_done",
        "metrics": {"solver_acc": 0.5, "judge_acc": 1.0},
        "trajectories": [{"name": "solver", "reward": 1.0, "steps": 1},
                         {"name": "solver", "reward": 0.0, "steps": 1},
                         {"name": "judge", "reward": 1.0, "steps": 1}],
    }


def test_failed_workflow_keeps_its_error(episodes):
    ep = episodes[2]
    assert _roles(ep) == "SUA"
    assert ep.reward == 0.0
    assert ep.final_answer == "Let me count them with code."
    assert ep.n_tool_calls == 0  # only the synthetic finish
    assert ep.metadata["error"] == "TimeoutError: Sandbox request timed out after 30s"
    assert ep.metadata["termination_reason"] == "error" and ep.metadata["is_correct"] is False


def test_episode_logger_files(episodes):
    """EpisodeLogger writes one indented JSON file per episode and a batch_summary.json (a companion)."""
    [ep] = _load(LOGS)
    assert ep.source.path == ("episodes/train_step_3_epoch_0/episode_hash43a67a14_id"
                              "3f1e9d2c-7b6a-4c5d-8e9f-0a1b2c3d4e5f_0.json")
    assert ep.source.line is None and ep.source.index is None
    assert ep.id == episodes[0].id and ep.task_id == episodes[0].task_id
    assert ep.steps == episodes[0].steps  # the same steps as the to_dict() record of the same episode
    assert ep.reward == 1.0
    assert ep.metadata == {"mode": "train", "step": 3, "epoch": 0, "is_correct": True,
                           "termination_reason": "env_done", "metrics": {"default_traj_name_acc": 1.0}}
    assert get_format("rllm").companion(str(next((LOGS / "episodes").glob("*/batch_summary.json"))))


def test_detection():
    assert detect(str(EPISODES)).reason == "rllm (priority 20)"
    assert detect(str(next(LOGS.glob("episodes/*/episode_*.json")))).chosen == "rllm"


def _record(*steps, reward=None, name="agent") -> dict:
    return {"id": "t:0", "task": {"question": "q"}, "termination_reason": "env_done", "is_correct": False,
            "trajectories": [{"uid": "u", "name": name, "task": None, "steps": list(steps), "reward": reward,
                              "info": {}}], "metrics": {}, "info": {}}


def test_rewritten_history_adds_what_differs_and_steps_without_history_use_observations(tmp_path):
    sys_msg = {"role": "system", "content": "be brief"}
    first = [sys_msg, {"role": "user", "content": "long question"},
             {"role": "assistant", "content": "part 1"}]
    # the agent summarised its context: the history shares only the system message with the previous one
    second = [sys_msg, {"role": "user", "content": "summary: part 1 done"},
              {"role": "assistant", "content": "part 2"}]
    record = _record(
        {"chat_completions": first, "action": None, "reward": 0.0},
        {"chat_completions": second, "action": None, "reward": 0.5},
        {"chat_completions": [], "observation": "what next?", "model_response": "done", "reward": 0.5},
        name="summarizer")
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [ep] = _load(path)
    assert _roles(ep) == "SUAUAUA"
    assert [s.content for s in ep.steps[3:]] == ["summary: part 1 done", "part 2", "what next?", "done"]
    assert ep.reward == 1.0  # no trajectory reward: the sum of the step rewards
    assert ep.metadata["agent"] == "summarizer"


def test_tool_outputs_observation_without_history(tmp_path):
    call = {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{\"q\": \"x\"}"}}
    record = _record(
        {"observation": {"question": "find x"}, "model_response": "<tool_call>search</tool_call>",
         "action": [call]},
        {"observation": {"tool_outputs": {"c1": "Error: index unavailable"}},
         "model_response": "x is unknown",
         "action": [{"id": "f", "type": "function", "function": {"name": "finish",
                                                               "arguments": {"response": "x is unknown"}}}]},
        reward=0.0)
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [ep] = _load(path)
    assert _roles(ep) == "UATA"
    assert [(i, c.name, c.id, c.result_step) for i, c in ep.tool_calls()] == [(1, "search", "c1", 2)]
    assert ep.steps[2].is_error and ep.final_answer == "x is unknown"


def test_damaged_records_are_issues_and_the_others_load(tmp_path):
    lines = EPISODES.read_text().splitlines()
    bad_steps = json.loads(lines[0])
    bad_steps["trajectories"][0]["steps"] = "not a list"
    bad_role = json.loads(lines[2])
    bad_role["trajectories"][0]["steps"][0]["chat_completions"][0]["role"] = "narrator"
    path = tmp_path / "episodes.jsonl"
    rows = [lines[0], json.dumps(bad_steps), lines[1][:300], lines[1], json.dumps(bad_role), "[1, 2]"]
    path.write_text("\n".join(rows) + "\n")
    items = list(iter_traces(path))
    assert [type(i).__name__ for i in items] == ["Episode", "LoadIssue", "LoadIssue", "Episode", "LoadIssue",
                                                  "LoadIssue"]
    issues = [i for i in items if isinstance(i, LoadIssue)]
    assert [(i.path, i.line) for i in issues] == [("episodes.jsonl", n) for n in (2, 3, 5, 6)]
    assert issues[0].reason == "not a rllm episode: ValueError: trajectory 0: steps must be a list"
    assert issues[1].reason.startswith("invalid JSON")
    assert issues[2].reason == "not a rllm episode: ValueError: message 0 has unknown role 'narrator'"
    assert issues[3].reason == "record is a JSON list, not an object"


def test_a_truncated_logger_file_is_an_issue(tmp_path):
    src = next(LOGS.glob("episodes/*/episode_*.json"))
    path = tmp_path / "episodes" / "train_step_3_epoch_0" / src.name
    path.parent.mkdir(parents=True)
    path.write_bytes(src.read_bytes()[:2000])
    [issue] = list(iter_traces(tmp_path, format="rllm"))
    assert isinstance(issue, LoadIssue) and issue.reason.startswith("cannot read JSON document")
