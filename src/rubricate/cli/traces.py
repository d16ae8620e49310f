"""`rubricate traces detect PATH...`: which format each file is read as, and why."""

from __future__ import annotations

import click
from rich.markup import escape

from ..traces import detect, find_trace_files, formats
from ._app import app
from ._output import console, json_out


@app.group("traces")
def traces_group() -> None:
    """Inspect trace files and the formats rubricate reads."""


@traces_group.command("detect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the detections as JSON.")
def detect_command(paths: tuple[str, ...], as_json: bool) -> None:
    """Explain the format chosen for every trace file under PATHS (ties and misses included).

    Exits 1 when some file cannot be read in any format."""
    found = [detect(f.path) for f in find_trace_files(list(paths))]
    missed = sum(1 for d in found if d.chosen is None)
    if as_json:
        json_out([{"path": d.path, "format": d.chosen, "claimed_by": list(d.claimed), "reason": d.reason}
                  for d in found])
        raise click.exceptions.Exit(1 if missed else 0)
    for d in found:
        mark = "[green]ok[/]" if d.chosen else "[red]no[/]"
        console.print(f"{mark} {escape(d.path)}: ", end="")
        console.print(d.reason, markup=False)
    console.print(f"{len(found)} files, {len(found) - missed} readable, {missed} not")
    if missed:
        raise click.exceptions.Exit(1)


@traces_group.command("formats")
def formats_command() -> None:
    """List the registered trace formats, highest priority first."""
    for name, fmt in formats().items():
        console.print(f"[bold]{name}[/] (priority {fmt.priority}): ", end="")
        console.print(fmt.description, markup=False)
