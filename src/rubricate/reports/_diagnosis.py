"""The report's diagnosis sections, as data and figures: what drives task failure (the attribution
under the evidence rule, the chain from each root as a Sankey), behaviors over training with the
reward-hacking check, and the comparison of a baseline with a candidate. Every number comes from the
analysis API (`analyze`, `compare`); nothing here decides a claim.
"""

from __future__ import annotations

from typing import Any

from ..analyzer import Analysis, Chain, Run, comparability, compare, matched_pairs
from ._figures import FAIL, PASS, Figure, _layout, _pct, _rows, label

ROOT, SYMPTOM, OTHER = FAIL, "#e88b2e", "#8a94a6"
TASK_FAILED, TASK_SUCCEEDED = Chain.FAILED, Chain.SUCCEEDED
LINES = ["#3867d6", "#d64545", "#1f9d6b", "#e0a100", "#7b5cd6", "#17a2b8", "#8a94a6", "#c2185b", "#5d4037"]


def diagnosis_context(a: Analysis) -> dict[str, Any]:
    """The attribution section: the rule in words, the rows, the significant A -> B tests, the
    chains as text, and the outcome items with their pass rates."""
    d = a.diagnosis
    items = {r["item"]: r for r in _rows(a.items)}
    edges = [r for r in _rows(a.edges) if r.get("significant")]
    return {
        "rule": d.rule.describe() if d else None, "correction": d.rule.correction_name if d else "",
        "rows": _rows(a.attribution), "edges": edges, "needed": d.needed if d else None,
        "chains": [chain_text(c.members, c.links) for c in d.chains] if d else [],
        "outcome_items": [{"item": i, "rate": items.get(i, {}).get("rate"),
                           "n": (items.get(i, {}).get("pass") or 0) + (items.get(i, {}).get("fail") or 0)}
                          for i in a.outcome_items],
    }


def chain_text(members: tuple[str, ...], links: tuple[tuple[str, str, int], ...]) -> str:
    """'schema-inspection (52) -> error-recovery (30) -> task failed (20), task succeeded (32)'."""
    inflow = {members[0]: sum(c for s, _, c in links if s == members[0])}
    inflow.update({t: c for _, t, c in links if t in members})
    ends = {t: sum(c for _, tt, c in links if tt == t) for t in (TASK_FAILED, TASK_SUCCEEDED)}
    steps = " \u2192 ".join(f"{m} ({inflow.get(m, 0):,})" for m in members)
    return f"{steps} \u2192 {TASK_FAILED} ({ends[TASK_FAILED]:,}), {TASK_SUCCEEDED} ({ends[TASK_SUCCEEDED]:,})"


