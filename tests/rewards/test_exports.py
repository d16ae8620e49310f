"""Each exporter's contract with its trainer, called the way the trainer calls it (no trainer needed):
TRL reward functions, verifiers reward funcs, verl compute_score, OpenRLHF reward_func, the OpenAI
grader, the module `rubricate export-reward` writes, and the CLI."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from rubricate.cli import main
from rubricate.errors import RubricError
from rubricate.rewards import (
    RewardScorer,
    as_openrlhf_reward_func,
    as_trl_item_rewards,
    as_trl_reward,
    as_verl_compute_score,
    export_module_text,
    export_target,
    verifiers_reward_funcs,
)

WIKI = "examples/wiki-search/rubric.toml"
PROMPT = [{"role": "system", "content": "Use the tools."}, {"role": "user", "content": "When was X founded?"}]
# a TRL tool rollout: dict arguments, tool messages with a name and no tool_call_id,
# a failed call as TRL writes it
TRL_COMPLETION = [
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": "search_pages", "arguments": {"query": "X"}}}
        ],
    },
    {"role": "tool", "name": "search_pages", "content": "[{'page_id': 'x', 'title': 'X'}]"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": "read_section", "arguments": {"section_id": "history"}}}
        ],
    },
    {"role": "tool", "name": "read_section", "content": "{'error': 'Invalid section_id format'}"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": "view_sections", "arguments": {"page_id": "x"}}}
        ],
    },
    {"role": "tool", "name": "view_sections", "content": "[{'section_id': 'x:history'}]"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "read_section", "arguments": {"section_id": "x:history"}},
            }
        ],
    },
    {"role": "tool", "name": "read_section", "content": "X was founded in 1901 by Y."},
    {"role": "assistant", "content": "X was founded in 1901."},
]


@pytest.fixture(scope="module")
def scorer() -> RewardScorer:
    return RewardScorer(WIKI)


def test_trl_conversational_tool_rollout(scorer):
    fn = as_trl_reward(scorer)
    metrics, extras = {}, {}
    rewards = fn(
        prompts=[PROMPT, PROMPT],
        completions=[TRL_COMPLETION, TRL_COMPLETION[:1]],
        completion_ids=[[1], [2]],
        trainer_state=None,
        answer=["1901", "1901"],
        log_metric=metrics.__setitem__,
        log_extra=extras.__setitem__,
    )
    assert fn.__name__ == "rubric_reward"
    result = scorer.score(PROMPT, TRL_COMPLETION, "1901")
    assert result.verdicts == {
        "searches_first": "pass",
        "views_sections_first": "fail",
        "recovers_from_errors": "pass",
        "no_repeated_failing_call": "pass",
        "grounded_answer": "pass",
        "answer_correct": "pass",
    }
    assert rewards[0] == result.reward == pytest.approx(5 / 6)
    assert rewards[1] is not None  # ends on a call without result: scored, not an error
    assert metrics["rubricate/answer_correct"] == pytest.approx(0.5)  # the one without an answer fails
    assert metrics["rubricate/scorable"] == 1.0
    assert extras["rubricate/recovers_from_errors"] == ["pass", "na"]
    assert len(extras["rubricate/reason"]) == 2


def test_trl_plain_text_is_text_only(scorer):
    fn = as_trl_reward(scorer)
    rewards = fn(prompts=["When was X founded?"], completions=["It was founded in 1901."], answer=["1901"])
    result = scorer.score("When was X founded?", "It was founded in 1901.", "1901")
    assert result.verdicts == {
        "searches_first": "na",
        "views_sections_first": "na",
        "recovers_from_errors": "na",
        "no_repeated_failing_call": "na",
        "grounded_answer": "na",
        "answer_correct": "pass",
    }
    assert rewards == [1.0]
    # told that no tools were offered, a conversational completion is text-only too
    text_only = as_trl_reward(WIKI, text_only=True)
    assert text_only(
        prompts=[PROMPT], completions=[[{"role": "assistant", "content": "1901"}]], answer=["1901"]
    ) == [1.0]


def test_trl_truth_columns_and_not_scorable(scorer):
    fn = as_trl_reward(scorer)
    assert fn(prompts=["q"], completions=["1901"], solution=["1901"]) == [1.0]
    assert fn(prompts=["q"], completions=["1901"], gold=["1850"]) == [0.0]
    assert fn(prompts=["q"], completions=["1901"]) == [None]  # no ground truth: nothing rewarded applies
    assert as_trl_reward(scorer, truth_key="label")(
        prompts=["q"], completions=["1901"], label=["1901"], answer=["0"]
    ) == [1.0]


def test_trl_item_rewards_share_the_batch(scorer, monkeypatch):
    calls = []
    real = scorer.score_batch
    monkeypatch.setattr(scorer, "score_batch", lambda samples, **kw: calls.append(1) or real(samples, **kw))
    combined = as_trl_reward(scorer)
    per_item = as_trl_item_rewards(scorer)
    prompts, completions = [PROMPT], [TRL_COMPLETION]
    assert [f.__name__ for f in per_item] == list(scorer.item_ids)
    total = combined(prompts=prompts, completions=completions, answer=["1901"])
    items = {
        f.__name__: f(prompts=prompts, completions=completions, answer=["1901"], trainer_state=None)
        for f in per_item
    }
    assert len(calls) == 1
    assert items["views_sections_first"] == [0.0] and items["answer_correct"] == [1.0]
    assert total == [pytest.approx(5 / 6)]
    with pytest.raises(KeyError):
        as_trl_item_rewards(scorer, items=["nope"])


def test_verifiers_reward_funcs(scorer):
    funcs, weights = verifiers_reward_funcs(scorer, none_reward=-9.0)
    assert weights == [1.0] + [0.0] * len(scorer.item_ids)
    assert [f.__name__ for f in funcs] == ["rubric_reward", *scorer.item_ids]
    # verifiers 0.2 passes pydantic messages whose tool calls are flattened {id, name, arguments: JSON string}
    flat = [dict(m) for m in TRL_COMPLETION]
    for m in flat:
        if m.get("tool_calls"):
            fn = m["tool_calls"][0]["function"]
            m["tool_calls"] = [
                {"id": "c1", "name": fn["name"], "arguments": str(fn["arguments"]).replace("'", '"')}
            ]
    state: dict = {}
    values = [
        f(prompt=PROMPT, completion=flat, answer="1901", state=state, info={}, task=None) for f in funcs
    ]
    assert values[0] == pytest.approx(5 / 6)
    assert state["rubricate"]["verdicts"]["answer_correct"] == "pass"
    assert values[1:] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    assert funcs[0](prompt="q", completion="no idea", answer="", state={}) == -9.0  # None -> none_reward


def test_verl_compute_score(scorer):
    compute_score = as_verl_compute_score(scorer)
    out = compute_score("wiki", "It was 1901.", "1901", {"question": "When?"})
    assert out["score"] == 1.0 and out["scorable"] == 1.0 and out["answer_correct"] == 1.0
    assert math.isnan(out["searches_first"])
    assert compute_score("wiki", "no idea", None) == {
        **compute_score("wiki", "no idea", None),
        "score": 0.0,
        "scorable": 0.0,
    }
    plain = as_verl_compute_score(scorer, return_dict=False, none_score=-1.0)
    assert plain("wiki", TRL_COMPLETION, "1901", {"prompt": PROMPT}) == pytest.approx(5 / 6)
    assert plain("wiki", "no idea", None) == -1.0


def test_openrlhf_reward_func(scorer):
    fn = as_openrlhf_reward_func(scorer)
    out = fn(["Q: when?\nA: 1901", "Q: when?\nA: 1700"], ["Q: when?\n", "Q: when?\n"], ["1901", "1901"])
    rewards = [float(x) for x in out["rewards"]]
    assert rewards == [1.0, 0.0]
    assert [float(x) for x in out["extra_logs"]["rubricate/answer_correct"]] == [1.0, 0.0]


def test_openrlhf_extra_logs_leave_na_as_nan(scorer):
    out = as_openrlhf_reward_func(scorer)(["Q: when?\nA: 1901"], ["Q: when?\n"], ["1901"])
    assert math.isnan(float(out["extra_logs"]["rubricate/searches_first"][0]))  # na: not a fail
    assert float(out["extra_logs"]["rubricate/tool_items_seen"][0]) == 0.0


CHECKS = """from rubricate.rubrics import check


