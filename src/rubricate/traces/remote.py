"""Trace files on object storage or any other fsspec file system (`s3://`, `gs://`, `az://`, ...).

Readers, format detection and the native kernel read local files. A remote trace file is read
through a *mirror*: a local folder laid out like the remote tree, in which each file has its real
size but holds only the bytes fetched (the rest is a hole of a sparse file and costs no disk): the
whole file, or, for a byte range of a large JSONL file, its head (what detection reads), the range
and the line after it (where a line reader stops). The files beside it that are not traces
themselves (a `metadata.json`, a `config.toml`: what some formats read) come along, so a remote
file reads exactly as the same file on disk, under the same relative path.

Listing applies the local rules (trace suffixes, hidden names, companion files) to a mirror of
empty files laid out like the listing. Credentials and endpoints come from the file system's own
configuration: for S3 the AWS environment variables and files (`AWS_ENDPOINT_URL` names an
S3-compatible server).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ..errors import EngineError, TraceError
from .files import HEAD_BYTES, Span, is_trace_file

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
SIBLING_BYTES = 16 << 20  # files beside a trace that come along with it (metadata.json, config.toml)
BLOCK = 8 << 20           # bytes a request fetches; a unit's range is fetched in such blocks concurrently
FIRST_LINE_LIMIT = 64 << 20  # as traces._registry._first_line: detection reads at most this of line 1


def is_remote(path: Any) -> bool:
    """True for a URL with a scheme (`s3://bucket/key`): a path for fsspec, not for `open`."""
    return isinstance(path, str) and bool(_URL.match(path))


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec file system of `url` and the path on it (`bucket/key` for S3)."""
    try:
        import fsspec
    except ImportError:
        raise EngineError(f"{url}: reading and writing URLs needs fsspec",
                          hint="pip install 'rubricate[s3]' (fsspec and s3fs)") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise EngineError(f"{url}: no file system is installed for this URL ({exc})",
                          hint="for s3:// pip install 'rubricate[s3]'; other schemes need their fsspec "
                               "package (gcsfs, adlfs, ...)") from None
    except ValueError as exc:
        raise EngineError(f"{url}: {exc}", hint="use a URL fsspec knows, such as s3://bucket/prefix") from None


def url_of(fs: Any, path: str) -> str:
    """The URL of `path` on `fs` (the inverse of `filesystem`)."""
    return fs.unstrip_protocol(path)


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *(p.strip("/") for p in parts)])


def _relative(url: str, root: str) -> str:
    return url[len(root.rstrip("/")):].lstrip("/")


