"""Trace files on object storage (`s3://...`) in the scoring engine: planning their units, counting
their lines, and reading each unit through a local mirror of what it needs (`rubricate.traces.remote`).

Local files go through untouched. A remote file is cut where the same file on disk would be cut
(`plan_units` runs on a mirror holding the file's head and the line at each candidate cut), and a
unit of it is scored from a mirror holding its range: the readers and the native kernel read it as
they read the same file on disk, and its episodes are recorded under the file's URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace

from ..errors import RunError
from ..traces import TraceFile
from ..traces.remote import SIBLING_BYTES, Mirror, is_remote, mirror_span
from ._units import CHUNK_BYTES, Unit, plan_units


def source_name(trace: TraceFile) -> str:
    """What a unit's episodes record as their `source_file`: the absolute path, or the URL."""
    return trace.path if is_remote(trace.path) else os.path.abspath(trace.path)


def plan(files: Sequence[TraceFile], chunk_bytes: int = CHUNK_BYTES, forced: str | None = None) -> list[Unit]:
    """`plan_units`, for local and remote files alike: a remote JSONL file larger than `chunk_bytes` is
    cut at the same line boundaries as the same file on disk."""
    big = [f for f in files if is_remote(f.path) and f.size > chunk_bytes]
    if not big:
        return plan_units(files, chunk_bytes, forced)
    with tempfile.TemporaryDirectory(prefix="rubricate-plan-") as tmp:
        mirrors: dict[str, Mirror] = {}
        local: dict[str, TraceFile] = {}
        for f in big:
            mirror = mirrors.setdefault(f.root, Mirror(f.root, os.path.join(tmp, str(len(mirrors)))))
            mirror.fill_head(f.path, f.size)
            parts = -(-f.size // chunk_bytes)  # where split_jsonl looks for line boundaries
            for k in range(1, parts):
                mirror.fill_line(f.path, f.size, f.size * k // parts)
            local[f.path] = replace(f, path=mirror.local(f.path), root=mirror.local(f.root))
        units = plan_units([local.get(f.path, f) for f in files], chunk_bytes, forced)
        remote_of = {local[f.path].path: f for f in big}
        out = []
        for u in units:
            original = remote_of.get(u.trace.path)
            if original is not None:
                _check_cut(u, original)
                u = replace(u, trace=original)
            out.append(u)
        return out


def _check_cut(unit: Unit, original: TraceFile) -> None:
    """A cut of a mirrored file must follow a newline the mirror really holds (never a hole)."""
    if unit.span.start == 0:
        return
    with open(unit.trace.path, "rb") as f:
        f.seek(unit.span.start - 1)
        if f.read(1) != b"\n":
            raise RunError(f"{original.path}: could not cut it at a line boundary (byte {unit.span.start})",
                           hint="rerun with a larger chunk, or copy the file to local disk")


class UnitInputs:
    """Where a job reads its units: a local unit as it is, a remote one from a local mirror (in a
    temporary folder, one mirror per input root); `release` drops a large file's bytes after its unit."""

    def __init__(self) -> None:
        self._dir: str | None = None
        self._mirrors: dict[str, Mirror] = {}
        self._last: TraceFile | None = None

    def local(self, unit: Unit) -> Unit:
        if not is_remote(unit.trace.path):
            return unit
        self._last = unit.trace
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="rubricate-inputs-")
        root = unit.trace.root
        mirror = self._mirrors.get(root)
        if mirror is None:
            mirror = self._mirrors[root] = Mirror(root, os.path.join(self._dir, str(len(self._mirrors))))
        return replace(unit, trace=mirror_span(mirror, unit.trace, unit.span))

    def release(self) -> None:
        """After a unit: the bytes of a large remote file it read are no longer needed."""
        trace, self._last = self._last, None
        if trace is not None and trace.size > SIBLING_BYTES:
            self._mirrors[trace.root].forget(trace.path)

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._mirrors.clear()
