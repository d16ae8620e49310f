"""Root cause over symptom: which behaviors drive task failure, in what order, and which of them is
the root of a chain of symptoms. A pure function of a `Cube` (counts of episodes by the status of
every process behavior and the task's outcome), so it runs the same on a run and on a synthetic cohort.

1. Order. Behaviors are ordered by the median step at which they first fail (the lowest evidence
   step of their failing verdicts); a behavior whose failures cite no step keeps its place in the
   rubric's order (rubrics list behaviors in the order an agent meets them), and the others fill the
   remaining places by their median step.
2. A -> B. For A before B: does B fail more often when A fails than when A passes? Fisher's exact
   test over the episodes where both are decided, corrected over every pair tested, with Newcombe's
   interval on the difference, and how often A's first failure comes before B's where both fail.
3. Attribution. Each behavior is weighed by the evidence rule (`_evidence.weigh`), marginally and
   adjusted for the behaviors upstream of it that go with it (A -> B raw p < alpha; at most
   `MAX_ADJUSTED`, the strongest first): stratified by their statuses (fail, pass, other).
4. Roots. A root is a driver that carries the adjusted effect and that no behavior upstream of it
   raises (no significant A -> root edge): a driver raised by an upstream behavior whose own link to
   task failure is not shown is a symptom of a root the run cannot establish, and is not named root.
   The principal failure mode is the most upstream root (several when independent roots are found);
   its chain is the behaviors it raises, directly or through each other (significant positive
   edges), in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ._evidence import Candidate, Evidence, EvidenceRule, needed_episodes, significant, weigh
from ._exact import Table, adjust, fisher_exact
from ._stats import newcombe

FAILS, PASSES, OTHER = 3, 2, 0
MAX_ADJUSTED = 4
TASK_FAILED, TASK_SUCCEEDED = "task failed", "task succeeded"
Cell = tuple[tuple[int, ...], bool, int]  # (status of each behavior, task failed, episodes)


@dataclass(frozen=True)
class Cube:
    """Episodes with an outcome, counted by the status of each process behavior (FAILS, PASSES or
    OTHER: na, error, no verdict) and whether the task failed; with each behavior's median first
    failing step and, per pair, in how many episodes where both fail the first fails first, the
    second fails first, or both at the same step."""

    behaviors: tuple[str, ...]
    cells: tuple[Cell, ...]
    first_step: dict[str, float | None] = field(default_factory=dict)
    precedence: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(c for _, _, c in self.cells)

    @property
    def failed(self) -> int:
        return sum(c for _, f, c in self.cells if f)

    def table(self, behavior: str, cells: Iterable[Cell] | None = None) -> Table:
        """(fails & failed, fails & succeeded, passes & failed, passes & succeeded)."""
        k = self.behaviors.index(behavior)
        t = [0, 0, 0, 0]
        for codes, failed, count in self.cells if cells is None else cells:
            if codes[k] in (FAILS, PASSES):
                t[(0 if codes[k] == FAILS else 2) + (0 if failed else 1)] += count
        return t[0], t[1], t[2], t[3]

    def precedes(self, a: str, b: str) -> tuple[int, int, int]:
        """(a fails first, b fails first, same step) over the episodes where both fail with evidence."""
        if (a, b) in self.precedence:
            return self.precedence[(a, b)]
        x, y, z = self.precedence.get((b, a), (0, 0, 0))
        return y, x, z


@dataclass(frozen=True)
class Edge:
    """A -> B: B's failure rate when A fails against when A passes (episodes where both are decided)."""

    upstream: str
    downstream: str
    table: Table  # (A fails & B fails, A fails & B passes, A passes & B fails, A passes & B passes)
    difference: float | None
    lo: float | None
    hi: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    upstream_first: int
    downstream_first: int
    same_step: int

    @property
    def rate_when_fails(self) -> float | None:
        a, b, _, _ = self.table
        return a / (a + b) if a + b else None

    @property
    def rate_when_passes(self) -> float | None:
        _, _, c, d = self.table
        return c / (c + d) if c + d else None


