"""The export targets, keyed by name, and the small Python module `rubricate export-reward` writes.

A written module loads the rubric by built-in name or absolute path when it is imported and exposes
the target's function under the name that trainer looks for:

| target | attribute | used as |
|---|---|---|
| `trl` | `rubric_reward` | `GRPOTrainer(reward_funcs=[rubric_reward])` |
| `verifiers` | `rubric`, `load_rubric()` | `vf.ToolEnv(..., rubric=rubric)` |
| `verl` | `compute_score` | `custom_reward_function.path=FILE custom_reward_function.name=compute_score` |
| `openrlhf` | `reward_func` | `--remote_rm_url FILE.py` (a local reward function) |
| `openai-grader` | `grade` | the source of an OpenAI Python grader (needs rubricate where it runs) |
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import RubricError


@dataclass(frozen=True)
class Target:
    """An export target: its factory (in `rubricate.rewards`), the attribute it is bound to, its use."""

    name: str
    factory: str
    attribute: str
    usage: str
    lazy: bool = False  # the attribute is built on first use (verifiers is only imported then)


TARGETS: dict[str, Target] = {}


def reward_target(name: str, factory: str, attribute: str, usage: str, *, lazy: bool = False) -> None:
    """Register an export target (built-ins register below; a plugin may add its own)."""
    TARGETS[name] = Target(name, factory, attribute, usage, lazy)


reward_target("trl", "as_trl_reward", "rubric_reward", "GRPOTrainer(..., reward_funcs=[rubric_reward])")
reward_target("verifiers", "as_verifiers_rubric", "rubric", "vf.ToolEnv(..., rubric=load_rubric())",
              lazy=True)
reward_target("verl", "as_verl_compute_score", "compute_score",
              "custom_reward_function.path=THIS_FILE custom_reward_function.name=compute_score")
reward_target("openrlhf", "as_openrlhf_reward_func", "reward_func", "--remote_rm_url THIS_FILE")
reward_target("openai-grader", "as_openai_grader", "grade", "an OpenAI Python grader: grade(sample, item)")


def get_target(name: str) -> Target:
    if name in TARGETS:
        return TARGETS[name]
    import difflib

    close = difflib.get_close_matches(name, TARGETS, n=1)
    raise RubricError(f"unknown reward target '{name}'", name=name,
                      hint=f"did you mean '{close[0]}'?" if close else
                      f"targets: {', '.join(sorted(TARGETS))}")


def export_target(rubric_ref: str | os.PathLike[str], target: str, **options: Any) -> Any:
    """The target's function (or object) for a rubric, as the exported module builds it."""
    import importlib

    public = importlib.import_module("rubricate.rewards")
    factory: Callable[..., Any] = getattr(public, get_target(target).factory)
    return factory(rubric_ref, **options)


def _rubric_ref(rubric_ref: str | os.PathLike[str]) -> str:
    ref = os.fspath(rubric_ref)
    return os.path.abspath(ref) if os.path.isfile(ref) else ref


def export_module_text(rubric_ref: str | os.PathLike[str], target: str,
                       checks_files: tuple[str, ...] = ()) -> str:
    """The source of the module `rubricate export-reward` writes (validates the rubric and target first)."""
    spec = get_target(target)
    ref = _rubric_ref(rubric_ref)
    checks = tuple(os.path.abspath(p) for p in checks_files)
    from ._scorer import RewardScorer

    rubric = RewardScorer(ref, checks_files=checks).rubric  # fail now, not when the trainer imports the file
    header = (f'"""Rubric reward for {spec.name}: rubric {rubric.id} {rubric.version} ({rubric.hash}).\n\n'
              f"Written by `rubricate export-reward` (rubricate {__version__}). Use: {spec.usage}\n"
              "Rewards: see rubricate.rewards; a completion that cannot be scored gets None (or the "
              'target\'s none value).\n"""\n\n')
    body = ("from rubricate.rewards import export_target\n\n"
            f"RUBRIC = {ref!r}\n"
            f"CHECKS_FILES = {checks!r}\n")
    if spec.lazy:
        body += ("_built = None\n\n\n"
                 f"def load_{spec.attribute}():\n"
                 f'    """The {spec.name} object, built on first use."""\n'
                 "    global _built\n"
                 "    if _built is None:\n"
                 f"        _built = export_target(RUBRIC, {spec.name!r}, checks_files=CHECKS_FILES)\n"
                 "    return _built\n\n\n"
                 "def __getattr__(name):\n"
                 f"    if name == {spec.attribute!r}:\n"
                 f"        return load_{spec.attribute}()\n"
                 "    raise AttributeError(name)\n")
    else:
        body += f"{spec.attribute} = export_target(RUBRIC, {spec.name!r}, checks_files=CHECKS_FILES)\n"
    return header + body
