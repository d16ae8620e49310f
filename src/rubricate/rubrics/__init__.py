"""rubrics: rubric files, the @check extension point, built-in items and rubrics."""

from ._check import (
    VERDICTS, Answer, Check, CheckContext, EpisodeFacts, Outcome, VerdictValue, check, failed, get_check, isolated_registry,
    load_checks_file, not_applicable, passed, registered_checks, run_check,
)
from ._rubric import Item, Rubric, builtin_rubrics, load_rubric, parse_rubric, rubric_from_spec
from ._schema import ItemSpec, RewardSpec, RubricSpec, rubric_json_schema

__all__ = [
    "VERDICTS", "Answer", "Check", "CheckContext", "EpisodeFacts", "Item", "ItemSpec", "Outcome", "RewardSpec",
    "Rubric", "RubricSpec", "VerdictValue", "builtin_rubrics", "check", "failed", "get_check", "isolated_registry",
    "load_checks_file", "load_rubric", "not_applicable", "parse_rubric", "passed", "registered_checks",
    "rubric_from_spec", "rubric_json_schema", "run_check",
]
