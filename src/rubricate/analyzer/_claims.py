"""The sentences the tool prints about why, each from a `Diagnosis` with the test and numbers behind
it: the principal failure mode (a root and its symptoms), or that no behavior reliably explains task
failure, with the strongest association and roughly how many episodes would detect it; and the
evidence line of a guide entry. Nothing here decides anything: `_evidence.weigh` did.
"""

from __future__ import annotations

from ._diagnosis import Diagnosis, Edge
from ._evidence import Evidence


def pct(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0%}" if x == 0 or x >= 0.01 else f"{x:.1%}"


def pts(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.0f} pts"


def pval(p: float | None) -> str:
    if p is None:
        return "-"
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"


def p_is(p: float | None, name: str = "p") -> str:
    """'p = 0.012', 'p < 1e-12'."""
    text = pval(p)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def test_text(e: Evidence, d: Diagnosis) -> str:
    """'a difference of +40 pts (95% CI +25 pts to +53 pts; Fisher p = 1e-06, Holm-adjusted 7e-06)'."""
    return (f"a difference of {pts(e.difference)} (95% CI {pts(e.difference_lo)} to {pts(e.difference_hi)}; "
            f"Fisher {p_is(e.p_value)}, {d.rule.correction_name}-adjusted {pval(e.p_adjusted)})")


def rates_text(e: Evidence, what: str) -> str:
    return (f"it fails in {e.failing} of {e.failing + e.passing} episodes; the task fails ({what}) in "
            f"{pct(e.rate_when_fails)} of those against {pct(e.rate_when_passes)} when it passes")


def adjusted_text(e: Evidence, d: Diagnosis) -> str:
    if not e.upstream:
        return ""
    return (f"; with {', '.join(e.upstream)} upstream held fixed: {pts(e.adjusted_difference)} (95% CI "
            f"{pts(e.adjusted_lo)} to {pts(e.adjusted_hi)}; exact stratified {p_is(e.adjusted_p)}, adjusted "
            f"{pval(e.adjusted_p_adjusted)})")


def _edge_text(x: Edge, d: Diagnosis) -> str:
    return (f"{x.downstream} fails in {pct(x.rate_when_fails)} of the episodes where {x.upstream} fails against "
            f"{pct(x.rate_when_passes)} where it passes ({p_is(x.p_value)}, adjusted {pval(x.p_adjusted)})")


def _symptoms(root: str, d: Diagnosis) -> str:
    chain = next(c for c in d.chains if c.root == root)
    downstream = chain.members[1:]
    if not downstream:
        return ""
    links = []
    for b in downstream:  # the edge into b from the member nearest upstream of it
        into = [x for x in d.edges if x.significant and x.downstream == b and x.upstream in chain.members]
        links.append(_edge_text(max(into, key=lambda x: chain.members.index(x.upstream)), d))
    verb = "fail" if len(downstream) > 1 else "fails"
    return (f" Downstream of it, {_join(list(downstream))} {verb} more often: {'; '.join(links)}. "
            f"{'They are symptoms' if len(downstream) > 1 else 'It is a symptom'}, not the root.")


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def principal_sentence(d: Diagnosis, what: str) -> str:
    """The headline about why tasks fail, from the diagnosis."""
    if not d.n:
        return f"No episode has an outcome ({what.split(' ')[0]} unknown everywhere); nothing to attribute."
    if not d.failed:
        return f"No task failed ({what} in 0 of {d.n} episodes); nothing to attribute."
    if d.roots:
        parts = []
        for root in d.roots:
            e = d.of(root)
            assert e is not None
            parts.append(f"{root}: {rates_text(e, what)}, {test_text(e, d)}.{_symptoms(root, d)}")
        if len(parts) == 1:
            return "The principal failure mode is " + parts[0]
        return (f"{len(parts)} failure modes explain task failure, with no significant link from one to another "
                f"(A -> B tests): " + " ".join(f"({k}) {p}" for k, p in enumerate(parts, 1)))
    return no_claim_sentence(d, what)