def attribution_figure(a: Analysis) -> Figure | None:
    """Per behavior: the difference in task-failure rate when it fails against when it passes, with
    its 95% interval (filled: named by the evidence rule), and the same with the behaviors upstream
    held fixed (a hollow diamond)."""
    rows = [r for r in _rows(a.attribution) if r.get("difference") is not None]
    if not rows:
        return None
    rows.sort(key=lambda r: r.get("rank") or 0, reverse=True)
    y = [label(r["behavior"]) for r in rows]

    def hover(r: dict[str, Any]) -> str:
        return (f"{label(r['behavior'])} ({label(r['role'])})<br>task fails {_pct(r['task_fail_rate_when_fails'])} "
                f"when it fails, {_pct(r['task_fail_rate_when_passes'])} when it passes<br>difference "
                f"{_pts(r['difference'])} [{_pts(r['difference_lo'])}, {_pts(r['difference_hi'])}], Fisher p "
                f"{_p(r['p_value'])}, adjusted {_p(r['p_adjusted'])}")

    marginal = {"type": "scatter", "mode": "markers", "name": "difference (95% CI)", "y": y,
                "x": [r["difference"] for r in rows], "hovertext": [hover(r) for r in rows], "hoverinfo": "text",
                "marker": {"size": 11, "color": [FAIL if r["supported"] else OTHER for r in rows]},
                "error_x": {"type": "data", "symmetric": False, "thickness": 2, "width": 4, "color": "#9aa5b1",
                            "array": [(r["difference_hi"] or r["difference"]) - r["difference"] for r in rows],
                            "arrayminus": [r["difference"] - (r["difference_lo"] or r["difference"]) for r in rows]}}
    held = [r for r in rows if r.get("adjusted_for") and r.get("adjusted_difference") is not None]
    data = [marginal]
    if held:
        data.append({"type": "scatter", "mode": "markers", "name": "with upstream held fixed",
                     "y": [label(r["behavior"]) for r in held], "x": [r["adjusted_difference"] for r in held],
                     "hovertext": [f"{label(r['behavior'])} with {label(', '.join(r['adjusted_for']))} held fixed: "
                                   f"{_pts(r['adjusted_difference'])} [{_pts(r['adjusted_lo'])}, "
                                   f"{_pts(r['adjusted_hi'])}], adjusted p {_p(r['adjusted_p_adjusted'])}"
                                   for r in held], "hoverinfo": "text",
                     "marker": {"size": 10, "symbol": "diamond-open", "color": "#1d2433"}})
    return {"data": data, "layout": _layout(
        90 + 40 * len(rows), xaxis={"range": [-1, 1], "tickformat": "+.0%", "zeroline": True, "zerolinewidth": 2,
                                    "title": {"text": "task-failure rate when it fails minus when it passes"},
                                    "gridcolor": "#e6e9ef"},
        yaxis={"automargin": True, "type": "category"}, legend={"orientation": "h", "y": 1.12, "x": 0})}


def chain_figure(a: Analysis) -> Figure | None:
    """The chains from each root as a Sankey: episodes where the root fails, down the chain while the
    next behavior fails too, to the task's outcome."""
    d = a.diagnosis
    if d is None or not d.chains:
        return None
    nodes: list[str] = []
    for c in d.chains:
        nodes += [m for m in c.members if m not in nodes]
    nodes += [TASK_FAILED, TASK_SUCCEEDED]
    index = {n: k for k, n in enumerate(nodes)}
    links: dict[tuple[int, int], int] = {}
    for c in d.chains:
        for s, t, count in c.links:
            links[(index[s], index[t])] = links.get((index[s], index[t]), 0) + count
    roots = set(d.roots)
    colour = [ROOT if n in roots else FAIL if n == TASK_FAILED else PASS if n == TASK_SUCCEEDED else SYMPTOM
              for n in nodes]
    inflow = [sum(c for (s, t), c in links.items() if t == k) or sum(c for (s, t), c in links.items() if s == k)
              for k in range(len(nodes))]
    trace = {"type": "sankey", "arrangement": "snap", "valueformat": ",d", "valuesuffix": " episodes",
             "node": {"label": [f"{label(n)} ({c:,})" for n, c in zip(nodes, inflow)], "color": colour, "pad": 18,
                      "thickness": 16,
                      "line": {"width": 0}},
             "link": {"source": [s for s, _ in links], "target": [t for _, t in links], "value": list(links.values()),
                      "color": ["rgba(214,69,69,0.25)" if nodes[t] == TASK_FAILED else "rgba(138,148,166,0.25)"
                                for _, t in links]}}
    return {"data": [trace], "layout": _layout(120 + 60 * len(nodes), margin={"l": 10, "r": 10, "t": 20, "b": 10})}


def training_context(a: Analysis) -> dict[str, Any] | None:
    t = a.training
    if t is None:
        return None
    return {"key": t.key, "reward": t.reward_name, "outcome": t.outcome_name, "sentences": list(t.sentences),
            "changes": _rows(t.changes), "hacking": t.hacking.to_dict() if t.hacking else None}