# -- listing ----------------------------------------------------------------------------------------
def find_remote_files(url: str, *, exclude: str | None = None) -> list[Any]:
    """Trace files under `url` (a file, or a prefix walked recursively), sorted, with the rules of
    `find_trace_files` (it walks an empty mirror of the listing): `TraceFile`s whose paths are URLs."""
    from ._loader import TraceFile, find_trace_files

    fs, path = filesystem(url)
    try:
        if fs.isfile(path):
            return [TraceFile(url, url.rsplit("/", 1)[0], int(fs.size(path)))]
        listing = fs.find(path, detail=True)
    except OSError as exc:
        raise TraceError(f"{url}: cannot list it: {exc}", path=url,
                         hint="check the URL, the credentials and the endpoint (AWS_ENDPOINT_URL)") from None
    if not listing:
        raise TraceError(f"{url}: no such file or prefix", path=url,
                         hint="pass a trace file or a prefix that holds trace files")
    root = url.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="rubricate-list-") as tmp:
        sizes: dict[str, int] = {}
        for key, info in listing.items():
            rel = _relative(url_of(fs, key), root)
            if not rel or info.get("type") == "directory":
                continue
            local = os.path.join(tmp, *rel.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            open(local, "wb").close()
            sizes[rel] = int(info.get("size") or 0)
        skip = os.path.join(tmp, *_relative(exclude, root).split("/")) \
            if exclude and is_remote(exclude) and exclude.startswith(root + "/") else None
        found = find_trace_files(tmp, exclude=skip)
        out = []
        for f in found:
            rel = os.path.relpath(f.path, tmp).replace(os.sep, "/")
            out.append(TraceFile(join(root, rel), root, sizes[rel]))
        return out


VERSION_KEYS = ("ETag", "etag", "generation", "version_id", "mtime", "LastModified", "last_modified", "created")


def signature(url: str) -> list[Any]:
    """What says a remote file is unchanged (a resumed run checks it): its size and version (the ETag
    on S3; else the first of VERSION_KEYS its file system gives, else fsspec's `ukey`)."""
    fs, path = filesystem(url)
    info = fs.info(path)
    version = next((str(info[k]) for k in VERSION_KEYS if info.get(k) is not None), None)
    return [int(info.get("size") or 0), version if version is not None else fs.ukey(path)]


# -- the mirror ---------------------------------------------------------------------------------------
@dataclass
class Mirror:
    """A local folder (`directory`) laid out like the remote tree under `root`, filled on demand."""

    root: str
    directory: str

    def __post_init__(self) -> None:
        self.fs, _ = filesystem(self.root)
        self._filled: dict[str, list[tuple[int, int]]] = {}
        self._listed: set[str] = set()

    def local(self, url: str) -> str:
        rel = _relative(url, self.root)
        return os.path.join(self.directory, *rel.split("/")) if rel else self.directory

    def place(self, url: str, size: int) -> str:
        """The local path of `url`: a sparse file of `size` bytes (created once)."""
        local = self.local(url)
        if local not in self._filled:
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as f:
                f.truncate(size)
            self._filled[local] = []
        return local

    def fill(self, url: str, size: int, start: int, end: int) -> None:
        """Fetch bytes [start, end) of `url` into its local copy."""
        local = self.place(url, size)
        end = min(end, size)
        done = self._filled[local]
        if start >= end or any(a <= start and end <= b for a, b in done):
            return
        _, path = filesystem(url)
        starts = list(range(start, end, BLOCK))
        ends = [min(end, s + BLOCK) for s in starts]
        blocks = self.fs.cat_ranges([path] * len(starts), starts, ends)  # concurrent where the store allows
        with open(local, "r+b") as f:
            for pos, stop, data in zip(starts, ends, blocks):
                if isinstance(data, BaseException) or len(data) != stop - pos:
                    raise TraceError(f"{url}: could not read bytes {pos}-{stop} of the {size} it was listed with"
                                     f"{f' ({data})' if isinstance(data, BaseException) else ''}", path=url,
                                     hint="the file changed or could not be read while it was scored: run again")
                f.seek(pos)
                f.write(data)
        done.append((start, end))

    def fill_line(self, url: str, size: int, pos: int, limit: int = FIRST_LINE_LIMIT) -> int:
        """Fetch the line that starts at `pos` (to its newline, at most `limit` bytes); where it ends."""
        _, path = filesystem(url)
        end = pos
        while end < min(size, pos + limit):
            chunk = self.fs.cat_file(path, start=end, end=min(size, end + (1 << 16)))
            if not chunk:
                break
            nl = chunk.find(b"\n")
            if nl >= 0:
                end += nl + 1
                break
            end += len(chunk)
        self.fill(url, size, pos, end)
        return end

    def fill_head(self, url: str, size: int) -> None:
        """What detection reads: the first 64 KiB and, past them, the rest of the first record's line."""
        self.fill(url, size, 0, HEAD_BYTES)
        with open(self.local(url), "rb") as f:
            head = f.read(HEAD_BYTES)
        blank = len(head) - len(head.lstrip())
        start = head.rfind(b"\n", 0, blank) + 1  # where the first non-blank line starts
        if len(head) >= HEAD_BYTES and head.find(b"\n", start) < 0:
            self.fill_line(url, size, start)

    def fetch(self, url: str, size: int) -> str:
        """The whole file, locally."""
        local = self.place(url, size)
        if not any(a == 0 and b >= size for a, b in self._filled[local]):
            _, path = filesystem(url)
            self.fs.get_file(path, local)
            self._filled[local] = [(0, size)]
        return local

    def forget(self, url: str) -> None:
        """Drop the local copy of `url` (its unit is done)."""
        local = self.local(url)
        if self._filled.pop(local, None) is not None:
            try:
                os.unlink(local)
            except OSError:
                pass

    def siblings(self, url: str) -> None:
        """Fetch the files beside `url` that are not traces (what formats read beside a trace); every
        other file beside it is placed empty (companion rules look at what exists). Once a folder."""
        from ._registry import TraceFormat, formats

        parent = url.rsplit("/", 1)[0]
        if parent in self._listed:
            return
        self._listed.add(parent)
        prefix = self.root.rstrip("/") + "/"
        try:
            entries = [(url_of(self.fs, e["name"]), int(e.get("size") or 0))
                       for e in self.fs.ls(filesystem(parent)[1], detail=True) if e.get("type") == "file"]
        except OSError:
            return
        entries = [(u, size) for u, size in entries if u.startswith(prefix)]
        for u, size in entries:
            self.place(u, size)
        suffixes = tuple(s for f in formats().values() for s in f.suffixes)
        companions = [f for f in formats().values() if type(f).companion is not TraceFormat.companion]
        for u, size in entries:
            local = self.local(u)
            if u == url or size > SIBLING_BYTES or \
                    (is_trace_file(local, suffixes) and not any(c.companion(local) for c in companions)):
                continue  # the trace itself, too large to be metadata, or a trace read by its own unit
            self.fetch(u, size)


def mirror_span(mirror: Mirror, trace: Any, span: Span) -> Any:
    """A local `TraceFile` holding what reading `span` of the remote `trace` needs (see the module)."""
    url, size = trace.path, trace.size
    whole = span.start == 0 and (span.end is None or span.end >= size)
    if whole:
        local = mirror.fetch(url, size)
    else:
        mirror.fill_head(url, size)
        mirror.fill(url, size, span.start, span.end if span.end is not None else size)
        if span.end is not None and span.end < size:
            mirror.fill_line(url, size, span.end)
        local = mirror.local(url)
    mirror.siblings(url)
    return replace(trace, path=local, root=mirror.local(trace.root))


def count_remote_lines(url: str, start: int, end: int) -> int:
    """The newlines in bytes [start, end) of a remote file."""
    fs, path = filesystem(url)
    n, pos = 0, start
    while pos < end:
        data = fs.cat_file(path, start=pos, end=min(end, pos + BLOCK))
        if not data:
            break
        n += data.count(b"\n")
        pos += len(data)
    return n


def read_remote_file(trace: Any, forced: str | None, span: Span) -> Iterator[Any]:
    """`read_file` of a remote trace: episodes and issues as for the same file on disk."""
    from ._loader import read_file

    directory = tempfile.mkdtemp(prefix="rubricate-remote-")
    try:
        local = mirror_span(Mirror(trace.root, directory), trace, span)
        yield from read_file(local, forced, span)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
