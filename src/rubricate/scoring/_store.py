"""The run directory's files: Parquet part files written one work unit at a time, and atomic writes.

Layout of a run (format version 2)::

    run.json                    written last: a run without it is incomplete
    episodes/part-NNNNN.parquet one row an episode, one part per work unit (a file or a byte range)
    verdicts/part-NNNNN.parquet one row an (episode, item)
    issues/part-NNNNN.jsonl     one load issue a line (path, line/index, reason, format); only units with issues
    judge/part-NNNNN.parquet    the judge answers a unit used, keyed like the judge cache (runs scored
                                with `--engine ray`, whose workers may not share a cache)
    .lock                       the writer's lock (see `_lifecycle`)

`episodes/` and `verdicts/` are Parquet datasets: DuckDB, polars, pyarrow, Spark and Ray read them by
glob (`RUN/verdicts/*.parquet`); part numbers follow the input order. Nothing is joined: a worker
writes each unit's parts under a temporary name and renames them into place when the unit is done,
then writes the unit's marker (`.units/part-NNNNN.json`, its counts), which is what `--resume` trusts.

Format 1 runs (one `episodes.parquet`, `verdicts.parquet`, `issues.jsonl`) stay readable. A run on
object storage (`s3://...`) has the same parts under a generation prefix (see `_objectstore`).
"""

from __future__ import annotations

import importlib.abc
import os
import shutil
import sys
import tempfile
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ..redaction import redact, redact_text
from ..rubrics import Verdict
from ..rubrics.judges import ItemAnswer, answer_columns
from ..traces import Episode, LoadIssue
from ..traces.remote import is_remote

RUN_FORMAT = 2
RUN_FILE = "run.json"
EPISODES, VERDICTS, ISSUES = "episodes", "verdicts", "issues"
JUDGE = "judge"  # the judge answers units used (cluster runs)
UNITS_DIR, TMP_DIR = ".units", ".tmp"   # unit markers and parts being written, while a run is built
FORMAT1_FILES = {EPISODES: "episodes.parquet", VERDICTS: "verdicts.parquet", ISSUES: "issues.jsonl"}

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
ANSWER_SCHEMA = pa.schema([
    ("key", pa.string()), ("answer", pa.string()), ("reason", pa.string()), ("steps", pa.list_(pa.int32())),
    ("model", pa.string()),
])
SCHEMAS = {EPISODES: EPISODE_SCHEMA, VERDICTS: VERDICT_SCHEMA}
_encode = msgspec.json.encode


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("pandas is not looked for here", name=name)


def skip_pandas_probe() -> None:
    """pyarrow looks for pandas the first time it converts Python values (`pa.array`,
    `Table.from_pydict`), in case they are pandas objects: importing pandas costs ~0.3 s a process, and
    the part writers give it plain lists. When pandas is not loaded yet, that first look finds none;
    pyarrow still imports pandas later for a call that needs it (`to_pandas`)."""
    if "pandas" in sys.modules:
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([], type=pa.int8())
    finally:
        sys.meta_path.remove(finder)


def part_name(index: int) -> str:
    return f"part-{index:05d}"


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


def write_json(path: str, value: Any) -> None:
    atomic_write_bytes(path, msgspec.json.format(_encode(value), indent=2) + b"\n")


def prepare_layout(run_dir: str) -> None:
    for name in (EPISODES, VERDICTS, ISSUES, UNITS_DIR, TMP_DIR):
        os.makedirs(os.path.join(run_dir, name), exist_ok=True)


def unit_markers(run_dir: str) -> dict[int, dict[str, Any]]:
    """The units a run being built has finished: index -> the counts its marker holds."""
    folder = os.path.join(run_dir, UNITS_DIR)
    out: dict[int, dict[str, Any]] = {}
    if not os.path.isdir(folder):
        return out
    for name in os.listdir(folder):
        if name.startswith("part-") and name.endswith(".json"):
            with open(os.path.join(folder, name), "rb") as f:
                out[int(name[5:-5])] = msgspec.json.decode(f.read())
    return out


