"""Parity: every episode of the real corpora gets the same reward from `score_run` (the `rubric_reward`
column of episodes.parquet) and from each exported function fed the same messages in its trainer's
shape (TRL tool rollouts, verifiers reward funcs, verl with messages, OpenRLHF over HTTP on loopback).
None must stay None (NaN where the target needs a number); per-item verdicts must agree too."""

from __future__ import annotations

import json
import math
import threading
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from rubricate import load_episodes, open_run, score_run
from rubricate.rewards import (
    RewardScorer,
    as_trl_item_rewards,
    as_trl_reward,
    as_verl_compute_score,
    serve_reward,
    verifiers_reward_funcs,
)
from rubricate.rubrics import load_rubric, parse_rubric

from ._shapes import split, to_messages

ROOT = Path(__file__).resolve().parents[2]
from _shared import CORPORA, need  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
WIKI_RUBRIC = (ROOT / "examples" / "wiki-search" / "rubric.toml").read_text()
# the example rubric with every [reward] feature: a pitfall, a weight-0 item, a capped gate
WIKI_SHAPED = (
    WIKI_RUBRIC.replace('id = "wiki-search-discipline"', 'id = "wiki-shaped"')
    .replace('id = "no_repeated_failing_call"', 'id = "no_repeated_failing_call"\nweight = -1')
    .replace('id = "grounded_answer"', 'id = "grounded_answer"\nweight = 0')
    + '\n[reward]\ngates = ["answer_correct"]\ngate = "cap"\ncap = 0.3\n'
)
WIKI_GATED = (
    WIKI_RUBRIC.replace('id = "wiki-search-discipline"', 'id = "wiki-gated"')
    + '\n[reward]\nmode = "outcome_gated"\noutcome_item = "answer_correct"\nshape_among = "incorrect"\n'
)

CASES = [
    ("verifiers-wiki-search", CORPORA / "verifiers-wiki-search", WIKI_RUBRIC),
    ("verifiers-wiki-search-shaped", CORPORA / "verifiers-wiki-search", WIKI_SHAPED),
    ("verifiers-wiki-search-gated", CORPORA / "verifiers-wiki-search", WIKI_GATED),
    ("tau-bench", CORPORA / "tau-bench", "agent-basics"),
    ("nemo-gym-rollouts", CORPORA / "nemo-gym-rollouts", "agent-basics"),
    ("fixtures-verifiers", FIXTURES / "verifiers-results", WIKI_RUBRIC),
    ("fixtures-openai-chat", FIXTURES / "openai-chat", "tool-discipline"),
    ("fixtures-openai-responses", FIXTURES / "openai-responses", "agent-basics"),
    ("fixtures-anthropic", FIXTURES / "anthropic-messages", "tool-discipline"),
]


def _rubric(ref: str):
    return parse_rubric(ref, path="parity.toml") if "\n" in ref else load_rubric(ref)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and not math.isnan(b) and a == b


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request, tmp_path_factory):
    name, path, ref = request.param
    need(path)
    rubric = _rubric(ref)
    summary = score_run(path, rubric, tmp_path_factory.mktemp("parity") / name, workers=1)
    episodes = [e for e in load_episodes(path)]
    if not episodes or summary.episodes != len(episodes):
        pytest.skip(f"no reader for {path} in this version")
    run = open_run(summary.path)
    frame = run.episodes()
    want = dict(zip(frame["episode_id"], frame["rubric_reward"]))
    verdicts = run.verdicts()
    want_verdicts = {(r["episode_id"], r["item"]): r["verdict"] for r in verdicts.iter_rows(named=True)}
    samples = []
    for ep in episodes:
        prompt, completion = split(to_messages(ep))
        samples.append((ep.id, prompt, completion, ep.ground_truth))
    return rubric, samples, [want[s[0]] for s in samples], want_verdicts


def test_the_analysis_gives_rewards(case):
    _, samples, want, _ = case
    assert len(want) == len(samples)
    assert any(w is not None for w in want) or len(samples) < 5


def test_trl_matches_score_run(case):
    rubric, samples, want, want_verdicts = case
    scorer = RewardScorer(rubric)
    fn = as_trl_reward(scorer)
    got = fn(
        prompts=[s[1] for s in samples],
        completions=[s[2] for s in samples],
        completion_ids=[[0]] * len(samples),
        trainer_state=None,
        answer=[s[3] for s in samples],
    )
    bad = [(s[0], w, g) for s, w, g in zip(samples, want, got) if not _same(w, g)]
    assert not bad, bad[:5]
    # the per-item functions give the analysis' verdicts
    for item_fn in as_trl_item_rewards(scorer):
        scores = item_fn(
            prompts=[s[1] for s in samples],
            completions=[s[2] for s in samples],
            answer=[s[3] for s in samples],
        )
        for s, score in zip(samples, scores):
            verdict = want_verdicts[(s[0], item_fn.__name__)]
            assert score == {"pass": 1.0, "fail": 0.0}.get(verdict), (s[0], item_fn.__name__, verdict, score)


def test_verifiers_funcs_match_score_run(case):
    rubric, samples, want, _ = case
    funcs, _ = verifiers_reward_funcs(rubric, none_reward=float("nan"))
    for s, w in zip(samples, want):
        state: dict = {}
        values = [
            f(prompt=s[1], completion=s[2], answer=s[3] if s[3] is not None else "", state=state)
            for f in funcs
        ]
        assert _same(w, values[0]), (s[0], w, values[0])


def test_verl_matches_score_run(case):
    rubric, samples, want, _ = case
    compute_score = as_verl_compute_score(rubric, none_score=float("nan"))
    for s, w in zip(samples, want):
        out = compute_score("corpus", s[2], s[3], {"prompt": s[1]})
        assert _same(w, out["score"]), (s[0], w, out["score"])
        assert out["scorable"] == (0.0 if w is None else 1.0)


def test_http_server_matches_score_run(case):
    rubric, samples, want, _ = case
    server = serve_reward(RewardScorer(rubric))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        got: list[float | None] = []
        for k in range(0, len(samples), 300):
            batch = samples[k : k + 300]
            body = json.dumps(
                {
                    "query": [s[1] + s[2] for s in batch],
                    "prompts": [s[1] for s in batch],
                    "labels": [s[3] for s in batch],
                }
            ).encode()
            request = urllib.request.Request(server.url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                out = json.loads(response.read())
            scorable = out["extra_logs"]["rubricate/scorable"]
            got += [r if ok else None for r, ok in zip(out["rewards"], scorable)]
    finally:
        server.shutdown()
        server.server_close()
    bad = [(s[0], w, g) for s, w, g in zip(samples, want, got) if not _same(w, g)]
    assert not bad, bad[:5]
