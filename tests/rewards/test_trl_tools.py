"""TRL's GRPOTrainer, multi-turn with tools, on the CPU, rewarded by the tool-discipline rubric.

What is real: TRL 1.16's own tool loop (`GRPOTrainer(tools=[...])`: it renders the tools into the prompt
with the chat template, parses each completion with `parse_response` and the Qwen response template TRL
attaches to Qwen's chat template, runs the tools, appends their results and generates again), the chat
template (Qwen2.5-7B-Instruct's, byte for byte the one TRL ships, `tests/fixtures/chat-templates/`), an
SQLite database the tools query, sampling from a randomly initialised Qwen2 model (built from a config,
no download), three optimizer steps, and our reward functions (`as_trl_reward`, `as_trl_item_rewards`).

What is arranged: the tokenizer (built in code) has a small vocabulary in which each of four whole tool
calls, `<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>` in Qwen's markup, is one token, so
that a random model samples calls (a random model does not spell JSON). `<tool_call>` itself is then not
a token of its own, so transformers' response parser reads the markup from the decoded text, as it reads
plain text. Generation suppresses the padding, `<|im_start|>` and unknown tokens (`generation_kwargs`).
Which calls, in which order, with which words around them, and when a turn ends are the model's samples.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from rubricate.rewards import RewardScorer, as_trl_item_rewards, as_trl_reward, episode_from_messages

from ._optional import need_module

pytestmark = pytest.mark.integration
TEMPLATE = (Path(__file__).resolve().parents[1] / "fixtures" / "chat-templates" /
            "Qwen-Qwen2.5-7B-Instruct.jinja")
PROMPT = [
    {"role": "system", "content": "Answer from the database."},
    {"role": "user", "content": "What was the revenue in 2019?"},
]
TRUTH = "120"
CALLS = [  # the tool-discipline roles: discovery, schema, query (good), query (a table that does not exist)
    {"name": "get_table_names", "arguments": {}},
    {"name": "get_table_info", "arguments": {"table_name": "revenue"}},
    {"name": "sql_query", "arguments": {"query": "SELECT value FROM revenue WHERE year = 2019"}},
    {"name": "sql_query", "arguments": {"query": "SELECT value FROM revenues"}},
]
WORDS = ["<unk>", " ", "\n", "system", "user", "assistant",
         "The", "revenue", "was", "120", "95", "in", "2019", "."]


def _tokenizer() -> Any:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s|[^\s]+"), behavior="isolated")  # words and each space
    tok.decoder = decoders.Fuse()  # decoding gives the text back
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")])
    tok.add_tokens([AddedToken(f"<tool_call>\n{json.dumps(c)}\n</tool_call>", special=False, normalized=False)
                    for c in CALLS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>",
                                        eos_token="<|im_end|>", unk_token="<unk>")
    tokenizer.chat_template = TEMPLATE.read_text(encoding="utf-8")
    return tokenizer


def _database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)  # TRL runs async tools on its own thread
    db.execute("CREATE TABLE revenue (year INTEGER, value INTEGER)")
    db.executemany("INSERT INTO revenue VALUES (?, ?)", [(2018, 95), (2019, 120)])
    return db


def _tools(db: sqlite3.Connection) -> list[Any]:
    """Two sync tools and an async one: TRL appends the async results after the sync ones."""

    def get_table_names() -> str:
        """List the tables of the database."""
        return ", ".join(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))

    def get_table_info(table_name: str) -> str:
        """Show the schema of a table.

        Args:
            table_name: The table to describe.
        """
        row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table_name,)).fetchone()
        if row is None:
            raise ValueError(f"no such table: {table_name}")
        return row[0]

    async def sql_query(query: str) -> str:
        """Run a SQL query on the database.

        Args:
            query: The SQL statement.
        """
        return str(db.execute(query).fetchall())

    return [get_table_names, get_table_info, sql_query]


def _model(tokenizer: Any) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    return Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True))


def _with_ids(completion: list[dict], tools: dict[str, Any]) -> list[dict]:
    """The reference: TRL's completion with each tool message given the id of its own call, found by running
    the call again and matching its output (not by the tool's name, which the export under test uses)."""
    out, waiting = [], []  # waiting: (id, expected output) of this turn's unanswered calls
    for i, m in enumerate(completion):
        m = dict(m)
        if m["role"] == "assistant" and m.get("tool_calls"):
            m["tool_calls"] = [{**c, "id": f"ref-{i}-{j}"} for j, c in enumerate(m["tool_calls"])]
            waiting = [(c["id"], _run(tools, c["function"])) for c in m["tool_calls"]]
        elif m["role"] == "tool":
            k = next(k for k, (_, output) in enumerate(waiting) if output == m["content"])
            m["tool_call_id"] = waiting.pop(k)[0]
        out.append(m)
    return out


def _run(tools: dict[str, Any], function: dict) -> str:
    """A call's output as TRL writes it (`str(result)`, a failure as `str({'error': ...})`)."""
    try:
        result = tools[function["name"]](**function["arguments"])
        return str(asyncio.run(result) if asyncio.iscoroutine(result) else result)
    except Exception as exc:  # noqa: BLE001  (TRL's own handling of a failing tool)
        return str({"error": str(exc)})


def _out_of_order(completion: list[dict]) -> bool:
    """True when a turn's results do not come in the order of its calls (by name)."""
    names: list[str] = []
    for m in completion:
        if m["role"] == "assistant":
            names = [c["function"]["name"] for c in m.get("tool_calls", ())]
        elif m["role"] == "tool":
            if names and names.pop(0) != m["name"]:
                return True
    return False


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b))


