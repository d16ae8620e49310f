"""Join Parquet files of one schema into one file without decoding a page.

A Parquet file is ``PAR1``, the column chunks (and whatever else the writer put there: bloom
filters, the page index), the footer (a compact-Thrift ``FileMetaData``), its length and ``PAR1``.
`concat_parquet` copies each file's bytes between the leading magic and its footer, one file after
another, and writes one new footer: the first file's, with ``num_rows`` summed and the row groups
of all files in order, every file offset in them moved to where its bytes now lie.

The offset indexes of the page index (``OffsetIndex``) hold absolute page offsets themselves:
they are decoded, shifted and re-encoded in place (their length may change, and the offsets of
everything after them move with it). Column indexes and bloom filters hold no offsets and are
copied as they are. Encrypted files, column chunks in other files and files of different schemas
(or versions, writers or column orders) are refused with a ValueError naming the file.
"""

from __future__ import annotations

import bisect
import errno
import itertools
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._thrift_compact import (
    I16,
    I32,
    I64,
    LIST,
    STRUCT,
    Spec,
    Struct,
    ThriftError,
    TList,
    decode_struct,
    encode_struct,
    encode_value,
)

MAGIC, ENCRYPTED_MAGIC = b"PAR1", b"PARE"
# FileMetaData, RowGroup, ColumnChunk, ColumnMetaData, OffsetIndex/PageLocation field ids (parquet.thrift)
FMD_SCHEMA, FMD_NUM_ROWS, FMD_ROW_GROUPS, FMD_KV, FMD_COLUMN_ORDERS, FMD_ENCRYPTION, FMD_SIGNING_KEY = \
    2, 3, 4, 5, 7, 8, 9
RG_COLUMNS, RG_FILE_OFFSET, RG_ORDINAL = 1, 5, 7
CC_FILE_PATH, CC_FILE_OFFSET, CC_META, CC_OFFSET_INDEX, CC_OFFSET_INDEX_LEN, CC_COLUMN_INDEX = 1, 2, 3, 4, 5, 6
CC_CRYPTO, CC_ENCRYPTED_META = 8, 9
CMD_OFFSETS = (9, 10, 11, 14)  # data_page_offset, index_page_offset, dictionary_page_offset, bloom_filter_offset
OI_PAGE_LOCATIONS, PL_OFFSET = 1, 1
# what a concatenation changes is decoded; the rest (schema, statistics, ...) is kept as raw bytes
FOOTER_SPEC: Spec = {FMD_ROW_GROUPS: {RG_COLUMNS: {CC_META: {}}}}
# must be equal in every file: the new footer is the first file's. (created_by too: readers use it
# to decide which statistics to trust, and the row groups of every file get the first's)
_SAME_FIELDS = {1: "version", FMD_SCHEMA: "schema", FMD_KV: "key_value_metadata", 6: "created_by",
                FMD_COLUMN_ORDERS: "column_orders"}
_COPY_CHUNK = 1 << 24


@dataclass
class _Block:
    """An offset index, rewritten: it lies at [start, end) in its file and becomes `data`."""
    start: int
    end: int
    data: bytes


@dataclass
class _Part:
    path: str
    footer_start: int          # the region copied is [4, footer_start)
    footer: bytes
    meta: Struct
    base: int = 0              # where byte 4 of this file lands in the target
    blocks: list[_Block] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    shifts: list[int] = field(default_factory=list)  # shifts[k]: bytes gained by blocks[:k]

    @property
    def new_size(self) -> int:
        return self.footer_start - 4 + self.shifts[-1]

    def moved(self, offset: int, what: str) -> int:
        """Where `offset` of this file lies in the target."""
        if not 4 <= offset <= self.footer_start:
            raise ValueError(f"{self.path}: {what} {offset} lies outside the file's data")
        k = bisect.bisect_right(self.ends, offset)
        if k < len(self.blocks) and self.blocks[k].start < offset:
            raise ValueError(f"{self.path}: {what} {offset} points inside an offset index")
        return self.base + offset - 4 + self.shifts[k]


