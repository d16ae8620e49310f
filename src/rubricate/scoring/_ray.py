"""The Ray engine (`rubricate score --engine ray`): a run's work units as Ray tasks on a cluster.

The driver (this process) plans the units, holds the run's lock and writes run.json, as with the
local engine. Each task runs `score_share`, the local engine's loop (the native kernel included),
on a batch of consecutive units (~`TASK_BYTES`; a range of a large file is a task of its own) and
writes their parts and markers into the run being built. A unit is committed by its marker, written
after its parts, and its parts replace files of the same name: a task retried after its worker died
(Ray retries it, `MAX_RETRIES` times) rewrites the same parts, never adds rows.

Units that continue a split file are numbered from the lines of the units before them: count tasks
count those first (in C, ~256 MB each, in parallel), and a scoring task starts when the counts it
needs are in. Progress shows on the driver as tasks finish. Judge items share one connection limit
and one budget through a coordinator actor (`_coordinator`), to which tasks also report the bytes
they scored; each unit keeps the judge answers it used in the run (`judge/part-NNNNN.parquet`), a
re-run reads them back for the same unit whichever node it lands on, and the driver merges them
into its own cache.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import EngineError, LoadIssueError, RunError
from ..rubrics import Rubric
from ..rubrics.judges import ItemAnswer, JudgeCache, JudgeConfig, JudgeSetup, answers_from_columns
from ..traces.remote import filesystem, is_remote, join
from . import _faults
from ._coordinator import LEASE_MARGIN_S, ClusterBudget, Coordinator
from ._engine import available_cores
from ._loop import Job, score_share
from ._store import JUDGE, RUN_FILE, TMP_DIR
from ._units import CHUNK_BYTES, Unit, unit_lines

RAY_HINT = "pip install 'rubricate[ray]'"
TASK_BYTES = CHUNK_BYTES  # units are batched into tasks of at most this many bytes
COUNT_BYTES = 256 << 20   # a count task counts the lines of this many bytes of consecutive units
MAX_RETRIES = 3           # attempts after the first when a task's worker dies
# Environment variables a cluster's workers get from the driver (a cluster started elsewhere does
# not have the driver's environment): object storage settings and Rubricate's own switches. The
# judge's API key variable is added when the run has a judge.
FORWARDED_PREFIXES = ("AWS_", "FSSPEC_", "RUBRICATE_")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError("--engine ray needs Ray, which is not installed", hint=RAY_HINT) from None
    return ray


@dataclass
class RayCluster:
    """Where the tasks run: the cluster at `address` ("auto", "HOST:PORT", "ray://HOST:10001"), or,
    without one, a single-machine cluster started for the run (bound to this machine's loopback)."""

    address: str | None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def check(cls, address: str | None) -> RayCluster:
        """Fail before anything is written when Ray is missing."""
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address is None and "ray" not in sys.modules:
            # a cluster of this machine only: Ray binds it to 127.0.0.1 (read when ray is imported)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        _ray()
        return cls(address)

    @contextmanager
    def start(self, workers: int | None, judge: JudgeConfig | None = None) -> Iterator[RayRun]:
        ray = _ray()
        started = time.perf_counter()
        here = not ray.is_initialized()
        if here:
            env = _forwarded_env(judge)
            try:
                if self.address:
                    ray.init(address=self.address, runtime_env={"env_vars": env} if env else None,
                             log_to_driver=False, logging_level="ERROR")
                else:
                    ray.init(address="local", num_cpus=workers or available_cores(), include_dashboard=False,
                             log_to_driver=False, logging_level="ERROR", object_store_memory=256 << 20)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RunError(f"cannot connect to the Ray cluster at {self.address}: {exc}",
                               hint="check --ray-address (or RAY_ADDRESS), e.g. auto or HOST:6379") from None
        try:
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            self.info = {"name": "ray", "address": self.address or "local", "nodes": len(nodes),
                         "cpus": int(ray.cluster_resources().get("CPU", 0)), "ray_version": ray.__version__,
                         "start_s": round(time.perf_counter() - started, 3)}
            yield RayRun(ray, self.info, workers)
        finally:
            if here:
                ray.shutdown()

    def describe(self) -> dict[str, Any]:
        return dict(self.info)


def _forwarded_env(judge: JudgeConfig | None) -> dict[str, str]:
    names = {k for k in os.environ if k.startswith(FORWARDED_PREFIXES)}
    if judge is not None:
        names.add(judge.api_key_env or "OPENAI_API_KEY")
    return {k: os.environ[k] for k in sorted(names) if k in os.environ}


def batches(todo: list[Unit], limit: int = TASK_BYTES) -> list[list[Unit]]:
    """Consecutive units grouped into tasks of at most `limit` bytes (a larger unit alone)."""
    out: list[list[Unit]] = []
    size = 0
    for u in todo:
        if out and size + u.size <= limit and out[-1][-1].index + 1 == u.index:
            out[-1].append(u)
            size += u.size
        else:
            out.append([u])
            size = u.size
    return out


@dataclass
class RayRun:
    """Scoring one run's units on the connected cluster."""

    ray: Any
    info: dict[str, Any]
    workers: int | None
    notes: list[str] = field(default_factory=list)

    def score(self, base: Job, units: list[Unit], todo: list[Unit], line_counts: list[int],
              progress: Callable[[int, int], None], rubric: Rubric, judge: JudgeConfig | None,
              out: str) -> list[dict[str, Any]]:
        """Score `todo` (of the run's `units`); the tasks' totals, in unit order."""
        ray = self.ray
        if self.info["nodes"] > 1 and not is_remote(out):
            self.notes.append(f"the cluster has {self.info['nodes']} nodes: --out {out} must be on a file system "
                              "every node mounts at the same path (or on object storage, s3://...)")
        coordinator = None  # judge runs only: the cluster's judge limit and budget, and finer progress
        seeds: dict[int, str] = {}
        if rubric.judges and judge is not None:
            judge.api_key()  # fail before any work when the key is missing
            coordinator = ray.remote(Coordinator).options(num_cpus=0).remote(*_limits(judge))
            budget = ClusterBudget(coordinator, judge.max_calls, judge.max_tokens)
            base = replace(base, judge=JudgeSetup(judge, budget, judge.concurrency, keep_answers=True))
            seeds = kept_answer_parts(out) if judge.cache_dir else {}  # --no-judge-cache: reuse nothing
        # at least two tasks a CPU when the input allows, so every CPU has work until the end
        tasks = batches(todo, min(TASK_BYTES, -(-sum(u.size for u in todo) // (2 * max(1, self.info["cpus"])))))
        counts = self._count_refs(units, tasks, line_counts)
        score_task = ray.remote(_score_task).options(max_retries=MAX_RETRIES, retry_exceptions=False)

        def submit(task: list[Unit]) -> Any:
            need = _needed(task[0], line_counts, counts)  # count task -> the units it counted
            return score_task.remote(replace(base, units=task, part=task[0].index), list(line_counts), coordinator,
                                     [seeds[u.index] for u in task if u.index in seeds], list(need.values()),
                                     *need)

        window = self.workers or max(1, 2 * self.info["cpus"])  # tasks in flight
        pending: dict[Any, int] = {}
        results: dict[int, dict[str, Any]] = {}
        try:
            while len(results) < len(tasks):
                while len(results) + len(pending) < len(tasks) and len(pending) < window:
                    k = len(results) + len(pending)
                    pending[submit(tasks[k])] = k
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
                for ref in ready:
                    k = pending.pop(ref)
                    results[k] = _result(ray, ref)
                    _faults.checkpoint("unit-received")
                    if coordinator is None:  # progress by finished task
                        progress(sum(u.size for u in tasks[k]), 0)
                if coordinator is not None:  # progress as the tasks report it
                    progress(ray.get(coordinator.take_progress.remote()), 0)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if coordinator is not None:
                ray.kill(coordinator)
        return [results[k] for k in sorted(results)]

    def _count_refs(self, units: list[Unit], tasks: list[list[Unit]], line_counts: list[int]
                    ) -> dict[int, tuple[Any, list[int]]]:
        """Count tasks for the units whose lines number a task's first unit and are not known yet,
        ~`COUNT_BYTES` of consecutive units of a file each: unit -> (its count task, the units it counts)."""
        wanted: set[int] = set()
        for task in tasks:
            first = task[0]
            if first.continues_file:
                wanted.update(i for i in range(first.file_first, first.index) if line_counts[i] < 0)
        groups: list[list[int]] = []
        for i in sorted(wanted):
            last = groups[-1] if groups else None
            if last and last[-1] == i - 1 and units[i].file_first == units[last[0]].file_first \
                    and sum(units[j].size for j in last) + units[i].size <= COUNT_BYTES:
                last.append(i)
            else:
                groups.append([i])
        count_task = self.ray.remote(_count_task).options(max_retries=MAX_RETRIES)
        out: dict[int, tuple[Any, list[int]]] = {}
        for group in groups:
            ref = count_task.remote([units[i] for i in group])
            out.update(dict.fromkeys(group, (ref, group)))
        return out


def _needed(first: Unit, line_counts: list[int], counts: dict[int, tuple[Any, list[int]]]) -> dict[Any, list[int]]:
    """The count tasks a task whose first unit is `first` waits for, with the units each counts."""
    if not first.continues_file:
        return {}
    return dict(counts[i] for i in range(first.file_first, first.index) if line_counts[i] < 0)


def _limits(judge: JudgeConfig) -> tuple[int, int | None, int | None, float]:
    """The coordinator's connections, calls, tokens and lease time."""
    lease_s = judge.timeout * (judge.max_retries + 1) + LEASE_MARGIN_S  # longer than any request's attempts
    return judge.concurrency, judge.max_calls, judge.max_tokens, lease_s


def _result(ray: Any, ref: Any) -> dict[str, Any]:
    """A finished task's totals; its failure raised as what it was (a --strict load issue stays one)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, LoadIssueError):
            raise cause from None
        raise RunError(f"a scoring task failed: {type(cause).__name__}: {cause}",
                       hint="rerun with --resume to continue, or with --engine local to see the error here") from None
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.RayError) as exc:
        raise RunError(f"a scoring task's worker died {MAX_RETRIES + 1} times: {type(exc).__name__}",
                       hint="rerun with --resume to continue from the finished units") from None


def _count_task(units: list[Unit]) -> list[int]:
    from ._native import kernel_counter

    counter = kernel_counter()
    return [unit_lines(u, counter) for u in units]


def _score_task(job: Job, line_counts: list[int], coordinator: Any, seed_parts: list[str], counted: list[list[int]],
                *counts: list[int]) -> dict[str, Any]:
    """One task: score `job`'s units here (a Ray worker) into the run being built. `counts` are the
    results of the count tasks it waited for, of the units in `counted`."""
    _faults.ROLE = "worker"
    for indices, values in zip(counted, counts):
        for index, n in zip(indices, values):
            line_counts[index] = n
    job.line_counts = line_counts
    if coordinator is not None:
        job.progress = lambda nbytes, _: coordinator.add_progress.remote(nbytes)
    if job.judge is not None and seed_parts:
        job.judge = replace(job.judge, seed=read_kept_answers(seed_parts))
    tmp = None
    if not is_remote(job.run_dir):  # a folder of its own: two attempts at a unit never share a file
        tmp = job.tmp_dir = os.path.join(job.run_dir, TMP_DIR, f"task-{uuid.uuid4().hex}")
        os.makedirs(tmp)
    started = time.time()
    try:
        return {**score_share(job), "span": (started, time.time())}  # when it ran (epoch seconds)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# -- judge answers kept with the run -----------------------------------------------------------------
def kept_answer_parts(out: str) -> dict[int, str]:
    """The judge answer parts of the complete run at `out`, by unit (what a re-run seeds its units with)."""
    if is_remote(out):
        fs, path = filesystem(join(out, RUN_FILE))
        try:
            import msgspec

            info = msgspec.json.decode(fs.cat_file(path))
        except (FileNotFoundError, ValueError):
            return {}
        names = (info.get("parts") or {}).get(JUDGE, []) if isinstance(info, dict) else []
        return {int(n.rsplit("/", 1)[-1][5:10]): join(out, n) for n in names}
    folder = os.path.join(out, JUDGE)
    if not os.path.isfile(os.path.join(out, RUN_FILE)) or not os.path.isdir(folder):
        return {}
    return {int(n[5:10]): os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("part-")}


def read_kept_answers(parts: list[str]) -> dict[str, ItemAnswer]:
    return {k: a for k, (a, _) in _read_answer_parts(parts).items()}


def _read_answer_parts(parts: list[str]) -> dict[str, tuple[ItemAnswer, str]]:
    import pyarrow.parquet as pq

    out: dict[str, tuple[ItemAnswer, str]] = {}
    for part in parts:
        fs, path = filesystem(part) if is_remote(part) else (None, part)
        out.update(answers_from_columns(pq.read_table(path, filesystem=fs).to_pydict()))
    return out


def merge_kept_answers(staging: str, judge: JudgeConfig | None) -> int:
    """Put the judge answers the run kept into this machine's judge cache; how many."""
    if judge is None or not judge.cache_dir:
        return 0
    folder = join(staging, JUDGE) if is_remote(staging) else os.path.join(staging, JUDGE)
    if is_remote(folder):
        fs, path = filesystem(folder)
        fs.invalidate_cache(path)
        try:
            parts = [fs.unstrip_protocol(p) for p in sorted(fs.ls(path, detail=False))]
        except FileNotFoundError:
            parts = []
    else:
        parts = [os.path.join(folder, n) for n in sorted(os.listdir(folder))] if os.path.isdir(folder) else []
    answers = _read_answer_parts(parts)
    by_model: dict[str, list[tuple[str, ItemAnswer]]] = {}
    for key, (answer, model) in answers.items():
        by_model.setdefault(model, []).append((key, answer))
    cache = JudgeCache(judge.cache_dir)
    try:
        for model, rows in by_model.items():
            cache.put_many(rows, model)
    finally:
        cache.close()
    return len(answers)