# transformers 5 deprecates the gradient_checkpointing names that TRL 1.16 still calls (FutureWarning);
# TRL's GRPOConfig sets them itself, so nothing in this test can avoid them.
@pytest.mark.filterwarnings("ignore:`(is_)?gradient_checkpointing[a-z_]*` is deprecated:FutureWarning")
def test_grpo_trainer_with_tools_three_steps(tmp_path):
    need_module("torch")
    need_module("trl")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    tokenizer = _tokenizer()
    db = _database()
    tools = _tools(db)
    scorer = RewardScorer("tool-discipline")
    combined = as_trl_reward(scorer)
    seen: list[tuple[list, list]] = []  # (completions, rewards) of each call TRL made

    def rubric_reward(**kwargs):  # the export, watched: what it got and returned is what TRL must log
        seen.append((kwargs["completions"], combined(**kwargs)))
        return seen[-1][1]

    rubric_reward.__name__ = combined.__name__
    items = as_trl_item_rewards(scorer)
    suppressed = [tokenizer.pad_token_id, tokenizer.unk_token_id,
                  tokenizer.convert_tokens_to_ids("<|im_start|>")]
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, num_generations=8,
        max_completion_length=128, max_tool_calling_iterations=2, max_steps=3, logging_steps=1,
        report_to="none", use_cpu=True, save_strategy="no", beta=0.0, learning_rate=1e-3, seed=0,
        reward_weights=[1.0] + [0.0] * len(items), log_completions=False,
        generation_kwargs={"suppress_tokens": suppressed},
    )
    trainer = GRPOTrainer(model=_model(tokenizer), reward_funcs=[rubric_reward, *items], args=args,
                          train_dataset=Dataset.from_list([{"prompt": PROMPT, "answer": TRUTH}] * 8),
                          processing_class=tokenizer, tools=tools)
    trainer.train()

    rows = [row for row in trainer.state.log_history if "rubricate/scorable" in row]
    assert len(rows) == len(seen) == 3
    completions = [c for batch, _ in seen for c in batch]
    assert len(completions) == 24

    # the model's calls were parsed from Qwen's markup by TRL and run by TRL: its own metric and the messages
    calls = [call["function"] for completion in completions for m in completion if m["role"] == "assistant"
             for call in m.get("tool_calls", ())]
    results = [m for c in completions for m in c if m["role"] == "tool"]
    assert calls and results and {c["name"] for c in calls} == {c["name"] for c in CALLS}
    assert all(row["tools/call_frequency"] > 0 for row in rows)
    assert any(len([m for m in c if m["role"] == "assistant"]) > 1 for c in completions)  # multi-turn
    assert any(r["content"].startswith("{'error'") for r in results)  # a failing call, as TRL reports it

    # the episode the export scores pairs every result with its own call, though TRL appends the async
    # sql_query's results after the sync tools' results of the same turn
    by_name = {t.__name__: t for t in tools}
    for completion in completions:
        episode = episode_from_messages(PROMPT, completion)
        for call in (c for step in episode.steps for c in step.tool_calls if c.result_step is not None):
            output = _run(by_name, {"name": call.name, "arguments": call.arguments})
            assert episode.steps[call.result_step].content == output, (call, completion)
    assert any(_out_of_order(c) for c in completions)  # the case arises in this run

    # each reward is the rubric's reward of the rollout with every result answering its own call
    wanted = [[scorer.score(PROMPT, _with_ids(c, by_name), TRUTH) for c in batch] for batch, _ in seen]
    for (batch, rewards), want in zip(seen, wanted):
        for completion, reward, w in zip(batch, rewards, want):
            assert _same(reward, w.reward), (reward, w, completion)
    assert len({r for _, rewards in seen for r in rewards}) >= 3  # the rewards vary across completions
    assert all(len(set(rewards)) > 1 for _, rewards in seen)
    tool_verdicts = {w.verdicts[i] for want in wanted for w in want for i in scorer.tool_item_ids}
    assert tool_verdicts >= {"pass", "fail"}  # the tool items judged the calls

    # per-item metrics: the mean over pass (1) and fail (0) only; an item na in the whole batch is not logged
    na_mattered = False
    for row, (batch, rewards), want in zip(rows, seen, wanted):
        for item in scorer.item_ids:
            judged = [s for w in want if (s := w.scores.get(item)) is not None]
            if judged:
                mean = sum(judged) / len(judged)
                assert row[f"rubricate/{item}"] == pytest.approx(mean)
                # TRL's own column: the nanmean of the item function
                assert row[f"rewards/{item}/mean"] == pytest.approx(mean)
                na_mattered |= len(judged) < len(batch) and mean != sum(judged) / len(batch)
            else:
                assert f"rubricate/{item}" not in row
                assert row[f"rewards/{item}/mean"] is None  # TRL logs an all-NaN column as None
        assert row["rubricate/tool_items_seen"] == pytest.approx(
            sum(any(m.get("tool_calls") for m in c) for c in batch) / len(batch))
        assert row["rewards/rubric_reward/mean"] == pytest.approx(sum(rewards) / len(rewards))
    assert na_mattered  # somewhere na was left out where counting it as 0.0 would have changed the mean
