"""`rubricate compare RUN_A RUN_B`: item pass rates of two runs side by side, with a paired test on
tasks both runs have (McNemar, exact) or a two-proportion z-test."""

from __future__ import annotations

import click
import polars as pl

from ..analyzer import compare, open_run
from ._app import app
from ._frames import frame_table
from ._output import console, json_out


@app.command("compare")
@click.argument("run_a", metavar="RUN_A", type=click.Path(file_okay=False))
@click.argument("run_b", metavar="RUN_B", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(run_a: str, run_b: str, as_json: bool) -> None:
    """Pass rate of every item in RUN_A and RUN_B, the change (B - A) and its p-value."""
    a, b = open_run(run_a), open_run(run_b)
    frame = compare(a, b)
    if as_json:
        json_out({"run_a": a.path, "run_b": b.path, "items": frame.to_dicts()})
        return
    def side(rate: float | None, n: int) -> str:
        return f"{'-' if rate is None else f'{rate:.1%}'} ({n:,})"

    shown = pl.DataFrame({
        "item": frame["item"], "behavior": frame["behavior"],
        "A": [side(r, n) for r, n in zip(frame["rate_a"], frame["n_a"])],
        "B": [side(r, n) for r, n in zip(frame["rate_b"], frame["n_b"])],
        "delta": ["-" if d is None else f"{d * 100:+.1f} pp" for d in frame["delta"]],
        "p-value": ["-" if p is None else f"{p:.2g}" for p in frame["p_value"]],
        "test": [t or "-" for t in frame["test"]], "matched tasks": frame["matched_tasks"],
    }, schema_overrides={"item": pl.String, "behavior": pl.String})
    console.print(frame_table(shown, f"pass rate (pass + fail): A = {a.path}, B = {b.path}"))
    console.print("mcnemar-exact: paired on tasks both runs have, rates over those pairs; z-test: all episodes.",
                  markup=False)
