"""verl's reward managers hand our `compute_score` tokenized Qwen-format rollouts.

Read from verl 0.9.1 (the PyPI wheel; its two `NaiveRewardManager` files are byte-identical to verl main at
commit 1dda039b9c6311889a9c9a26040677e1254814f9):
- the reward loop's manager (`verl/experimental/reward_loop/reward_manager/naive.py`, the one
  `verl.trainer.ppo.reward.load_reward_manager` builds in 0.9), `run_single`: the last sequence;
  `valid_response_length = attention_mask[-response_length:].sum()`; `solution_str` is
  `responses[:valid_response_length]` decoded with `skip_special_tokens=True`; `ground_truth` is
  `reward_model["ground_truth"]`; `extra_info` is the dataset row's `extra_info`, updated with the rollout's
  `tool_extra_fields` (the agent loop's `extra_fields`: `raw_prompt`, and ToolAgentLoop's `turn_scores` and
  `tool_rewards`), then `num_turns` (`__num_turns__`) and `rollout_reward_scores` (`reward_scores`, or {});
- the legacy manager (`verl/workers/reward_manager/naive.py`): the same decoding, the prompt length from
  `prompts.shape[-1]`, and `extra_info` without `tool_extra_fields` (so without `raw_prompt`).
The batch is laid out as the agent loop's `_agent_loop_postprocess` pads it (prompts left-padded to
`prompt_length`, responses right-padded to `response_length`, attention mask 1 on the tokens); the
response is what `QwenContinuousTokenBuilder` builds: each model turn up to its `<|im_end|>`, a newline,
then the template's rendering of the tool turn and the next generation prompt, i.e. the chat template's
own rendering of the conversation after the prompt. The dataset's `extra_info` is shaped as verl's
`examples/data_preprocess/gsm8k_multiturn_w_tool.py` writes it (`question`, `tools_kwargs`, ...).

The tokenizer is built in code (no download): byte-level BPE without merges (any text round-trips) with
Qwen2.5's added tokens and their `special` flags from its tokenizer_config.json (`<|endoftext|>`,
`<|im_start|>`, `<|im_end|>` special; `<tool_call>`, `</tool_call>` not), and Qwen2.5-7B-Instruct's chat
template. The rollouts are the real Qwen3-4B runs of the verifiers wiki-search corpus, those of
ToolAgentLoop's shape (after the prompt only assistant turns and tool results, alternating).

With verl installed (in no extra: it pins transformers below 5.11 and brings ray; see docs/rewards.md), the
same batches also go through verl's own managers, with the module `rubricate export-reward --target verl`
writes, loaded by verl's `load_reward_manager`. `RUBRICATE_REQUIRE_VERL=1` makes its absence a failure.
"""

from __future__ import annotations

import asyncio
import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _shared import CORPORA, need
from rubricate import load_episodes
from rubricate.rewards import RewardScorer, as_verl_compute_score, export_module_text

from ._optional import need_module
from ._shapes import split, to_messages, tool_schemas

ROOT = Path(__file__).resolve().parents[2]
WIKI = str(ROOT / "examples" / "wiki-search" / "rubric.toml")
TEMPLATE = ROOT / "tests" / "fixtures" / "chat-templates" / "Qwen-Qwen2.5-7B-Instruct.jinja"
RUNS = ("wiki-search--qwen--qwen3-4b-instruct-2507", "wiki-search--willcb--qwen3-4b-wiki-search")
GROUP = 8  # rollouts per padded batch


def _tokenizer() -> Any:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ("<tool_call>", "</tool_call>")])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>")
    tokenizer.chat_template = TEMPLATE.read_text(encoding="utf-8")
    return tokenizer


def _rollouts() -> list[tuple[list[dict], list[dict], str | None]]:
    out = []
    for run in RUNS:
        for ep in load_episodes(need(CORPORA / "verifiers-wiki-search" / run)):
            prompt, completion = split(to_messages(ep, error_flags=False))
            if completion and all(m["role"] in ("assistant", "tool") for m in completion) and not any(
                    a["role"] == b["role"] for a, b in zip(completion, completion[1:])):
                out.append((prompt, completion, ep.ground_truth))
    assert len(out) > 100
    return out


