"""scoring: the engine that turns trace files into a run directory.

Work units (files and line-aligned byte ranges) are scored by worker processes with `Rubric.evaluate`
(the native kernel beneath it where it applies) and written as Parquet part files; a run directory
has one writer, is built beside the old run and swapped in atomically, and can be resumed.
Names are imported on first use, so `import rubricate.scoring` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._compact import compact_run
    from ._engine import RunSummary, available_cores, score_run
    from ._lifecycle import RunLock, RunWriter, staging_path
    from ._lineindex import start_line_index, stop_line_index
    from ._native import NativeItems, kernel_available, kernel_status
    from ._objectstore import generation_name, stored_parts
    from ._score import iter_verdicts, score
    from ._store import (
        EPISODE_SCHEMA, EPISODES, FORMAT1_FILES, ISSUES, RUN_FILE, RUN_FORMAT, VERDICT_SCHEMA, VERDICTS,
        atomic_write_bytes, write_json,
    )
    from ._units import CHUNK_BYTES, Unit, plan_units, share

_WHERE = {
    "compact_run": "_compact", "RunSummary": "_engine", "available_cores": "_engine", "score_run": "_engine",
    "RunLock": "_lifecycle", "RunWriter": "_lifecycle", "staging_path": "_lifecycle",
    "start_line_index": "_lineindex", "stop_line_index": "_lineindex",
    "NativeItems": "_native", "kernel_available": "_native", "kernel_status": "_native", "iter_verdicts": "_score", "score": "_score",
    "generation_name": "_objectstore", "stored_parts": "_objectstore",
    **dict.fromkeys(("EPISODE_SCHEMA", "EPISODES", "FORMAT1_FILES", "ISSUES", "RUN_FILE", "RUN_FORMAT",
                     "VERDICT_SCHEMA", "VERDICTS", "atomic_write_bytes", "write_json"), "_store"),
    **dict.fromkeys(("CHUNK_BYTES", "Unit", "plan_units", "share"), "_units"),
}

__all__ = [
    "CHUNK_BYTES", "EPISODES", "EPISODE_SCHEMA", "FORMAT1_FILES", "ISSUES", "NativeItems", "RUN_FILE", "RUN_FORMAT",
    "RunLock", "RunSummary", "RunWriter", "Unit", "VERDICTS", "VERDICT_SCHEMA", "atomic_write_bytes", "available_cores",
    "compact_run", "generation_name", "iter_verdicts", "kernel_available", "kernel_status", "plan_units", "score",
    "score_run", "share", "staging_path", "start_line_index", "stop_line_index", "stored_parts", "write_json",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
