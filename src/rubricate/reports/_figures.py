"""The report's charts: pure functions of analysis data frames, each returning a plotly figure as a
plain dict (`{"data": [...], "layout": {...}}`), or None when there is nothing to draw.

plotly renders a small HTML-like markup in every text it draws (`<b>`, `<a href>`, `<br>`), so every
label that comes from data (item, behavior, cohort and run names) goes through `label`, which writes
`<`, `>` and `&` as entities: plotly shows them as the characters, never as markup.
"""

from __future__ import annotations

import html
from typing import Any

import polars as pl

PASS, FAIL, NA, ERROR = "#1f9d6b", "#d64545", "#9aa5b1", "#e0a100"
RUN_A, RUN_B = "#8a94a6", "#3867d6"
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", "size": 12,
        "color": "#1d2433"}
MAX_COHORTS = 40  # columns in the cohort heatmap; the table below it has them all
Figure = dict[str, Any]


def label(value: Any) -> str:
    """A data value as plotly text that shows literally (no markup, no links)."""
    return html.escape("" if value is None else str(value), quote=False)


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height, "font": FONT, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 16, "r": 20, "t": 30, "b": 40}, "hoverlabel": {"font": FONT},
    }
    layout.update(extra)
    return layout


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else frame.to_dicts()


def rates_figure(items: pl.DataFrame) -> Figure | None:
    """Pass rate of every item with its 95% Wilson interval (items without a pass or fail left out)."""
    rows = [r for r in _rows(items) if r.get("rate") is not None]
    if not rows:
        return None
    rows.reverse()  # plotly draws the first category at the bottom
    y = [label(r["item"]) for r in rows]
    x = [r["rate"] for r in rows]
    hover = [f"{label(r['item'])} ({label(r['behavior'])})<br>pass rate {_pct(r['rate'])} "
             f"[{_pct(r['lo'])}, {_pct(r['hi'])}]<br>{r['pass']:,} pass, {r['fail']:,} fail, {r['na']:,} na, "
             f"{r['error']:,} error" for r in rows]
    trace = {
        "type": "scatter", "mode": "markers", "x": x, "y": y, "hovertext": hover, "hoverinfo": "text",
        "marker": {"size": 10, "color": [_rate_colour(v) for v in x], "line": {"width": 1, "color": "#fff"}},
        "error_x": {"type": "data", "symmetric": False, "thickness": 2, "width": 4, "color": "#9aa5b1",
                    "array": [max(0.0, (r["hi"] or r["rate"]) - r["rate"]) for r in rows],
                    "arrayminus": [max(0.0, r["rate"] - (r["lo"] or r["rate"])) for r in rows]},
    }
    return {"data": [trace], "layout": _layout(
        70 + 30 * len(rows),
        xaxis={"range": [0, 1.02], "tickformat": ".0%", "title": {"text": "pass rate (95% Wilson interval)"},
               "gridcolor": "#e6e9ef", "zeroline": False},
        yaxis={"automargin": True, "type": "category"}, showlegend=False)}


def _rate_colour(rate: float) -> str:
    return PASS if rate >= 0.9 else ERROR if rate >= 0.7 else FAIL


def cooccurrence_figure(cooccurrence: pl.DataFrame | None) -> Figure | None:
    """Behaviors x behaviors: Jaccard overlap of the episodes where each fails (how often they fail
    together), with the count of episodes where both fail as the cell's text."""
    rows = _rows(cooccurrence)
    names = sorted({r["behavior_a"] for r in rows} | {r["behavior_b"] for r in rows})
    if len(names) < 2:
        return None
    pos = {n: k for k, n in enumerate(names)}
    z: list[list[float | None]] = [[None] * len(names) for _ in names]
    text = [[""] * len(names) for _ in names]
    for r in rows:
        a, b = pos[r["behavior_a"]], pos[r["behavior_b"]]
        if a == b:
            continue
        for i, j in ((a, b), (b, a)):
            z[i][j] = r["jaccard"]
            text[i][j] = f"{r['both_fail']:,}"
    labels = [label(n) for n in names]
    trace = {"type": "heatmap", "x": labels, "y": labels, "z": z, "text": text, "texttemplate": "%{text}",
             "zmin": 0, "zmax": 1, "colorscale": [[0, "#f4f6fa"], [1, FAIL]], "xgap": 2, "ygap": 2,
             "hovertemplate": "%{y} and %{x}<br>Jaccard %{z:.2f}<br>both fail in %{text} episodes<extra></extra>",
             "colorbar": {"title": {"text": "Jaccard"}, "thickness": 12}}
    side = 120 + 46 * len(names)
    return {"data": [trace], "layout": _layout(
        side, xaxis={"type": "category", "automargin": True, "tickangle": -30},
        yaxis={"type": "category", "automargin": True, "autorange": "reversed"})}


def largest_cohorts(cohorts: pl.DataFrame, n: int) -> pl.DataFrame:
    """The rows of the `n` cohorts with the most episodes (ties by name)."""
    top = cohorts.group_by("cohort").agg(pl.col("episodes").max()) \
        .sort(["episodes", "cohort"], descending=[True, False], nulls_last=True).head(n)
    return cohorts.join(top.select("cohort"), on="cohort", how="semi")


