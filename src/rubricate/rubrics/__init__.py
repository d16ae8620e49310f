"""rubrics: rubric files, the @check extension point, built-in items and rubrics, and the one function
that scores an episode (`Rubric.evaluate`) with the reward it collapses to (`Rubric.reward`)."""

from ._check import (
    VERDICTS, Answer, Check, CheckContext, EpisodeFacts, Outcome, VerdictValue, check, failed, get_check, isolated_registry,
    load_checks, load_checks_file, not_applicable, passed, registered_checks, run_check, tool_names,
)
from ._collapse import Plan, RewardResult, collapse, plan_for, reward_bounds, reward_spec, weighted_mean
from ._draft import Observed, draft_rubric, observe
from ._params import PARAM_HELP, parameter_rows
from ._rubric import (
    BUILTIN_ALIASES, builtin_rubric_text, TOOL_CHECKS, Item, Rubric, builtin_rubrics, load_rubric, parse_rubric, read_rubric_spec,
    rubric_from_spec,
)
from ._schema import ItemSpec, RewardSpec, RubricSpec, rubric_json_schema
from ._verdict import SCORES, Verdict

__all__ = [
    "BUILTIN_ALIASES", "PARAM_HELP", "SCORES", "TOOL_CHECKS", "VERDICTS", "Answer", "Check", "CheckContext",
    "EpisodeFacts", "Item", "ItemSpec", "Observed", "Outcome", "Plan", "RewardResult", "RewardSpec", "Rubric",
    "RubricSpec", "Verdict", "VerdictValue", "builtin_rubric_text", "builtin_rubrics", "check", "collapse", "draft_rubric", "failed",
    "get_check", "isolated_registry", "load_checks", "load_checks_file", "load_rubric", "not_applicable", "observe",
    "parameter_rows", "parse_rubric", "passed", "plan_for", "read_rubric_spec", "registered_checks", "reward_bounds",
    "reward_spec", "rubric_from_spec", "rubric_json_schema", "run_check", "tool_names", "weighted_mean",
]
