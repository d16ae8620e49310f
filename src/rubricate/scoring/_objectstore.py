"""A run on object storage (`--out s3://bucket/run`, or any fsspec URL), which has no atomic rename
and no flock.

    RUN/run.json                           written last, in one PUT: names the generation and its parts
    RUN/gen-00004/episodes/part-*.parquet  the parts of generation 4 (verdicts/, issues/, judge/ beside)
    RUN/gen-00005/plan.json, .units/, ...  the run being built (generation 5); what --resume continues
    RUN/.lock                              the writer's lock object, created only where none exists

**Complete or previous, never mixed.** Each run writes its parts under a prefix of its own
generation, and `run.json`, put in one request once they are all there, names them: readers follow
run.json (`stored_parts`), never a listing. Until that PUT the old run.json names the old
generation; after it, the new. Older generations are deleted after the PUT: a reader that opened
the previous run before it may find its parts gone (it fails; it never mixes).

**One writer.** `.lock` is created by a conditional write (S3 `If-None-Match: *`; on a file system
without one, fsspec's check-then-write). It holds the writer's host and pid: a lock left by a dead
process on the same host is taken over; one from another host is reported and must be deleted by
hand. Not guaranteed: a writer whose lock was deleted while it ran is not stopped (no fencing).

**Units.** A worker writes a unit's files to a local scratch folder and uploads them at commit: the
parts, then the marker (`.units/part-NNNNN.json`); a unit is done when its marker exists. A PUT
replaces an object whole, so a unit written twice (a retried task) leaves one copy of its rows.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
import weakref
from datetime import datetime, timezone
from typing import Any

import msgspec
import pyarrow.parquet as pq

from ..errors import OutputError, RunLockedError
from ..traces import TraceFile
from ..traces.remote import filesystem, join
from . import _faults
from ._lifecycle import LOCK_FILE, PLAN_FILE, RUN_ENTRIES, OneWriter, plan_document, planned_units
from ._store import EPISODES, ISSUES, JUDGE, RUN_FILE, SCHEMAS, UNITS_DIR, VERDICTS, part_name
from ._units import Unit

GENERATION_PREFIX = "gen-"
TABLES = (EPISODES, VERDICTS, ISSUES, JUDGE)
_encode = msgspec.json.encode


def generation_name(generation: int) -> str:
    return f"{GENERATION_PREFIX}{generation:05d}"


def _path(fs: Any, url: str) -> str:
    return fs._strip_protocol(url)


def _listing(fs: Any, url: str) -> list[str]:
    """The names directly under `url` (fresh: not from fsspec's listing cache); [] when there is none."""
    path = _path(fs, url)
    fs.invalidate_cache(path)
    try:
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False))
    except FileNotFoundError:
        return []


def _read_json(fs: Any, url: str) -> Any:
    try:
        return msgspec.json.decode(fs.cat_file(_path(fs, url)))
    except FileNotFoundError:
        return None


def _write_json(fs: Any, url: str, value: Any, **kwargs: Any) -> None:
    fs.pipe_file(_path(fs, url), msgspec.json.format(_encode(value), indent=2) + b"\n", **kwargs)


