"""`rubricate guide RUN --out guide.jsonl`: the behaviors to train next, with examples, as JSONL for a
data-generation pipeline."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from ..analyzer import guide, open_run, write_guide
from ._app import app
from ._output import REDACT, console, json_out, plural
from .analyze import evidence_options, rule_from


@app.command("guide")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--out", "-o", default=None, type=click.Path(dir_okay=False),
              help="JSONL to write: one line a (behavior, example task) with task_id, prompt, behavior, "
                   "evidence, cohort, recommendation.")
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True, help="Behaviors to cover.")
@click.option("--examples", type=click.IntRange(min=0), default=5, show_default=True,
              help="Failing (and passing) examples a behavior.")
@click.option("--by", default=None, metavar="KEY", help="Also say which cohorts of this metadata key fail most.")
@click.option("--outcome", default=None, metavar="reward|ITEM", help="What task failure is (see `analyze`).")
@click.option("--threshold", type=float, default=1.0, show_default=True,
              help="With --outcome reward: a reward below this is a task failure.")
@evidence_options
@click.option("--json", "as_json", is_flag=True, help="Print the guide entries as JSON.")
@click.option("--no-redact", is_flag=True, help="Keep secrets, emails and phone numbers in the guide and the "
              "output (redacted by default).")
def guide_command(run_dir: str, out: str | None, top: int, examples: int, by: str | None, outcome: str | None,
                  threshold: float, as_json: bool, no_redact: bool, **rule: Any) -> None:
    """The behaviors to work on first, where they fail, examples, and what data to generate; what the
    evidence says of each (the same rule as `analyze`)."""
    entries = guide(open_run(run_dir), top=top, examples=examples, by=by, outcome=outcome, threshold=threshold,
                    rule=rule_from(rule))
    if no_redact:
        REDACT["on"] = False
    written = write_guide(entries, out, redact=not no_redact) if out else None
    if as_json:
        json_out(entries)
    else:
        if not entries:
            console.print("no behavior fails in this run: nothing to guide")
        for k, e in enumerate(entries, 1):
            console.print(f"[bold]{k}. {escape(e.behavior)}[/] ({escape(', '.join(e.items))}; {escape(e.role)}): "
                          f"{len(e.failing)} failing, {len(e.passing)} passing examples", highlight=False)
            console.print(f"   {e.recommendation}", markup=False)
            console.print(f"   Evidence: {e.evidence}", markup=False)
    if out:
        click.echo(f"wrote {plural(written or 0, 'line')} to {out}", err=True)
