"""The run directory: column buffers written as Parquet in batches, atomic files, the run.json marker.

Layout of a run (format version 1)::

    run.json            written last: a run without it is incomplete
    episodes.parquet    one row an episode
    verdicts.parquet    one row an (episode, item)
    issues.jsonl        one load issue a line (path, line/index, reason, format)

Workers write parts into a hidden temp folder of the run; the parent stitches them together by
copying their bytes after the first part's and writing one footer (no page is decoded, see
`_parquet_concat`) and renames each file into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ..rewards._collapse import collapse
from ..rubrics import Rubric
from ..traces import Episode, LoadIssue
from ._parquet_concat import concat_parquet

RUN_FORMAT = 1
RUN_FILE, EPISODES_FILE, VERDICTS_FILE, ISSUES_FILE = "run.json", "episodes.parquet", "verdicts.parquet", \
    "issues.jsonl"

EPISODE_SCHEMA = pa.schema([
    ("episode_id", pa.string()), ("task_id", pa.string()), ("source_path", pa.string()),
    ("source_line", pa.int64()), ("source_index", pa.int64()), ("source_file", pa.string()), ("format", pa.string()),
    ("n_steps", pa.int32()), ("n_tool_calls", pa.int32()), ("n_tool_errors", pa.int32()),
    ("question", pa.string()), ("final_answer", pa.string()), ("ground_truth", pa.string()),
    ("reward", pa.float64()), ("metadata", pa.string()), ("rubric_reward", pa.float64()),
])
VERDICT_SCHEMA = pa.schema([
    ("episode_id", pa.string()), ("item", pa.string()), ("behavior", pa.string()), ("verdict", pa.string()),
    ("score", pa.float64()), ("reason", pa.string()), ("evidence", pa.list_(pa.int32())),
])
_encode = msgspec.json.encode


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename: never a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class PartWriter:
    """One worker's buffered columns, flushed to its own Parquet parts every `batch` episodes."""

    def __init__(self, directory: str, part: int, batch: int = 4096, rubric: Rubric | None = None) -> None:
        self.directory, self.part, self.batch, self.rubric = directory, part, batch, rubric
        self._episodes: dict[str, list[Any]] = {f.name: [] for f in EPISODE_SCHEMA}
        self._verdicts: dict[str, list[Any]] = {f.name: [] for f in VERDICT_SCHEMA}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._issues = open(self.path(ISSUES_FILE), "wb")
        self.n_episodes = self.n_issues = 0
        self.counts = {"pass": 0, "fail": 0, "na": 0, "error": 0}

    def path(self, name: str) -> str:
        stem, ext = os.path.splitext(name)
        return os.path.join(self.directory, f"{stem}-{self.part:04d}{ext}")

    def add_episode(self, ep: Episode, verdict_rows: list[tuple[str, str, str, float | None, str, tuple[int, ...]]],
                    source_file: str) -> None:
        """Buffer one episode and its verdict rows; `source_file` is the absolute path it was read from."""
        e = self._episodes
        e["episode_id"].append(ep.id)
        e["task_id"].append(ep.task_id)
        e["source_path"].append(ep.source.path)
        e["source_line"].append(ep.source.line)
        e["source_index"].append(ep.source.index)
        e["source_file"].append(source_file)
        e["format"].append(ep.format)
        e["n_steps"].append(len(ep.steps))
        calls = errors = 0
        for s in ep.steps:
            if s.tool_calls:
                calls += len(s.tool_calls)
            elif s.is_error:
                errors += 1
        e["n_tool_calls"].append(calls)
        e["n_tool_errors"].append(errors)
        e["question"].append(ep.question)
        e["final_answer"].append(ep.final_answer)
        e["ground_truth"].append(ep.ground_truth)
        e["reward"].append(ep.reward)
        e["metadata"].append(_encode(ep.metadata).decode() if ep.metadata else None)
        # the rubric's collapsed reward, by the function the trainer exports use (rubricate.rewards)
        e["rubric_reward"].append(collapse({r[0]: r[2] for r in verdict_rows}, self.rubric).reward
                                  if self.rubric is not None else None)
        v = self._verdicts
        counts = self.counts
        for item, behavior, verdict, score, reason, evidence in verdict_rows:
            v["episode_id"].append(ep.id)
            v["item"].append(item)
            v["behavior"].append(behavior)
            v["verdict"].append(verdict)
            v["score"].append(score)
            v["reason"].append(reason)
            v["evidence"].append(evidence)
            counts[verdict] += 1
        self.n_episodes += 1
        if len(e["episode_id"]) >= self.batch:
            self.flush()

    def kernel_columns(self) -> tuple[tuple[list[Any], ...], tuple[list[Any], ...]]:
        """The column buffers the native kernel appends to, in schema order (see `added_by_kernel`)."""
        return (tuple(self._episodes[f.name] for f in EPISODE_SCHEMA),
                tuple(self._verdicts[f.name] for f in VERDICT_SCHEMA))

    def added_by_kernel(self, n: int) -> None:
        """Count the `n` episodes the kernel has just appended (their verdicts are counted by the
        kernel's plan: see `add_counts`), and write a batch when one is full."""
        self.n_episodes += n
        if len(self._episodes["episode_id"]) >= self.batch:
            self.flush()

    def add_counts(self, counts: dict[str, int]) -> None:
        for verdict, n in counts.items():
            self.counts[verdict] += n

    def add_issue(self, issue: LoadIssue) -> None:
        self._issues.write(_encode(issue) + b"\n")
        self.n_issues += 1

    def flush(self) -> None:
        if self._episodes["episode_id"]:
            self._write(EPISODES_FILE, EPISODE_SCHEMA, self._episodes)
            self._write(VERDICTS_FILE, VERDICT_SCHEMA, self._verdicts)

    def _write(self, name: str, schema: pa.Schema, columns: dict[str, list[Any]]) -> None:
        table = pa.Table.from_pydict(columns, schema=schema)
        writer = self._writers.get(name)
        if writer is None:
            writer = self._writers[name] = pq.ParquetWriter(self.path(name), schema, compression="zstd")
        writer.write_table(table)
        for col in columns.values():
            col.clear()

    def close(self) -> None:
        self.flush()
        for name, schema in ((EPISODES_FILE, EPISODE_SCHEMA), (VERDICTS_FILE, VERDICT_SCHEMA)):
            if name not in self._writers:  # a worker with no episodes still leaves a valid, empty part
                self._writers[name] = pq.ParquetWriter(self.path(name), schema, compression="zstd")
            self._writers[name].close()
        self._issues.close()


