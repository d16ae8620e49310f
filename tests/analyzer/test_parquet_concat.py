"""concat_parquet: Parquet files joined by copying their bytes and writing one new footer."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import random
import struct
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubricate.analyzer import _parquet_concat as pc
from rubricate.analyzer._parquet_concat import concat_parquet
from rubricate.analyzer._store import EPISODE_SCHEMA, VERDICT_SCHEMA, stitch
from rubricate.analyzer._thrift_compact import BINARY, STRUCT, Field, Struct, decode_struct, encode_struct

TYPES: dict[str, pa.DataType] = {
    "i8": pa.int8(), "i16": pa.int16(), "i32": pa.int32(), "i64": pa.int64(), "u32": pa.uint32(),
    "f32": pa.float32(), "f64": pa.float64(), "bool": pa.bool_(), "str": pa.string(), "bin": pa.binary(),
    "lstr": pa.large_string(), "list_i32": pa.list_(pa.int32()), "list_str": pa.list_(pa.string()),
    "struct": pa.struct([("x", pa.int32()), ("y", pa.string())]), "date": pa.date32(),
    "ts": pa.timestamp("us"), "dec": pa.decimal128(10, 2), "fixed": pa.binary(4),
}
WORDS = ["", "a", "pass", "fail", "na", "error", "question", "naïve ünïcode", "x" * 40, "tool_call"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _value(t: pa.DataType, r: random.Random, small: bool) -> Any:
    """One random value of type `t` (`small`: few distinct values, so dictionaries are used)."""
    if pa.types.is_boolean(t):
        return r.random() < 0.5
    if pa.types.is_integer(t):
        lo, hi = (0, 5) if small else (-(2 ** (t.bit_width - 1)), 2 ** (t.bit_width - 1) - 1)
        return r.randint(max(lo, 0) if pa.types.is_unsigned_integer(t) else lo, hi)
    if pa.types.is_floating(t):
        return float(r.randint(0, 5)) if small else r.uniform(-1e6, 1e6)
    if pa.types.is_fixed_size_binary(t):
        return bytes(r.randrange(256) for _ in range(t.byte_width))
    if pa.types.is_binary(t):
        return r.choice(WORDS).encode() if small else os.urandom(r.randint(0, 30))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return r.choice(WORDS) if small else "".join(r.choice("abcdé€z ") for _ in range(r.randint(0, 30)))
    if pa.types.is_list(t):
        return [_value(t.value_type, r, small) for _ in range(r.randint(0, 4))]
    if pa.types.is_struct(t):
        return {f.name: _value(f.type, r, small) for f in t}
    if pa.types.is_date(t):
        return dt.date(2000, 1, 1) + dt.timedelta(days=r.randint(0, 9000))
    if pa.types.is_timestamp(t):
        return dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=r.randint(0, 10 ** 15))
    if pa.types.is_decimal(t):
        return decimal.Decimal(r.randint(-10 ** 9, 10 ** 9)).scaleb(-2)
    raise AssertionError(t)


def make_table(schema: pa.Schema, rows: int, seed: int) -> pa.Table:
    r = random.Random(seed)
    small = r.random() < 0.5
    cols = {f.name: [None if r.random() < 0.15 else _value(f.type, r, small) for _ in range(rows)]
            for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)


def write(path: Path, table: pa.Table, opts: dict[str, Any], row_group: int, empty_group: bool = False) -> None:
    """Write `table` in row groups of `row_group` rows; with no rows, no row group (or one empty)."""
    with pq.ParquetWriter(path, table.schema, **opts) as writer:
        if table.num_rows or empty_group:
            writer.write_table(table, row_group_size=row_group)


def footer(path: Path) -> bytes:
    data = path.read_bytes()
    (n,) = struct.unpack("<I", data[-8:-4])
    return data[-8 - n:-8]


def _chunk_start(c: Any) -> int:
    return c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset


def _chunks(path: Path) -> list[tuple[Struct, Any]]:
    """Every column chunk: (our decoded ColumnChunk, pyarrow's metadata of it)."""
    meta, _ = decode_struct(footer(path))
    md = pq.read_metadata(path)
    return [(cc, md.row_group(g).column(j)) for g, rg in enumerate(meta.get(4).items)
            for j, cc in enumerate(rg.get(1).items)]


def check_concat(inputs: list[Path], tables: list[pa.Table], out: Path) -> None:
    got = pq.read_table(out)
    assert got.equals(pa.concat_tables(tables))
    assert got.schema.equals(pq.read_schema(inputs[0]), check_metadata=True)
    # other readers: the same rows as from the inputs one by one
    con = duckdb.connect()
    try:
        rows = con.sql(f"SELECT * FROM read_parquet('{out}')").fetchall()
        assert rows == [row for p in inputs for row in con.sql(f"SELECT * FROM read_parquet('{p}')").fetchall()]
    finally:
        con.close()
    assert pl.read_parquet(out).equals(pl.concat([pl.read_parquet(p) for p in inputs]))
    # every row group and column chunk moved as it was: statistics, sizes, bytes, indexes, bloom filters
    md = pq.read_metadata(out)
    assert md.num_rows == sum(t.num_rows for t in tables)
    assert md.num_row_groups == sum(pq.read_metadata(p).num_row_groups for p in inputs)
    outside = _chunks(out)
    inside = [c for p in inputs for c in _chunks(p)]
    assert len(outside) == len(inside)
    out_bytes = out.read_bytes()
    in_bytes = {p: p.read_bytes() for p in inputs}
    owners = [p for p in inputs for _ in _chunks(p)]
    for (occ, o), (icc, i), src in zip(outside, inside, owners):
        data = in_bytes[src]
        if i.statistics is None:
            assert o.statistics is None
        else:
            assert o.statistics.equals(i.statistics)
        for name in ("num_values", "total_compressed_size", "total_uncompressed_size", "encodings",
                     "compression", "path_in_schema", "has_dictionary_page", "bloom_filter_length",
                     "has_offset_index", "has_column_index"):
            assert getattr(o, name) == getattr(i, name), name
        os_, is_ = _chunk_start(o), _chunk_start(i)
        if i.data_page_offset < 4:  # no data page (an empty row group): the 0 stays
            assert o.data_page_offset == i.data_page_offset
        else:
            assert o.data_page_offset - os_ == i.data_page_offset - is_
        size = i.total_compressed_size
        assert out_bytes[os_:os_ + size] == data[is_:is_ + size]
        if i.bloom_filter_offset is not None:
            bo, bi, n = o.bloom_filter_offset, i.bloom_filter_offset, i.bloom_filter_length
            assert out_bytes[bo:bo + n] == data[bi:bi + n]
        if icc.get(6) is not None:  # column index: copied as it is
            n = icc.get(7)
            assert occ.get(7) == n
            assert out_bytes[occ.get(6):occ.get(6) + n] == data[icc.get(6):icc.get(6) + n]
        assert (occ.get(4) is None) == (icc.get(4) is None)
        if icc.get(4) is not None:  # offset index: its pages moved with the chunk
            oi, used = decode_struct(out_bytes, occ.get(4))
            assert used - occ.get(4) == occ.get(5)
            ii, _ = decode_struct(data, icc.get(4))
            assert oi.field(2) == ii.field(2)
            olocs, ilocs = oi.get(1).items, ii.get(1).items
            assert len(olocs) == len(ilocs)
            for ol, il in zip(olocs, ilocs):
                assert ol.get(2) == il.get(2) and ol.get(3) == il.get(3)
                assert ol.get(1) - os_ == il.get(1) - is_
                assert out_bytes[ol.get(1):ol.get(1) + ol.get(2)] == data[il.get(1):il.get(1) + il.get(2)]
    assert_round_trip(out)


def assert_round_trip(path: Path) -> None:
    """Decoding and encoding the footer, column and offset indexes gives the same bytes."""
    raw = footer(path)
    for spec in (None, pc.FOOTER_SPEC):
        meta, used = decode_struct(raw, 0, spec)
        assert used == len(raw) and encode_struct(meta) == raw
    data = path.read_bytes()
    for cc, c in _chunks(path):
        for at, length in ((cc.get(4), cc.get(5)), (cc.get(6), cc.get(7)),
                           (c.bloom_filter_offset, None)):
            if at is not None:
                s, end = decode_struct(data, at)
                assert length is None or end - at == length
                assert encode_struct(s) == data[at:end]


writer_opts = st.fixed_dictionaries({
    "compression": st.sampled_from(["zstd", "snappy", "none"]),
    "use_dictionary": st.booleans(),
    "write_statistics": st.booleans(),
    "write_page_index": st.booleans(),
    "data_page_size": st.sampled_from([64, 1024, 1 << 20]),
    "data_page_version": st.sampled_from(["1.0", "2.0"]),
})


def _bloom(schema: pa.Schema, on: bool) -> dict[str, Any]:
    cols = {f.name: {"ndv": 50} for f in schema if not pa.types.is_boolean(f.type)}
    return {"bloom_filter_options": cols} if on and cols else {}


@st.composite
def schemas(draw: st.DrawFn) -> pa.Schema:
    choice = draw(st.sampled_from(["episodes", "verdicts", "random", "random"]))
    if choice == "episodes":
        return EPISODE_SCHEMA
    if choice == "verdicts":
        return VERDICT_SCHEMA
    names = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=6))
    return pa.schema([(f"c{k}_{n}", TYPES[n]) for k, n in enumerate(names)])


