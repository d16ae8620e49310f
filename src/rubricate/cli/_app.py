"""The click group every command module attaches to; a command's module is imported when the
command is used (`rubricate score` never loads the analysis and report stack)."""

from __future__ import annotations

import importlib

import click

from .. import __version__

# command -> the module of rubricate.cli that defines it (with @app.command / @app.group)
COMMANDS = {
    "analyze": "analyze", "calibrate": "calibrate", "compact": "score", "compare": "compare",
    "export-reward": "rewards",
    "guide": "guide", "labels": "calibrate", "report": "report", "rubrics": "rubrics", "score": "score",
    "serve-reward": "rewards", "sql": "sql", "summary": "summary", "traces": "traces",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"{__package__}.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rubricate")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--no-redact", is_flag=True, help="Print secrets, emails and phone numbers as they are (console "
              "output is redacted by default; see docs/reliability.md).")
def app(debug: bool, no_redact: bool) -> None:
    """Rubric-based failure analysis of agent traces.

    \b
    rubricate score TRACES --rubric tool-discipline --out RUN
    rubricate summary RUN
    """
    if no_redact:
        from ._output import REDACT

        REDACT["on"] = False
