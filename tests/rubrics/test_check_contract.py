"""The check contract (rubricate.testing.assert_check_contract) for every registered built-in check,
over real episodes of the verifiers wiki-search corpus and hand-built ones."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

import rubricate
from rubricate.rubrics import CheckContext, builtin_rubrics, load_rubric, registered_checks, run_check
from rubricate.testing import assert_check_contract, assert_episode_invariants
from rubricate.traces import Episode, find_trace_files

from ._support import EXAMPLE_RUBRIC, REPO, builder_episodes

CORPUS = Path(os.environ.get("RUBRICATE_CORPORA", REPO.parent / "shared" / "corpora")) / "verifiers-wiki-search"
PER_FILE, ERRORS_PER_FILE = 5, 3

BUILTINS = sorted(name for name, chk in registered_checks().items()
                  if chk.fn.__module__.startswith("rubricate.rubrics.checks"))


@cache
def corpus_episodes() -> tuple[Episode, ...]:
    """About a hundred episodes: the first few of every run file and a few with tool errors."""
    if not CORPUS.is_dir():
        return ()
    picked: list[Episode] = []
    for trace in find_trace_files(CORPUS):
        episodes = list(rubricate.load_episodes(trace.path))
        with_errors = [e for e in episodes if any(s.is_error for s in e.steps)]
        chosen = {e.id: e for e in episodes[:PER_FILE] + with_errors[:ERRORS_PER_FILE]}
        picked += chosen.values()
    return tuple(picked)


def _param_sets(check_name: str) -> list[dict]:
    """The check's defaults and the params of every shipped rubric item that uses it."""
    rubrics = [load_rubric(n) for n in builtin_rubrics()] + [load_rubric(EXAMPLE_RUBRIC)]
    sets = [{}] + [dict(i.params) for r in rubrics for i in r.checks if i.check.name == check_name]
    return sets


def test_the_corpus_sample_is_real_and_varied():
    episodes = corpus_episodes()
    if not episodes:
        pytest.skip(f"corpus not found at {CORPUS} (set RUBRICATE_CORPORA)")
    assert 80 <= len(episodes) <= 200
    assert any(s.is_error for e in episodes for s in e.steps)
    for ep in episodes:
        assert_episode_invariants(ep)


def test_the_builtins_are_registered():
    assert {"discovers_tables", "inspects_schema", "recovers_from_errors", "no_repeated_failing_call",
            "grounded_answer", "answer_correct"} <= set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_check_contract(name):
    chk = registered_checks()[name]
    episodes = list(corpus_episodes()) + builder_episodes()
    for params in _param_sets(name):
        assert_check_contract(chk, episodes, params)
        for ep in episodes:  # and never an error from a built-in
            out = run_check(chk.fn, CheckContext(ep, {**chk.params, **params}))
            assert out.verdict in ("pass", "fail", "na"), (ep.id, out)


def test_wiki_rubric_verdicts_on_the_corpus_are_mostly_decided():
    episodes = corpus_episodes()
    if not episodes:
        pytest.skip(f"corpus not found at {CORPUS}")
    verdicts = rubricate.score(episodes, load_rubric(EXAMPLE_RUBRIC))
    by_item: dict[str, set[str]] = {}
    for v in verdicts:
        by_item.setdefault(v.item, set()).add(v.verdict)
        assert v.verdict != "error", v
    # the wiki roles are configured, so searching first is decided (not na) on every episode
    assert by_item["searches_first"] <= {"pass", "fail"}
    assert "pass" in by_item["searches_first"] and "pass" in by_item["answer_correct"]
    assert "fail" in by_item["recovers_from_errors"] or "pass" in by_item["recovers_from_errors"]

