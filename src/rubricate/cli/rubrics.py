"""`rubricate rubrics list|show|schema|checks`."""

from __future__ import annotations

import click

from typing import Any

from ..rubrics import (
    BUILTIN_ALIASES, Rubric, builtin_rubrics, load_rubric, parameter_rows, registered_checks, rubric_json_schema,
)
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
    for alias, name in BUILTIN_ALIASES.items():
        console.print(f"[bold]{alias}[/]: ", end="")
        console.print(f"the old name of {name}", markup=False)


@rubrics_group.command("show")
@click.argument("rubric_ref", metavar="RUBRIC")
@click.option("--checks", "checks_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file with @check functions the rubric uses (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_command(rubric_ref: str, checks_files: tuple[str, ...], as_json: bool) -> None:
    """Show a rubric's items, behaviors, weights and parameters: every parameter its checks read, with
    its value, the check's default and what it means (validates the file)."""
    rubric = load_rubric(rubric_ref, checks=checks_files)
    if as_json:
        json_out({**rubric.describe(), "parameters": parameter_rows(rubric)})
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
    print_parameters(rubric)


def print_parameters(rubric: Rubric) -> None:
    """Each parameter once per distinct value: value, where it is set, the checks' default, meaning, and
    the items that read it."""
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in parameter_rows(rubric):
        key = (row["name"], _toml(row["value"]), row["set_in"], _toml(row["default"]))
        groups.setdefault(key, {**row, "items": []})["items"].append(row["item"])
    if not groups:
        console.print("parameters: none (no check item reads one)")
        return
    console.print("[bold]parameters[/] (value, where it is set, the check's default; what it means; items that "
                  "read it):")
    for (name, value, set_in, default), row in groups.items():
        where = "the check's default" if value == default else f"set in the {set_in}; the check's default: {default}"
        console.print(f"  [bold]{name}[/] = ", end="")
        console.print(f"{value}  ({where})", markup=False)
        if row["meaning"]:
            console.print(f"      {row['meaning']}", markup=False)
        console.print(f"      read by: {', '.join(row['items'])}", markup=False)


def _toml(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


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


@rubrics_group.command("init")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "-o", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the draft here (default: print it). An existing file is not overwritten.")
@click.option("--format", "-f", "format_", default=None, help="Read every file in this format (no detection).")
@click.option("--limit", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Episodes to read (the first ones found).")
@click.option("--id", "rubric_id", default="my-agent", show_default=True, help="The drafted rubric's id.")
def init_command(paths: tuple[str, ...], out: str | None, format_: str | None, limit: int, rubric_id: str) -> None:
    """Draft a rubric from traces: the tools seen (call counts, errors, when they are first called),
    each tool's role guessed from its name and order (discover, inspect, query/act, write, auth,
    answer, hand-off), and the items those roles support, as TOML with comments to edit."""
    import itertools
    import os

    from ..errors import OutputError, RubricError
    from ..rubrics import draft_rubric, observe, parse_rubric
    from ..traces import Episode, load_episodes

    if out is not None and os.path.exists(out):
        raise OutputError(f"{out}: already exists; the draft is not written over it", path=out,
                          hint="pass another --out, or remove the file")
    episodes = (e for p in paths for e in load_episodes(p, format=format_) if isinstance(e, Episode))
    seen = observe(itertools.islice(episodes, limit))
    if not seen.episodes:
        raise RubricError(f"no episodes read from {', '.join(paths)}: nothing to draft a rubric from",
                          hint="check the paths and `rubricate traces detect PATH`")
    text = draft_rubric(seen, rubric_id=rubric_id, source=", ".join(paths))
    parse_rubric(text, path="(draft)")  # the draft must load as it is
    if out is None:
        click.echo(text, nl=False)
        return
    with open(out, "x", encoding="utf-8") as f:
        f.write(text)
    click.echo(f"drafted {out} from {seen.episodes:,} episodes ({len(seen.tools)} tools)", err=True)
