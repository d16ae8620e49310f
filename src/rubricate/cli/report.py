"""`rubricate report RUN --out report.html`: the self-contained HTML failure report."""

from __future__ import annotations

from typing import Any

import click

from ..reports import write_report
from ._app import app
from .analyze import evidence_options, rule_from


@app.command("report")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), metavar="FILE.html",
              help="Where to write the report (one self-contained HTML file).")
@click.option("--compare", "compare_dir", default=None, metavar="BASELINE", type=click.Path(file_okay=False),
              help="A baseline run to compare RUN with, item by item: RUN is the candidate (e.g. `report "
                   "AFTER_RL --compare BEFORE_RL`).")
@click.option("--force", is_flag=True, help="With --compare: compare runs scored with different rubrics anyway.")
@click.option("--by", default=None, metavar="KEY", help="Break results down by an episode metadata key "
              "(e.g. model, checkpoint).")
@click.option("--outcome", default=None, metavar="ITEM",
              help="What counts as task success for attribution (default: the analysis's choice).")
@click.option("--sample", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Episodes per item and verdict embedded in the episode browser.")
@click.option("--title", default=None, help="The report's title.")
@click.option("--over", default=None, metavar="KEY",
              help="The episode metadata key that orders episodes in training (default: step, checkpoint, ... "
                   "when episodes have one): behaviors over training and the reward-hacking check.")
@click.option("--no-redact", is_flag=True, help="Keep secrets, emails and phone numbers in the report "
              "(redacted by default: a report is made to be shared).")
@evidence_options
def report_command(run_dir: str, out: str, compare_dir: str | None, force: bool, by: str | None, outcome: str | None,
                   sample: int, title: str | None, over: str | None, no_redact: bool, **rule: Any) -> None:
    """Write the HTML failure report of RUN: behaviors, what drives task failure (only with evidence),
    cohorts, behaviors over training, comparison with a baseline, guidance and an episode browser, in
    one file that opens offline."""
    path = write_report(run_dir, out, compare=compare_dir, by=by, outcome=outcome, sample=sample, title=title,
                        rule=rule_from(rule), over=over, force=force, redact=not no_redact)
    size = path.stat().st_size
    click.echo(f"report written to {path} ({size / 1e6:.1f} MB)", err=True)