def _read_part(path: str) -> _Part:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(4)
        if size >= 8:
            f.seek(size - 8)
        tail = f.read(8)
        if tail[4:] == ENCRYPTED_MAGIC:
            raise ValueError(f"{path}: encrypted Parquet footer (PARE) cannot be concatenated")
        if size < 12 or head != MAGIC or tail[4:] != MAGIC:
            raise ValueError(f"{path}: not a Parquet file")
        (length,) = struct.unpack("<I", tail[:4])
        footer_start = size - 8 - length
        if footer_start < 4:
            raise ValueError(f"{path}: footer length {length} larger than the file")
        f.seek(footer_start)
        footer = f.read(length)
    try:
        meta, end = decode_struct(footer, 0, FOOTER_SPEC)
    except ThriftError as e:
        raise ValueError(f"{path}: bad Parquet footer: {e}") from None
    if end != length:
        raise ValueError(f"{path}: {length - end} stray bytes after the Parquet footer")
    if meta.field(FMD_ENCRYPTION) is not None or meta.field(FMD_SIGNING_KEY) is not None:
        raise ValueError(f"{path}: encrypted Parquet file (plaintext footer) cannot be concatenated")
    return _Part(path, footer_start, footer, meta)


def _columns(part: _Part) -> list[Struct]:
    out = []
    for rg in part.meta.get(FMD_ROW_GROUPS).items:
        for cc in rg.get(RG_COLUMNS).items:
            if cc.field(CC_FILE_PATH) is not None:
                raise ValueError(f"{part.path}: a column chunk lies in another file (file_path)")
            if cc.field(CC_CRYPTO) is not None or cc.field(CC_ENCRYPTED_META) is not None:
                raise ValueError(f"{part.path}: encrypted column chunk cannot be concatenated")
            if cc.field(CC_META) is None:
                raise ValueError(f"{part.path}: column chunk without its metadata")
            out.append(cc)
    return out


def _plan(part: _Part, base: int, fd: int) -> None:
    """Place `part` at `base` in the target: rewrite its offset indexes for their new place."""
    part.base = base
    found: list[tuple[int, int]] = []
    for cc in _columns(part):
        at = cc.get(CC_OFFSET_INDEX)
        if at is None:
            continue
        length = cc.get(CC_OFFSET_INDEX_LEN)
        if length is None or length <= 0 or at < 4 or at + length > part.footer_start:
            raise ValueError(f"{part.path}: offset index at {at} (length {length}) cannot be located")
        found.append((at, at + length))
    found.sort()
    for (_, end), (start, _) in itertools.pairwise(found):
        if start < end:
            raise ValueError(f"{part.path}: overlapping offset indexes")
    part.blocks, part.ends, part.shifts = [], [], [0]
    for start, end in found:  # in file order: a block's pages lie before it, so before its own shift
        raw = os.pread(fd, end - start, start)
        try:
            index, used = decode_struct(raw)
        except ThriftError as e:
            raise ValueError(f"{part.path}: bad offset index at {start}: {e}") from None
        if used != end - start:
            raise ValueError(f"{part.path}: offset index at {start} is not {end - start} bytes long")
        for loc in index.get(OI_PAGE_LOCATIONS, TList(STRUCT, [])).items:
            page = loc.field(PL_OFFSET)
            if page is not None:
                if page.value >= start:
                    raise ValueError(f"{part.path}: page at {page.value} lies after its offset index")
                page.value = part.moved(page.value, "page offset")
        data = encode_struct(index)
        part.blocks.append(_Block(start, end, data))
        part.ends.append(end)
        part.shifts.append(part.shifts[-1] + len(data) - (end - start))


def _shift(part: _Part, s: Struct, fid: int, what: str) -> None:
    f = s.field(fid)
    if f is not None and f.value >= 4:  # values under 4 mean "unset" to some writers
        f.value = part.moved(f.value, what)


def _row_groups(part: _Part, first_ordinal: int) -> list[Struct]:
    groups: list[Struct] = part.meta.get(FMD_ROW_GROUPS).items
    for k, rg in enumerate(groups):
        _shift(part, rg, RG_FILE_OFFSET, "row group offset")
        if rg.field(RG_ORDINAL) is not None:
            if first_ordinal + k < 1 << 15:
                rg.set(RG_ORDINAL, I16, first_ordinal + k)
            else:
                rg.remove(RG_ORDINAL)
        for cc in rg.get(RG_COLUMNS).items:
            _shift(part, cc, CC_FILE_OFFSET, "column chunk offset")
            at = cc.get(CC_OFFSET_INDEX)
            if at is not None:  # the offset index was re-encoded: its length may have changed
                cc.set(CC_OFFSET_INDEX_LEN, I32, len(part.blocks[bisect.bisect_left(part.ends, at + 1)].data))
                _shift(part, cc, CC_OFFSET_INDEX, "offset index offset")
            _shift(part, cc, CC_COLUMN_INDEX, "column index offset")
            meta = cc.get(CC_META)
            for fid in CMD_OFFSETS:
                _shift(part, meta, fid, "page offset")
    return groups


