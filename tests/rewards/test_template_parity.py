"""Text rollouts get the reward of the same rollout as messages: every episode of every shared corpus is
rendered through each real chat template (`tests/fixtures/chat-templates/`), and the text is scored the way
each trainer hands it over (TRL: rendered prompt + completion; OpenRLHF: the whole query and its prompt;
verl: the response alone, decoded without special tokens, with `raw_prompt` messages in `extra_info`).

The baseline is the rollout as a trainer's messages (no `is_error` flags: no template writes them, TRL
does not either). A template that refuses a rollout (Llama 3.1 and gpt-oss take one call per message,
Mistral needs alternating roles) is counted, not scored. Where a template itself drops what a check reads,
the text cannot carry it and the count of such episodes is pinned in `LOSSY` with the reason.
"""

from __future__ import annotations

import math
import re

import jinja2
import pytest

from _shared import CORPORA, need
from rubricate import load_episodes
from rubricate.rewards import RewardScorer, as_openrlhf_reward_func, as_trl_reward, as_verl_compute_score

from traces._render import FAMILIES, render  # tests/ is on sys.path (rootdir packages)
from ._shapes import split, to_messages, tool_schemas

WIKI = "examples/wiki-search/rubric.toml"
CORPUS_RUBRICS = {
    "verifiers-wiki-search": WIKI,
    "tau-bench": "agent-basics",
    "nemo-gym-rollouts": "agent-basics",
    "inspect-logs": "agent-basics",
    "who-and-when": "agent-basics",
    "mast-mad-human": "agent-basics",
}
# (template, corpus): (most episodes whose reward may differ, why the template cannot carry them)
LOSSY = {
    ("mistralai-Mistral-Nemo-Instruct-2407", "tau-bench"): (2, "the system prompt is written into the last user turn"),
    ("mistralai-Mistral-Nemo-Instruct-2407", "nemo-gym-rollouts"): (5, "the system prompt is written into the last user turn"),
    ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "nemo-gym-rollouts"): (3, "message text is rewritten"),
    ("Mistral-Small-3.2-24B-Instruct-2506", "nemo-gym-rollouts"): (3, "text beside tool calls is dropped"),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "nemo-gym-rollouts"): (3, "text before </think> is dropped"),
    ("deepseek-ai-DeepSeek-V3.1", "who-and-when"): (69, "every system message is joined at the top, unmarked"),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "who-and-when"): (1, "text before </think> is dropped, with numbers the answer took from it"),
    # The templates write their own system turn, with dates: numbers given to the agent are sources of
    # grounded_answer, so a year or day the answer states is grounded in the text and not in the messages.
    ("meta-llama-Llama-3.1-8B-Instruct", "verifiers-wiki-search"): (1, "'Cutting Knowledge Date: December 2023' in the system turn"),
    ("openai-gpt-oss-120b", "verifiers-wiki-search"): (1, "'Knowledge cutoff' and 'Current date' in the system turn"),
    ("Mistral-Small-3.2-24B-Instruct-2506", "verifiers-wiki-search"): (3, "its default system prompt, with dates"),
    ("deepseek-ai-DeepSeek-V3.1", "mast-mad-human"): (19, "every system message is joined at the top, unmarked"),
}
# the token after which the completion starts, where the prompt is not a prefix of the whole rendering
OPENS = {"mistral": "[/INST]", "deepseek": "<｜Assistant｜>"}
QWEN_SPECIAL = re.compile(r"<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>")


def _same(a: float | None, b: float | None) -> bool:
    if a is None or math.isnan(a):
        return b is None or math.isnan(b)
    return b is not None and not math.isnan(b) and a == b


def _with_ids(messages: list[dict]) -> list[dict]:
    """Nine-character call ids, and tool results answering them in order (the Mistral templates need them)."""
    pending: list[str] = []
    for i, m in enumerate(messages):
        for j, call in enumerate(m.get("tool_calls") or ()):
            call["id"] = f"c{i:04d}{j:04d}"
            pending.append(call["id"])
        if m["role"] == "tool":
            m["tool_call_id"] = pending.pop(0) if pending else "c99999999"
    return messages


