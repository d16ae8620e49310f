"""Human labels kept in episode metadata by the Who&When and MAST readers, as a labels CSV.

- Who&When (`decisive_step`, `responsible_agent`, `failure_reason`): every run failed, and a person
  named the decisive step. Label: item `no_decisive_mistake` = fail, steps = the decisive step (so
  calibration reports how often the judge cites it).
- MAST / MAD (`failure_modes` per annotator, `failure_modes_rated`, `failure_modes_missing`): one label
  per rated mode that maps onto the final 14-mode MAST taxonomy (`MAST_MODES`; the names changed
  between annotation rounds, the map follows the names): fail when most annotators with a label marked
  the mode, else pass; with fewer than two labels, none.

`examples/multi-agent/rubric.toml` has a judge item for each of these ids.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ._calibrate import Label

if TYPE_CHECKING:
    from ._results import Run

WHO_AND_WHEN_ITEM = "no_decisive_mistake"

# item id -> the mode names used in the MAD rounds (lower case, code stripped); approximate where the
# taxonomy was refined (e.g. "lack of critical verification" -> incorrect_verification).
MAST_MODES: dict[str, tuple[str, ...]] = {
    "disobey_task_specification": ("disobey task specification", "poor task constraint compliance"),
    "disobey_role_specification": ("disobey role specification",),
    "step_repetition": ("step repetition",),
    "loss_of_conversation_history": ("loss of conversation history",),
    "unaware_of_termination_conditions": ("unaware of termination conditions", "unaware of stopping conditions"),
    "conversation_reset": ("conversation reset",),
    "fail_to_ask_for_clarification": ("fail to ask for clarification", "fail to elicit clarification"),
    "task_derailment": ("task derailment", "derailment from task"),
    "information_withholding": ("information witholding", "information withholding",
                                "withholding relevant information"),
    "ignored_other_agents_input": ("ignored other agents' input", "ignoring suggestions from agents"),
    "reasoning_action_mismatch": ("reasoning-action mismatch", "inconsistency between reasoning and action"),
    "premature_termination": ("premature termination",
                              "ill specified termination condition leading to premature termination"),
    "no_or_incomplete_verification": ("no or incomplete verification", "lack of result verification"),
    "incorrect_verification": ("incorrect verification", "lack of critical verification"),
}
_BY_NAME = {name: item for item, names in MAST_MODES.items() for name in names}
_CODE = re.compile(r"^\s*\d+(\.\d+)*\s*")


def mast_item(mode: str) -> str | None:
    """The rubric item of a MAD failure-mode name ("2.2 Fail to elicit clarification"), or None."""
    return _BY_NAME.get(_CODE.sub("", mode).strip().lower())


def labels_from_metadata(metadata: dict, episode_id: str) -> list[Label]:
    out: list[Label] = []
    step = metadata.get("decisive_step")
    if isinstance(step, int) and not isinstance(step, bool):
        out.append(Label(episode_id, WHO_AND_WHEN_ITEM, "fail", (step,)))
    rated = metadata.get("failure_modes_rated")
    marked = metadata.get("failure_modes")
    if isinstance(rated, list) and isinstance(marked, dict):
        missing = metadata.get("failure_modes_missing") or {}
        for mode in rated:
            item = mast_item(str(mode))
            if item is None:
                continue
            votes = [mode in (marked.get(a) or []) for a in marked if mode not in (missing.get(a) or [])]
            if len(votes) >= 2:
                out.append(Label(episode_id, item, "fail" if 2 * sum(votes) > len(votes) else "pass"))
    return out


def labels_from_run(run: Run) -> list[Label]:
    """Every human label the run's episodes carry in their metadata."""
    out: list[Label] = []
    for episode_id, meta in run.episodes().select("episode_id", "metadata").iter_rows():
        if meta:
            out.extend(labels_from_metadata(json.loads(meta), episode_id))
    return out
