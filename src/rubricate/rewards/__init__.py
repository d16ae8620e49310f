"""rewards: the rubric collapsed into one reward and exported to RL trainers.

    from rubricate.rewards import collapse, as_trl_reward
    rubric_reward = as_trl_reward("examples/wiki-search/rubric.toml")   # GRPOTrainer(reward_funcs=[...])

`collapse(verdicts, rubric)` is the one definition of the reward (`rubricate.rubrics`, `Rubric.reward`);
`score_run` writes it as `rubric_reward` in episodes.parquet, and every exporter calls it through
`RewardScorer`, so training and analysis agree on every episode.
"""

from ..rubrics import TOOL_CHECKS, Plan, RewardResult, collapse, plan_for, reward_bounds, reward_spec, weighted_mean
from ._episode import episode_from_messages, needs_tools
from ._embed import embedded_target
from ._rllm import RubricEvaluator, as_rllm_evaluator, as_rllm_reward_fn
from ._openrlhf import as_openrlhf_reward_func, score_openrlhf, split_query
from ._scorer import DEFAULT_DEADLINE_S, DEFAULT_MAX_CHARS, RewardScorer
from ._server import DEFAULT_MAX_BODY, RewardServer, serve_reward
from ._targets import TARGETS, Target, export_module_text, export_target, get_target, reward_target
from ._trl import as_trl_item_rewards, as_trl_reward
from ._verifiers import as_verifiers_rubric, verifiers_reward_funcs
from ._verl import as_verl_compute_score

__all__ = [
    "DEFAULT_DEADLINE_S", "DEFAULT_MAX_BODY", "DEFAULT_MAX_CHARS", "TARGETS", "TOOL_CHECKS", "Plan", "RewardResult", "RewardScorer", "RewardServer", "RubricEvaluator", "Target",
    "as_openrlhf_reward_func", "as_rllm_evaluator", "as_rllm_reward_fn", "embedded_target", "as_trl_item_rewards", "as_trl_reward",
    "as_verifiers_rubric", "as_verl_compute_score", "collapse", "episode_from_messages", "export_module_text",
    "export_target", "get_target", "needs_tools", "plan_for", "reward_bounds", "reward_spec", "reward_target",
    "score_openrlhf", "serve_reward", "split_query", "verifiers_reward_funcs", "weighted_mean",
]