def _rendered(template: str, fmt: str, episodes: list) -> tuple[list, int]:
    """(episode, prompt messages, completion messages, prompt text, completion text) per rendered episode."""
    out, refused = [], 0
    for ep in episodes:
        messages = _with_ids(to_messages(ep, error_flags=False))
        prompt, completion = split(messages)
        if fmt == "harmony" and any(len(m.get("tool_calls") or ()) > 1 for m in messages):
            refused += 1  # the gpt-oss template writes the first call of a message only
            continue
        try:
            full = render(template, messages, tools=tool_schemas(messages))
            head = render(template, prompt, tools=tool_schemas(messages), add_generation_prompt=True)
        except jinja2.TemplateError:
            refused += 1
            continue
        start = len(head) if full.startswith(head) else full.index(OPENS[fmt]) + len(OPENS[fmt])
        out.append((ep, prompt, completion, head, full[start:]))
    return out, refused


@pytest.fixture(scope="module", params=sorted(CORPUS_RUBRICS))
def corpus(request):
    name = request.param
    episodes = list(load_episodes(need(CORPORA / name)))
    assert episodes
    return name, episodes, CORPUS_RUBRICS[name]


@pytest.mark.parametrize("template", sorted(FAMILIES))
def test_text_rollouts_get_the_reward_of_their_messages(corpus, template):
    name, episodes, rubric = corpus
    fmt = FAMILIES[template][0]
    rendered, refused = _rendered(template, fmt, episodes)
    assert len(rendered) + refused == len(episodes)
    if not rendered:  # e.g. Mistral's alternation rule against multi-agent logs: nothing to compare
        assert refused == len(episodes)
        return
    # the DeepSeek templates write no tool declarations: the trainer says that tools were offered
    options = {"text_only": False} if fmt == "deepseek" else {}
    scorer, text_scorer = RewardScorer(rubric), RewardScorer(rubric, **options)
    want = [scorer.score(p, c, ep.ground_truth) for ep, p, c, _, _ in rendered]
    trl = as_trl_reward(text_scorer)(prompts=[r[3] for r in rendered], completions=[r[4] for r in rendered],
                                     answer=[r[0].ground_truth for r in rendered])
    openrlhf = as_openrlhf_reward_func(text_scorer)
    differ = 0
    for (ep, _, _, head, text), w, t in zip(rendered, want, trl):
        got = text_scorer.score(head, text, ep.ground_truth)
        o = float(openrlhf([head + text], [head], [ep.ground_truth])["rewards"][0])  # a float32 tensor
        same = got.verdicts == w.verdicts and _same(w.reward, t) and _same(w.reward, got.reward)
        same = same and abs(o - (0.0 if w.reward is None else w.reward)) < 1e-6
        differ += not same
    allowed, why = LOSSY.get((template, name), (0, ""))
    assert differ <= allowed, f"{differ} of {len(rendered)} {name} rollouts differ through {template} ({why})"


@pytest.mark.parametrize("template", ["Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B"])
def test_verl_response_text_without_special_tokens(corpus, template):
    """verl decodes the response with `skip_special_tokens=True`: Qwen's `<tool_call>` / `<tool_response>`
    survive (ordinary added tokens), `<|im_start|>` / `<|im_end|>` do not. A user turn inside the response
    (a simulated user, another agent) is then indistinguishable from the assistant's text, so the rollouts
    of ToolAgentLoop's shape are compared: after the prompt, assistant turns and tool results only, each
    assistant turn after a tool result (two assistant turns in a row also run together)."""
    name, episodes, rubric = corpus
    rendered, _ = _rendered(template, "hermes", episodes)
    rendered = [r for r in rendered if all(m["role"] in ("assistant", "tool") for m in r[2])
                and not any(a["role"] == b["role"] == "assistant" for a, b in zip(r[2], r[2][1:]))]
    compute_score = as_verl_compute_score(rubric, none_score=math.nan)
    scorer = RewardScorer(rubric)
    differ = 0
    for ep, prompt, completion, _, text in rendered:
        want = scorer.score(prompt, completion, ep.ground_truth)
        info = {"raw_prompt": prompt, "tool_rewards": [], "turn_scores": []}  # what ToolAgentLoop adds
        out = compute_score("corpus", QWEN_SPECIAL.sub("", text), ep.ground_truth, info)
        differ += not _same(want.reward, out["score"])
    assert differ == 0, f"{differ} of {len(rendered)} {name} rollouts differ"
    assert rendered or name in ("who-and-when", "mast-mad-human", "tau-bench")
