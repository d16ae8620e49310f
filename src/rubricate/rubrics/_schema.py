"""The rubric file format (TOML), as pydantic models; `rubric_json_schema()` publishes it.

```toml
id = "tool-discipline"
version = "1.0.0"
description = "..."

[params]                        # shared by every item; an item's own params win
discovery_tools = ["get_table_names", "list_tables"]

[[items]]
id = "discovers_tables"         # the check of the same name unless `check` says otherwise
behavior = "discovery"          # defaults to the check's behavior
weight = 1.0                    # 0 = reported, not rewarded
# outcome = true                # the item restates the task's outcome: reported as outcome, never a cause

[[items]]
id = "acknowledges_tool_errors"  # a judge item: a question an LLM answers (see rubrics.judges)
kind = "judge"
question = "When a tool call failed, did the agent notice it?"
guidance = "Answer na when no call failed."
choices = ["ignored", "noticed", "fixed"]   # optional: ordered worst to best instead of yes/no
examples = [{ situation = "...", verdict = "fixed", reason = "..." }]
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z][a-z0-9_\-]*(/[a-z0-9_\-]+)?$"
YES_NO = ("yes", "no")


class JudgeExample(BaseModel):
    """A worked example shown to the judge (few-shot): a situation and the right answer."""

    model_config = ConfigDict(extra="forbid")

    situation: str = Field(min_length=1, description="What happened in the episode, briefly.")
    verdict: str = Field(description="The right answer: yes/no, one of `choices`, or na.")
    reason: str = Field("", description="Why, in one sentence.")


class ItemSpec(BaseModel):
    """One rubric item: a programmatic check or a judge question about one behavior."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, description="Unique within the rubric; the column name in results.")
    kind: Literal["check", "judge"] = Field("check", description="`check`: code; `judge`: an LLM question.")
    check: str | None = Field(None, description="Registered check name (kind=check); defaults to `id`.")
    behavior: str | None = Field(None, description="Behavior this item measures; defaults to the check's.")
    description: str = Field("", description="What a pass means, for people reading reports.")
    weight: float = Field(1.0, description="Weight in the collapsed reward; 0 = reported, not rewarded.")
    outcome: bool | None = Field(None, description="true: this item restates the task's outcome (like "
                                 "answer_correct); the analysis reports it as outcome and never weighs it as a "
                                 "cause of task failure.")
    version: str = Field("1", description="Bump when the item's meaning changes.")
    question: str | None = Field(None, description="The yes/no question (kind=judge).")
    guidance: str | None = Field(None, description="How to decide (kind=judge).")
    choices: list[str] | None = Field(None, min_length=2, description="Answers ordered worst to best instead of "
                                      "yes/no (kind=judge); score = position / (count - 1).")
    pass_from: str | None = Field(None, description="The worst choice that still counts as a pass (kind=judge "
                                  "with choices); default: the better half.")
    examples: list[JudgeExample] = Field(default_factory=list, description="Worked examples for the judge "
                                         "(kind=judge, few-shot).")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters for this item.")

    @model_validator(mode="after")
    def _kind_fields(self) -> ItemSpec:
        if self.kind == "judge" and not self.question:
            raise ValueError("a judge item needs a `question`")
        if self.kind == "check":
            for name in ("question", "choices", "pass_from", "examples"):
                if getattr(self, name):
                    raise ValueError(f"`{name}` belongs to judge items; set kind = \"judge\" or remove it")
            return self
        if self.choices is not None:
            if len(set(self.choices)) != len(self.choices) or any(not c.strip() for c in self.choices):
                raise ValueError("`choices` must be distinct, non-empty answers ordered worst to best")
            if "na" in self.choices:
                raise ValueError("`choices` cannot contain 'na': every judge item may answer na")
        if self.pass_from is not None and self.pass_from not in (self.choices or ()):
            raise ValueError(f"`pass_from` '{self.pass_from}' is not one of `choices`")
        allowed = self.answers() + ("na",)
        for k, example in enumerate(self.examples):
            if example.verdict not in allowed:
                raise ValueError(f"examples[{k}].verdict '{example.verdict}' is not one of {', '.join(allowed)}")
        return self

    def answers(self) -> tuple[str, ...]:
        """What the judge may answer besides na: the choices (worst to best), or yes/no."""
        return tuple(self.choices) if self.choices else YES_NO


