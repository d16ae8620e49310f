"""Commands are imported when used: every name in COMMANDS resolves to its command, and every
command a module defines is listed there (else `rubricate NAME` would not find it)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
from pathlib import Path
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


def test_a_quiet_score_loads_no_printing_stack_and_turns_the_collector_back_on(tmp_path) -> None:
    """`rubricate score -q --no-progress` prints nothing on success: it imports neither rich nor the
    analysis stack, and the garbage collector it pauses while the scoring stack loads is on again
    (and the run is whole)."""
    example = Path(__file__).resolve().parents[2] / "examples" / "wiki-search"
    traces = sorted((example / "traces").glob("*/*/results.jsonl"))[0]
    out = tmp_path / "run"
    code = ("import gc, sys; from rubricate.cli import main; status = main(sys.argv[1:]); "
            "print(status, gc.isenabled(), ' '.join(sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, "score", str(traces), "--rubric", str(example / "rubric.toml"), "--out",
                           str(out), "-q", "--no-progress", "--workers", "1"], check=True, capture_output=True, text=True)
    status, enabled, *loaded = done.stdout.split()
    assert (status, enabled) == ("0", "True")
    assert "rubricate.scoring._engine" in loaded
    assert not {"rich", "rich.console", "duckdb", "polars", "rubricate.cli.summary"} & set(loaded)
    assert done.stderr == ""
    assert (out / "run.json").is_file()