def no_claim_sentence(d: Diagnosis, what: str) -> str:
    head = (f"No behavior reliably explains task failure in this run ({what} in {d.failed} of {d.n} "
            f"episodes): the evidence rule ({d.rule.describe()}) names none.")
    blocked = [e for e in d.evidence if e.carries_adjusted and e.behavior not in d.roots]
    if blocked:  # a driver raised by a behavior upstream whose own link to task failure is not shown
        e = blocked[0]
        edge = max((x for x in d.edges if x.significant and x.downstream == e.behavior),
                   key=lambda x: d.order.index(x.upstream))
        up = d.of(edge.upstream)
        up_text = f" ({rates_text(up, what)}, {test_text(up, d)})" if up is not None else ""
        return (f"{head} {e.behavior} goes with task failure ({rates_text(e, what)}, {test_text(e, d)}), but it "
                f"is downstream of {edge.upstream}: {_edge_text(edge, d)}; and {edge.upstream}'s own link to task "
                f"failure is not shown{up_text}. The root of this chain is not established.")
    explained = [e for e in d.evidence if e.supported and not e.carries_adjusted]
    if explained:
        e = explained[0]
        return (f"{head} {e.behavior} goes with task failure ({rates_text(e, what)}, {test_text(e, d)}) but not "
                f"once {', '.join(e.upstream) or 'the behaviors upstream'} upstream is held fixed"
                f"{adjusted_text(e, d)}.")
    e = d.strongest
    if e is None:
        return head + " No behavior fails more often in the failed episodes than in the others."
    need = (f"; about {d.needed:,} episodes at this mix would detect a difference that size"
            if d.needed is not None else "")
    if not e.enough:
        return (f"{head} No behavior that fails in at least {d.rule.min_failing} episodes (with "
                f"{d.rule.min_failed_tasks} failed tasks) goes with more task failure. {e.behavior} does, but fails "
                f"in only {e.failing} of {e.failing + e.passing} episodes, too few to test: the task fails ({what}) in "
                f"{pct(e.rate_when_fails)} of those against {pct(e.rate_when_passes)} when it passes, "
                f"{test_text(e, d)}{need}.")
    return f"{head} The strongest association is {e.behavior}: {rates_text(e, what)}, {test_text(e, d)}{need}."


def evidence_line(behavior: str, d: Diagnosis | None, what: str) -> str:
    """What the evidence rule says of one behavior, for a guide entry (no claim beyond it)."""
    if d is None:
        return "No outcome in this run: nothing ties this behavior to task failure."
    e = d.of(behavior)
    if e is None:
        return "It is an outcome item, not a cause."
    role = d.role(behavior)
    if role.startswith("downstream of "):
        return (f"Drives task failure ({rates_text(e, what)}, {test_text(e, d)}) but is {role}, whose own link to "
                f"task failure is not shown: train the upstream behavior too.")
    if e.p_adjusted is not None and e.p_adjusted < d.rule.alpha and (e.difference_hi or 0) < 0:
        return (f"Not a driver: its failures go with fewer task failures, not more ({test_text(e, d)}); "
                f"{rates_text(e, what)}.")
    if role in ("not shown", "explained by upstream"):
        why = "not enough failures to test" if not e.enough else f"{test_text(e, d)}"
        tail = (f", and with {', '.join(e.upstream)} held fixed the effect is not shown" if
                role == "explained by upstream" else "")
        return (f"Not shown to drive task failure under the evidence rule ({why}{tail}); "
                f"{rates_text(e, what)}.")
    if role.startswith("symptom of "):
        chain = next(c for c in d.chains if behavior in c.members[1:])
        edge = max((x for x in d.edges if x.significant and x.downstream == behavior and x.upstream in chain.members),
                   key=lambda x: chain.members.index(x.upstream))
        return (f"A symptom of {chain.root}, the root of task failure: {_edge_text(edge, d)}. Its own link to task "
                f"failure: {rates_text(e, what)}, {test_text(e, d)}.")
    return f"Root cause of task failure: {rates_text(e, what)}, {test_text(e, d)}."