@check(behavior="answer")
def says_founded_{target}(ctx):
    answer = ctx.episode.final_answer
    return answer is not None and "founded" in answer
"""
CUSTOM = """id = "custom"
version = "1"

[[items]]
id = "says_founded"
check = "says_founded_{target}"
"""
SCRIPT = """import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("exported_reward", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.{attribute}({call}), default=lambda t: t.tolist()))
"""


@pytest.mark.parametrize(
    "target, attribute, call",
    [
        ("trl", "rubric_reward", "prompts=['q', 'q'], completions=['X was founded in 1901.', 'no'], answer=['1901']*2"),
        ("verl", "compute_score", "'d', 'X was founded in 1901.', '1901', {}"),
        ("openrlhf", "reward_func", "['q: X was founded.'], ['q: '], [None]"),
    ],
)
def test_exported_module_runs_from_a_clean_directory_elsewhere(tmp_path, target, attribute, call):
    """The module embeds the rubric and the checks: copied to another folder, with the originals gone,
    a fresh interpreter (cwd: an empty folder) imports it and gets the rewards of the rubric."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "rubric.toml").write_text(CUSTOM.format(target=target))
    (work / "my_checks.py").write_text(CHECKS.format(target=target))
    out = work / "reward.py"
    assert main(["export-reward", str(work / "rubric.toml"), "--checks", str(work / "my_checks.py"),
                 "--target", target, "--out", str(out)]) == 0
    node = tmp_path / "node" / "elsewhere"
    node.mkdir(parents=True)
    moved = node / "reward.py"
    moved.write_text(out.read_text())
    shutil.rmtree(work)
    clean = tmp_path / "empty"
    clean.mkdir()
    (clean / "run.py").write_text(SCRIPT.format(attribute=attribute, call=call))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "run.py", str(moved)], cwd=clean, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if target == "trl":
        assert got == [1.0, 0.0]
    elif target == "verl":
        assert got["score"] == 1.0 and got["says_founded"] == 1.0
    else:
        assert got["rewards"] == [1.0]


