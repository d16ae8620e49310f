"""`rubricate compare BASELINE CANDIDATE`: item pass rates of two runs, baseline -> candidate, with a
paired test on tasks both runs have (McNemar, exact) or a two-proportion z-test; refuses runs scored
with different rubrics unless --force, and warns when the rubric changed between them."""

from __future__ import annotations

import click
import polars as pl
from rich.markup import escape
from rich.table import Table

from ..analyzer import comparability, compare, matched_pairs, open_run
from ._app import app
from ._output import console, err_console, json_out, plural

MARK = {"better": "[green]better[/]", "worse": "[red]worse[/]", "same": "same"}


def shown_rate(rate: float | None, pitfall: bool) -> float | None:
    """A pitfall is shown by its hit rate (1 - pass rate): lower is better."""
    return None if rate is None else (1.0 - rate if pitfall else rate)


@app.command("compare")
@click.argument("baseline", metavar="BASELINE", type=click.Path(file_okay=False))
@click.argument("candidate", metavar="CANDIDATE", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Compare runs scored with different rubrics anyway.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(baseline: str, candidate: str, force: bool, as_json: bool) -> None:
    """Pass rate of every item, baseline -> candidate: the change, better or worse, and its p-value."""
    a, b = open_run(baseline), open_run(candidate)
    frame = compare(a, b, force=force)
    warnings = comparability(a, b)
    pairs, tasks = matched_pairs(a, b)
    for w in warnings:
        err_console.print(f"warning: {w}", markup=False)
    if as_json:
        json_out({"baseline": a.path, "candidate": b.path, "matched_pairs": pairs, "matched_tasks": tasks,
                  "warnings": warnings, "items": frame.to_dicts()})
        return

    console.print(f"baseline {a.path} -> candidate {b.path}: {plural(pairs, 'matched episode pair')} on "
                  f"{plural(tasks, 'task')}", markup=False)
    console.print(comparison_table(frame))
    console.print("better/worse: the change in what the rubric asks for (a pitfall's hit rate falling is better), "
                  "where p < 0.05. mcnemar-exact: paired on tasks both runs have, rates over those pairs; "
                  "z-test: all episodes.", markup=False)


def comparison_table(frame: pl.DataFrame) -> Table:
    table = Table(title="pass rate (pass + fail), baseline -> candidate", title_justify="left")
    widest = max([len(i) + (20 if p else 0) for i, p in zip(frame["item"], frame["pitfall"])] or [4])
    for name in ("item", "behavior", "baseline", "candidate", "change", "p < 0.05", "p-value", "test",
                 "matched tasks"):
        table.add_column(name, justify="left" if name in ("item", "behavior", "p < 0.05", "test") else "right",
                         min_width=min(40, widest) if name == "item" else None)
    for r in frame.iter_rows(named=True):
        pitfall = bool(r["pitfall"])
        change = r["change"]
        table.add_row(
            escape(r["item"] + (" (pitfall: hit rate)" if pitfall else "")), escape(r["behavior"]),
            _side(r["baseline_rate"], r["baseline_n"], pitfall), _side(r["candidate_rate"], r["candidate_n"], pitfall),
            "-" if change is None else f"{(-change if pitfall else change) * 100:+.1f} pts",
            MARK.get(r["direction"] or "", "-") if r["p_value"] is not None and r["p_value"] < 0.05 else "-",
            "-" if r["p_value"] is None else f"{r['p_value']:.2g}", r["test"] or "-", f"{r['matched_tasks']:,}")
    return table


def _side(rate: float | None, n: int, pitfall: bool) -> str:
    shown = shown_rate(rate, pitfall)
    return f"{'-' if shown is None else f'{shown:.1%}'} ({n:,})"