def training_figure(a: Analysis) -> Figure | None:
    """Each behavior's pass rate per step bucket with its 95% Wilson interval."""
    t = a.training
    if t is None or t.rates.is_empty():
        return None
    data = []
    for k, behavior in enumerate(dict.fromkeys(t.rates["behavior"].to_list())):
        rows = [r for r in _rows(t.rates) if r["behavior"] == behavior and r["rate"] is not None]
        if not rows:
            continue
        data.append({"type": "scatter", "mode": "lines+markers", "name": label(behavior),
                     "x": [r["step_lo"] for r in rows], "y": [r["rate"] for r in rows],
                     "line": {"color": LINES[k % len(LINES)], "width": 2},
                     "hovertext": [f"{label(behavior)} at {label(t.key)} {r['step_lo']:g}: {_pct(r['rate'])} "
                                   f"[{_pct(r['lo'])}, {_pct(r['hi'])}] of {r['pass'] + r['fail']:,}" for r in rows],
                     "hoverinfo": "text",
                     "error_y": {"type": "data", "symmetric": False, "thickness": 1.5, "width": 3,
                                 "array": [r["hi"] - r["rate"] for r in rows],
                                 "arrayminus": [r["rate"] - r["lo"] for r in rows]}})
    if not data:
        return None
    return {"data": data, "layout": _layout(
        380, xaxis={"title": {"text": label(t.key)}, "gridcolor": "#e6e9ef"},
        yaxis={"range": [0, 1.02], "tickformat": ".0%", "title": {"text": "pass rate (95% interval)"},
               "gridcolor": "#e6e9ef", "automargin": True}, legend={"orientation": "h", "y": 1.15, "x": 0})}


def reward_figure(a: Analysis) -> Figure | None:
    """The optimised reward's mean and the outcome's pass rate per step bucket; the hacking onset as a
    dashed line when flagged."""
    t = a.training
    if t is None or t.reward_name is None:
        return None
    rows = _rows(t.reward)
    data = [{"type": "scatter", "mode": "lines+markers", "name": f"mean {label(t.reward_name)}",
             "x": [r["step_lo"] for r in rows], "y": [r["mean_reward"] for r in rows], "line": {"color": "#3867d6"}}]
    if t.outcome_name:
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"{label(t.outcome_name)} pass rate",
                     "x": [r["step_lo"] for r in rows], "y": [r["outcome_rate"] for r in rows],
                     "line": {"color": "#1f9d6b", "dash": "dot"}})
    shapes = []
    if t.hacking is not None and t.hacking.flagged and t.hacking.onset_step is not None:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": t.hacking.onset_step,
                       "x1": t.hacking.onset_step, "y0": 0, "y1": 1, "line": {"color": FAIL, "dash": "dash"}})
    return {"data": data, "layout": _layout(
        300, shapes=shapes, xaxis={"title": {"text": label(t.key)}, "gridcolor": "#e6e9ef"},
        yaxis={"title": {"text": "reward / pass rate"}, "gridcolor": "#e6e9ef", "automargin": True},
        legend={"orientation": "h", "y": 1.2, "x": 0})}


def comparison_context(baseline: Run, candidate: Run, force: bool = False) -> dict[str, Any]:
    """baseline -> candidate: the items (runs scored with different rubric ids only with `force`; the
    warnings name what differs), the warnings, and the matched episode pairs and tasks. A pitfall
    (weight < 0) is shown by its hit rate, 1 - pass rate, so that its fall reads as better."""
    frame = compare(baseline, candidate, force=force)
    pairs, tasks = matched_pairs(baseline, candidate)
    rows = []
    for r in _rows(frame):
        pitfall = bool(r["pitfall"])
        flip = (lambda v: None if v is None else 1.0 - v) if pitfall else (lambda v: v)
        shown_change = None if r["change"] is None else (-r["change"] if pitfall else r["change"])
        significant = r["p_value"] is not None and r["p_value"] < 0.05
        rows.append({**r, "shown_baseline": flip(r["baseline_rate"]), "shown_candidate": flip(r["candidate_rate"]),
                     "shown_change": shown_change, "significant": significant,
                     "mark": r["direction"] if significant and r["direction"] in ("better", "worse") else ""})
    return {"rows": rows, "warnings": comparability(baseline, candidate), "pairs": pairs,
            "tasks": tasks}


def _pts(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:+.0f} pts"


def _p(p: float | None) -> str:
    return "-" if p is None else "<1e-12" if p < 1e-12 else f"{p:.2g}"