class RewardSpec(BaseModel):
    """How one episode's verdicts collapse into one reward (`[reward]`); see `rubricate.rewards`."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["weighted_mean", "outcome_gated", "judge_holistic"] = Field(
        "weighted_mean",
        description="`weighted_mean`: sum(|w| * score) / sum(|w|) over the items with weight != 0 and a "
        "pass/fail verdict (pass 1, fail 0; a failed pitfall, weight < 0, scores -1 and a passed one is left "
        "out); `outcome_gated`: process items shape the reward only among right (or only among wrong) "
        "answers; `judge_holistic`: one judge reads every item and gives one score (needs a judge).")
    gates: list[str] = Field(
        default_factory=list,
        description="Item ids that must pass: a failed gate applies `gate`; an na gate does not apply.")
    gate: Literal["zero", "cap"] = Field(
        "zero", description="What a failed gate does: `zero`: min(reward, 0); `cap`: min(reward, `cap`).")
    cap: float | None = Field(None, ge=-1.0, le=1.0,
                              description="The cap of a failed gate (gate = \"cap\").")
    outcome_item: str | None = Field(
        None, description="mode = \"outcome_gated\": the item that says whether the answer is right.")
    shape_among: Literal["correct", "incorrect"] = Field(
        "correct",
        description="mode = \"outcome_gated\", with q = max(0, weighted mean of the other rewarded items): "
        "`correct`: right 0.5 + 0.5 q, wrong 0; `incorrect`: right 1, wrong 0.5 q.")

    @model_validator(mode="after")
    def _fields_fit_mode(self) -> RewardSpec:
        if self.gate == "cap" and self.cap is None:
            raise ValueError("gate = \"cap\" needs `cap` (the most a failed gate leaves, e.g. 0.3)")
        if self.gate != "cap" and self.cap is not None:
            raise ValueError("`cap` applies only with gate = \"cap\"")
        if self.mode == "outcome_gated" and not self.outcome_item:
            raise ValueError("mode = \"outcome_gated\" needs `outcome_item` (e.g. \"answer_correct\")")
        if self.mode != "outcome_gated" and self.outcome_item is not None:
            raise ValueError("`outcome_item` applies only with mode = \"outcome_gated\"")
        return self


class RubricSpec(BaseModel):
    """A versioned rubric file."""

    model_config = ConfigDict(extra="forbid")

    schema_: str | None = Field(None, alias="$schema", description="Optional URL/path of this JSON schema.")
    id: str = Field(pattern=ID_PATTERN)
    version: str = Field(description="Rubric version; persisted with every run.")
    description: str = ""
    extends: str | None = Field(None, description=(
        "A built-in rubric (`agent-basics`) or a rubric file (relative to this one) whose params and items "
        "this rubric starts from: an item given here replaces the one of the same id, a new one is added "
        "after them."))
    drop: list[str] = Field(default_factory=list,
                            description="Items of the rubric named by `extends` to leave out.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters shared by all items.")
    items: list[ItemSpec] = Field(min_length=1)
    reward: RewardSpec | None = Field(None, description="How the verdicts collapse into one reward (default: "
                                      "weighted_mean, no gates).")

    @model_validator(mode="after")
    def _unique_ids(self) -> RubricSpec:
        seen: set[str] = set()
        for i, item in enumerate(self.items):
            if item.id in seen:
                raise ValueError(f"items[{i}].id: duplicate item id '{item.id}'")
            seen.add(item.id)
        if self.reward is not None:
            for k, gate in enumerate(self.reward.gates):
                if gate not in seen:
                    raise ValueError(f"reward.gates[{k}]: unknown item '{gate}'")
            if self.reward.outcome_item is not None and self.reward.outcome_item not in seen:
                raise ValueError(f"reward.outcome_item: unknown item '{self.reward.outcome_item}'")
        return self


def rubric_json_schema() -> dict[str, Any]:
    """The JSON schema of rubric files (also in `rubric.schema.json` beside this module)."""
    schema = RubricSpec.model_json_schema(by_alias=True)
    schema["$id"] = "https://rubricate.dev/schema/rubric-1.json"
    schema["title"] = "Rubricate rubric"
    return schema
