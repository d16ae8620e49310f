"""`compact_run`: rewrite a run's part files as one part per dataset (pyarrow, streamed by row group),
under the run's lock and through the same atomic swap as a re-score. A format 1 run comes out as
format 2."""

from __future__ import annotations

import glob
import os
import shutil
from typing import Any

import msgspec
import pyarrow.parquet as pq

from ..errors import RunError
from ._lifecycle import RunWriter
from ._store import EPISODES, FORMAT1_FILES, ISSUES, RUN_FILE, RUN_FORMAT, SCHEMAS, VERDICTS, part_name


def _parts(run: str, name: str, ext: str) -> list[str]:
    one = os.path.join(run, FORMAT1_FILES[name])
    if os.path.isfile(one):
        return [one]
    return sorted(glob.glob(os.path.join(glob.escape(run), name, f"part-*{ext}")))


def compact_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Compact the run at `path` in place; returns its run.json (with `compacted`: parts before)."""
    run = os.fspath(path)
    marker = os.path.join(run, RUN_FILE)
    if not os.path.isfile(marker):
        raise RunError(f"{run}: not a complete run (no {RUN_FILE})", path=run,
                       hint="pass the --out directory of a finished `rubricate score` run")
    with open(marker, "rb") as f:
        info = msgspec.json.decode(f.read())
    with RunWriter(run) as writer:
        before = {}
        for name in (EPISODES, VERDICTS):
            parts = _parts(run, name, ".parquet")
            before[name] = len(parts)
            target = os.path.join(writer.staging, name, part_name(0) + ".parquet")
            with pq.ParquetWriter(target, SCHEMAS[name], compression="zstd") as out:
                for part in parts:
                    for batch in pq.ParquetFile(part).iter_batches(batch_size=65536):
                        out.write_batch(batch)
        issues = _parts(run, ISSUES, ".jsonl")
        if issues:
            with open(os.path.join(writer.staging, ISSUES, part_name(0) + ".jsonl"), "wb") as out_issues:
                for part in issues:
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out_issues)
        info = {**info, "run_format": RUN_FORMAT, "compacted": {"parts_before": before}}
        writer.finish(info)
    return info