def test_embedded_module_refuses_an_edited_rubric(tmp_path):
    text = export_module_text(WIKI, "trl")
    assert "RUBRIC_TOML" in text and "RUBRIC_SHA256" in text and "examples/wiki-search" not in text
    edited = tmp_path / "reward.py"
    edited.write_text(text.replace("weight = ", "weight = 1", 1) if "weight = " in text
                      else text.replace('version = ', 'version = 9', 1))
    spec = importlib.util.spec_from_file_location("edited_reward", edited)
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(RubricError, match="SHA-256 does not match"):
        spec.loader.exec_module(module)


@pytest.mark.parametrize(
    "target, attribute",
    [
        ("trl", "rubric_reward"),
        ("verl", "compute_score"),
        ("openrlhf", "reward_func"),
        ("rllm", "evaluator"),
    ],
)
def test_no_embed_module_imports_and_scores(tmp_path, target, attribute):
    path = tmp_path / f"{target.replace('-', '_')}_reward.py"
    assert main(["export-reward", WIKI, "--target", target, "--out", str(path), "--no-embed"]) == 0
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, attribute)
    assert callable(fn)
    assert module.RUBRIC.endswith("examples/wiki-search/rubric.toml")
    direct = export_target(WIKI, target)
    assert type(fn) is type(direct)


def test_exported_verifiers_module_builds_lazily(tmp_path):
    text = export_module_text("tool-discipline", "verifiers")
    assert "def load_rubric()" in text and "__getattr__" in text
    compile(text, "vf_reward.py", "exec")


def test_export_errors_are_usage_errors(tmp_path, capsys):
    assert main(["export-reward", "no-such-rubric", "--target", "trl", "--out", str(tmp_path / "x.py")]) == 2
    assert "error: no rubric file or built-in rubric named 'no-such-rubric'" in capsys.readouterr().err
    assert not (tmp_path / "x.py").exists()
    bad = tmp_path / "holistic.toml"
    bad.write_text(
        'id = "h"\nversion = "1"\n[[items]]\nid = "answer_correct"\n[reward]\nmode = "judge_holistic"\n'
    )
    assert main(["export-reward", str(bad), "--target", "trl", "--out", str(tmp_path / "y.py")]) == 2
    assert "judge_holistic" in capsys.readouterr().err


def test_serve_reward_refuses_a_remote_host_without_allow_remote(capsys):
    assert main(["serve-reward", WIKI, "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err
