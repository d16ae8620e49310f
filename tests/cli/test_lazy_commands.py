"""Commands are imported when used: every name in COMMANDS resolves to its command, and every
command a module defines is listed there (else `rubricate NAME` would not find it)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import click

import rubricate.cli
from rubricate.cli._app import COMMANDS, app


def test_every_listed_command_resolves_to_itself() -> None:
    ctx = click.Context(app)
    for name in COMMANDS:
        command = app.get_command(ctx, name)
        assert command is not None and command.name == name


def test_every_defined_command_is_listed() -> None:
    for info in pkgutil.iter_modules(rubricate.cli.__path__):
        importlib.import_module(f"rubricate.cli.{info.name}")
    assert set(app.commands) == set(COMMANDS)


def test_score_does_not_load_the_analysis_and_report_stack() -> None:
    code = ("import sys; from rubricate.cli._app import app; import click; "
            "app.get_command(click.Context(app), 'score'); print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split())
    assert "rubricate.cli.score" in loaded
    assert not {"polars", "duckdb", "plotly", "jinja2", "rubricate.cli.analyze", "rubricate.reports"} & loaded
