"""The export targets, keyed by name, and the Python module `rubricate export-reward` writes.

The module is self-contained: it embeds the rubric's TOML and the source of its custom checks files, each
with its SHA-256, and needs only `pip install rubricate` where it runs (`embedded_target` verifies the
digests, loads the checks from a private temporary folder and builds the target's function). With
`embed=False` (`--no-embed`) it is the short shim that loads the rubric by built-in name or absolute path.
It exposes the target's function under the name that trainer looks for:

| target | attribute | used as |
|---|---|---|
| `trl` | `rubric_reward` | `GRPOTrainer(reward_funcs=[rubric_reward])` |
| `verifiers` | `rubric`, `load_rubric()` | `vf.ToolEnv(..., rubric=rubric)` |
| `verl` | `compute_score` | `custom_reward_function.path=FILE custom_reward_function.name=compute_score` |
| `openrlhf` | `reward_func` | `--remote_rm_url FILE.py` (a local reward function) |
| `rllm` | `evaluator`, `reward_fn` | an rLLM `Evaluator` (`evaluate(task, episode)`), a workflow `RewardFunction` |
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
reward_target("rllm", "as_rllm_evaluator", "evaluator",
              "AgentTrainer(..., evaluator=evaluator) / rllm eval --evaluator THIS_FILE:evaluator")


def get_target(name: str) -> Target:
    if name in TARGETS:
        return TARGETS[name]
    import difflib

    close = difflib.get_close_matches(name, TARGETS, n=1)
    raise RubricError(f"unknown reward target '{name}'", name=name,
                      hint=f"did you mean '{close[0]}'?" if close else
                      f"targets: {', '.join(sorted(TARGETS))}")


def export_target(rubric_ref: Any, target: str, **options: Any) -> Any:
    """The target's function (or object) for a rubric, as the exported module builds it."""
    import importlib

    public = importlib.import_module("rubricate.rewards")
    factory: Callable[..., Any] = getattr(public, get_target(target).factory)
    return factory(rubric_ref, **options)


def _rubric_ref(rubric_ref: str | os.PathLike[str]) -> str:
    ref = os.fspath(rubric_ref)
    return os.path.abspath(ref) if os.path.isfile(ref) else ref


def export_module_text(rubric_ref: str | os.PathLike[str], target: str,
                       checks_files: tuple[str, ...] = (), *, embed: bool = True) -> str:
    """The source of the module `rubricate export-reward` writes (validates the rubric and target first):
    self-contained with `embed`, else a shim that loads the rubric and checks from their paths."""
    spec = get_target(target)
    ref = _rubric_ref(rubric_ref)
    checks = tuple(os.path.abspath(p) for p in checks_files)
    from ._embed import embedded_body
    from ._scorer import RewardScorer

    rubric = RewardScorer(ref, checks_files=checks).rubric  # fail now, not when the trainer imports the file
    kind = "self-contained: needs only `pip install rubricate`" if embed else \
        "loads the rubric and checks from the paths below"
    header = (f'"""Rubric reward for {spec.name}: rubric {rubric.id} {rubric.version} ({rubric.hash}).\n\n'
              f"Written by `rubricate export-reward` (rubricate {__version__}); {kind}. Use: {spec.usage}\n"
              "Rewards: see rubricate.rewards; a completion that cannot be scored gets None (or the "
              'target\'s none value).\n"""\n\n')
    if embed:
        constants, call = embedded_body(ref, checks, rubric.hash, spec.name)
    else:
        constants = ("from rubricate.rewards import export_target\n\n"
                     f"RUBRIC = {ref!r}\n"
                     f"CHECKS_FILES = {checks!r}\n")
        call = f"export_target(RUBRIC, {spec.name!r}, checks_files=CHECKS_FILES)"
    if spec.lazy:
        body = ("_built = None\n\n\n"
                f"def load_{spec.attribute}():\n"
                f'    """The {spec.name} object, built on first use."""\n'
                "    global _built\n"
                "    if _built is None:\n"
                f"        _built = {call}\n"
                "    return _built\n\n\n"
                "def __getattr__(name):\n"
                f"    if name == {spec.attribute!r}:\n"
                f"        return load_{spec.attribute}()\n"
                "    raise AttributeError(name)\n")
    else:
        body = f"{spec.attribute} = {call}\n"
    return header + constants + ("\n" if spec.lazy else "") + body
