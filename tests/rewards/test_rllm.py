"""The rLLM target, called as rLLM calls it (rllm is not on PyPI, so its types are not installed here:
the Episode is the `Episode.to_dict()` record of the fixture, and the task is rLLM's `Task` shape)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from rubricate import load_episodes
from rubricate.rewards import RewardScorer, as_rllm_evaluator, as_rllm_reward_fn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rllm" / "episodes.jsonl"


class _Episode:  # what rLLM hands an evaluator: a pydantic Episode with to_dict()
    def __init__(self, record: dict) -> None:
        self.record = record

    def to_dict(self) -> dict:
        return self.record


def test_evaluator_scores_the_episode_like_score_run():
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    evaluator = as_rllm_evaluator("tool-discipline")
    scorer = RewardScorer("tool-discipline")
    for record, ours in zip(records, load_episodes(FIXTURE)):
        task = SimpleNamespace(id="t", instruction=record["task"].get("question"), metadata=record["task"])
        out = evaluator.evaluate(task, _Episode(record))
        want = scorer.score_episode(ours)
        assert out.reward == (0.0 if want.reward is None else want.reward)
        signals = {s.name: s.value for s in out.signals}
        # one signal per judged item; na and error are left out, never 0.0
        assert {k for k, v in want.scores.items() if v is not None} == set(signals) - {"scorable", "tool_items_seen"}
        assert signals["tool_items_seen"] == (1.0 if ours.n_tool_calls else 0.0)


def test_reward_fn_reads_the_action_text():
    reward_fn = as_rllm_reward_fn("examples/wiki-search/rubric.toml")
    text = ('<tool_call>\n{"name": "search_pages", "arguments": {"query": "X"}}\n</tool_call>\nuser\n'
            '<tool_response>\n[{\'page_id\': \'x\'}]\n</tool_response>\nassistant\nX was founded in 1901.')
    out = reward_fn({"question": "When was X founded?", "ground_truth": "1901"}, SimpleNamespace(action=text))
    assert out.metadata["verdicts"]["searches_first"] == "pass" and out.metadata["tool_items_seen"] == 1.0
    assert out.is_correct is True and 0.0 < out.reward <= 1.0