def _check_schemas(parts: list[_Part]) -> None:
    first = parts[0]
    for part in parts[1:]:
        for fid, name in _SAME_FIELDS.items():
            a, b = first.meta.field(fid), part.meta.field(fid)
            if (a is None) != (b is None) or (a is not None and b is not None and (
                    a.type != b.type or encode_value(a.type, a.value) != encode_value(b.type, b.value))):
                raise ValueError(f"{part.path}: Parquet {name} differs from that of {first.path}")


def _copy(src: int, dst: int, offset: int, count: int) -> None:
    """Append [offset, offset + count) of `src` at the position of `dst`, in the kernel where it can."""
    while count > 0:
        try:
            n = os.copy_file_range(src, dst, min(count, 1 << 30), offset)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                raise
            data = os.pread(src, min(count, _COPY_CHUNK), offset)
            _write_all(dst, data)
            n = len(data)
        if n <= 0:
            raise OSError(errno.EIO, "source file shrank while it was being copied")
        offset += n
        count -= n


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_region(part: _Part, src: int, dst: int) -> None:
    at = 4
    for block in part.blocks:
        _copy(src, dst, at, block.start - at)
        _write_all(dst, block.data)
        at = block.end
    _copy(src, dst, at, part.footer_start - at)


def concat_parquet(paths: Sequence[str], target: str) -> None:
    """Write the Parquet files `paths` (one schema) joined in order into `target`.

    The target is written through a temp file and renamed into place, unless it is `paths[0]`:
    then the other files are appended to the first in place (its footer is put back on failure).
    """
    if not paths:
        raise ValueError("concat_parquet needs at least one file")
    in_place = os.path.exists(target) and os.path.samefile(target, paths[0])
    for path in paths[1:]:
        if os.path.exists(target) and os.path.samefile(target, path):
            raise ValueError(f"{path}: the target may only be the first input")
    parts = [_read_part(p) for p in paths]
    _check_schemas(parts)
    base = 4
    for part in parts:
        with open(part.path, "rb") as f:
            _plan(part, base, f.fileno())
        base += part.new_size
    meta = parts[0].meta
    groups: list[Struct] = []
    for part in parts:
        groups += _row_groups(part, len(groups))
    meta.set(FMD_NUM_ROWS, I64, sum(p.meta.get(FMD_NUM_ROWS) for p in parts))
    old = meta.field(FMD_ROW_GROUPS)
    meta.set(FMD_ROW_GROUPS, LIST, TList(STRUCT, groups, old.value.kind if old is not None else LIST))
    footer = encode_struct(meta)
    tail = footer + struct.pack("<I", len(footer)) + MAGIC
    first = parts[0]
    if in_place and _unchanged(first, paths[0]):
        _append_in_place(parts, tail)
        return
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", dir=directory)
    try:
        _write_all(fd, MAGIC)
        for part in parts:
            with open(part.path, "rb") as f:
                _write_region(part, f.fileno(), fd)
        _write_all(fd, tail)
        os.close(fd)
        fd = -1
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
        raise


def _unchanged(part: _Part, path: str) -> bool:
    """Whether the first file's data region stays byte for byte (so it can be reused in place)."""
    if part.base != 4 or part.shifts[-1] != 0:
        return False
    with open(path, "rb") as f:
        return all(os.pread(f.fileno(), b.end - b.start, b.start) == b.data for b in part.blocks)


def _append_in_place(parts: list[_Part], tail: bytes) -> None:
    first = parts[0]
    original = first.footer + struct.pack("<I", len(first.footer)) + MAGIC
    fd = os.open(first.path, os.O_RDWR)
    try:
        os.ftruncate(fd, first.footer_start)
        os.lseek(fd, first.footer_start, os.SEEK_SET)
        try:
            for part in parts[1:]:
                with open(part.path, "rb") as f:
                    _write_region(part, f.fileno(), fd)
            _write_all(fd, tail)
        except BaseException:  # put the first file back as it was
            os.ftruncate(fd, first.footer_start)
            os.pwrite(fd, original, first.footer_start)
            raise
    finally:
        os.close(fd)