def stitch(parts_dir: str, parts: int, out_dir: str) -> None:
    """Join the workers' parts into the run's files, in part order, and rename each into place."""
    for name in (EPISODES_FILE, VERDICTS_FILE):
        paths = [os.path.join(parts_dir, f"{os.path.splitext(name)[0]}-{k:04d}.parquet") for k in range(parts)]
        target = os.path.join(out_dir, name)
        if parts == 1:
            os.replace(paths[0], target)
            continue
        concat_parquet(paths, paths[0])  # the other parts' bytes appended to the first: no re-encoding
        os.replace(paths[0], target)
    tmp = os.path.join(parts_dir, ISSUES_FILE)
    with open(tmp, "wb") as out:
        for k in range(parts):
            with open(os.path.join(parts_dir, f"issues-{k:04d}.jsonl"), "rb") as f:
                shutil.copyfileobj(f, out)
    os.replace(tmp, os.path.join(out_dir, ISSUES_FILE))


def begin_run(out_dir: str) -> str:
    """Prepare `out_dir` for a new run: mark any earlier run there incomplete, make a parts folder."""
    os.makedirs(out_dir, exist_ok=True)
    marker = os.path.join(out_dir, RUN_FILE)
    if os.path.exists(marker):
        os.unlink(marker)
    for entry in os.listdir(out_dir):
        if entry.startswith(".parts-"):
            shutil.rmtree(os.path.join(out_dir, entry), ignore_errors=True)
    return tempfile.mkdtemp(prefix=".parts-", dir=out_dir)


def join_parts(out_dir: str, parts_dir: str, parts: int) -> None:
    """Put the workers' parts in place as the run's files (run.json, written next, marks it done)."""
    stitch(parts_dir, parts, out_dir)
    shutil.rmtree(parts_dir, ignore_errors=True)


def write_run_info(out_dir: str, info: dict[str, Any]) -> None:
    atomic_write_bytes(os.path.join(out_dir, RUN_FILE), msgspec.json.format(_encode(info), indent=2) + b"\n")