def _batches(tokenizer: Any, rollouts: list) -> list[dict[str, Any]]:
    """Padded batches of GROUP rollouts, each field one entry per rollout (lists, numpy object arrays)."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.pad_token_id
    batches = []
    for start in range(0, len(rollouts), GROUP):
        group = rollouts[start:start + GROUP]
        prompts, responses = [], []
        for prompt, completion, _ in group:
            tools = tool_schemas(completion)
            head = tokenizer.apply_chat_template(prompt, tools=tools, add_generation_prompt=True,
                                                 return_dict=False)
            full = tokenizer.apply_chat_template(prompt + completion, tools=tools, return_dict=False)
            assert full[:len(head)] == head
            response = full[len(head):]
            response = response[:len(response) - response[::-1].index(im_end)]  # the model stops there
            prompts.append(head)
            responses.append(response)
        p_len, r_len = max(map(len, prompts)), max(map(len, responses))
        batches.append({
            "prompts": [[pad] * (p_len - len(p)) + p for p in prompts],
            "responses": [r + [pad] * (r_len - len(r)) for r in responses],
            "attention_mask": [[0] * (p_len - len(p)) + [1] * (len(p) + len(r)) + [0] * (r_len - len(r))
                               for p, r in zip(prompts, responses)],
            "data_source": np.array(["wiki-search"] * len(group), dtype=object),
            "reward_model": np.array([{"ground_truth": truth, "style": "rule"} for _, _, truth in group]),
            "extra_info": np.array([_dataset_extra_info(start + k, prompt, completion)
                                    for k, (prompt, completion, _) in enumerate(group)]),
            "tool_extra_fields": np.array([{"raw_prompt": _object_array(prompt), "turn_scores": [],
                                            "tool_rewards": []} for prompt, _, _ in group]),
            "__num_turns__": np.array([len(prompt) + len(completion) for prompt, completion, _ in group]),
            "rollouts": group,
        })
    return batches


def _dataset_extra_info(index: int, prompt: list[dict], completion: list[dict]) -> dict[str, Any]:
    question = next(m["content"] for m in prompt if m["role"] == "user")
    tools = {t["function"]["name"]: {"create_kwargs": {}} for t in tool_schemas(completion)}
    return {"split": "train", "index": index, "question": question, "need_tools_kwargs": True,
            "tools_kwargs": tools}


def _object_array(messages: list[dict]) -> np.ndarray:
    """The messages as verl's batch holds a row of `raw_prompt`: a numpy object array of dicts."""
    out = np.empty(len(messages), dtype=object)
    out[:] = messages
    return out


def _reward_loop_kwargs(tokenizer: Any, batch: dict[str, Any], i: int) -> dict[str, Any]:
    """What the reward loop's `NaiveRewardManager.run_single` passes to compute_score for row i."""
    responses = batch["responses"][i]
    valid = sum(batch["attention_mask"][i][-len(responses):])
    extra_info = dict(batch["extra_info"][i])
    extra_info.update(batch["tool_extra_fields"][i].items())
    extra_info["num_turns"] = batch["__num_turns__"][i]
    extra_info["rollout_reward_scores"] = {}
    return {"data_source": batch["data_source"][i],
            "solution_str": tokenizer.decode(responses[:valid], skip_special_tokens=True),
            "ground_truth": batch["reward_model"][i]["ground_truth"], "extra_info": extra_info}


def _legacy_kwargs(tokenizer: Any, batch: dict[str, Any], i: int) -> dict[str, Any]:
    """What the legacy `NaiveRewardManager.__call__` passes to compute_score for row i."""
    prompt_length = len(batch["prompts"][i])
    valid = sum(batch["attention_mask"][i][prompt_length:])
    extra_info = dict(batch["extra_info"][i])
    extra_info["num_turns"] = batch["__num_turns__"][i]
    extra_info["rollout_reward_scores"] = {}
    return {"data_source": batch["data_source"][i],
            "solution_str": tokenizer.decode(batch["responses"][i][:valid], skip_special_tokens=True),
            "ground_truth": batch["reward_model"][i]["ground_truth"], "extra_info": extra_info}