def drop_unfinished(run_dir: str, done: set[int]) -> None:
    """Remove the parts of units without a marker (a killed worker's), and every temporary file."""
    for name in (EPISODES, VERDICTS, ISSUES, JUDGE):
        folder = os.path.join(run_dir, name)
        for entry in os.listdir(folder) if os.path.isdir(folder) else ():
            if entry.startswith("part-") and int(entry[5:10]) not in done:
                os.unlink(os.path.join(folder, entry))
    tmp = os.path.join(run_dir, TMP_DIR)
    for entry in os.listdir(tmp):
        path = os.path.join(tmp, entry)
        if os.path.isdir(path):  # a cluster task's own temporary folder
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def write_empty_parts(run_dir: str) -> None:
    """A run with no episodes still has one (empty) part per dataset, so a glob always matches."""
    for name, schema in SCHEMAS.items():
        folder = os.path.join(run_dir, name)
        if not any(e.endswith(".parquet") for e in os.listdir(folder)):
            pq.write_table(schema.empty_table(), os.path.join(folder, part_name(0) + ".parquet"),
                           compression="zstd")


class PartWriter:
    """One job's buffered columns, written as one Parquet part per work unit into a run being built.

    `begin(unit)`, then episodes (`add_episode`, or the native kernel appending to `kernel_columns`)
    and load issues, then `commit(extra)`: the unit's parts are renamed into place and its marker
    written. Batches of `batch` episodes are flushed as row groups of the unit's part.

    `tmp_dir` is where a unit's files are written until it commits (`RUN/.tmp` by default; a cluster
    task writes in a folder of its own, so two attempts at one unit never share a file). A run on
    object storage (`run_dir` a URL) is written to a local scratch folder and uploaded at commit:
    the parts first, the marker last (`_objectstore.RemoteParts`)."""

    def __init__(self, run_dir: str, batch: int = 4096, tmp_dir: str | None = None, *, redact_issues: bool = True,
                 redact_episodes: bool = False) -> None:
        skip_pandas_probe()
        self.run_dir, self.batch = run_dir, batch
        self.redact_issues, self.redact_episodes = redact_issues, redact_episodes
        self.remote: Any = None
        if is_remote(run_dir):
            from ._objectstore import RemoteParts

            self.remote = RemoteParts(run_dir)
            tmp_dir = self.remote.scratch
        self.tmp_dir = tmp_dir or os.path.join(run_dir, TMP_DIR)
        self._episodes: dict[str, list[Any]] = {f.name: [] for f in EPISODE_SCHEMA}
        self._verdicts: dict[str, list[Any]] = {f.name: [] for f in VERDICT_SCHEMA}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._issues: Any = None
        self._answers: dict[str, tuple[ItemAnswer, str]] = {}
        self.unit: int | None = None
        self.n_episodes = self.n_issues = 0
        self.counts = {"pass": 0, "fail": 0, "na": 0, "error": 0}

    def _tmp(self, name: str, ext: str) -> str:
        return os.path.join(self.tmp_dir, f"{part_name(self.unit or 0)}.{name}{ext}")

    def begin(self, unit: int) -> None:
        self.unit = unit
        self.n_episodes = self.n_issues = 0
        self.counts = {"pass": 0, "fail": 0, "na": 0, "error": 0}

    def add_episode(self, ep: Episode, verdicts: list[Verdict], source_file: str, reward: float | None) -> None:
        """Buffer one episode and its verdicts; `source_file` is the absolute path it was read from,
        `reward` the rubric's collapsed reward of these verdicts."""
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
        e["rubric_reward"].append(reward)
        v = self._verdicts
        counts = self.counts
        for row in verdicts:
            v["episode_id"].append(row.episode_id)
            v["item"].append(row.item)
            v["behavior"].append(row.behavior)
            v["verdict"].append(row.verdict)
            v["score"].append(row.score)
            v["reason"].append(row.reason)
            v["evidence"].append(row.evidence)
            counts[row.verdict] += 1
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

    def add_answers(self, answers: dict[str, ItemAnswer] | None, model: str) -> None:
        """Keep the judge answers the unit used (cache key -> answer): written as the unit's `judge` part."""
        for key, answer in (answers or {}).items():
            self._answers[key] = (answer, model)

    def add_issue(self, issue: LoadIssue) -> None:
        if self._issues is None:
            self._issues = open(self._tmp(ISSUES, ".jsonl"), "wb")
        if self.redact_issues:
            issue = msgspec.structs.replace(issue, reason=redact_text(issue.reason))
        self._issues.write(_encode(issue) + b"\n")
        self.n_issues += 1

    def flush(self) -> None:
        if self._episodes["episode_id"]:
            self._write(EPISODES, self._episodes)
            self._write(VERDICTS, self._verdicts)

    def _write(self, name: str, columns: dict[str, list[Any]]) -> None:
        schema = SCHEMAS[name]
        if self.redact_episodes:
            _redact_columns(columns)
        table = pa.Table.from_pydict(columns, schema=schema)
        writer = self._writers.get(name)
        if writer is None:
            writer = self._writers[name] = pq.ParquetWriter(self._tmp(name, ".parquet"), schema, compression="zstd")
        writer.write_table(table)
        for col in columns.values():
            col.clear()

    def _close(self) -> list[tuple[str, str]]:
        """Close the unit's files; (temporary path, final path) of each."""
        self.flush()
        moves = []
        for name, writer in self._writers.items():
            writer.close()
            moves.append((self._tmp(name, ".parquet"), os.path.join(self.run_dir, name, part_name(self.unit or 0) + ".parquet")))
        self._writers.clear()
        if self._issues is not None:
            self._issues.close()
            self._issues = None
            moves.append((self._tmp(ISSUES, ".jsonl"), os.path.join(self.run_dir, ISSUES, part_name(self.unit or 0) + ".jsonl")))
        if self._answers:
            table = pa.Table.from_pydict(answer_columns(self._answers), schema=ANSWER_SCHEMA)
            pq.write_table(table, self._tmp(JUDGE, ".parquet"), compression="zstd")
            self._answers.clear()
            final = os.path.join(self.run_dir, JUDGE, part_name(self.unit or 0) + ".parquet")
            moves.append((self._tmp(JUDGE, ".parquet"), final))
        return moves

    def commit(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Put the unit's parts in place, then its marker (the unit is done once the marker exists);
        returns the marker: the unit's counts and `extra`."""
        moves = self._close()
        marker = {"episodes": self.n_episodes, "issues": self.n_issues, "verdicts": dict(self.counts), **extra}
        marker_path = os.path.join(self.run_dir, UNITS_DIR, part_name(self.unit or 0) + ".json")
        if self.remote is not None:
            self.remote.commit(moves, marker_path, marker)
        else:
            for tmp, final in moves:
                if os.path.basename(os.path.dirname(final)) == JUDGE:
                    os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(tmp, final)
            write_json(marker_path, marker)
        self.unit = None
        return marker

    def abort(self) -> None:
        """Close and remove the files of an unfinished unit."""
        self._answers.clear()
        for tmp, _ in self._close():
            try:
                os.unlink(tmp)
            except OSError:
                pass
        for columns in (self._episodes, self._verdicts):
            for col in columns.values():
                col.clear()
        self.unit = None


REDACTED_COLUMNS = ("question", "final_answer", "ground_truth", "reason")  # and metadata (JSON, redacted decoded)


def _redact_columns(columns: dict[str, list[Any]]) -> None:
    """Redact the text columns of a batch in place (`score --redact`): the same for the rows of the
    Python path and of the native kernel."""
    for name in REDACTED_COLUMNS:
        if name in columns:
            columns[name][:] = [redact_text(v) if v else v for v in columns[name]]
    if "metadata" in columns:
        columns["metadata"][:] = [_encode(redact(msgspec.json.decode(v))).decode() if v else v
                                  for v in columns["metadata"]]
