"""`rubricate score`: trace files or directories to a run directory of verdicts."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from ._app import app
from ._judge import judge_config, judge_options
from . import EXIT_FAILED, EXIT_THRESHOLD

if TYPE_CHECKING:
    from ..analyzer import Run
    from ..scoring import RunSummary

# Imports here stay light: `score` first starts counting the lines of large inputs on an idle core
# (rubricate.scoring.start_line_index), then imports the scoring stack.


class PathOrURL(click.ParamType):
    """A local path that exists, or a URL (s3://bucket/prefix, any fsspec file system) taken as given."""

    name = "path"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not os.path.exists(value):
            from ..traces.remote import is_remote

            if is_remote(value):
                return value
        return click.Path(exists=True).convert(value, param, ctx)


@contextmanager
def _no_gc_while_starting() -> Iterator[None]:
    """No garbage collection while the scoring stack is imported and the rubric loaded; then freeze
    what they made (gc.freeze): ~80k objects that live as long as the process, which the collector
    would otherwise walk again and again, and whose pages forked workers would copy when it does
    (the recipe of the gc.freeze documentation). Measured: the imports take ~18 ms less, and the
    full collection that used to fall just before the workers start (15-35 ms) is gone."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@app.command("score")
@click.argument("paths", nargs=-1, required=True, type=PathOrURL())
@click.option("--rubric", "-r", "rubric_ref", required=True,
              help="Built-in rubric name (see `rubricate rubrics list`) or path of a rubric .toml file.")
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False),
              help="Run directory to write (run.json, episodes/, verdicts/, issues/), or a URL "
                   "(s3://bucket/run). An earlier run there is replaced when the new one is complete.")
@click.option("--format", "-f", "format_", default=None, help="Read every file in this format (no detection).")
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores; small inputs use one). With --engine ray: the CPUs "
                   "of the cluster started for the run, or the tasks in flight on an existing one.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where to score: this machine's cores, or Ray tasks on a cluster (pip install "
                   "'rubricate[ray]').")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="The Ray cluster for --engine ray (auto, HOST:PORT, ray://HOST:10001); default "
                   "RAY_ADDRESS, else a cluster of this machine started for the run.")
@click.option("--checks", "checks_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file with @check functions for custom items (repeatable).")
@click.option("--strict", is_flag=True, help="Stop at the first load issue, and fail when a check raised or a "
              "judge failed (error verdicts): exit code 1.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same command from its "
              "finished parts.")
@click.option("--force", is_flag=True, help="Write into --out even though it is a non-empty directory that is "
              "not a run (its files are kept).")
@click.option("--redact", "redact", flag_value="all", help="Also redact secrets, emails and phone numbers in the "
              "stored episode texts, metadata and verdict reasons (load-issue reasons are redacted by default).")
@click.option("--no-redact", "redact", flag_value="none", help="Redact nothing, not even load-issue reasons and "
              "console output.")
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary.")
@judge_options
def score_command(paths: tuple[str, ...], rubric_ref: str, out: str, format_: str | None, workers: int | None,
                  engine: str, ray_address: str | None, checks_files: tuple[str, ...], strict: bool, resume: bool,
                  force: bool, redact: str | None, no_progress: bool, quiet: bool, **judge_opts: object) -> None:
    """Score every episode under PATHS with a rubric and write a run directory.

    Judge items (kind = "judge") are asked of --judge-model; without it they are skipped.
    """
    from ..scoring import start_line_index, stop_line_index

    if engine == "local":
        start_line_index(paths, workers)
        click.get_current_context().call_on_close(stop_line_index)  # also when the command fails
    with _no_gc_while_starting():
        from ..rubrics import load_rubric
        from ..scoring import score_run
        from ._output import REDACT, wants_progress

        judge = judge_config(judge_opts)
        rubric = load_rubric(rubric_ref, checks=checks_files)
    if ray_address and engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray")
    if redact == "none":
        REDACT["on"] = False
    kwargs = dict(workers=workers, format=format_, strict=strict, checks_files=checks_files, judge=judge,
                  resume=resume, force=force, redact_issues=redact != "none", redact_episodes=redact == "all",
                  engine=engine, ray_address=ray_address)
    if wants_progress(no_progress):
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        from ._output import err_console

        columns = (TextColumn("scoring"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        # refreshed by the progress callback (several times a second), not by a thread of its own: a
        # single-threaded process can fork its scoring workers (see analyzer start_method)
        with Progress(*columns, console=err_console, transient=True, auto_refresh=False) as bar:
            task = bar.add_task("scoring", total=None)
            result = score_run(list(paths), rubric, out,
                               on_progress=lambda done, total: bar.update(task, completed=done, total=total,
                                                                          refresh=True),
                               **kwargs)  # type: ignore[arg-type]
    else:
        result = score_run(list(paths), rubric, out, **kwargs)  # type: ignore[arg-type]
    _report(result, quiet, strict)


def _report(result: RunSummary, quiet: bool, strict: bool) -> None:
    """The notes, the summary (unless `quiet`), and the exit code of a run that found no episodes or,
    with --strict, error verdicts. A quiet run that needs none of it imports no printing stack."""
    from ..redaction import redact_text
    from ._output import REDACT

    for note in result.notes:  # never wrapped, like errors (see main)
        click.echo(f"note: {redact_text(note) if REDACT['on'] else note}", err=True)
    errors = result.info["counts"]["verdicts"].get("error", 0)
    if quiet and result.episodes and not (strict and errors):
        return
    from ..analyzer import open_run
    from ._output import err_console, fail
    from .summary import print_summary

    run = open_run(result.path)
    if not quiet:
        print_summary(run)
        err_console.print(f"run written to {result.path}", markup=False)
    if result.episodes == 0:
        _no_episodes(run)
    if strict and errors:
        groups = run.error_reasons(per_item=1)
        first = groups[0] if groups else {"item": "?", "reason": ""}
        fail(EXIT_THRESHOLD, f"--strict: {errors:,} error verdicts (a check raised or a judge failed); "
                             f"e.g. {first['item']}: {first['reason']}",
             f"`rubricate summary {result.path}` groups them by reason; fix the check, or score without --strict")


def _no_episodes(run: Run) -> None:
    """0 episodes scored: exit 3, naming what was found and the first load issues."""
    from ._output import fail, plural

    counts = run.info["counts"]
    issues = [str(i) for i in run.issues(limit=1)]
    first = f"; the first: {issues[0][:200]}{'...' if len(issues[0]) > 200 else ''}" if issues else ""
    what = f"{plural(counts['files'], 'file')} read, {plural(counts['issues'], 'load issue')}"
    fail(EXIT_FAILED, f"no episodes scored ({what}{first})",
         "check the paths and `rubricate traces detect PATH` (which format each file is read as); "
         "pass --format when detection is wrong")


@app.command("compact")
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False))
def compact_command(run_dir: str) -> None:
    """Rewrite a run's part files as one Parquet file per table (RUN/verdicts/part-00000.parquet, ...),
    in place and atomically, under the run's lock. A format 1 run becomes format 2."""
    from ..scoring import compact_run
    from ._output import err_console

    info = compact_run(run_dir)
    before = info["compacted"]["parts_before"]
    err_console.print(f"compacted {run_dir}: episodes {before['episodes']} -> 1 part, verdicts "
                      f"{before['verdicts']} -> 1 part", markup=False)