def _same(a: float | None, b: float) -> bool:
    return math.isnan(b) if a is None else a == b


@pytest.fixture(scope="module")
def verl_batches():
    need_module("transformers")
    tokenizer = _tokenizer()
    return tokenizer, _batches(tokenizer, _rollouts())


def test_compute_score_on_the_inputs_verl_managers_build(verl_batches):
    tokenizer, batches = verl_batches
    scorer = RewardScorer(WIKI)
    compute_score = as_verl_compute_score(scorer, none_score=math.nan)
    n = calls_seen = 0
    for batch in batches:
        for i, (prompt, completion, truth) in enumerate(batch["rollouts"]):
            want = scorer.score(prompt, completion, truth)  # the rollout as messages
            loop = _reward_loop_kwargs(tokenizer, batch, i)
            called = any(m.get("tool_calls") for m in completion)
            text = loop["solution_str"]
            assert ("<tool_call>" in text) == called and "<|im_end|>" not in text
            got = compute_score(**loop)
            assert _same(want.reward, got["score"]), (loop["solution_str"][:300], want, got)
            for item in scorer.item_ids:  # na (and error) as NaN, never 0.0
                assert _same(want.scores.get(item), got[item])
            assert got["tool_items_seen"] == float(called)
            calls_seen += called
            legacy = compute_score(**_legacy_kwargs(tokenizer, batch, i))  # the question from extra_info
            assert _same(want.reward, legacy["score"])
            n += 1
    assert n > calls_seen > 100


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ray and verl import deprecated modules
def test_compute_score_through_verl_reward_managers(verl_batches, tmp_path):
    need_module("verl", required_by=("RUBRICATE_REQUIRE_VERL",), install="pip install verl (a separate venv: "
                "see docs/rewards.md)")
    import torch
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.trainer.ppo.reward import get_custom_reward_fn, load_reward_manager
    from verl.workers.reward_manager.naive import NaiveRewardManager as LegacyNaiveRewardManager

    tokenizer, batches = verl_batches
    module = tmp_path / "reward.py"
    module.write_text(export_module_text(WIKI, "verl"), encoding="utf-8")
    config = OmegaConf.create({"reward": {
        "custom_reward_function": {"path": str(module), "name": "compute_score", "reward_kwargs": {}},
        "reward_manager": {"source": "register", "name": "naive"}}})
    asyncio.set_event_loop(asyncio.new_event_loop())  # verl's managers take the current loop
    manager = load_reward_manager(config, tokenizer)
    legacy = LegacyNaiveRewardManager(tokenizer, num_examine=0, compute_score=get_custom_reward_fn(config))
    reference = as_verl_compute_score(WIKI)
    n = 0
    for batch in batches:
        rows = range(len(batch["rollouts"]))
        loop_want = [reference(**_reward_loop_kwargs(tokenizer, batch, i)) for i in rows]
        legacy_want = [reference(**_legacy_kwargs(tokenizer, batch, i))["score"] for i in rows]
        data = DataProto.from_dict(  # verl's managers write into extra_info: they get copies
            tensors={k: torch.tensor(batch[k]) for k in ("prompts", "responses", "attention_mask")},
            non_tensors={k: copy.deepcopy(batch[k]) for k in ("data_source", "reward_model", "extra_info",
                                                              "tool_extra_fields", "__num_turns__")})
        rewards = legacy(data, return_dict=True)["reward_tensor"]
        for i, want in enumerate(loop_want):
            single = manager.loop.run_until_complete(manager.run_single(data[i:i + 1]))
            assert single["reward_score"] == want["score"]
            assert set(single["reward_extra_info"]) == set(want)
            for key, value in want.items():
                got = single["reward_extra_info"][key]
                assert got == value or (math.isnan(value) and math.isnan(got)), key
            end = sum(batch["attention_mask"][i][len(batch["prompts"][i]):]) - 1
            assert rewards[i, end].item() == pytest.approx(legacy_want[i])
            n += 1
    assert n > 100
    manager.loop.close()