class RemoteParts:
    """What a `PartWriter` of a remote run uploads through: a local scratch folder for the files of a
    unit, and `commit` (the parts, then the marker)."""

    def __init__(self, run_dir: str) -> None:
        self.fs, _ = filesystem(run_dir)
        self.scratch = tempfile.mkdtemp(prefix="rubricate-parts-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.scratch, True)

    def commit(self, moves: list[tuple[str, str]], marker_url: str, marker: dict[str, Any]) -> None:
        if moves:  # the parts, uploaded together, then the marker
            self.fs.put([tmp for tmp, _ in moves], [_path(self.fs, final) for _, final in moves])
            for tmp, _ in moves:
                os.unlink(tmp)
        _write_json(self.fs, marker_url, marker)


def stored_parts(out: str, info: dict[str, Any], table: str) -> list[str] | None:
    """The URLs of a remote run's parts of `table` as its run.json names them (None for a run whose
    run.json names none: one copied there from disk, read by listing)."""
    parts = info.get("parts")
    if not isinstance(parts, dict):
        return None
    return [join(out, p) for p in parts.get(table, [])]


class RemoteRunWriter(OneWriter):
    """The one writer of a run on object storage (the interface of `RunWriter`; see the module)."""

    def __init__(self, out: str, *, resume: bool = False, force: bool = False) -> None:
        self.out, self.resume, self.force = out.rstrip("/"), resume, force
        self.fs, _ = filesystem(self.out)
        self.notes: list[str] = []
        self.complete = False  # run.json is the swap: a run is never built whole and left unswapped
        self._token: str | None = None
        self.generation = 0
        self.staging = ""

    def _lock_out(self) -> None:
        self._check_out()
        self._take_lock()

    def _prepare(self) -> None:
        current = _read_json(self.fs, join(self.out, RUN_FILE)) or {}
        self.generation = int(current.get("generation", 0)) + 1
        self.staging = join(self.out, generation_name(self.generation))
        self.fs.invalidate_cache(_path(self.fs, self.staging))  # another process may have written it
        has_plan = self.fs.exists(_path(self.fs, join(self.staging, PLAN_FILE)))
        if self.resume and not has_plan:
            self.resume = False
            self.notes.append("nothing to resume (no interrupted run in --out): scoring from the start")
        if not self.resume:
            self._remove(self.staging)

    # -- checks and the lock --------------------------------------------------------------------------
    def _check_out(self) -> None:
        path = _path(self.fs, self.out)
        try:
            if self.fs.isfile(path):
                raise OutputError(f"{self.out}: --out must be a prefix (a folder), and this is an object",
                                  path=self.out, hint="pass the URL of a new or existing run")
            entries = _listing(self.fs, self.out)
        except PermissionError as exc:
            raise OutputError(f"{self.out}: cannot write the run here: {exc}", path=self.out,
                              hint="check the credentials and the bucket") from None
        ours = set(RUN_ENTRIES)
        if entries and not self.force and not (set(entries) & ours or any(e.startswith(GENERATION_PREFIX)
                                                                           for e in entries)):
            raise OutputError(f"{self.out}: --out holds objects that are not a run ({', '.join(entries[:3])})",
                              path=self.out, hint="pass a new prefix, or --force to write the run among them")

    def _take_lock(self) -> None:
        url = join(self.out, LOCK_FILE)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "token": uuid.uuid4().hex,
              "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        for _ in range(3):
            try:
                _write_json(self.fs, url, me, mode="create")
                self._token = me["token"]
                return
            except FileExistsError:
                holder = _read_json(self.fs, url)
                if holder is None:
                    continue  # released meanwhile
                if _dead_here(holder):
                    self.fs.rm(_path(self.fs, url))
                    self.notes.append(f"took over the lock of pid {holder.get('pid')}, which is gone")
                    continue
                pid = holder.get("pid")
                raise RunLockedError(f"{self.out} is being written by pid {pid} on {holder.get('host')} "
                                     f"(since {holder.get('since')})", path=self.out, pid=pid,
                                     hint=f"wait for that run to finish; if its machine is gone, delete {url}")
            except OSError as exc:
                raise OutputError(f"{self.out}: cannot write the run here: {exc}", path=self.out,
                                  hint="check the URL, the credentials and the endpoint (AWS_ENDPOINT_URL)") from None
        raise RunLockedError(f"{self.out}: could not take the lock", path=self.out, hint="try again")

    def release(self) -> None:
        if self._token is None:
            return
        url = join(self.out, LOCK_FILE)
        holder = _read_json(self.fs, url)
        if holder is not None and holder.get("token") == self._token:
            self.fs.rm(_path(self.fs, url))
        self._token = None

    # -- the plan and the units -----------------------------------------------------------------------
    def save_plan(self, units: list[Unit], files: list[TraceFile], key: dict[str, Any]) -> None:
        _write_json(self.fs, join(self.staging, PLAN_FILE), plan_document(units, files, key))

    def load_plan(self, files: list[TraceFile], key: dict[str, Any]) -> list[Unit]:
        return planned_units(_read_json(self.fs, join(self.staging, PLAN_FILE)), files, key, self.out)

    def finished_units(self) -> dict[int, dict[str, Any]]:
        """Markers of the units already done (after deleting what unfinished ones left)."""
        folder = join(self.staging, UNITS_DIR)
        names = [n for n in _listing(self.fs, folder) if n.startswith("part-") and n.endswith(".json")]
        data = self.fs.cat([_path(self.fs, join(folder, n)) for n in names]) if names else {}
        done = {int(n[5:-5]): msgspec.json.decode(data[_path(self.fs, join(folder, n))]) for n in names}
        for table in TABLES:
            stale = [_path(self.fs, join(self.staging, table, n)) for n in _listing(self.fs, join(self.staging, table))
                     if n.startswith("part-") and int(n[5:10]) not in done]
            if stale:
                self.fs.rm(stale)
        return done

    # -- the swap: run.json ---------------------------------------------------------------------------
    def finish(self, info: dict[str, Any]) -> None:
        """Name the new generation's parts in run.json, put it (the swap), delete the old generations."""
        self._write_empty_parts()
        gen = generation_name(self.generation)
        parts = {t: [f"{gen}/{t}/{n}" for n in _listing(self.fs, join(self.staging, t)) if n.startswith("part-")]
                 for t in TABLES}
        info["generation"] = self.generation
        info["parts"] = {t: p for t, p in parts.items() if p}
        self._remove(join(self.staging, UNITS_DIR))
        self._remove(join(self.staging, PLAN_FILE))
        _write_json(self.fs, join(self.out, RUN_FILE), info)
        _faults.checkpoint("swapped")
        replaced = set(RUN_ENTRIES) - {RUN_FILE, LOCK_FILE}  # and a run laid out as on disk, if one was there
        for entry in _listing(self.fs, self.out):
            if (entry.startswith(GENERATION_PREFIX) and entry != gen) or entry in replaced:
                self._remove(join(self.out, entry))
        _faults.checkpoint("old-removed")

    def finish_complete(self) -> dict[str, Any]:  # pragma: no cover - `complete` is never set here
        raise AssertionError("a remote run has no built-but-unswapped state")

    def _write_empty_parts(self) -> None:
        for table, schema in SCHEMAS.items():
            folder = join(self.staging, table)
            if any(n.endswith(".parquet") for n in _listing(self.fs, folder)):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                local = os.path.join(tmp, "empty.parquet")
                pq.write_table(schema.empty_table(), local, compression="zstd")
                self.fs.put_file(local, _path(self.fs, join(folder, part_name(0) + ".parquet")))

    def _remove(self, url: str) -> None:
        path = _path(self.fs, url)
        try:
            if self.fs.isfile(path):
                self.fs.rm(path)
            else:
                self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache(path)


def _dead_here(holder: dict[str, Any]) -> bool:
    """A lock taken by a process of this host that no longer runs."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
