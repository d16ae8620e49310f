"""Shared paths for the traces tests: one real fixture file per registered format, and the corpora."""

from __future__ import annotations

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures"
from _shared import CORPORA  # noqa: E402  (../shared/corpora beside the checkout; RUBRICATE_CORPORA points elsewhere)

VERIFIERS_DIR = FIXTURES / "verifiers-results"
VERIFIERS_RUN = VERIFIERS_DIR / "wiki-search--gpt-4.1-nano" / "8d8aecd4"
VERIFIERS_OLD_RUN = VERIFIERS_DIR / "wiki-search--gpt-4.1-nano" / "50fa4920"

# The main fixture of every registered format (the contract tests require one per format).
FORMAT_FIXTURES: dict[str, Path] = {
    "verifiers-results": VERIFIERS_RUN / "results.jsonl",
    "openai-responses": FIXTURES / "openai-responses" / "nemo-gym-rollouts.jsonl",
    "openai-chat": FIXTURES / "openai-chat" / "tau-bench-gpt-4o-airline.jsonl",
    "anthropic-messages": FIXTURES / "anthropic-messages" / "messages.jsonl",
    "who-and-when": FIXTURES / "who-and-when" / "who-and-when.jsonl",
    "mast-mad": FIXTURES / "mast-mad" / "mast-mad.jsonl",
    "inspect-eval": FIXTURES / "inspect-eval" / "2025-05-12T20-27-36-04-00_browser.json",
    "tau-bench": FIXTURES / "tau-bench" / "gpt-4o-airline.json",
    "trl-conversational": FIXTURES / "trl-conversational" / "toolcall.jsonl",
    "trl-completions": FIXTURES / "trl-completions" / "completions" / "completions_00050.parquet",
    "verifiers-traces": FIXTURES / "verifiers-traces" / "wiki-search--gpt-4.1-mini--bash"
    / "0b7c9e2a4f6d4e1b9a3c5d7e8f901234" / "traces.jsonl",
    "rllm": FIXTURES / "rllm" / "episodes.jsonl",
    "otel-genai": FIXTURES / "otel-genai" / "agent-spans.jsonl",
    "openinference": FIXTURES / "openinference" / "agent-spans.jsonl",
    "sharegpt": FIXTURES / "sharegpt" / "toolcall.jsonl",
}
DAMAGED = FIXTURES / "damaged" / "chat-damaged.jsonl"


def load_checked(path, fmt: str | None = None, **kw):
    """(episodes, load issues) of `path`, every episode checked by assert_episode_invariants and,
    when `fmt` is given, read in that format."""
    from rubricate.testing import assert_episode_invariants
    from rubricate.traces import load_episodes

    traces = load_episodes(path, **kw)
    episodes = list(traces)
    for ep in episodes:
        assert_episode_invariants(ep)
        assert fmt is None or ep.format == fmt
    return episodes, traces.issues


def roles(ep) -> str:
    """The episode's step roles as letters: S(ystem), U(ser), A(ssistant), T(ool)."""
    return "".join(s.role[0].upper() for s in ep.steps)
