"""`rubricate rubrics list|show|schema|checks`."""

from __future__ import annotations

import click

from ..rubrics import builtin_rubrics, load_checks_file, load_rubric, registered_checks, rubric_json_schema
from ._app import app
from ._output import console, json_out


@app.group("rubrics")
def rubrics_group() -> None:
    """Built-in rubrics, rubric files and registered checks."""


@rubrics_group.command("list")
def list_command() -> None:
    """List the built-in rubrics."""
    for name, description in builtin_rubrics().items():
        console.print(f"[bold]{name}[/]: ", end="")
        console.print(description, markup=False)


@rubrics_group.command("show")
@click.argument("rubric_ref", metavar="RUBRIC")
@click.option("--checks", "checks_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file with @check functions the rubric uses (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_command(rubric_ref: str, checks_files: tuple[str, ...], as_json: bool) -> None:
    """Show a rubric's items, behaviors, weights and parameters (validates the file)."""
    for path in checks_files:
        load_checks_file(path)
    rubric = load_rubric(rubric_ref)
    if as_json:
        json_out(rubric.describe())
        return
    console.print(f"[bold]{rubric.id}[/] {rubric.version} ({rubric.hash})")
    if rubric.description:
        console.print(rubric.description, markup=False)
    for item in rubric.items:
        spec = item.spec
        what = item.check.name if item.check else \
            "(" + ("/".join(spec.answers()) if spec is not None else "yes/no") + ")"
        console.print(f"- [bold]{item.id}[/] \\[{item.behavior}] weight {item.weight:g}, {item.kind} {what}")
        console.print(f"  {item.description}", markup=False)


@rubrics_group.command("schema")
def schema_command() -> None:
    """Print the JSON schema of rubric files."""
    json_out(rubric_json_schema())


@rubrics_group.command("checks")
def checks_command() -> None:
    """List the registered checks (built-in, entry points)."""
    for name, chk in registered_checks().items():
        console.print(f"[bold]{name}[/] \\[{chk.behavior}]: ", end="")
        console.print(chk.description, markup=False)
