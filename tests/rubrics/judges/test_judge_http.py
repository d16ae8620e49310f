"""Judge items end to end through the real `openai` client and a scripted OpenAI-compatible server on
loopback: one call per episode, cache, incremental re-asking, faults, budget, bounded concurrency."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import rubricate
from rubricate.scoring import _workers, score_run
from rubricate.testing import FAULTS, ScriptedJudge, default_answer, episode

from ._support import JUDGE_RUBRIC, judged_rubric, sql_episode

JUDGE_ITEMS = ["acknowledges_errors", "answer_quality"]


def _by_key(verdicts):
    return {(v.episode_id, v.item): v for v in verdicts}


def test_one_call_per_episode_answers_every_judge_item_in_rubric_order():
    eps = [sql_episode(i) for i in range(4)]
    with ScriptedJudge({"acknowledges_errors": "no"}) as server:
        verdicts = rubricate.score(eps, judged_rubric(), judge=server.config())
    assert len(server.requests) == 4
    assert all(r.items == JUDGE_ITEMS for r in server.requests)
    assert [v.item for v in verdicts[:4]] == ["discovers_tables", "acknowledges_errors", "recovers_from_errors",
                                              "answer_quality"]
    got = _by_key(verdicts)
    ack, quality = got[("ep-000", "acknowledges_errors")], got[("ep-000", "answer_quality")]
    assert (ack.verdict, ack.score, ack.behavior) == ("fail", 0.0, "error-recovery")
    assert (quality.verdict, quality.score, quality.behavior) == ("pass", 1.0, "judgement")
    assert quality.reason == "supported: scripted answer"
    assert ack.evidence == (len(eps[0].steps) - 1,)


def test_cache_rerun_makes_no_call_and_a_changed_item_is_asked_alone(tmp_path: Path):
    eps = [sql_episode(i) for i in range(3)]
    with ScriptedJudge() as server:
        config = server.config(cache_dir=str(tmp_path / "cache"))
        first = rubricate.score(eps, judged_rubric(), judge=config)
        assert len(server.requests) == 3
        again = rubricate.score(eps, judged_rubric(), judge=config)
        assert len(server.requests) == 3, "a re-run must be answered from the cache"
        assert again == first
        changed = judged_rubric(JUDGE_RUBRIC.replace("Did the agent notice failed tool calls?",
                                                     "Did the agent say which tool call failed?"))
        rubricate.score(eps, changed, judge=config)
        assert len(server.requests) == 6
        assert all(r.items == ["acknowledges_errors"] for r in server.requests[3:])
        other_model = server.config(cache_dir=str(tmp_path / "cache"), model="another-model")
        rubricate.score(eps[:1], changed, judge=other_model)
        assert len(server.requests) == 7 and server.requests[-1].items == JUDGE_ITEMS
    assert os.path.isfile(tmp_path / "cache" / "judge-cache.sqlite3")


def test_episode_content_is_part_of_the_cache_key(tmp_path: Path):
    with ScriptedJudge() as server:
        config = server.config(cache_dir=str(tmp_path))
        rubricate.score([sql_episode(1)], judged_rubric(), judge=config)
        renamed = sql_episode(1)
        renamed.id = "another-id"  # same content, other id: a cache hit
        rubricate.score([renamed], judged_rubric(), judge=config)
        assert len(server.requests) == 1
        rubricate.score([sql_episode(2)], judged_rubric(), judge=config)
        assert len(server.requests) == 2


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.2, 0.5])
def test_faults_never_lose_a_verdict_and_every_failure_is_an_error_with_a_reason(rate):
    eps = [sql_episode(i) for i in range(24)]
    with ScriptedJudge() as clean:
        expected = _by_key(rubricate.score(eps, judged_rubric(), judge=clean.config()))
    faults = {kind: rate / len(FAULTS) for kind in FAULTS}
    with ScriptedJudge(faults=faults, seed=7) as server:
        config = server.config(timeout=0.5, max_retries=2, concurrency=8)
        got = _by_key(rubricate.score(eps, judged_rubric(), judge=config))
    assert got.keys() == expected.keys(), "a verdict went missing"
    errors = [v for v in got.values() if v.verdict == "error"]
    for key, v in got.items():
        if v.verdict == "error":
            assert key[1] in JUDGE_ITEMS and v.reason.startswith("judge: ") and len(v.reason) > 10
            assert v.score is None
        else:
            assert v == expected[key], "a fault changed a verdict that was not an error"
    if rate == 0:
        assert not errors and server.served == {"ok": 24}
    served_faults = sum(n for k, n in server.served.items() if k != "ok")
    assert (served_faults > 0) == (rate > 0)
    print(f"fault rate {rate:.0%}: {len(server.requests)} requests for 24 episodes, served {dict(server.served)}, "
          f"{len(errors)} of {24 * 2} judge verdicts are errors")


def test_429_and_500_are_retried_with_backoff_until_an_answer():
    with ScriptedJudge(faults={"rate_limit": 0.5, "server_error": 0.3}, seed=3) as server:
        verdicts = rubricate.score([sql_episode(1)], judged_rubric(), judge=server.config(max_retries=20))
    assert all(v.verdict != "error" for v in verdicts)
    assert server.served["ok"] == 1 and len(server.requests) > 1


def test_retries_are_bounded_and_the_reason_names_the_status():
    with ScriptedJudge(faults={"server_error": 1.0}) as server:
        verdicts = rubricate.score([sql_episode(1)], judged_rubric(), judge=server.config(max_retries=2))
    assert len(server.requests) == 3
    errors = [v for v in verdicts if v.item in JUDGE_ITEMS]
    assert {v.verdict for v in errors} == {"error"}
    assert all("the judge endpoint failed (500)" in v.reason for v in errors)


def test_a_timeout_is_an_error_verdict_after_bounded_retries():
    with ScriptedJudge(faults={"timeout": 1.0}) as server:
        verdicts = rubricate.score([sql_episode(1)], judged_rubric(), judge=server.config(timeout=0.3, max_retries=1))
    assert len(server.requests) == 2
    assert all("did not answer within 0.3s" in v.reason for v in verdicts if v.item in JUDGE_ITEMS)


@pytest.mark.parametrize(("fault", "reason"), [
    ("garbage", "body that is not JSON"), ("empty_choices", "no choices"), ("bad_json", "not a JSON object"),
])
def test_a_200_with_garbage_is_retried_once_then_an_error(fault, reason):
    with ScriptedJudge(faults={fault: 1.0}) as server:
        verdicts = rubricate.score([sql_episode(1)], judged_rubric(), judge=server.config(max_retries=5))
    assert len(server.requests) == 2, "garbage is asked again exactly once"
    assert all(reason in v.reason and v.verdict == "error" for v in verdicts if v.item in JUDGE_ITEMS)


def test_an_incomplete_reply_asks_again_about_the_missing_items_only():
    with ScriptedJudge(faults={"incomplete": 1.0}) as server:
        verdicts = _by_key(rubricate.score([sql_episode(1)], judged_rubric(), judge=server.config()))
    assert [r.items for r in server.requests] == [JUDGE_ITEMS, ["answer_quality"]]
    assert verdicts[("ep-001", "acknowledges_errors")].verdict == "pass"
    assert verdicts[("ep-001", "answer_quality")].verdict == "error"


def test_the_budget_stops_calls_and_the_rest_are_errors():
    eps = [sql_episode(i) for i in range(5)]
    with ScriptedJudge() as server:
        verdicts = rubricate.score(eps, judged_rubric(), judge=server.config(max_calls=2))
    assert len(server.requests) == 2
    budget = [v for v in verdicts if "budget of 2 calls is spent" in v.reason]
    assert len(budget) == 3 * 2 and {v.verdict for v in budget} == {"error"}


def test_a_refused_json_schema_falls_back_to_plain_json_and_prose_is_parsed():
    with ScriptedJudge(reject_json_schema=True, style="prose") as server:
        verdicts = rubricate.score([sql_episode(i) for i in range(3)], judged_rubric(),
                                   judge=server.config(concurrency=1))
    assert server.served["rejected_json_schema"] == 1, "the client switches to plain JSON after one refusal"
    assert all(v.verdict == "pass" for v in verdicts if v.item in JUDGE_ITEMS)
    assert all(r.items == JUDGE_ITEMS for r in server.requests[1:]), "items are read from the checklist"


def test_concurrent_refusals_of_json_schema_all_fall_back():
    with ScriptedJudge(reject_json_schema=True) as server:
        verdicts = rubricate.score([sql_episode(i) for i in range(6)], judged_rubric(),
                                   judge=server.config(concurrency=6))
    assert server.served["rejected_json_schema"] >= 1 and server.served["ok"] == 6
    assert all(v.verdict == "pass" for v in verdicts if v.item in JUDGE_ITEMS)


def test_fenced_replies_are_parsed():
    with ScriptedJudge(style="fenced") as server:
        verdicts = rubricate.score([sql_episode(1)], judged_rubric(), judge=server.config(response_format="text"))
    assert "response_format" not in server.requests[0].body
    assert all(v.verdict == "pass" for v in verdicts if v.item in JUDGE_ITEMS)


def test_connections_are_bounded():
    with ScriptedJudge(delay=0.05) as server:
        rubricate.score([sql_episode(i) for i in range(12)], judged_rubric(), judge=server.config(concurrency=3))
    assert len(server.requests) == 12 and server.max_active <= 3


def test_invalid_citations_are_dropped_and_counted(tmp_path: Path):
    def liar(req):
        answers = default_answer(req)
        for a in answers.values():
            a["steps"] = [0, 999, -1]
        return answers

    with ScriptedJudge(liar) as server:
        summary = score_run([_write(tmp_path, [sql_episode(1)])], judged_rubric(), tmp_path / "run",
                            judge=server.config())
    led = summary.info["judge"]["ledger"]
    assert led["invalid_citations"] == 4 and led["items"]["answer_quality"]["invalid_citations"] == 2
    run = rubricate.open_run(tmp_path / "run")
    ev = run.sql("select evidence from verdicts where item = 'answer_quality'")["evidence"][0].to_list()
    assert ev == [0]


def test_an_episode_without_steps_is_na_without_a_call():
    empty = episode(id="empty")
    with ScriptedJudge() as server:
        verdicts = rubricate.score([empty], judged_rubric(), judge=server.config())
    assert not server.requests and {v.verdict for v in verdicts} == {"na"}


def _write(tmp_path: Path, eps, name: str = "traces.jsonl", pad: int = 0) -> str:
    """Episodes as OpenAI-chat JSONL; `pad` characters are added to each system prompt (to make a file
    large enough for the engine to use several workers)."""
    path = tmp_path / name
    with open(path, "w") as f:
        for ep in eps:
            msgs = [{"role": s.role, "content": s.content + ("x" * pad if s.role == "system" else ""),
                     **({"tool_calls": [{"id": f"c{s.index}", "type": "function",
                                          "function": {"name": c.name, "arguments": c.arguments_raw}}
                                         for c in s.tool_calls]} if s.tool_calls else {}),
                     **({"tool_call_id": f"c{s.call_step}"} if s.role == "tool" else {})} for s in ep.steps]
            f.write(json.dumps({"id": ep.id, "messages": msgs, "ground_truth": ep.ground_truth}) + "\n")
    return str(path)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_score_run_with_two_workers_merges_judge_rows_and_ledgers(tmp_path: Path, monkeypatch, start_method):
    """The parent judges its share and a worker (forked or spawned) the other: their rows and
    ledgers are merged, and a second run reads both from the one cache."""
    monkeypatch.setattr(_workers, "START_METHOD", start_method)
    monkeypatch.setenv("RUBRICATE_TEST_JUDGE_KEY", "sk-secret-never-written")
    a = _write(tmp_path, [sql_episode(i) for i in range(0, 5)], "a.jsonl", pad=1 << 20)
    b = _write(tmp_path, [sql_episode(i) for i in range(5, 9)], "b.jsonl", pad=1 << 20)
    with ScriptedJudge() as server:
        config = server.config(cache_dir=str(tmp_path / "cache"), api_key_env="RUBRICATE_TEST_JUDGE_KEY", batch=2)
        summary = score_run([a, b], judged_rubric(), tmp_path / "run", workers=2, judge=config)
    info = summary.info
    assert info["timings"]["workers"] == 2
    run = rubricate.open_run(tmp_path / "run")
    verdicts = run.verdicts()
    assert verdicts.height == 9 * 4
    assert verdicts["item"].to_list()[:4] == ["discovers_tables", "acknowledges_errors", "recovers_from_errors",
                                              "answer_quality"]
    led = info["judge"]["ledger"]
    assert (led["calls"], led["ok_calls"], led["answered"], led["episodes"], led["shortened"]) == (9, 9, 18, 9, 9)
    assert "(judged on a shortened episode: long contents of steps 0 cut in the middle)" in \
        verdicts.filter(verdicts["item"] == "answer_quality")["reason"][0]
    assert led["items"]["acknowledges_errors"]["asked"] == 9 and led["tokens_in"] > 0
    assert info["judge"]["status"] == "configured" and info["judge"]["api_key_env"] == "RUBRICATE_TEST_JUDGE_KEY"
    for root, _, files in os.walk(tmp_path):
        for name in files:
            assert b"sk-secret-never-written" not in (Path(root) / name).read_bytes(), name
    with ScriptedJudge() as server:  # a second run, both workers reading the cache: no call
        config = server.config(cache_dir=str(tmp_path / "cache"), api_key_env="RUBRICATE_TEST_JUDGE_KEY", batch=2)
        again = score_run([a, b], judged_rubric(), tmp_path / "run2", workers=2, judge=config)
        assert not server.requests
    assert again.info["judge"]["ledger"]["cache_hits"] == 18
    assert rubricate.open_run(tmp_path / "run2").verdicts().equals(verdicts)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_the_budget_is_one_for_the_whole_run_across_workers(tmp_path: Path, monkeypatch, start_method):
    """Two processes judge at once from one budget of calls: the run makes exactly that many, and
    every episode past it gets `error` verdicts for its judge items, never `fail`."""
    monkeypatch.setattr(_workers, "START_METHOD", start_method)
    monkeypatch.setenv("RUBRICATE_TEST_JUDGE_KEY", "sk-test")
    a = _write(tmp_path, [sql_episode(i) for i in range(0, 5)], "a.jsonl", pad=1 << 20)
    b = _write(tmp_path, [sql_episode(i) for i in range(5, 9)], "b.jsonl", pad=1 << 20)
    with ScriptedJudge() as server:
        config = server.config(cache_dir=str(tmp_path / "cache"), api_key_env="RUBRICATE_TEST_JUDGE_KEY",
                               max_calls=4)
        summary = score_run([a, b], judged_rubric(), tmp_path / "run", workers=2, judge=config)
        assert len(server.requests) == 4
    assert summary.info["timings"]["workers"] == 2
    verdicts = rubricate.open_run(tmp_path / "run").verdicts()
    judged = verdicts.filter(verdicts["item"].is_in(JUDGE_ITEMS))
    spent = judged.filter(judged["reason"].str.contains("budget of 4 calls is spent"))
    assert spent.height == 5 * len(JUDGE_ITEMS) and set(spent["verdict"]) == {"error"}
    assert judged.filter(~judged["reason"].str.contains("budget"))["episode_id"].n_unique() == 4


def test_without_a_judge_judge_items_are_skipped_never_failed(tmp_path: Path):
    summary = score_run(_write(tmp_path, [sql_episode(1)]), judged_rubric(), tmp_path / "run")
    assert summary.info["judge"] == {"status": "not configured", "skipped_items": JUDGE_ITEMS,
                                     "reason": "no judge model was given (--judge-model)"}
    items = rubricate.open_run(tmp_path / "run").verdicts()["item"].to_list()
    assert items == ["discovers_tables", "recovers_from_errors"]
    verdicts = rubricate.score([sql_episode(1)], judged_rubric())
    assert [v.item for v in verdicts] == items


def test_a_refused_key_stops_the_calls_and_never_reaches_a_verdict(monkeypatch):
    monkeypatch.setenv("RUBRICATE_TEST_WRONG_KEY", "sk-wrong-key-123456789")
    with ScriptedJudge(api_key="sk-the-right-one") as server:
        config = server.config(api_key_env="RUBRICATE_TEST_WRONG_KEY", concurrency=1)
        verdicts = rubricate.score([sql_episode(i) for i in range(4)], judged_rubric(), judge=config)
    assert server.served == {"unauthorized": 1}, "after a 401 nothing more is sent"
    errors = [v for v in verdicts if v.item in JUDGE_ITEMS]
    assert {v.verdict for v in errors} == {"error"} and len(errors) == 8
    assert all("refused the request (401)" in v.reason and "wrong-key" not in v.reason for v in errors)
