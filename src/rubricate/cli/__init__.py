"""The `rubricate` command. Each command parses its options, calls one API function, prints.

Exit codes: 0 ok; 1 a threshold or --strict load issue; 2 usage error (bad option, rubric, format,
analysis outcome, SQL query, an --out that cannot hold a run); 3 could not complete (unreadable run,
a run another process is writing, worker failure, internal error).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from typing import NoReturn

# Nothing here multiplies matrices: keep OpenBLAS (loaded with numpy, under pyarrow) from starting a
# spinning thread per core in the CLI and in every scoring worker it starts.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# pyarrow allocates with mimalloc, yet its bundled jemalloc starts a background thread at import;
# without it `rubricate score` stays single-threaded and may fork its workers (analyzer start_method).
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")

import click

from ..errors import (
    AnalysisError, CheckError, EngineError, FormatError, JudgeError, LoadIssueError, OutputError, RubricateError,
    RubricError,
)
from ._app import app  # commands are imported when used (see _app.COMMANDS)

EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def exit_code(exc: RubricateError) -> int:
    if isinstance(exc, LoadIssueError):
        return EXIT_THRESHOLD
    if isinstance(exc, (RubricError, CheckError, FormatError, JudgeError, AnalysisError, OutputError, EngineError)):
        return EXIT_USAGE
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turning errors into `error:` / `hint:` lines and exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, not only before the command
        args = ["--debug", *(a for a in args if a != "--debug")]
    try:
        code = app.main(args=args, prog_name="rubricate", standalone_mode=False)
        if isinstance(code, int):  # click returns a command's Exit code instead of raising it
            return code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return EXIT_FAILED
    except RubricateError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exit_code(exc)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001  (last resort: no traceback unless asked)
        if debug:
            traceback.print_exc()
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: rerun with --debug for the traceback, and report it", err=True)
        return EXIT_FAILED
    return EXIT_OK


def run() -> NoReturn:
    """The `rubricate` command: `main()`, then a quick exit. Everything a command writes is closed by
    then; tearing the interpreter down (freeing every module and object of pyarrow, pydantic and the
    rest) would add ~0.1-0.2 s to each command. The exit handlers still run and the output is
    flushed; with a thread still running (a Ray client, a server), the exit is the normal one."""
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`rubricate ... | head`): nothing more to say
            pass
    os._exit(code)


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_THRESHOLD", "EXIT_USAGE", "app", "main", "run"]