@SETTINGS
@given(schema=schemas(), opts=writer_opts, bloom=st.booleans(), seed=st.integers(0, 2 ** 32),
       files=st.lists(st.tuples(st.just(0) | st.integers(0, 300), st.integers(1, 120), st.booleans()),
                      min_size=1, max_size=5),
       in_place=st.booleans())
def test_concat_equals_concat_tables(tmp_path: Path, schema: pa.Schema, opts: dict[str, Any], bloom: bool,
                                     seed: int, files: list[tuple[int, int, bool]], in_place: bool) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    paths, tables = [], []
    for k, (rows, group, empty_group) in enumerate(files):
        t = make_table(schema, rows, seed + k)
        paths.append(d / f"part-{k}.parquet")
        write(paths[-1], t, {**opts, **_bloom(schema, bloom)}, group, empty_group)
        tables.append(t)
    for p in paths:
        assert_round_trip(p)
    saved = [p.read_bytes() for p in paths]
    fresh = d / "out.parquet"
    concat_parquet([str(p) for p in paths], str(fresh))
    check_concat(paths, tables, fresh)
    if in_place:  # appending to the first part in place gives the same file
        concat_parquet([str(p) for p in paths], str(paths[0]))
        assert paths[0].read_bytes() == fresh.read_bytes()
    else:
        assert [p.read_bytes() for p in paths] == saved
    assert sorted(os.listdir(d)) == sorted([p.name for p in paths] + ["out.parquet"])  # no temp left


