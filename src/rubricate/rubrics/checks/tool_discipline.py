"""Built-in checks of the `tool-discipline` rubric: discover, inspect, recover, ground, be right.

Tool roles come from item parameters (`discovery_tools`, `schema_tools`, `query_tools`,
`answer_tools`), so the same checks serve SQL agents and other tool users (search, view, read).
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from .._check import CheckContext, Outcome, check, failed, not_applicable, passed
from .._numbers import (
    NUMBER, Number, NumberPool, candidate_values, id_tail_at, list_ordinal_at, numbers, quantities,
)
from .._reasons import reasons
from .._sql import tables_in


ROLES = {
    "discovery_tools": ("get_table_names", "get_descriptions", "list_tables", "show_tables"),
    "schema_tools": ("get_table_info", "describe_table", "get_schema"),
    "query_tools": ("sql_query", "run_sql", "execute_sql", "query"),
    "answer_tools": ("submit_answer", "final_answer"),
}
ENTITIES = {
    **ROLES,
    "entity_args": ("table_name", "table", "table_names", "tables"),
    "sql_args": ("query", "sql", "sql_query", "statement"),
    "entity_separator": "",
}


DISCOVERS = reasons(
    "discovers_tables",
    no_tools="the rubric names no discovery tools (parameter discovery_tools)",
    no_call="no tool was called",
    not_called="no discovery tool ({tools}) was called",
    query_first="first query at step {query} comes before discovery at step {discovery}",
    answer_first="answer at step {answer} comes before discovery at step {discovery}",
    passed="discovery at step {discovery} precedes the first query and the answer",
)


@check(behavior="discovery", params=ROLES)
def discovers_tables(ctx: CheckContext) -> Outcome:
    """A discovery tool (list tables, search) is called before the first query and before the answer."""
    discovery, query = ctx.tools("discovery"), ctx.tools("query")
    if not discovery:
        return not_applicable(DISCOVERS.no_tools())
    calls = ctx.facts.calls
    if not calls:
        return failed(DISCOVERS.no_call())
    first_discovery = first_query = None
    for index, _, name in calls:
        if first_discovery is None and name in discovery:
            first_discovery = index
        if first_query is None and name in query:
            first_query = index
    if first_discovery is None:
        where = (first_query,) if first_query is not None else ()
        return failed(DISCOVERS.not_called(tools=sorted(discovery)), *where)
    if first_query is not None and first_query <= first_discovery:
        return failed(DISCOVERS.query_first(query=first_query, discovery=first_discovery), first_query, first_discovery)
    answer = ctx.answer
    if answer is not None and answer.step <= first_discovery:
        return failed(DISCOVERS.answer_first(answer=answer.step, discovery=first_discovery),
                      answer.step, first_discovery)
    return passed(DISCOVERS.passed(discovery=first_discovery), first_discovery)


def _entities(args: dict[str, Any] | None, entity_args: tuple[str, ...], sep: str,
              sql_args: tuple[str, ...]) -> set[str]:
    """Tables (or other entities) a call names: its entity arguments and the FROM/JOIN of its SQL."""
    found: set[str] = set()
    if not args:
        return found
    for key in entity_args:
        value = args.get(key)
        if value is None:
            continue
        for v in value if isinstance(value, list) else (value,):
            if isinstance(v, str) and v.strip():
                found.add((v.split(sep, 1)[0] if sep else v).strip().lower())
    for key in sql_args:
        value = args.get(key)
        if isinstance(value, str):
            found |= tables_in(value)
    return found


INSPECTS = reasons(
    "inspects_schema",
    no_tools="the rubric names no schema tools (parameter schema_tools)",
    no_table_queried="the queries name no table, so no schema had to be inspected",
    inspected_only="no table was queried; schema inspected at step {step}",
    nothing="no table was queried and no schema was inspected before the answer",
    no_use="nothing was queried, inspected or answered (an episode cut off before any use)",
    not_inspected=("queried without inspecting the schema first: {tables}", "{} (step {})"),
    passed="all {n} queried tables were inspected first",
)


@check(behavior="schema-inspection", params=ENTITIES)
def inspects_schema(ctx: CheckContext) -> Outcome:
    """Every table queried had its schema inspected (successfully) before its first query; with no
    query, some inspection came before the answer. An episode with no query, no inspection and no
    answer (cut off before any use) is na: there is nothing the agent used without looking."""
    inspected: dict[str, int] = {}
    any_inspection: int | None = None
    first_query: dict[str, int] = {}
    any_query: int | None = None
    schema, query = ctx.tools("schema"), ctx.tools("query")
    if not schema:
        return not_applicable(INSPECTS.no_tools())
    params = ctx.params
    entity_args = tuple(params.get("entity_args", ()))
    sql_args = tuple(params.get("sql_args", ()))
    sep = params.get("entity_separator") or ""
    steps = ctx.episode.steps
    for index, call, name in ctx.facts.calls:
        if name in schema:
            if call.result_step is None or steps[call.result_step].is_error:
                continue
            if any_inspection is None:
                any_inspection = index
            for entity in sorted(_entities(call.arguments, entity_args, sep, ())):  # sorted: same reason every run
                inspected.setdefault(entity, index)
        elif name in query:
            if any_query is None:
                any_query = index
            for entity in sorted(_entities(call.arguments, entity_args, sep, sql_args)):
                first_query.setdefault(entity, index)
    if not first_query and any_query is not None:
        return passed(INSPECTS.no_table_queried(), any_query)
    if not first_query:
        answer = ctx.answer
        end = answer.step if answer is not None else len(ctx.episode.steps)
        if any_inspection is not None and any_inspection < end:
            return passed(INSPECTS.inspected_only(step=any_inspection), any_inspection)
        if answer is None:
            return not_applicable(INSPECTS.no_use())
        return failed(INSPECTS.nothing())
    missing = [(e, s) for e, s in first_query.items() if inspected.get(e, s) >= s]
    if missing:
        return failed(INSPECTS.not_inspected(tables=missing[:5]), *(s for _, s in missing))
    return passed(INSPECTS.passed(n=len(first_query)),
                  *(inspected[e] for e in first_query), *first_query.values())


def _argument_key(args: dict[str, Any] | None, raw: str) -> bytes | str:
    if args is None:
        return raw.strip()
    return msgspec.json.encode(args, order="sorted")


RECOVERS = reasons(
    "recovers_from_errors",
    no_error="no tool call returned an error",
    not_recovered="{tool} failed at step {step} and was not retried successfully with changed arguments "
                  "before the answer",
    passed="all {n} failed calls were recovered",
)
REPEATS = reasons(
    "no_repeated_failing_call",
    repeated="step {step} repeats the {tool} call that failed at step {failed}",
    passed="no failed call was repeated unchanged",
    after_fix="{n} failed call(s) repeated only after a new call that runs code or writes succeeded in between "
              "(a retry after a fix)",
)


@check(behavior="error-recovery", params=ROLES)
def recovers_from_errors(ctx: CheckContext) -> Outcome:
    """Every failed tool call is followed, before the answer, by a successful call of the same tool
    with changed arguments."""
    steps = ctx.episode.steps
    calls = ctx.calls()
    failures = [(i, c) for i, c in calls if c.result_step is not None and steps[c.result_step].is_error]
    if not failures:
        return not_applicable(RECOVERS.no_error())
    answer = ctx.answer
    end = answer.step if answer is not None else len(ctx.episode.steps)
    evidence: list[int] = []
    for index, call in failures:
        error_step = call.result_step
        key = _argument_key(call.arguments, call.arguments_raw)
        fix = next((j for j, later in calls
                    if error_step is not None and error_step < j < end and later.name.lower() == call.name.lower()
                    and _argument_key(later.arguments, later.arguments_raw) != key and ctx.succeeded(later)), None)
        if fix is None:
            return failed(RECOVERS.not_recovered(tool=call.name, step=error_step),
                          index, *((error_step,) if error_step else ()))
        evidence += [error_step or index, fix]
    return passed(RECOVERS.passed(n=len(failures)), *evidence)


# Words of a tool name (split at "_", "-", "." and spaces) that say the tool can change what a later
# call sees: it runs code or writes. A new call of such a tool that succeeds between a failure and
# its repeat is a fix the repeat may rest on (the script that creates the missing file).
EFFECT_WORDS = frozenset({
    "execute", "exec", "run", "bash", "shell", "sh", "python", "ipython", "code", "command", "cmd", "terminal",
    "write", "create", "edit", "editor", "replace", "insert", "append", "save", "put", "patch", "apply", "install",
    "mkdir", "touch", "move", "rename", "copy", "upload", "delete", "remove", "update", "modify", "set", "add",
})
_NAME_WORDS = re.compile(r"[a-z0-9]+")


def changes_state(name: str) -> bool:
    """Whether a tool's name says it runs code or writes (EFFECT_WORDS)."""
    return any(w in EFFECT_WORDS for w in _NAME_WORDS.findall(name.lower()))


