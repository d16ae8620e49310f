"""Printing helpers shared by commands: the rich console, tables of run summaries, load issues."""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any

from ..redaction import redact, redact_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

REDACT = {"on": True}  # `rubricate --no-redact ...` turns it off for the process


@functools.cache
def _console(stderr: bool) -> Console:
    """The console of stdout or stderr, made (and rich imported) on first use: `rubricate score -q`
    without a progress bar prints nothing, and starts ~15 ms sooner without it."""
    from rich.console import Console

    class RedactingConsole(Console):
        """A rich Console whose output passes through the redactor (see rubricate.redaction)."""

        def _render_buffer(self, buffer: Any) -> str:
            text = super()._render_buffer(buffer)
            return redact_text(text) if REDACT["on"] else text

    if stderr:
        return RedactingConsole(stderr=True, highlight=False)
    return RedactingConsole(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def __getattr__(name: str) -> Any:
    """`console` and `err_console`: the rich consoles of stdout and stderr."""
    if name in ("console", "err_console"):
        return _console(name == "err_console")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fail(code: int, message: str, hint: str | None = None) -> None:
    """Print `error:` (and `hint:`) and exit with `code`: for outcomes that are not exceptions (a
    strict run with error verdicts, a run with no episodes)."""
    import click

    click.echo(f"error: {message}", err=True)  # as rubricate.cli.main prints errors: never wrapped
    if hint:
        click.echo(f"hint: {hint}", err=True)
    raise click.exceptions.Exit(code)


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def summary_table(rows: list[dict[str, Any]], title: str) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for name, justify in (("item", "left"), ("behavior", "left"), ("pass", "right"), ("fail", "right"),
                          ("na", "right"), ("error", "right"), ("pass rate", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(escape(row["item"]), escape(row["behavior"]), str(row["pass"]), str(row["fail"]), str(row["na"]),
                      str(row["error"]), rate(row["pass_rate"]))
    return table


def cohort_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Items as rows, cohorts as columns: pass rate and (pass + fail) count in each cell."""
    from rich.markup import escape
    from rich.table import Table

    cohorts = sorted({row["cohort"] for row in rows})
    table = Table(title=escape(title), title_justify="left")
    table.add_column("item")
    for c in cohorts:
        table.add_column(escape(c), justify="right")
    cells: dict[str, dict[str, str]] = {}
    for row in rows:
        n = row["pass"] + row["fail"]
        cells.setdefault(row["item"], {})[row["cohort"]] = f"{rate(row['pass_rate'])} ({n})"
    for item, by_cohort in cells.items():
        table.add_row(escape(item), *(by_cohort.get(c, "-") for c in cohorts))
    return table


def wants_progress(disabled: bool) -> bool:
    return not disabled and sys.stderr.isatty()


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def json_out(data: Any) -> None:
    import msgspec

    if REDACT["on"]:  # the values, not the JSON text: a pattern may span a quote
        data = redact(msgspec.to_builtins(data))
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n")