def cohort_figure(cohorts: pl.DataFrame | None) -> Figure | None:
    """Items x cohorts: pass rate in each cell (the cohorts with the most episodes, at most 40)."""
    if cohorts is not None and cohorts.height:
        cohorts = largest_cohorts(cohorts, MAX_COHORTS)
    rows = [r for r in _rows(cohorts) if r.get("cohort") is not None]
    if not rows:
        return None
    size: dict[str, int] = {}
    for r in rows:
        size[r["cohort"]] = max(size.get(r["cohort"], 0), r.get("episodes") or 0)
    keep = sorted(size, key=lambda c: (-size[c], c))[:MAX_COHORTS]
    keep.sort()
    items = list(dict.fromkeys(r["item"] for r in rows))
    ci, ii = {c: k for k, c in enumerate(keep)}, {c: k for k, c in enumerate(items)}
    z: list[list[float | None]] = [[None] * len(keep) for _ in items]
    text = [[""] * len(keep) for _ in items]
    for r in rows:
        if r["cohort"] in ci:
            n = r["pass"] + r["fail"]
            z[ii[r["item"]]][ci[r["cohort"]]] = r["rate"]
            text[ii[r["item"]]][ci[r["cohort"]]] = f"{_pct(r['rate'])}<br>({n:,})" if n else "-"
    trace = {"type": "heatmap", "x": [label(c) for c in keep], "y": [label(i) for i in items], "z": z,
             "text": text, "texttemplate": "%{text}", "zmin": 0, "zmax": 1, "xgap": 2, "ygap": 2,
             "colorscale": [[0, FAIL], [0.7, "#f7d488"], [1, PASS]],
             "hovertemplate": "%{y} in %{x}<br>pass rate %{z:.1%}<extra></extra>",
             "colorbar": {"title": {"text": "pass rate"}, "tickformat": ".0%", "thickness": 12}}
    return {"data": [trace], "layout": _layout(
        110 + 40 * len(items), xaxis={"type": "category", "automargin": True, "side": "top"},
        yaxis={"type": "category", "automargin": True, "autorange": "reversed"},
        margin={"l": 10, "r": 20, "t": 60, "b": 20})}


def compare_figure(rows: list[dict[str, Any]], baseline: str = "baseline",
                   candidate: str = "candidate") -> Figure | None:
    """Per item, baseline -> candidate rates joined by a line (a dumbbell chart); the line and the
    candidate's mark are green where the change is significantly better, red where worse (by what the
    rubric asks for, not by sign: `rows` are `_diagnosis.comparison_context` rows, pitfalls shown by
    their hit rate)."""
    rows = [r for r in rows if r.get("shown_baseline") is not None or r.get("shown_candidate") is not None]
    if not rows:
        return None
    rows = list(reversed(rows))
    y = [label(r["item"]) + (" (hit rate)" if r.get("pitfall") else "") for r in rows]
    tone = {"better": PASS, "worse": FAIL}
    data: list[dict[str, Any]] = []
    for r, name in zip(rows, y):
        if r.get("shown_baseline") is not None and r.get("shown_candidate") is not None:
            data.append({"type": "scatter", "mode": "lines", "x": [r["shown_baseline"], r["shown_candidate"]],
                         "y": [name, name], "hoverinfo": "skip", "showlegend": False,
                         "line": {"color": tone.get(r.get("mark") or "", "#c9ced8"), "width": 3}})

    def hover(r: dict[str, Any]) -> str:
        p = r.get("p_value")
        return (f"{label(r['item'])}{' (pitfall: hit rate)' if r.get('pitfall') else ''}<br>{label(baseline)} "
                f"(baseline): {_pct(r.get('shown_baseline'))} (n={r.get('baseline_n') or 0:,})<br>"
                f"{label(candidate)} (candidate): {_pct(r.get('shown_candidate'))} (n={r.get('candidate_n') or 0:,})"
                f"<br>change {_signed(r.get('shown_change'))}, {r.get('direction') or '-'}, "
                f"p={'-' if p is None else f'{p:.3g}'} ({label(r.get('test'))})")

    texts = [hover(r) for r in rows]
    data += [
        {"type": "scatter", "mode": "markers", "name": f"{label(baseline)} (baseline)",
         "x": [r.get("shown_baseline") for r in rows], "y": y, "marker": {"size": 11, "color": RUN_A},
         "hovertext": texts, "hoverinfo": "text"},
        {"type": "scatter", "mode": "markers", "name": f"{label(candidate)} (candidate)",
         "x": [r.get("shown_candidate") for r in rows], "y": y,
         "marker": {"size": 12, "symbol": "diamond", "color": [tone.get(r.get("mark") or "", RUN_B) for r in rows]},
         "hovertext": texts, "hoverinfo": "text"},
    ]
    return {"data": data, "layout": _layout(
        90 + 30 * len(rows), xaxis={"range": [0, 1.02], "tickformat": ".0%", "title": {"text": "rate"},
                                    "gridcolor": "#e6e9ef"},
        yaxis={"type": "category", "automargin": True}, legend={"orientation": "h", "y": 1.1, "x": 0})}


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:+.1f} pts"