@pytest.mark.parametrize("writer", ["duckdb", "polars"])
def test_other_writers(tmp_path: Path, writer: str) -> None:
    tables = [make_table(VERDICT_SCHEMA, n, n) for n in (500, 0, 1300)]
    paths = [tmp_path / f"{writer}-{k}.parquet" for k in range(len(tables))]
    for t, p in zip(tables, paths):
        if writer == "duckdb":
            con = duckdb.connect()
            con.register("t", t)
            con.execute(f"COPY t TO '{p}' (FORMAT parquet, ROW_GROUP_SIZE 256)")
            con.close()
        else:
            pl.from_arrow(t).write_parquet(p, row_group_size=256, statistics=True)
    out = tmp_path / "out.parquet"
    concat_parquet([str(p) for p in paths], str(out))
    assert pq.read_table(out).equals(pa.concat_tables([pq.read_table(p) for p in paths]))
    check_concat(paths, [pq.read_table(p) for p in paths], out)


def _two(tmp_path: Path, second: pa.Schema, **opts: Any) -> list[str]:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write(a, make_table(VERDICT_SCHEMA, 10, 1), {}, 5)
    write(b, make_table(second, 10, 2), opts, 5)
    return [str(a), str(b)]


def test_schema_mismatch_is_refused(tmp_path: Path) -> None:
    other = pa.schema([f.with_type(pa.large_string()) if f.name == "reason" else f for f in VERDICT_SCHEMA])
    paths = _two(tmp_path, other)
    with pytest.raises(ValueError, match="b.parquet.*schema"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    paths = _two(tmp_path, pa.schema(list(VERDICT_SCHEMA)[:-1]))
    with pytest.raises(ValueError, match="b.parquet.*schema"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    paths = _two(tmp_path, VERDICT_SCHEMA.with_metadata({"k": "v"}))
    with pytest.raises(ValueError, match="b.parquet.*key_value_metadata"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    paths = _two(tmp_path, VERDICT_SCHEMA, store_schema=False)
    with pytest.raises(ValueError, match="b.parquet.*key_value_metadata"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    paths = _two(tmp_path, VERDICT_SCHEMA)  # another writer (or version of it)
    meta, _ = decode_struct(footer(Path(paths[1])))
    meta.set(6, BINARY, b"parquet-mr version 1.7.0")
    _replace_footer(Path(paths[1]), meta)
    with pytest.raises(ValueError, match="b.parquet.*created_by"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    assert not (tmp_path / "out.parquet").exists()


def _replace_footer(path: Path, meta: Struct) -> None:
    raw = encode_struct(meta)
    data = path.read_bytes()
    path.write_bytes(data[:-8 - len(footer(path))] + raw + struct.pack("<I", len(raw)) + b"PAR1")


def test_encrypted_and_foreign_files_are_refused(tmp_path: Path) -> None:
    paths = _two(tmp_path, VERDICT_SCHEMA)
    b = Path(paths[1])
    good = b.read_bytes()
    b.write_bytes(good[:-4] + b"PARE")
    with pytest.raises(ValueError, match="b.parquet.*encrypted"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    b.write_bytes(good)
    meta, _ = decode_struct(footer(b))  # a plaintext footer of an encrypted file
    meta.fields.append(Field(8, STRUCT, Struct([Field(1, STRUCT, Struct())])))
    _replace_footer(b, meta)
    with pytest.raises(ValueError, match="b.parquet.*encrypted"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    b.write_bytes(good)
    meta, _ = decode_struct(footer(b))  # a column chunk in another file
    meta.get(4).items[0].get(1).items[0].set(1, BINARY, b"elsewhere.parquet")
    _replace_footer(b, meta)
    with pytest.raises(ValueError, match="b.parquet.*another file"):
        concat_parquet(paths, str(tmp_path / "out.parquet"))
    for junk in (b"", b"PAR1", b"not parquet at all", good[:-3], good[:40] + good[-8:]):
        b.write_bytes(junk)
        with pytest.raises(ValueError, match="b.parquet"):
            concat_parquet(paths, str(tmp_path / "out.parquet"))
    b.write_bytes(good)
    with pytest.raises(ValueError, match="only be the first"):
        concat_parquet(paths, paths[1])
    with pytest.raises(ValueError):
        concat_parquet([], str(tmp_path / "out.parquet"))
    assert not (tmp_path / "out.parquet").exists()


def test_failed_append_in_place_restores_the_first_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _two(tmp_path, VERDICT_SCHEMA)
    before = Path(paths[0]).read_bytes()

    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pc, "_copy", broken)
    with pytest.raises(OSError, match="disk full"):
        concat_parquet(paths, paths[0])
    assert Path(paths[0]).read_bytes() == before


def test_offsets_moved(tmp_path: Path) -> None:
    """Cross-check with pyarrow: every offset of the second file moved by where its bytes start."""
    t = make_table(EPISODE_SCHEMA, 3000, 7)
    a, b, out = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "out.parquet"
    for p in (a, b):
        write(p, t, {"write_page_index": True, "bloom_filter_options": {"episode_id": {"ndv": 3000}}}, 700)
    concat_parquet([str(a), str(b)], str(out))
    shift = a.stat().st_size - 8 - len(footer(a)) - 4
    grown = [co.get(5) - ci.get(5) for (ci, _), (co, _) in zip(_chunks(b), _chunks(out)[len(_chunks(a)):])]
    assert set(grown) == {0, 1}  # offsets past 8191 take a byte more: some offset indexes grew
    ma, mo = pq.read_metadata(a), pq.read_metadata(out)
    assert mo.num_row_groups == 2 * ma.num_row_groups
    for g in range(ma.num_row_groups):
        for j in range(ma.num_columns):
            i, o1 = ma.row_group(g).column(j), mo.row_group(g).column(j)
            o2 = mo.row_group(g + ma.num_row_groups).column(j)
            for name in ("data_page_offset", "dictionary_page_offset", "bloom_filter_offset"):
                if getattr(i, name) is not None:
                    assert getattr(o1, name) == getattr(i, name)
                    assert getattr(o2, name) == getattr(i, name) + shift, name
    check_concat([a, b], [t, t], out)


def test_stitch_joins_parts(tmp_path: Path) -> None:
    parts_dir, out = tmp_path / "parts", tmp_path / "run"
    parts_dir.mkdir()
    out.mkdir()
    tables: dict[str, list[pa.Table]] = {"episodes": [], "verdicts": []}
    for k, n in enumerate((40, 0, 25)):
        for name, schema in (("episodes", EPISODE_SCHEMA), ("verdicts", VERDICT_SCHEMA)):
            t = make_table(schema, n * (6 if name == "verdicts" else 1), k)
            write(parts_dir / f"{name}-{k:04d}.parquet", t, {"compression": "zstd"}, 16)
            tables[name].append(t)
        (parts_dir / f"issues-{k:04d}.jsonl").write_bytes(f'{{"part": {k}}}\n'.encode())
    stitch(str(parts_dir), 3, str(out))
    for name in ("episodes", "verdicts"):
        assert pq.read_table(out / f"{name}.parquet").equals(pa.concat_tables(tables[name]))
    assert (out / "issues.jsonl").read_text() == '{"part": 0}\n{"part": 1}\n{"part": 2}\n'
    assert sorted(os.listdir(parts_dir)) == ["episodes-0001.parquet", "episodes-0002.parquet",
                                             "issues-0000.jsonl", "issues-0001.jsonl", "issues-0002.jsonl",
                                             "verdicts-0001.parquet", "verdicts-0002.parquet"]
