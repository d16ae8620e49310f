"""`rubricate analyze RUN`: behavior pass rates with intervals, attribution of task failures to
behaviors, the principal failure mode, and the most common failure patterns."""

from __future__ import annotations

import click
import polars as pl
from rich.text import Text

from ..analyzer import Analysis, analyze
from ._app import app
from ._frames import frame_table, interval
from ._output import cohort_table, console, json_out, plural

PATTERNS_SHOWN = 5


def print_analysis(a: Analysis, threshold: float) -> None:
    rubric = a.run.info.get("rubric", {})
    episodes = a.run.info.get("counts", {}).get("episodes", 0)
    outcome = "none" if a.outcome is None else f"reward < {threshold:g}" if a.outcome == "reward" \
        else f"{a.outcome} fails"
    console.print(f"{rubric.get('id', '?')} {rubric.get('version', '')} on {plural(episodes, 'episode')}; "
                  f"task failure: {outcome}", markup=False)
    intervals = [interval(lo, hi) for lo, hi in zip(a.behaviors["lo"], a.behaviors["hi"])]
    behaviors = a.behaviors.select("behavior", "pass", "fail", "na", "error", "rate") \
        .with_columns(pl.Series("95% interval", intervals, dtype=pl.String))
    console.print(frame_table(behaviors, "Behaviors (pass rate; na and error not in rates)", percent=("rate",),
                              headers={"rate": "pass rate"}))
    if not a.attribution.is_empty():
        lift = ["-" if x is None else f"{x:.2f}x" for x in a.attribution["lift"]]
        console.print(frame_table(
            a.attribution.select("rank", "behavior", "episodes_failing", "task_fail_rate_when_fails",
                                 "task_fail_rate_when_passes", "share_of_failed_episodes")
            .insert_column(5, pl.Series("lift", lift, dtype=pl.String)),
            "Attribution of task failures (ranked by excess failures)",
            percent=("task_fail_rate_when_fails", "task_fail_rate_when_passes", "share_of_failed_episodes"),
            headers={"episodes_failing": "fails in", "task_fail_rate_when_fails": "task fails if it fails",
                     "task_fail_rate_when_passes": "if it passes",
                     "share_of_failed_episodes": "share of failed tasks"}))
    if a.principal:
        console.print(Text(a.principal, style="bold"))
    if not a.patterns.is_empty():
        title = f"Top failure patterns (of {a.patterns['episodes'].sum():,} episodes with a failing behavior)"
        console.print(frame_table(a.patterns, title, percent=("share",), max_rows=PATTERNS_SHOWN))
    if a.cohorts is not None:
        console.print(cohort_table(a.cohorts.rename({"rate": "pass_rate"}), f"Pass rate by {a.by}"))


@app.command("analyze")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--by", default=None, metavar="KEY", help="Break rates down by an episode metadata key (e.g. model).")
@click.option("--outcome", default=None, metavar="reward|ITEM",
              help="What task failure is: 'reward' (reward < --threshold) or an item whose fail is a task "
                   "failure (default: reward if episodes have one, else answer_correct if the rubric has it).")
@click.option("--threshold", type=float, default=1.0, show_default=True,
              help="With --outcome reward: a reward below this is a task failure.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole analysis as JSON.")
def analyze_command(run_dir: str, by: str | None, outcome: str | None, threshold: float, as_json: bool) -> None:
    """Which behaviors fail, how often, and which of them explains task failures."""
    a = analyze(run_dir, by=by, outcome=outcome, threshold=threshold)
    if as_json:
        json_out({**a.to_dict(), "threshold": threshold})
        return
    print_analysis(a, threshold)
