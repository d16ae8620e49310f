"""`rubricate summary RUN`: per-item verdict counts and pass rates, and the run's load issues."""

from __future__ import annotations

import click
from rich.markup import escape

from ..analyzer import Run, open_run
from ._app import app
from ._judge import print_judge
from ._output import cohort_table, console, json_out, plural, summary_table


def print_summary(run: Run, *, by: str | None = None, issues_shown: int = 10) -> None:
    info = run.info
    counts = info["counts"]
    rubric = info["rubric"]
    title = f"{rubric['id']} {rubric['version']} ({rubric['hash']}) on {plural(counts['episodes'], 'episode')}"
    if by:
        console.print(cohort_table(run.summary_rows(by=by), title + f", pass rate by {by}"))
    else:
        console.print(summary_table(run.summary_rows(), title))
    print_flags(run)
    if counts["issues"]:
        console.print(f"[bold]{plural(counts['issues'], 'load issue')}[/] (records that could not be read; "
                      f"all in {escape(run.issues_path)}):")
        for issue in run.issues(limit=issues_shown):
            console.print(f"  {issue}", markup=False)
        if counts["issues"] > issues_shown:
            console.print(f"  ... and {counts['issues'] - issues_shown:,} more")
    else:
        console.print("no load issues")
    print_judge(info.get("judge"), console)
    t = info["timings"]
    console.print(f"scored in {t['seconds']:.2f}s with {plural(t['workers'], 'worker')} "
                  f"({t['episodes_per_s'] or 0:,.0f} episodes/s, {t['mb_per_s'] or 0:.1f} MB/s)")
    kernel = info.get("kernel")
    if kernel is not None and not kernel.get("used"):
        console.print(f"native kernel off: {escape(kernel.get('why', 'unknown'))} (every episode scored in Python)")
    elif kernel is not None and kernel.get("python"):
        console.print(f"native kernel partial: {escape(kernel.get('why', 'unknown'))}")
    for note in info.get("notes", ()):
        console.print(f"note: {escape(note)}")


def print_flags(run: Run) -> None:
    """Items that are na in every episode (with their na reason), and error verdicts grouped by reason."""
    for row in run.na_everywhere():
        console.print(f"[bold]note:[/] {escape(row['item'])} is na in all {row['episodes']:,} episodes "
                      f"({escape(row['reason'] or 'no reason')!s}"
                      f"{'' if row['reason_count'] == row['episodes'] else ', and other reasons'}): "
                      f"check its parameters (`rubricate rubrics show`)")
    reasons = run.error_reasons()
    if reasons:
        console.print("[bold]error verdicts[/] by item and reason (a check that raised, or a judge that failed):")
    for row in reasons:
        more = f" (+{row['reasons'] - 3} more reasons)" if row["reasons"] > 3 and row is _last_of(reasons, row) else ""
        console.print(f"  {escape(row['item'])}: {row['count']:,} x {escape(row['reason'] or '')} "
                      f"(e.g. {escape(row['example'])}){more}")


def _last_of(rows: list[dict], row: dict) -> dict:
    return [r for r in rows if r["item"] == row["item"]][-1]


@app.command("summary")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--by", default=None, metavar="KEY", help="Break pass rates down by an episode metadata key "
              "(e.g. model, run) or column (task_id, source_file, format).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary_command(run_dir: str, by: str | None, as_json: bool) -> None:
    """Per item: pass / fail / na / error counts and pass rates (na and error left out of rates)."""
    run = open_run(run_dir)
    if as_json:
        json_out({"run": run.info, "items": run.summary_rows(by=by),
                  "na_everywhere": run.na_everywhere(), "error_reasons": run.error_reasons(),
                  "issues": [i for i in run.issues(limit=100)]})
        return
    print_summary(run, by=by)
