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


def attribution_figure(attribution: pl.DataFrame | None) -> Figure | None:
    """For each behavior (by rank): how often the task fails when the behavior fails, and when it
    passes; the gap between the two bars is what the behavior is worth."""
    rows = [r for r in _rows(attribution) if r.get("task_fail_rate_when_fails") is not None]
    if not rows:
        return None
    rows.sort(key=lambda r: r.get("rank") or 0, reverse=True)
    y = [label(r["behavior"]) for r in rows]
    hover = [f"{label(r['behavior'])}: fails in {r['episodes_failing']:,} episodes<br>"
             f"task fails {_pct(r['task_fail_rate_when_fails'])} when it fails, "
             f"{_pct(r['task_fail_rate_when_passes'])} when it passes<br>lift "
             f"{_num(r.get('lift'))}, {_pct(r.get('share_of_failed_episodes'))} of failed episodes"
             for r in rows]
    bars = [  # drawn bottom-up within each group: "failed" (red) on top
        {"type": "bar", "orientation": "h", "name": "behavior passed", "y": y, "marker": {"color": PASS},
         "x": [r["task_fail_rate_when_passes"] for r in rows], "hovertext": hover, "hoverinfo": "text"},
        {"type": "bar", "orientation": "h", "name": "behavior failed", "y": y, "marker": {"color": FAIL},
         "x": [r["task_fail_rate_when_fails"] for r in rows], "hovertext": hover, "hoverinfo": "text"},
    ]
    return {"data": bars, "layout": _layout(
        90 + 44 * len(rows), barmode="group",
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": {"text": "task failure rate"}, "gridcolor": "#e6e9ef"},
        yaxis={"automargin": True, "type": "category"},
        legend={"orientation": "h", "y": 1.08, "x": 0, "traceorder": "reversed"})}


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


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


def compare_figure(comparison: pl.DataFrame | None, name_a: str = "A", name_b: str = "B") -> Figure | None:
    """Per item, run A's and run B's pass rates joined by a line (a dumbbell chart)."""
    rows = [r for r in _rows(comparison) if r.get("rate_a") is not None or r.get("rate_b") is not None]
    if not rows:
        return None
    rows.reverse()
    y = [label(r["item"]) for r in rows]
    line_x: list[float | None] = []
    line_y: list[str | None] = []
    for r, name in zip(rows, y):
        if r.get("rate_a") is not None and r.get("rate_b") is not None:
            line_x += [r["rate_a"], r["rate_b"], None]
            line_y += [name, name, None]

    def hover(r: dict[str, Any]) -> str:
        p = r.get("p_value")
        return (f"{label(r['item'])}<br>{label(name_a)}: {_pct(r.get('rate_a'))} (n={r.get('n_a') or 0:,})<br>"
                f"{label(name_b)}: {_pct(r.get('rate_b'))} (n={r.get('n_b') or 0:,})<br>"
                f"delta {_signed(r.get('delta'))}, p={'-' if p is None else f'{p:.3g}'} ({label(r.get('test'))})")

    texts = [hover(r) for r in rows]
    data = [
        {"type": "scatter", "mode": "lines", "x": line_x, "y": line_y, "hoverinfo": "skip", "showlegend": False,
         "line": {"color": "#c9ced8", "width": 3}},
        {"type": "scatter", "mode": "markers", "name": label(name_a), "x": [r.get("rate_a") for r in rows], "y": y,
         "marker": {"size": 11, "color": RUN_A}, "hovertext": texts, "hoverinfo": "text"},
        {"type": "scatter", "mode": "markers", "name": label(name_b), "x": [r.get("rate_b") for r in rows], "y": y,
         "marker": {"size": 11, "color": RUN_B, "symbol": "diamond"}, "hovertext": texts, "hoverinfo": "text"},
    ]
    return {"data": data, "layout": _layout(
        90 + 30 * len(rows), xaxis={"range": [0, 1.02], "tickformat": ".0%", "title": {"text": "pass rate"},
                                    "gridcolor": "#e6e9ef"},
        yaxis={"type": "category", "automargin": True}, legend={"orientation": "h", "y": 1.1, "x": 0})}


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:+.1f} pts"
