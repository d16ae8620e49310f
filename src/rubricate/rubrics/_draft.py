"""`rubricate rubrics init TRACES`: a rubric drafted from a run's traces, for the user to edit.

The tools the episodes call are counted and each is given a role, guessed from its name and from
when episodes first call it: discover (list, search), inspect (describe, view), query/act (read,
run), write (book, cancel, update), auth (look the user up), answer (submit) or hand-off (transfer
to a person). The roles pick the rubric's items (a customer-service agent gets the write checks, a
data or search agent the discover/inspect checks) and fill its parameters; the TOML says, in
comments, what was seen and why each tool got its role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..traces import Episode

_WRITE_VERBS = ("book|cancel|update|modify|create|delete|add|remove|send|place|purchase|register|reserve|return|"
                "exchange|refund|suspend|resume|enable|disable|write|post|set|change|issue|redeem|renew|join|check_in|"
                "process|transfer|apply|edit|insert|upload|pay|forward|reply")
# Name patterns per role, tried in this order (the first match wins); a word is a `_`/`-` part.
ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((role, re.compile(p)) for role, p in (
    ("handoff", r"(^|_)(transfer|handoff|hand_off|escalate)_.*(human|agent|person|operator)"),
    ("answer", r"^(submit|final|answer|respond|reply)(_|$)|(^|_)(final_answer|submit_answer|final_result)$"),
    ("auth", r"^(authenticate|login|log_in|verify_(user|identity|customer)|find_user_id|get_user_details|"
             r"get_customer_by)"),
    ("write", rf"^({_WRITE_VERBS})_[a-z]"),
    ("schema", r"(^|_)(describe|schema|columns|sections|view|inspect|info|outline|structure)(_|$)|_info$"),
    ("discovery", r"^(search|list|find|lookup|look_up|browse|glob|ls|get_table_names|get_descriptions|"
                  r"show_tables|discover)(_|$)|(^|_)search(_|$)"),
    ("query", r"^(read|sql|query|run|exec|execute|fetch|get|retrieve|parse|open|load|bash|python|code|"
              r"stateful_python|web_browser|click|go|calculate|calc)(_|$)|(^|_)(sql|query)(_|$)"),
    ("write", rf"_({_WRITE_VERBS})_[a-z]"),  # a verb inside a prefixed name: email_delete_email
))
ROLE_NAMES = {
    "discovery": "discover: list or search what exists", "schema": "inspect: describe an entity's structure",
    "query": "query/act: read or compute", "write": "write: change something for the user",
    "auth": "auth: identify the user", "answer": "answer: the call is the final answer",
    "handoff": "hand-off: pass the user to a person", "other": "no role guessed",
}
NOT_TOOLS = re.compile(r"^(think|reason|plan|note)$")
_ENTITY_ARG = re.compile(r"(^|_)(id|name|table|tables|page|document|doc|file|path)$")
_SQL = re.compile(r"\bselect\b.+\bfrom\b", re.IGNORECASE | re.DOTALL)


@dataclass
class ToolStats:
    """What the episodes did with one tool."""

    name: str
    calls: int = 0
    episodes: int = 0
    errors: int = 0
    first_position: list[float] = field(default_factory=list)  # where its first call falls, 0..1 of the calls
    last_call: int = 0  # episodes whose last call it is
    args: dict[str, int] = field(default_factory=dict)
    sql_args: set[str] = field(default_factory=set)
    colon: dict[str, int] = field(default_factory=dict)  # arguments whose value looks like 'entity:part'

    @property
    def position(self) -> float:
        return sum(self.first_position) / len(self.first_position) if self.first_position else 1.0


@dataclass
class Observed:
    """Everything the draft rests on."""

    episodes: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    with_truth: int = 0
    multi_agent: int = 0  # episodes where two or more named agents speak
    tools: dict[str, ToolStats] = field(default_factory=dict)

    def add(self, episode: Episode) -> None:
        self.episodes += 1
        self.formats[episode.format] = self.formats.get(episode.format, 0) + 1
        truth = (episode.ground_truth or "").strip()
        self.with_truth += bool(truth) and not truth.startswith(("[", "{"))  # an answer, not a gold-action log
        self.multi_agent += len({s.name for s in episode.steps if s.role == "assistant" and s.name}) > 1
        calls = episode.tool_calls()
        seen: set[str] = set()
        for k, (_, call) in enumerate(calls):
            stats = self.tools.setdefault(call.name, ToolStats(call.name))
            stats.calls += 1
            result = episode.result_of(call)
            stats.errors += bool(result is not None and result.is_error)
            for key, value in (call.arguments or {}).items():
                stats.args[key] = stats.args.get(key, 0) + 1
                if isinstance(value, str) and _SQL.search(value):
                    stats.sql_args.add(key)
                elif isinstance(value, str) and ":" in value.strip(":") and " " not in value:
                    stats.colon[key] = stats.colon.get(key, 0) + 1
            if call.name not in seen:
                seen.add(call.name)
                stats.episodes += 1
                stats.first_position.append(k / max(1, len(calls) - 1) if len(calls) > 1 else 0.0)
        if calls:
            self.tools[calls[-1][1].name].last_call += 1


def observe(episodes: Iterable[Episode], limit: int | None = None) -> Observed:
    seen = Observed()
    for episode in episodes:
        if limit is not None and seen.episodes >= limit:
            break
        seen.add(episode)
    return seen


def guess_role(stats: ToolStats) -> tuple[str, str]:
    """(role, why) of a tool, from its name, then from when it is first called."""
    name = stats.name.lower()
    if NOT_TOOLS.match(name):
        return "other", "a scratchpad tool"
    for role, pattern in ROLE_PATTERNS:
        if pattern.search(name):
            return role, f"name matches {role}"
    if stats.position <= 0.1 and stats.episodes >= 3:
        return "discovery", f"unknown name, called first ({stats.position:.0%} of the way in)"
    return "query", "unknown name"


def draft_rubric(seen: Observed, *, rubric_id: str = "my-agent", source: str = "") -> str:
    """The rubric TOML drafted from what was observed, with comments."""
    roles: dict[str, list[str]] = {}
    lines = [f"# Drafted by `rubricate rubrics init` from {seen.episodes:,} episodes{f' of {source}' if source else ''}"
             f" ({', '.join(f'{n:,} {f}' for f, n in sorted(seen.formats.items()))}).",
             "# Check the roles below: they are guesses from tool names and call order. Then score with",
             "#   rubricate score TRACES --rubric THIS_FILE --out RUN   (and `rubricate rubrics show THIS_FILE`)",
             "#", "# Tools seen (calls, episodes, errors, where the first call falls) and the role guessed:"]
    width = max((len(n) for n in seen.tools), default=0)
    for stats in sorted(seen.tools.values(), key=lambda s: (-s.calls, s.name)):
        role, why = guess_role(stats)
        roles.setdefault(role, []).append(stats.name)
        lines.append(f"#   {stats.name:<{width}} {stats.calls:>6,} calls in {stats.episodes:>5,} episodes, "
                     f"{stats.errors / stats.calls:>4.0%} errors, first call at {stats.position:>4.0%}: "
                     f"{ROLE_NAMES[role].split(':')[0]} ({why})")
    if not seen.tools:
        lines.append("#   (none: the episodes call no tools)")
    family, items = _items(roles, seen)
    lines += ["#", f"# Items: those of the `{family}` rubric that these roles support."]
    if family == "multi-agent":
        lines += [f"# {seen.multi_agent:,} of the episodes have several named agents: for their failure modes, copy",
                  "# the judge items of `rubricate rubrics show multi-agent` (asked with --judge-model)."]
    lines += ["",
              f'id = "{rubric_id}"', 'version = "0.1.0"',
              f'description = "Drafted from {seen.episodes:,} episodes: {family} items, roles guessed from the tools."',
              "", "[params]"]
    lines += _params(roles, seen, items)
    for item_id, check, description in items:
        lines += ["", "[[items]]", f'id = "{item_id}"'] + ([f'check = "{check}"'] if check != item_id else []) + \
            [f"description = {_toml(description)}"]
    return "\n".join(lines) + "\n"


def _items(roles: dict[str, list[str]], seen: Observed) -> tuple[str, list[tuple[str, str, str]]]:
    """(family, [(item id, check, description)]) for the roles found."""
    items: list[tuple[str, str, str]] = [("answers_question", "answers_question",
                                          "Ends with an answer, or a hand-off to a person.")]
    if roles.get("write"):
        family = "customer-service"
        if roles.get("auth"):
            items.append(("authenticates_before_write", "authenticates_before_write",
                          "Identifies the user with an auth tool before the first write."))
        items += [("confirms_before_write", "confirms_before_write", "Gets an explicit yes before every write."),
                  ("no_write_after_refusal", "no_write_after_refusal",
                   "Never does to an entity what it told the user was not possible.")]
    elif roles.get("discovery") and (roles.get("query") or roles.get("schema")):
        family = "search-agent / sql-agent"
        items.append(("discovers_first", "discovers_tables", "Calls a discover tool before the first query and "
                                                             "before answering."))
        if roles.get("schema"):
            items.append(("inspects_first", "inspects_schema", "Inspects an entity before reading from it."))
    elif seen.multi_agent * 2 >= seen.episodes:
        family = "multi-agent"
    else:
        family = "agent-basics"
    if family == "multi-agent":  # numbers come from other agents' messages, not only from tools
        items += [("recovers_from_errors", "recovers_from_errors", "After a failed call, retries the same tool "
                                                                   "with changed arguments and succeeds."),
                  ("no_repeated_failing_call", "no_repeated_failing_call", "Never repeats a call that failed.")]
    elif seen.tools:
        items += [("recovers_from_errors", "recovers_from_errors", "After a failed call, retries the same tool "
                                                                   "with changed arguments and succeeds."),
                  ("no_repeated_failing_call", "no_repeated_failing_call", "Never repeats a call that failed."),
                  ("grounded_answer", "grounded_answer", "Every number in the answer comes from a tool output "
                                                         "(or one arithmetic step from it).")]
    items.append(("stays_within_step_budget", "stays_within_step_budget", "At most max_tool_calls tool calls and "
                                                                           "max_steps steps."))
    if seen.with_truth:
        items.append(("answer_correct", "answer_correct", "The final answer matches the ground truth."))
    return family, items


def _params(roles: dict[str, list[str]], seen: Observed, items: list[tuple[str, str, str]]) -> list[str]:
    checks = {check for _, check, _ in items}
    out: list[str] = []

    def param(key: str, values: list[str], note: str) -> None:
        out.append(f"# {note}")
        out.append(f"{key} = {_toml(sorted(values))}")

    param("answer_tools", roles.get("answer", []), "calls that are the final answer (empty: the last assistant text)")
    param("handoff_tools", roles.get("handoff", []), "calls that pass the user to a person: a legitimate ending")
    if "discovers_tables" in checks:
        param("discovery_tools", roles.get("discovery", []), ROLE_NAMES["discovery"])
        param("query_tools", roles.get("query", []) + roles.get("write", []), ROLE_NAMES["query"])
    if "inspects_schema" in checks:
        param("schema_tools", roles["schema"], ROLE_NAMES["schema"])
        entity = _entity_args(roles, seen)
        param("entity_args", entity, "arguments naming the entity a call works on (shared by inspect and query tools)")
        colon = sum(seen.tools[t].colon.get(a, 0) for t in roles.get("query", []) for a in entity)
        used = sum(seen.tools[t].args.get(a, 0) for t in roles.get("query", []) for a in entity)
        out.append("# ids like 'page:section' name their entity before the ':'")
        out.append(f'entity_separator = "{":" if used and colon * 2 >= used else ""}"')
        param("sql_args", sorted({a for t in roles.get("query", []) for a in seen.tools[t].sql_args}),
              "arguments holding SQL (their FROM/JOIN tables are entities)")
    if "authenticates_before_write" in checks:
        param("auth_tools", roles["auth"], ROLE_NAMES["auth"])
    if "confirms_before_write" in checks:
        param("write_tools", roles["write"], ROLE_NAMES["write"])
    out += ["# budget: raise it if your agents legitimately need more", "max_tool_calls = 30", "max_steps = 100"]
    if roles.get("other"):
        out.append(f"# no role guessed (left out): {', '.join(sorted(roles['other']))}")
    return out


def _entity_args(roles: dict[str, list[str]], seen: Observed) -> list[str]:
    """What the inspect tools take, and the id-like arguments of the query tools."""
    inspect = {a for t in roles.get("schema", []) for a in seen.tools[t].args}
    query = {a for t in roles.get("query", []) for a in seen.tools[t].args if _ENTITY_ARG.search(a)}
    return sorted(inspect | query)


def _toml(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    if not isinstance(value, list) or len(text) <= 100:
        return text
    lines, line = [], ""
    for v in value:
        part = msgspec.json.encode(v).decode() + ", "
        if line and len(line) + len(part) > 100:
            lines.append(line.rstrip())
            line = ""
        line += part
    return "[\n    " + "\n    ".join(lines + [line.rstrip(", ")]) + ",\n]"
