"""The click group every command module attaches to."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rubricate")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def app(debug: bool) -> None:
    """Rubric-based failure analysis of agent traces.

    \b
    rubricate score TRACES --rubric tool-discipline --out RUN
    rubricate summary RUN
    """
