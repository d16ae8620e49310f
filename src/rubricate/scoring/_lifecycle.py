"""A run directory's lifecycle: one writer at a time, the new run built beside the old one and swapped
in atomically, and a killed run resumed from its finished units.

    RUN/               the complete run (or an empty directory holding the lock, the first time)
    RUN/.lock          flock()ed by the writer, which writes its pid there
    .RUN.next/         the run being built (same parent, so the swap is one rename): plan.json, units'
                       parts and markers; left behind by a killed run for `--resume`

`finish` writes run.json into `.RUN.next`, carries over files the user put into RUN (hard links:
a report, notes), then exchanges the two directories in one `renameat2(RENAME_EXCHANGE)` and removes
the old one. Killed at any moment, RUN is either the previous complete run or the new complete run;
their files are never mixed. Where the exchange is not supported the swap is two renames, and a run
found missing beside its `.RUN.old` is put back first.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
from typing import Any, Self

import msgspec

from ..errors import OutputError, RunLockedError
from ..traces import Span, TraceFile
from ..traces.remote import is_remote, signature
from . import _faults
from ._store import FORMAT1_FILES, JUDGE, RUN_FILE, UNITS_DIR, drop_unfinished, prepare_layout, unit_markers, \
    write_empty_parts, write_json
from ._units import Unit

LOCK_FILE, PLAN_FILE = ".lock", "plan.json"
PLAN_VERSION = 1
RUN_ENTRIES = {RUN_FILE, LOCK_FILE, "episodes", "verdicts", "issues", JUDGE, *FORMAT1_FILES.values()}
RENAME_EXCHANGE = 2
AT_FDCWD = -100


class RunLock:
    """An exclusive flock on `DIR/.lock` holding the owner's pid. A second writer is refused at once."""

    def __init__(self, directory: str, label: str | None = None) -> None:
        path = os.path.join(directory, LOCK_FILE)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                who = f"pid {pid}" if pid else "another process"
                raise RunLockedError(f"{label or directory} is being written by {who}", path=directory, pid=pid,
                                     hint="wait for that run to finish, or pass another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the lock file was swapped away while we waited: lock the one there now
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd: int | None = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def staging_path(out: str) -> str:
    out = os.path.abspath(out)
    return os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.next")


def _old_path(out: str) -> str:
    out = os.path.abspath(out)
    return os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.old")


def is_run_dir(path: str) -> bool:
    """A directory that holds a run, a run being written, or nothing (a lock at most)."""
    entries = set(os.listdir(path))
    return not (entries - {LOCK_FILE}) or RUN_FILE in entries or bool(entries & (RUN_ENTRIES - {LOCK_FILE}))


def check_out(out: str, force: bool) -> None:
    """Refuse an --out that cannot hold a run, before anything is written."""
    if os.path.isfile(out) or (os.path.exists(out) and not os.path.isdir(out)):
        raise OutputError(f"{out}: --out must be a directory, and this is a file", path=out,
                          hint="pass the path of a new or existing run directory")
    if os.path.isdir(out) and not force and not is_run_dir(out):
        shown = sorted(e for e in os.listdir(out) if e != LOCK_FILE)[:3]
        raise OutputError(f"{out}: --out is a directory that is not a run and not empty ({', '.join(shown)}{', ...' if len(os.listdir(out)) > 4 else ''})",
                          path=out, hint="pass a new directory, or --force to write the run among these files")


class OneWriter:
    """A context manager that is the one writer of a run: `__enter__` takes the lock (`_lock_out`),
    then gets the run being built ready (`_prepare`), releasing the lock if that fails; `__exit__`
    releases it. Subclasses: `RunWriter` (a directory), `_objectstore.RemoteRunWriter` (a URL)."""

    def __enter__(self) -> Self:
        self._lock_out()
        try:
            _faults.checkpoint("locked")
            self._prepare()
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _lock_out(self) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class RunWriter(OneWriter):
    """The one writer of run directory `out` (a context manager). On leaving with an exception the
    run being built stays beside `out` for `--resume`; `out` itself is untouched. `resume` with no
    interrupted run beside `out` starts from the start (and says so in `notes`)."""

    def __init__(self, out: str, *, resume: bool = False, force: bool = False) -> None:
        out = os.fspath(out)
        # a symlink to a run directory: the run is written where it points (the link stays a link)
        self.out = os.path.realpath(out) if os.path.islink(out) else out
        self.resume, self.force = resume, force
        self.staging = staging_path(self.out)
        self.notes: list[str] = []
        self.complete = False  # resuming a run that was built whole and killed before its swap
        self._locks: list[RunLock] = []

    def _lock_out(self) -> None:
        _put_back(self.out)
        check_out(self.out, self.force)
        try:
            os.makedirs(self.out, exist_ok=True)
            self._locks.append(RunLock(self.out))
        except PermissionError as exc:
            raise OutputError(f"{self.out}: cannot write the run here: {exc.strerror}", path=self.out,
                              hint="pass an --out directory you can write") from None
        except OSError as exc:
            raise OutputError(f"{self.out}: cannot write the run here: {exc.strerror or exc}", path=self.out,
                              hint="pass an --out directory on a writable file system") from None

    def _prepare(self) -> None:
        shutil.rmtree(_old_path(self.out), ignore_errors=True)  # what a two-rename swap left
        self._prepare_staging()

    def release(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks.clear()

    def _prepare_staging(self) -> None:
        built = _generation(self.staging)
        self.complete = self.resume and built is not None and built > (_generation(self.out) or 0)
        if self.resume and not self.complete and not os.path.isfile(os.path.join(self.staging, PLAN_FILE)):
            self.resume = False  # nothing was finished: continuing is starting
            self.notes.append("nothing to resume (no interrupted run beside --out): scoring from the start")
        if not self.resume and os.path.exists(self.staging):
            shutil.rmtree(self.staging)
        try:
            os.makedirs(self.staging, exist_ok=True)
        except PermissionError as exc:
            raise OutputError(f"{os.path.dirname(self.staging)}: cannot write the run beside {self.out}: "
                              f"{exc.strerror}", path=self.out,
                              hint="the new run is built next to --out: its parent directory must be writable") from None
        self._locks.append(RunLock(self.staging, label=self.out))
        prepare_layout(self.staging)

    # -- the plan: what a resumed run must agree with ------------------------------------------------
    def save_plan(self, units: list[Unit], files: list[TraceFile], key: dict[str, Any]) -> None:
        write_json(os.path.join(self.staging, PLAN_FILE), plan_document(units, files, key))

    def load_plan(self, files: list[TraceFile], key: dict[str, Any]) -> list[Unit]:
        """The units of the interrupted run, when its inputs, rubric and settings are those of this one."""
        with open(os.path.join(self.staging, PLAN_FILE), "rb") as f:
            return planned_units(msgspec.json.decode(f.read()), files, key, self.out)

    def finished_units(self) -> dict[int, dict[str, Any]]:
        """Markers of the units already done (after dropping what unfinished ones left)."""
        done = unit_markers(self.staging)
        drop_unfinished(self.staging, set(done))
        return done

    # -- the swap -----------------------------------------------------------------------------------
    def finish(self, info: dict[str, Any]) -> None:
        """Make the built run complete (run.json), then swap it in for the old one. The run.json's
        `generation` (one more than the run it replaces) tells a built run from a replaced one."""
        info["generation"] = (_generation(self.out) or 0) + 1
        write_empty_parts(self.staging)
        for name in (UNITS_DIR, ".tmp"):
            shutil.rmtree(os.path.join(self.staging, name), ignore_errors=True)
        plan = os.path.join(self.staging, PLAN_FILE)
        if os.path.exists(plan):
            os.unlink(plan)
        write_json(os.path.join(self.staging, RUN_FILE), info)
        _faults.checkpoint("finalized")
        self._swap()

    def finish_complete(self) -> dict[str, Any]:
        """Swap in a run that was built whole before its writer was killed; its run.json."""
        path = os.path.join(self.staging, RUN_FILE)
        with open(path, "rb") as f:
            info = msgspec.json.decode(f.read())
        units = info.get("counts", {}).get("units", 0)
        info["resumed"] = {"units_done_before": units, "units": units}
        write_json(path, info)
        self._swap()
        return info

    def _swap(self) -> None:
        _carry_over(self.out, self.staging)
        _faults.checkpoint("carried")
        _exchange(self.staging, self.out)
        _faults.checkpoint("swapped")
        shutil.rmtree(self.staging, ignore_errors=True)  # the old run, now under the staging name
        _faults.checkpoint("old-removed")


def _generation(run_dir: str) -> int | None:
    """The `generation` of the run in `run_dir` (0 for a run from before generations), None without one."""
    try:
        with open(os.path.join(run_dir, RUN_FILE), "rb") as f:
            return int(msgspec.json.decode(f.read()).get("generation", 0))
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def _file_entry(f: TraceFile) -> list[Any]:
    if is_remote(f.path):  # a URL: its size and version key (the ETag on S3)
        return [f.path, f.root, *signature(f.path)]
    st = os.lstat(f.path) if f.problem is not None else os.stat(f.path)  # a dangling or looping link: itself
    return [os.path.abspath(f.path), f.root, st.st_size, st.st_mtime_ns]


def plan_document(units: list[Unit], files: list[TraceFile], key: dict[str, Any]) -> dict[str, Any]:
    """plan.json: the settings, the input files as they were, and the units."""
    index = {f.path: k for k, f in enumerate(files)}
    return {"version": PLAN_VERSION, **key, "files": [_file_entry(f) for f in files],
            "units": [[index[u.trace.path], u.span.start, u.span.end] for u in units]}


def planned_units(plan: dict[str, Any], files: list[TraceFile], key: dict[str, Any], out: str) -> list[Unit]:
    """The units of an interrupted run's plan, when its inputs, rubric and settings are those of this run."""
    changed = [k for k, v in key.items() if plan.get(k) != v]
    if plan.get("version") != PLAN_VERSION or changed:
        raise OutputError(f"{out}: the interrupted run used other settings ({', '.join(changed) or 'version'})",
                          path=out, hint="resume with the same rubric and options, or run without --resume")
    if plan["files"] != [_file_entry(f) for f in files]:
        raise OutputError(f"{out}: the trace files changed since the interrupted run", path=out,
                          hint="run without --resume to score them from the start")
    units: list[Unit] = []
    first: dict[int, int] = {}
    for k, (file_index, start, end) in enumerate(plan["units"]):
        trace = files[file_index]
        size = (trace.size if end is None else end) - start
        units.append(Unit(trace, Span(start, end, 0), size, k, first.setdefault(file_index, k)))
    return units


def open_run_writer(out: str, *, resume: bool = False, force: bool = False) -> OneWriter:
    """The writer of run `out`: `RunWriter` for a directory, `RemoteRunWriter` for a URL (`s3://...`)."""
    if is_remote(out):
        from ._objectstore import RemoteRunWriter

        return RemoteRunWriter(out, resume=resume, force=force)
    return RunWriter(out, resume=resume, force=force)


def _carry_over(out: str, staging: str) -> None:
    """Hard-link what the user put into the old run (not the run's own files) into the new one."""
    for entry in os.listdir(out):
        if entry in RUN_ENTRIES or entry.startswith((".units", ".tmp", ".parts-")):
            continue
        src, dst = os.path.join(out, entry), os.path.join(staging, entry)
        if os.path.lexists(dst):
            continue
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(src, dst)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _exchange(a: str, b: str) -> None:
    """Swap directories `a` and `b` atomically (Linux renameat2), else by two renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        fn = None
    if fn is not None:
        if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), b)
    old = _old_path(b)
    os.rename(b, old)
    os.rename(a, b)
    os.rename(old, a)


def _put_back(out: str) -> None:
    """Undo a two-rename swap killed half-way: the run moved aside but not replaced."""
    old = _old_path(out)
    if os.path.isdir(old) and not os.path.exists(out):
        os.rename(old, out)
