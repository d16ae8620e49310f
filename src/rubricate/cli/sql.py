"""`rubricate sql RUN "SELECT ..."`: DuckDB SQL over the run's views `verdicts` and `episodes`."""

from __future__ import annotations

import click

from ..analyzer import open_run
from ..errors import AnalysisError
from ._app import app
from ._frames import frame_table
from ._output import console, json_out, plural


@app.command("sql")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print every row as JSON.")
@click.option("--max-rows", type=click.IntRange(min=1), default=50, show_default=True,
              help="Rows shown in the table (--json prints all).")
def sql_command(run_dir: str, query: str, as_json: bool, max_rows: int) -> None:
    """Run a DuckDB query over the views `verdicts` and `episodes` and print the result."""
    import duckdb

    run = open_run(run_dir)
    try:
        frame = run.sql(query)
    except duckdb.Error as exc:
        raise AnalysisError(f"{run.path}: the query failed: {exc}", name=query,
                            hint="query the views `verdicts` (episode_id, item, behavior, verdict, score, reason, "
                                 "evidence) and `episodes` (episode_id, task_id, ..., reward, metadata)") from None
    if as_json:
        json_out(frame.to_dicts())
        return
    console.print(frame_table(frame, max_rows=max_rows))
    more = f", {frame.height - max_rows:,} not shown" if frame.height > max_rows else ""
    console.print(f"({plural(frame.height, 'row')}{more})", markup=False)
