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
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z][a-z0-9_\-]*(/[a-z0-9_\-]+)?$"


class ItemSpec(BaseModel):
    """One rubric item: a programmatic check or a judge question about one behavior."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, description="Unique within the rubric; the column name in results.")
    kind: Literal["check", "judge"] = Field("check", description="`check`: code; `judge`: an LLM question.")
    check: str | None = Field(None, description="Registered check name (kind=check); defaults to `id`.")
    behavior: str | None = Field(None, description="Behavior this item measures; defaults to the check's.")
    description: str = Field("", description="What a pass means, for people reading reports.")
    weight: float = Field(1.0, description="Weight in the collapsed reward; 0 = reported, not rewarded.")
    version: str = Field("1", description="Bump when the item's meaning changes.")
    question: str | None = Field(None, description="The yes/no question (kind=judge).")
    guidance: str | None = Field(None, description="How to decide (kind=judge).")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters for this item.")

    @model_validator(mode="after")
    def _kind_fields(self) -> ItemSpec:
        if self.kind == "judge" and not self.question:
            raise ValueError("a judge item needs a `question`")
        if self.kind == "check" and self.question:
            raise ValueError("`question` belongs to judge items; set kind = \"judge\" or remove it")
        return self


class RubricSpec(BaseModel):
    """A versioned rubric file."""

    model_config = ConfigDict(extra="forbid")

    schema_: str | None = Field(None, alias="$schema", description="Optional URL/path of this JSON schema.")
    id: str = Field(pattern=ID_PATTERN)
    version: str = Field(description="Rubric version; persisted with every run.")
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters shared by all items.")
    items: list[ItemSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RubricSpec:
        seen: set[str] = set()
        for i, item in enumerate(self.items):
            if item.id in seen:
                raise ValueError(f"items[{i}].id: duplicate item id '{item.id}'")
            seen.add(item.id)
        return self


def rubric_json_schema() -> dict[str, Any]:
    """The JSON schema of rubric files (also in `rubric.schema.json` beside this module)."""
    schema = RubricSpec.model_json_schema(by_alias=True)
    schema["$id"] = "https://rubricate.dev/schema/rubric-1.json"
    schema["title"] = "Rubricate rubric"
    return schema