@dataclass(frozen=True)
class Chain:
    """A root and the behaviors it raises, in order, with the Sankey links of the episodes where the
    root fails: (source, target, episodes), ending in `Chain.FAILED` or `Chain.SUCCEEDED`."""

    FAILED: ClassVar[str] = TASK_FAILED
    SUCCEEDED: ClassVar[str] = TASK_SUCCEEDED
    root: str
    members: tuple[str, ...]
    links: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Diagnosis:
    """What `diagnose` found: the evidence of every behavior (in order), the edges, the roots (the
    principal failure modes, most upstream first) and their chains; when nothing is named, the
    strongest association and about how many episodes would detect an effect its size."""

    rule: EvidenceRule
    n: int
    failed: int
    order: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    edges: tuple[Edge, ...]
    roots: tuple[str, ...]
    chains: tuple[Chain, ...]
    strongest: Evidence | None
    needed: int | None
    first_step: dict[str, float | None] = field(default_factory=dict)

    def of(self, behavior: str) -> Evidence | None:
        return next((e for e in self.evidence if e.behavior == behavior), None)

    @property
    def drivers(self) -> tuple[str, ...]:
        return tuple(e.behavior for e in self.evidence if e.supported)

    def role(self, behavior: str) -> str:
        """'root cause', 'symptom of R' (in the chain of root R), 'downstream of A' (a driver raised by
        A upstream, with no root shown), 'explained by upstream', or 'not shown'."""
        if behavior in self.roots:
            return "root cause"
        parents = [c.root for c in self.chains if behavior in c.members[1:]]
        if parents:
            return "symptom of " + ", ".join(parents)
        e = self.of(behavior)
        if e is not None and e.supported and not e.carries_adjusted:
            return "explained by upstream"
        raised = raised_by(behavior, self.edges)
        if e is not None and e.supported and raised:
            return "downstream of " + ", ".join(raised)
        return "not shown"


def order_behaviors(cube: Cube) -> tuple[str, ...]:
    """Behaviors with a known first failing step sorted by it (ties in rubric order), in the rubric
    positions such behaviors hold; a behavior whose failures cite no step keeps its rubric position."""
    position = {b: k for k, b in enumerate(cube.behaviors)}
    known = [b for b in cube.behaviors if cube.first_step.get(b) is not None]
    ranked = iter(sorted(known, key=lambda b: (cube.first_step[b], position[b])))
    return tuple(next(ranked) if cube.first_step.get(b) is not None else b for b in cube.behaviors)


def _edge_table(cube: Cube, a: str, b: str) -> Table:
    i, j = cube.behaviors.index(a), cube.behaviors.index(b)
    t = [0, 0, 0, 0]
    for codes, _, count in cube.cells:
        if codes[i] in (FAILS, PASSES) and codes[j] in (FAILS, PASSES):
            t[(0 if codes[i] == FAILS else 2) + (0 if codes[j] == FAILS else 1)] += count
    return t[0], t[1], t[2], t[3]


def edges(cube: Cube, order: Sequence[str], rule: EvidenceRule) -> tuple[Edge, ...]:
    pairs = [(order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))]
    tables = [_edge_table(cube, a, b) for a, b in pairs]
    raw = [fisher_exact(*t) if min(t[0] + t[1], t[2] + t[3], t[0] + t[2], t[1] + t[3]) > 0 else None
           for t in tables]
    corrected = adjust(raw, rule.correction)
    out = []
    for (a, b), t, p, q in zip(pairs, tables, raw, corrected):
        d, lo, hi = newcombe(t[0], t[0] + t[1], t[2], t[2] + t[3])
        out.append(Edge(a, b, t, d, lo, hi, p, q, significant(q, rule) and lo is not None and lo > 0,
                        *cube.precedes(a, b)))
    return tuple(out)


