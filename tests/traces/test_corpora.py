"""The whole real corpora: counts that the corpus READMEs (and our own reading of them) state."""

from __future__ import annotations

from collections import Counter

import pytest

from rubricate.testing import assert_episode_invariants
from rubricate.traces import load_episodes

from .conftest import CORPORA
from _shared import need


@pytest.fixture(autouse=True, scope="module")
def _corpora_here() -> None:
    """Every test here reads ../shared/corpora: skipped without it (failed under RUBRICATE_REQUIRE_SHARED)."""
    need(CORPORA)


@pytest.fixture(scope="module")
def wiki_search():
    traces = load_episodes(CORPORA / "verifiers-wiki-search")
    episodes = list(traces)
    return episodes, traces.issues


def test_verifiers_wiki_search_counts(wiki_search):
    episodes, issues = wiki_search
    assert issues == []
    assert len(episodes) == 1250
    assert {e.format for e in episodes} == {"verifiers-results"}
    assert sum(e.reward == 1.0 for e in episodes) == 968
    assert sum(e.reward == 0.0 for e in episodes) == 282
    assert sum(e.n_tool_calls for e in episodes) == 4288
    assert sum(e.n_tool_calls > 0 for e in episodes) == 1093
    assert sum(e.final_answer is None for e in episodes) == 50
    assert sum(len(s.tool_calls) > 1 for e in episodes for s in e.steps) == 107  # parallel-call turns


def test_verifiers_wiki_search_tool_errors(wiki_search):
    episodes, _ = wiki_search
    errors = [s.content for e in episodes for s in e.steps if s.is_error]
    assert len(errors) == 104
    kinds = Counter("invalid" if c.startswith("Invalid section_id format") else
                    "not-found" if c.startswith("Section not found: ") else c for c in errors)
    # the corpus README says 9 "Section not found"; the files hold 17 such tool results, in 14 episodes
    assert kinds == {"invalid": 87, "not-found": 17}
    assert all(s.role == "tool" for e in episodes for s in e.steps if s.is_error)


def test_verifiers_wiki_search_structure(wiki_search):
    episodes, _ = wiki_search
    for ep in episodes:
        assert_episode_invariants(ep)
    # tool messages carry no ids, yet every result pairs with a call; 50 calls (the last ones of the
    # episodes without a final answer) got no result
    assert sum(1 for e in episodes for s in e.steps if s.role == "tool" and s.call_step is None) == 0
    assert sum(1 for e in episodes for _, c in e.tool_calls() if c.result_step is None) == 50
    assert sum(1 for e in episodes for _, c in e.tool_calls() if c.arguments_error) == 0
    assert len({e.id for e in episodes}) == 1250
    models = Counter(e.metadata["model"] for e in episodes)
    assert models == {"gpt-4.1-mini": 200, "qwen/qwen3-30b-a3b-instruct-2507": 200, "gpt-4.1": 150,
                      "gpt-4.1-nano": 150, "gpt-5-mini": 150, "gpt-5-nano": 150,
                      "qwen/qwen3-4b-instruct-2507": 100, "willcb/qwen3-4b-wiki-search": 100, "gpt-5": 50}
    assert len({e.metadata["run"] for e in episodes}) == 17
    assert all(e.task_id is not None and e.ground_truth for e in episodes)


def test_nemo_gym_rollouts_load_as_openai_responses():
    traces = load_episodes(CORPORA / "nemo-gym-rollouts")
    episodes = list(traces)
    # two files (conversational_tool_use_simulation, finance_agent_v2) start with a line over 64 KiB;
    # sniffing reads such a first record whole, so they are detected like the others
    assert traces.issues == []
    assert len(episodes) == 65
    assert {e.format for e in episodes} == {"openai-responses"}
    per_file = Counter(e.source.path.split(".")[0] for e in episodes)
    assert len(per_file) == 13 and set(per_file.values()) == {5}
    for ep in episodes:
        assert_episode_invariants(ep)
        assert ep.reward is not None
    # README: "all use tools", but its own table lists one conversational_tool_use_simulation rollout
    # with 0 calls and pinchbench with 0-5: exactly two episodes make no call
    assert sum(e.n_tool_calls == 0 for e in episodes) == 2
    rewards = Counter(e.reward for e in episodes if e.source.path.startswith("example_multi_step"))
    assert rewards == {1.0: 5}