@check(behavior="error-recovery", params=ROLES)
def no_repeated_failing_call(ctx: CheckContext) -> Outcome:
    """No call repeats (same tool, same arguments) a call that already failed, unless a fix came in
    between: a new call (arguments not used before) of a tool that runs code or writes
    (`changes_state`) succeeded after the failure. Re-running a script once a call created the file it
    needed is a retry after a fix; re-running it after a read, a `think`, or the same edit again is not."""
    calls = ctx.calls()
    keys = [(call.name, _argument_key(call.arguments, call.arguments_raw)) for _, call in calls]
    new: list[bool] = []  # the call's tool and arguments were not used before it
    seen: set[tuple[str, bytes | str]] = set()
    for key in keys:
        new.append(key not in seen)
        seen.add(key)
    failed_at: dict[tuple[str, bytes | str], int] = {}  # key -> the step of its last failure
    any_error = False
    evidence: list[int] = []
    for k, (index, call) in enumerate(calls):
        earlier = failed_at.get(keys[k])
        if earlier is not None and earlier < index:
            fix = next((i for j, (i, other) in enumerate(calls[:k]) if earlier < i and new[j]
                        and changes_state(other.name) and ctx.succeeded(other)), None)
            if fix is None:
                return failed(REPEATS.repeated(step=index, tool=call.name, failed=earlier), earlier, index)
            evidence += [earlier, fix, index]
        result = ctx.episode.result_of(call)
        if result is not None and result.is_error:
            any_error = True
            failed_at[keys[k]] = result.index
    if not any_error:
        return not_applicable(RECOVERS.no_error())
    if evidence:
        return passed(REPEATS.after_fix(n=len(evidence) // 3), *evidence)
    return passed(REPEATS.passed())


def _number_at(haystack: str, digits: str) -> bool:
    """True when `digits` occurs in `haystack` as a whole number (not inside a longer one)."""
    start = haystack.find(digits)
    n = len(digits)
    while start != -1:
        before = haystack[start - 1] if start else " "
        after = haystack[start + n: start + n + 2]
        if not before.isdigit() and before not in ".," and not (after[:1].isdigit() or
                                                             (after[:1] in ".," and after[1:2].isdigit())):
            return True
        start = haystack.find(digits, start + 1)
    return False


def _question_values(ctx: CheckContext) -> list[float]:
    return [n.value for n in numbers(ctx.episode.question or "")]


GROUNDED = reasons(
    "grounded_answer",
    no_answer="no final answer",
    no_number="the answer states no number",
    no_quantity="the answer states no quantity (its numbers are list numbers, dates, times or identifiers)",
    in_question="every number in the answer appears in the question",
    no_output="the answer states {number} but no tool returned a successful output",
    missing=("{missing} of {targets} numbers in the answer are not in any tool output nor one step from them: "
             "{numbers}"),
    passed="all {n} numbers in the answer come from tool outputs",
    passed_given="all {n} numbers in the answer come from tool outputs or what the agent was given",
    references="the answer states no quantity, and the {n} numbers of its dates, times and identifiers all "
               "appear in tool outputs",
)


@check(behavior="grounding", params=ROLES)
def grounded_answer(ctx: CheckContext) -> Outcome:
    """Every quantity in the final answer (apart from the numbers of the question) comes from a
    successful tool output, directly or by one arithmetic step, units and rounding allowed, or is
    written in what the agent was given (the system prompt, a user turn). List ordinals, dates,
    times, identifiers and the tails of identifiers in those texts ("ending in 1784") are not
    quantities."""
    answer = ctx.answer
    if answer is None:
        return not_applicable(GROUNDED.no_answer())
    if not numbers(answer.text):
        return not_applicable(GROUNDED.no_number())
    before = ctx.episode.steps[: answer.step]
    outputs = [(s.index, s.content) for s in before if s.role == "tool" and not s.is_error and s.content]
    given = [(s.index, s.content) for s in before if s.role in ("system", "user") and s.content]
    stated = [n for n in quantities(answer.text) if not _id_tail(n, outputs, given)]
    if not stated:
        return _references(answer.text, answer.step, outputs, given)
    in_question = _question_values(ctx)
    # a number of the question is exempt only as written (12.5 in the question does not exempt 12 or 13)
    targets = [n for n in stated if n.value not in in_question]
    if not targets:
        return passed(GROUNDED.in_question(), answer.step)
    pool: NumberPool | None = None
    evidence: list[int] = [answer.step]
    missing: list[Number] = []
    from_given = False
    for target in targets:
        source = _literal_source(target, outputs)
        if source is None and outputs:
            if pool is None:
                pool = NumberPool([(value, i) for i, text in outputs for value in candidate_values(text)])
            source = _pool_source(target, pool)
        if source is None:
            source = _literal_source(target, given)
            from_given = from_given or source is not None
        if source is None:
            missing.append(target)
        else:
            evidence += source
    if missing and not outputs:
        return failed(GROUNDED.no_output(number=missing[0].text), answer.step)
    if missing:
        return failed(GROUNDED.missing(missing=len(missing), targets=len(targets),
                                       numbers=[n.text for n in missing[:5]]), answer.step)
    if from_given:
        return passed(GROUNDED.passed_given(n=len(targets)), *evidence)
    return passed(GROUNDED.passed(n=len(targets)), *evidence)


def _references(text: str, step: int, outputs: list[tuple[int, str]], given: list[tuple[int, str]]) -> Outcome:
    """An answer that states no quantity: it passes when the numbers of its dates, times and
    identifiers (list ordinals and identifier tails aside) are all whole numbers of tool outputs
    ("departing at 03:00 on May 21, 2024" after a result with "2024-05-21" and "03:00:00"); otherwise
    it stays na, never a fail (they are not quantities to ground)."""
    evidence = [step]
    found = 0
    for m in NUMBER.finditer(text):
        number = Number(m.group(0).strip(), 0.0, 0)
        if list_ordinal_at(text, m.start()) or _id_tail(number, outputs, given):
            continue
        source = _literal_source(number, outputs)
        if source is None:
            return not_applicable(GROUNDED.no_quantity())
        evidence += source
        found += 1
    if not found:
        return not_applicable(GROUNDED.no_quantity())
    return passed(GROUNDED.references(n=found), *evidence)


def _id_tail(number: Number, *texts: list[tuple[int, str]]) -> bool:
    """True when a number of three or more plain digits ends an identifier in one of the texts."""
    digits = number.text
    return len(digits) >= 3 and digits.isascii() and digits.isdigit() and \
        any(id_tail_at(text, digits) for group in texts for _, text in group)


def _literal_source(target: Number, outputs: list[tuple[int, str]]) -> list[int] | None:
    digits = target.text.lstrip("$-\u2212").split()[0].rstrip("%")
    digits = digits.rstrip("kmbnKMBN") if digits[-1:].isalpha() else digits
    plain = digits.replace(",", "")
    for index, text in outputs:
        if _number_at(text, digits) or (plain != digits and _number_at(text, plain)):
            return [index]
    return None


def _decimals(target: Number, value: float) -> int:
    """The precision of `value`, a candidate of `target`: 17.5% stated as 0.175 has 3 decimals, not 1."""
    ratio = abs(target.value / value) if value else 0.0
    if ratio == 0.0 or not math.isfinite(ratio):
        return target.decimals
    return target.decimals + round(math.log10(ratio))


def _pool_source(target: Number, pool: NumberPool) -> list[int] | None:
    for value in target.candidates():
        j = pool.find(value, _decimals(target, value))
        if j is not None:
            return [pool.steps[j]]
    for value in target.candidates():
        derived = pool.derive(value, _decimals(target, value))
        if derived is not None:
            i, j, _ = derived
            return [pool.steps[i], pool.steps[j]]
    return None