def _strata(cube: Cube, behavior: str, upstream: Sequence[str]) -> tuple[Table, ...]:
    if not upstream:
        return (cube.table(behavior),)
    ks = [cube.behaviors.index(u) for u in upstream]
    groups: dict[tuple[int, ...], list[Cell]] = {}
    for cell in cube.cells:
        key = tuple(cell[0][k] if cell[0][k] in (FAILS, PASSES) else OTHER for k in ks)
        groups.setdefault(key, []).append(cell)
    return tuple(cube.table(behavior, cells) for _, cells in sorted(groups.items()))


def _upstream(behavior: str, all_edges: Sequence[Edge], rule: EvidenceRule) -> tuple[str, ...]:
    """The behaviors before `behavior` that go with it (raw p < alpha), strongest first, at most
    MAX_ADJUSTED."""
    near = [e for e in all_edges if e.downstream == behavior and e.p_value is not None and e.p_value < rule.alpha]
    near.sort(key=lambda e: (e.p_value, e.upstream))
    return tuple(e.upstream for e in near[:MAX_ADJUSTED])


def raised_by(behavior: str, all_edges: Sequence[Edge]) -> tuple[str, ...]:
    """The behaviors upstream whose failure significantly raises `behavior`'s (A -> behavior)."""
    return tuple(x.upstream for x in all_edges if x.significant and x.downstream == behavior)


def _chain_members(root: str, order: Sequence[str], all_edges: Sequence[Edge]) -> tuple[str, ...]:
    reached = {root}
    for b in order[order.index(root) + 1:]:  # in order, so every upstream member is known first
        if any(e.significant and e.downstream == b and e.upstream in reached for e in all_edges):
            reached.add(b)
    return tuple(b for b in order if b in reached)


def chain_links(cube: Cube, members: Sequence[str]) -> tuple[tuple[str, str, int], ...]:
    """Sankey links over the episodes where members[0] fails: each episode goes down the chain while
    the next member fails too, then to the task's outcome."""
    ks = [cube.behaviors.index(m) for m in members]
    counts: dict[tuple[str, str], int] = {}
    for codes, failed, count in cube.cells:
        if codes[ks[0]] != FAILS:
            continue
        j = 0
        while j + 1 < len(ks) and codes[ks[j + 1]] == FAILS:
            counts[(members[j], members[j + 1])] = counts.get((members[j], members[j + 1]), 0) + count
            j += 1
        end = (members[j], TASK_FAILED if failed else TASK_SUCCEEDED)
        counts[end] = counts.get(end, 0) + count
    return tuple((s, t, c) for (s, t), c in counts.items())


def diagnose(cube: Cube, rule: EvidenceRule | None = None) -> Diagnosis:
    """The diagnosis of a cube under the evidence rule (see the module)."""
    rule = rule or EvidenceRule()
    order = order_behaviors(cube)
    all_edges = edges(cube, order, rule)
    candidates = []
    for b in order:
        up = _upstream(b, all_edges, rule)
        candidates.append(Candidate(b, cube.table(b), _strata(cube, b, up), up))
    evidence = tuple(weigh(candidates, rule))
    roots = tuple(e.behavior for e in evidence if e.carries_adjusted and not raised_by(e.behavior, all_edges))
    chains = []
    for r in roots:
        members = _chain_members(r, order, all_edges)
        chains.append(Chain(r, members, chain_links(cube, members)))
    strongest, needed = None, None
    if not roots:
        tested = [e for e in evidence if e.p_value is not None]
        positive = [e for e in tested if (e.difference or 0) > 0]
        if positive:  # among the behaviors that fail often enough to test, if any
            pool = [e for e in positive if e.enough] or positive
            strongest = min(pool, key=lambda e: (e.p_value, -(e.difference or 0)))
            needed = needed_episodes(strongest, len(tested), rule)
    return Diagnosis(rule, cube.n, cube.failed, order, evidence, all_edges, roots, tuple(chains), strongest, needed,
                     dict(cube.first_step))
