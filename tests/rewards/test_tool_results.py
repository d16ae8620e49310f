"""Tool results without call ids answer the call of the tool they name.

TRL 1.16's tool loop (`GRPOTrainer._tool_call_loop`) runs a turn's sync tools in call order, gathers its
async tools after them, and appends every result as `{"role": "tool", "name": ..., "content": ...}` in
that order, without a call id. Paired by position, a result answers another tool's call: the real run in
`test_trl_tools.py` shows it (an async `sql_query`); here the same shape is written out, with the reward
it changed.
"""

from __future__ import annotations

from rubricate.rewards import RewardScorer, as_trl_reward, episode_from_messages

PROMPT = [{"role": "user", "content": "What was the revenue in 2019?"}]
SCHEMA = "CREATE TABLE revenue (year INTEGER, value INTEGER)"
ERROR = "{'error': 'no such table: revenues'}"


def _call(name: str, **arguments: str) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def _rollout(first: dict, second: dict) -> list[dict]:
    """Discover; then a failing async query and a sync schema call in one turn, with the results in the
    order given; then the fixed query and the answer."""
    return [
        {"role": "assistant", "content": "", "tool_calls": [_call("get_table_names")]},
        {"role": "tool", "name": "get_table_names", "content": "revenue"},
        {"role": "assistant", "content": "", "tool_calls": [
            _call("sql_query", query="SELECT value FROM revenues"),
            _call("get_table_info", table_name="revenue")]},
        first,
        second,
        {"role": "assistant", "content": "", "tool_calls": [
            _call("sql_query", query="SELECT value FROM revenue WHERE year = 2019")]},
        {"role": "tool", "name": "sql_query", "content": "[(120,)]"},
        {"role": "assistant", "content": "The revenue was 120."},
    ]


QUERY_RESULT = {"role": "tool", "name": "sql_query", "content": ERROR}
SCHEMA_RESULT = {"role": "tool", "name": "get_table_info", "content": SCHEMA}


def _outputs(messages: list[dict]) -> dict[str, list[str]]:
    episode = episode_from_messages(PROMPT, messages)
    out: dict[str, list[str]] = {}
    for step in episode.steps:
        for call in step.tool_calls:
            out.setdefault(call.name, []).append(episode.steps[call.result_step].content)
    return out


def test_results_in_trl_async_order_answer_their_own_calls():
    trl_order = _rollout(SCHEMA_RESULT, QUERY_RESULT)  # the sync get_table_info's result first
    call_order = _rollout(QUERY_RESULT, SCHEMA_RESULT)
    assert _outputs(trl_order) == _outputs(call_order) == {
        "get_table_names": ["revenue"], "sql_query": [ERROR, "[(120,)]"], "get_table_info": [SCHEMA]}
    scorer = RewardScorer("tool-discipline")
    got, want = scorer.score(PROMPT, trl_order, "120"), scorer.score(PROMPT, call_order, "120")
    assert got.verdicts == want.verdicts and got.reward == want.reward
    assert want.verdicts["recovers_from_errors"] == "pass"  # the failed query was retried and succeeded
    reward = as_trl_reward(scorer)
    rewards = reward(prompts=[PROMPT] * 2, completions=[trl_order, call_order], answer=["120"] * 2)
    assert rewards == [want.reward] * 2


def test_results_are_rewritten_only_when_out_of_call_order():
    # in call order, with ids, or naming no waiting call: pairing stays by id or by position
    in_order = _rollout(QUERY_RESULT, SCHEMA_RESULT)
    assert _outputs(in_order)["get_table_info"] == [SCHEMA]
    unknown = _rollout({"role": "tool", "name": "other", "content": "x"}, {"role": "tool", "content": "y"})
    assert _outputs(unknown) == {"get_table_names": ["revenue"], "sql_query": ["x", "[(120,)]"],
                                 "get_table_info": ["y"]}
    with_ids = _rollout({**SCHEMA_RESULT, "tool_call_id": "b"}, {**QUERY_RESULT, "tool_call_id": "a"})
    with_ids[2]["tool_calls"][0]["id"], with_ids[2]["tool_calls"][1]["id"] = "a", "b"
    assert _outputs(with_ids)["sql_query"][0] == ERROR
    assert with_ids[3] == {**SCHEMA_RESULT, "tool_call_id": "b"}  # the caller's messages are not changed
    trl_order = _rollout(SCHEMA_RESULT, QUERY_RESULT)
    episode_from_messages(PROMPT, trl_order)
    assert trl_order == _rollout(SCHEMA_RESULT, QUERY_RESULT)
