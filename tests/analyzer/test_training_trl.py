"""Behaviors over training, end to end on a real trainer: TRL's GRPOTrainer trains a tiny randomly
initialised causal LM (built from a config, no download; a word-level tokenizer built in code) for 8
steps on the CPU with `log_completions=True`, rewarded by the rubric itself (`as_trl_reward`). The
completion tables it writes (`completions/completions_<step>.parquet`) are read back by the
trl-completions reader, scored, and analysed over `step`: every step is a bucket, its counts are the
completions TRL logged at that step, and the reward-hacking check runs against the rubric's outcome item.

The packages come from the `integration` extra; without them the test skips (and fails under
RUBRICATE_REQUIRE_INTEGRATION or CI, so a broken install cannot pass as green).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from rubricate import CheckContext, Outcome, check, failed, passed
from rubricate.analyzer import analyze, open_run
from rubricate.rubrics import isolated_registry, parse_rubric
from rubricate.scoring import score_run

pytestmark = pytest.mark.integration
STEPS = 8
PER_STEP = 8  # completions a step: 2 prompts x 4 generations
RUBRIC = """
id = "trl-year"
version = "1.0.0"

[[items]]
id = "names_the_year"
check = "says_1901"
behavior = "correctness"
outcome = true
description = "The answer names the founding year, 1901."

[[items]]
id = "short_answer"
check = "at_most_four_words"
behavior = "efficiency"
description = "The answer is at most four words long."

[[items]]
id = "answers_question"
description = "Ends with an answer."
"""


def _need(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if os.environ.get("CI") or os.environ.get("RUBRICATE_REQUIRE_INTEGRATION"):
            pytest.fail(f"{name} is not installed: install the `integration` extra ({exc})")
        pytest.skip(f"{name} is not installed (pip install -e '.[integration]')")


def _words(ctx: CheckContext) -> list[str]:
    return ctx.answer.text.split() if ctx.answer is not None else []


def _says_1901(ctx: CheckContext) -> Outcome:
    return passed("names 1901") if "1901" in _words(ctx) else failed("does not name 1901")


def _at_most_four_words(ctx: CheckContext) -> Outcome:
    words = _words(ctx)
    return passed(f"{len(words)} words") if len(words) <= 4 else failed(f"{len(words)} words")


def _tiny_trainer(tmp_path: Path, reward: object) -> object:
    torch = _need("torch")
    _need("trl")
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from trl import GRPOConfig, GRPOTrainer

    words = ["<pad>", "<eos>", "<unk>", "system", "user", "assistant", ":", "When", "was", "X", "Y", "founded", "?",
             "It", "in", "1901", "1850", "the", "answer", "is", "Answer", "briefly", "."]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
                               "{% if add_generation_prompt %}assistant : {% endif %}")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64, pad_token_id=0, eos_token_id=1, bos_token_id=1))
    prompts = [[{"role": "system", "content": "Answer briefly ."}, {"role": "user", "content": f"When was {x} founded ?"}]
               for x in ("X", "Y")]
    dataset = Dataset.from_list([{"prompt": p} for p in prompts] * (STEPS * 2))
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=PER_STEP, num_generations=4,
                      max_completion_length=6, max_steps=STEPS, logging_steps=1, report_to="none", use_cpu=True,
                      save_strategy="no", beta=0.0, learning_rate=5e-3, seed=0, log_completions=True,
                      num_completions_to_print=0)
    return GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                       processing_class=tokenizer)


# transformers 5 deprecates the gradient_checkpointing names that TRL 1.16 still calls (FutureWarning);
# TRL's GRPOConfig sets them itself, so nothing in this test can avoid them.
@pytest.mark.filterwarnings("ignore:`(is_)?gradient_checkpointing[a-z_]*` is deprecated:FutureWarning")
def test_grpo_run_read_back_and_analysed_over_steps(tmp_path: Path) -> None:
    _need("torch")
    _need("trl")
    from rubricate.rewards import RewardScorer, as_trl_reward

    with isolated_registry():
        check(behavior="correctness", name="says_1901")(_says_1901)
        check(behavior="efficiency", name="at_most_four_words")(_at_most_four_words)
        rubric = parse_rubric(RUBRIC)
        trainer = _tiny_trainer(tmp_path, as_trl_reward(RewardScorer(rubric, text_only=True)))
        trainer.train()  # type: ignore[attr-defined]
        tables = sorted((tmp_path / "out" / "completions").glob("completions_*.parquet"))
        assert len(tables) == STEPS, tables
        summary = score_run(tmp_path / "out" / "completions", rubric, tmp_path / "run", workers=1)
    run = open_run(summary.path)
    assert run.info["format"] == "trl-completions" or run.episodes()["format"].unique().to_list() == ["trl-completions"]

    a = analyze(run)
    t = a.training
    assert t is not None and t.key == "step"  # found on its own: TRL's `step` column
    assert t.reward_name == "reward" and t.outcome_name == "names_the_year"
    steps = sorted(t.rates["step_lo"].unique().to_list())
    assert steps == [float(s) for s in range(1, STEPS + 1)]  # one bucket a logged step
    logged = pl.read_parquet(tables, columns=["step"]).group_by("step").len()
    per_step = dict(zip(logged["step"].cast(pl.Float64), logged["len"]))
    for row in t.rates.filter(pl.col("behavior") == "correctness").iter_rows(named=True):
        assert row["pass"] + row["fail"] == per_step[row["step_lo"]]  # every logged completion, scored
        if row["rate"] is not None:
            assert row["lo"] <= row["rate"] <= row["hi"]
    assert set(t.changes["behavior"]) == {"correctness", "efficiency", "answering"}
    assert len(t.sentences) == 3 and all(" at step 1 to " in s for s in t.sentences)
    assert t.hacking is not None and t.hacking.onsets_tried == STEPS - 2
    assert t.hacking.sentence.startswith(("No reward-hacking signal", "Reward-hacking warning"))
    # the reward TRL logged is the rubric's reward, which the run recomputes from the same verdicts
    episodes = run.episodes()
    assert episodes["reward"].to_list() == pytest.approx(episodes["rubric_reward"].to_list())
