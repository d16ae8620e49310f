"""The exports inside the real trainers: TRL's GRPOTrainer runs 2 steps on the CPU with a tiny randomly
initialised causal LM (built from a config, no download) and a word-level tokenizer built in code,
rewarded by `as_trl_reward`; verifiers' own `Rubric` scores rollouts with `as_verifiers_rubric`.

The packages come from the `integration` extra. A missing package skips these tests; with `CI` or
`RUBRICATE_REQUIRE_INTEGRATION` set it fails them, so a broken install cannot pass as green.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from _shared import CORPORA, need
from rubricate import open_run, score_run
from rubricate.rewards import RewardScorer, as_trl_item_rewards, as_trl_reward, as_verifiers_rubric

from ._optional import need_module

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
WIKI = str(ROOT / "examples" / "wiki-search" / "rubric.toml")
WIKI_RUN = CORPORA / "verifiers-wiki-search" / "wiki-search--gpt-4.1" / "50519885"


# transformers 5 deprecates the gradient_checkpointing names that TRL 1.16 still calls (FutureWarning);
# TRL's GRPOConfig sets them itself, so nothing in this test can avoid them.
@pytest.mark.filterwarnings("ignore:`(is_)?gradient_checkpointing[a-z_]*` is deprecated:FutureWarning")
def test_grpo_trainer_two_steps_with_rubric_rewards(tmp_path):
    torch = need_module("torch")
    need_module("trl")
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from trl import GRPOConfig, GRPOTrainer

    words = [
        "<pad>",
        "<eos>",
        "<unk>",
        "system",
        "user",
        "assistant",
        ":",
        "When",
        "was",
        "X",
        "founded",
        "?",
        "It",
        "in",
        "1901",
        "1850",
        "the",
        "answer",
        "is",
        "Use",
        "tools",
        ".",
    ]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}assistant : {% endif %}"
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(words),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=64,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=1,
        )
    )
    prompt = [
        {"role": "system", "content": "Use tools ."},
        {"role": "user", "content": "When was X founded ?"},
    ]
    dataset = Dataset.from_list([{"prompt": prompt, "answer": "1901"}] * 8)

    # no tools are offered, so the conversational completions are text-only: tool items are na
    scorer = RewardScorer(WIKI, text_only=True)
    seen: list[list[float | None]] = []
    combined = as_trl_reward(scorer)

    def rubric_reward(**kwargs):  # the export, watched: what it returned is what TRL must log
        seen.append(combined(**kwargs))
        return seen[-1]

    rubric_reward.__name__ = combined.__name__
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=6,
        max_steps=2,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        beta=0.0,
        learning_rate=1e-3,
        reward_weights=[1.0, 0.0],
        seed=0,
        log_completions=False,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[rubric_reward, *as_trl_item_rewards(scorer, items=["answer_correct"])],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()

    logs = [row for row in trainer.state.log_history if "rubricate/answer_correct" in row]
    assert len(logs) == 2 and len(seen) == 2
    for row, rewards in zip(logs, seen):
        assert all(r in (0.0, 1.0) for r in rewards)  # only answer_correct applies to text
        mean = sum(rewards) / len(rewards)
        assert row["rewards/rubric_reward/mean"] == pytest.approx(mean)
        assert row["rewards/answer_correct/mean"] == pytest.approx(mean)
        assert row["rubricate/answer_correct"] == pytest.approx(mean)  # log_metric: the per-item sub-score
        assert row["rubricate/scorable"] == 1.0
        assert row["reward"] == pytest.approx(mean)  # the item function has weight 0


def test_verifiers_rubric_scores_rollouts_like_score_run(tmp_path):
    vf = need_module("verifiers")
    rubric = as_verifiers_rubric(WIKI)
    assert isinstance(rubric, vf.Rubric) and rubric.weights[0] == 1.0 and set(rubric.weights[1:]) == {0.0}
    records = [json.loads(line) for line in need(WIKI_RUN / "results.jsonl").read_text().splitlines()[:12]]
    states = []
    for r in records:
        state = vf.State(
            input={
                "prompt": r["prompt"],
                "answer": r["answer"],
                "example_id": r["example_id"],
                "task": "wiki-search",
            }
        )
        state.update(prompt=r["prompt"], completion=r["completion"], answer=r["answer"], trajectory=[])
        states.append(state)
    asyncio.run(rubric.score_group(states))

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = score_run(tmp_path / "in", RewardScorer(WIKI).rubric, tmp_path / "run", workers=1)
    want = open_run(run.path).episodes()["rubric_reward"].to_list()
    assert [s["reward"] for s in states] == pytest.approx(want)
    for state in states:
        assert set(state["metrics"]) == {"rubric_reward", *RewardScorer(WIKI).item_ids}
        assert state["rubricate"]["reward"] == pytest.approx(state["reward"])

    # verifiers' own pydantic messages (flattened tool calls with JSON-string arguments, tool_call_id)
    completion = [
        vf.AssistantMessage(
            content="", tool_calls=[vf.ToolCall(id="c1", name="search_pages", arguments='{"query": "x"}')]
        ),
        vf.ToolMessage(tool_call_id="c1", content="[{'page_id': 'x', 'title': 'X'}]"),
        vf.AssistantMessage(content="It was founded in 1901."),
    ]
    state = vf.State(
        input={
            "prompt": [vf.UserMessage(content="When?")],
            "answer": "1901",
            "example_id": 0,
            "task": "wiki-search",
        }
    )
    state.update(
        prompt=[vf.UserMessage(content="When?")], completion=completion, answer="1901", trajectory=[]
    )
    asyncio.run(rubric.score_rollout(state))
    assert state["rubricate"]["verdicts"]["searches_first"] == "pass"
    assert state["rubricate"]["verdicts"]["answer_correct"] == "pass"
    assert state["reward"] == pytest.approx(
        RewardScorer(WIKI)
        .score(
            [{"role": "user", "content": "When?"}],
            [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "c1", "name": "search_pages", "arguments": '{"query": "x"}'}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "[{'page_id': 'x', 'title': 'X'}]"},
                {"role": "assistant", "content": "It was founded in 1901."},
            ],
            "1901",
        )
        .reward
    )
