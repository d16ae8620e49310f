"""Reading a run directory back: run.json, verdicts, episodes, issues, and the per-item summary.

A run on object storage (`s3://...`, any fsspec URL) is read where it is: run.json names its parts,
polars reads them through pyarrow on the same file system, and DuckDB through that file system
registered with the connection (`Run.register`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import AnalysisError, RunError
from ..scoring import (
    EPISODES, FORMAT1_FILES, ISSUES, RUN_FILE, RUN_FORMAT, VERDICTS, generation_name, staging_path, stored_parts,
)
from ..traces import Episode, LoadIssue, RecordFormat, Source, Span, TraceFile, TraceFormat, get_format, read_file
from ..traces.files import compression, container_of, read_head
from ..traces.remote import filesystem, is_remote, join

READABLE_FORMATS = (1, RUN_FORMAT)

if TYPE_CHECKING:  # polars and duckdb load on first use: scoring workers never need them
    import duckdb
    import polars as pl


class Run:
    """A finished run directory. Tables come back as polars DataFrames; `sql` runs DuckDB over them.

    Format 2 keeps each table as a directory of Parquet parts (`parquet("verdicts")` is the glob to
    read); format 1 runs (one file a table) are read as they are."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fs: Any = None
        if is_remote(self.path):
            self._open_remote()
            return
        marker = os.path.join(self.path, RUN_FILE)
        if not os.path.isdir(self.path):
            raise RunError(f"{self.path}: no such run directory", path=self.path,
                           hint="pass the --out directory of a `rubricate score` run")
        if not os.path.isfile(marker):
            if os.path.isdir(staging_path(self.path)):
                raise RunError(f"{self.path}: incomplete run (no {RUN_FILE}): its scoring was interrupted",
                               path=self.path, hint="continue it with `rubricate score ... --resume`")
            if not any(os.path.exists(self.file(n)) for n in (VERDICTS, EPISODES, *FORMAT1_FILES.values())):
                raise RunError(f"{self.path}: not a run directory (no {RUN_FILE})", path=self.path,
                               hint="pass the --out directory of a `rubricate score` run")
            raise RunError(f"{self.path}: incomplete run (no {RUN_FILE})", path=self.path,
                           hint="the scoring run was interrupted or failed; run `rubricate score` again")
        with open(marker, "rb") as f:
            self.info: dict[str, Any] = msgspec.json.decode(f.read())
        self._check_format()

    def _open_remote(self) -> None:
        self.path = self.path.rstrip("/")
        self._fs, root = filesystem(self.path)
        try:
            data = self._fs.cat_file(self._fs._strip_protocol(join(self.path, RUN_FILE)))
        except FileNotFoundError:
            found = self._fs.ls(root, detail=False) if self._fs.exists(root) else []
            what = "incomplete run (no run.json): its scoring was interrupted or failed" if found else \
                "no run here (no run.json)"
            raise RunError(f"{self.path}: {what}", path=self.path,
                           hint="pass the --out of a finished `rubricate score` run, or continue it with --resume") \
                from None
        except OSError as exc:
            raise RunError(f"{self.path}: cannot read the run: {exc}", path=self.path,
                           hint="check the URL, the credentials and the endpoint (AWS_ENDPOINT_URL)") from None
        self.info = msgspec.json.decode(data)
        self._check_format()

    def _check_format(self) -> None:
        self.format = self.info.get("run_format")
        if self.format not in READABLE_FORMATS:
            raise RunError(f"{self.path}: run format {self.format!r}, this version reads "
                           f"{' and '.join(map(str, READABLE_FORMATS))}", path=self.path,
                           hint="re-score the traces with this version")

    def file(self, name: str) -> str:
        return join(self.path, name) if self._fs is not None else os.path.join(self.path, name)

    def _parts(self, table: str, ext: str) -> list[str]:
        """A table's files: named by run.json (a run written to object storage), else listed."""
        if self.format == 1:
            return [self.file(FORMAT1_FILES[table])]
        if self._fs is None:
            folder = self.file(table)
            return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(ext)] \
                if os.path.isdir(folder) else []
        named = stored_parts(self.path, self.info, table)
        if named is not None:
            return named
        folder = self._fs._strip_protocol(self.file(table))
        self._fs.invalidate_cache(folder)  # listed fresh: another process may have written the run
        names = self._fs.ls(folder, detail=False) if self._fs.exists(folder) else []
        return [self._fs.unstrip_protocol(n) for n in sorted(names) if n.endswith(ext)]

    def parquet(self, table: str) -> list[str]:
        """The Parquet files of a table (`episodes` or `verdicts`), in input order. Read them as a list
        (DuckDB `read_parquet([...])`, polars with `glob=False`): a run's path may hold glob characters.
        From outside, `RUN/verdicts/*.parquet` is the same dataset (on object storage: the parts
        run.json names, under `RUN/gen-NNNNN/`)."""
        if self.format != 1 and self._fs is None:
            folder = self.file(table)
            return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".parquet")]
        return self._parts(table, ".parquet")

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB connection `con` read this run's files (`parquet_sql`): a remote run's file
        system is registered with it (fsspec); nothing is needed for a local run."""
        if self._fs is None:
            return
        protocol = self._fs.protocol if isinstance(self._fs.protocol, str) else self._fs.protocol[0]
        if protocol not in con.list_filesystems():  # one file system a scheme: two runs there share it
            con.register_filesystem(self._fs)

    def parquet_sql(self, table: str) -> str:
        """`read_parquet([...])` of a table's files, for DuckDB SQL."""
        return "read_parquet([" + ", ".join("'" + _quote(f) + "'" for f in self.parquet(table)) + "])"

    @property
    def issues_path(self) -> str:
        """Where the run's load issues are: `issues/` (format 2) or `issues.jsonl` (format 1)."""
        if self._fs is not None and self.format != 1 and self.info.get("parts"):
            return join(self.path, generation_name(int(self.info.get("generation", 0))), ISSUES)
        return self.file(FORMAT1_FILES[ISSUES] if self.format == 1 else ISSUES)

    def issue_files(self) -> list[str]:
        """The run's issues files (JSONL), in input order."""
        return self._parts(ISSUES, ".jsonl")

    @property
    def item_order(self) -> list[str]:
        return [i["id"] for i in self.info["rubric"]["items"]]

    def verdicts(self) -> pl.DataFrame:
        return self._table(VERDICTS)

    def episodes(self) -> pl.DataFrame:
        return self._table(EPISODES)

    def _table(self, table: str) -> pl.DataFrame:
        import polars as pl

        if self._fs is None:
            return pl.read_parquet(self.parquet(table), glob=False)
        import pyarrow.parquet as pq

        files = [self._fs._strip_protocol(p) for p in self.parquet(table)]
        return pl.from_arrow(pq.read_table(files, filesystem=self._fs))  # type: ignore[return-value]

    def _open(self, path: str) -> Any:
        return self._fs.open(self._fs._strip_protocol(path), "rb") if self._fs is not None else open(path, "rb")

    def issues(self, limit: int | None = None) -> list[LoadIssue]:
        out: list[LoadIssue] = []
        dec = msgspec.json.Decoder(LoadIssue)
        for path in self.issue_files():
            with self._open(path) as f:
                for line in f:
                    if limit is not None and len(out) >= limit:
                        return out
                    out.append(dec.decode(line))
        return out

    def load_episodes(self, ids: Iterable[str]) -> dict[str, Episode]:
        """Re-read these episodes, every step, from the trace files the run read (for drill-down).

        Episodes are found by file and line/index; a file that moved or changed since the run
        leaves its episodes out of the result (the caller sees which ids are missing)."""
        import polars as pl

        wanted = list(dict.fromkeys(ids))
        rows = self.episodes().filter(pl.col("episode_id").is_in(wanted)) \
            .select("episode_id", "source_file", "format", "source_line", "source_index", "source_path")
        by_file: dict[tuple[str, str], dict[tuple[int | None, int | None], tuple[str, str]]] = {}
        for eid, file, fmt, line, index, path in rows.iter_rows():
            by_file.setdefault((file, fmt), {})[(line, index)] = (eid, path)
        found: dict[str, Episode] = {}
        for (file, fmt), keys in by_file.items():
            if not file or not (is_remote(file) or os.path.isfile(file)):
                continue
            remaining = dict(keys)
            for item in _read_remote(file, fmt) if is_remote(file) else _read_at(get_format(fmt), file, remaining):
                if isinstance(item, Episode):
                    key = (item.source.line, item.source.index)
                    hit = remaining.pop(key, None)
                    if hit is not None:  # same id and source as in the run, whatever root it was read from
                        item.id, item.source = hit[0], Source(hit[1], *key)
                        found[hit[0]] = item
                        if not remaining:
                            break
        return found

    @cached_property
    def _db(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        con = duckdb.connect()
        self.register(con)
        for table in (VERDICTS, EPISODES):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {self.parquet_sql(table)}")
        return con

    def sql(self, query: str) -> pl.DataFrame:
        """Run DuckDB SQL over the views `verdicts` and `episodes`."""
        return self._db.sql(query).pl()

    def cohort_sql(self, by: str, alias: str = "") -> str:
        """DuckDB expression for an episode's cohort under `by`: an episode column (`task_id`,
        `source_file`, `format`, ...) or a metadata key; '(none)' where an episode has no value.
        `alias` qualifies the columns ("e." for `episodes e`). AnalysisError when no episode has `by`."""
        if by in COHORT_COLUMNS:
            return f"coalesce(CAST({alias}{by} AS VARCHAR), {_sql_str(NO_COHORT)})"
        path = _sql_str('$."' + by.replace('"', '\\"') + '"')
        if by not in self._metadata_keys:
            _unknown_cohort_key(by, self._metadata_keys)
        return f"coalesce(json_extract_string({alias}metadata, {path}), {_sql_str(NO_COHORT)})"

    @cached_property
    def _metadata_keys(self) -> frozenset[str]:
        rows = self._db.sql("SELECT DISTINCT unnest(json_keys(metadata)) FROM episodes "
                            "WHERE metadata IS NOT NULL AND json_type(metadata) = 'OBJECT'").fetchall()
        return frozenset(r[0] for r in rows)

    def rows(self, query: str) -> list[dict[str, Any]]:
        """DuckDB SQL over the views `verdicts` and `episodes`, as a list of dicts (no polars: quick to
        start, for small results)."""
        rel = self._db.sql(query)
        return [dict(zip(rel.columns, row)) for row in rel.fetchall()]

    def summary_rows(self, by: str | None = None) -> list[dict[str, Any]]:
        """Per item (and per cohort when `by` names an episode column or metadata key, e.g. "model"):
        pass / fail / na / error counts and the pass rate, in rubric order. na and error are left out of
        the rate's denominator."""
        cohort, source = "", "verdicts"
        if by:
            cohort = f", {self.cohort_sql(by, 'e.')} AS cohort"
            source = "verdicts v JOIN episodes e USING (episode_id)"
        rows = self.rows(f"""
            SELECT item{cohort}, any_value(behavior) AS behavior,
                   count(*) FILTER (verdict = 'pass')  AS pass,
                   count(*) FILTER (verdict = 'fail')  AS fail,
                   count(*) FILTER (verdict = 'na')    AS na,
                   count(*) FILTER (verdict = 'error') AS error
            FROM {source} GROUP BY ALL
        """)
        for row in rows:
            decided = row["pass"] + row["fail"]
            row["pass_rate"] = row["pass"] / decided if decided else None
        order = {item: k for k, item in enumerate(self.item_order)}
        return sorted(rows, key=lambda r: (order.get(r["item"], len(order)), r["item"], r.get("cohort") or ""))

    def summary(self, by: str | None = None) -> pl.DataFrame:
        """`summary_rows` as a polars DataFrame."""
        import polars as pl

        schema = {"item": pl.String, **({"cohort": pl.String} if by else {}), "behavior": pl.String,
                  **{v: pl.Int64 for v in ("pass", "fail", "na", "error")}, "pass_rate": pl.Float64}
        return pl.DataFrame(self.summary_rows(by), schema=schema)

    def na_everywhere(self) -> list[dict[str, Any]]:
        """Items that are na in every episode that has their verdict, with their most common na reason
        (and its count): an item that never applies usually lacks its parameters (tool roles)."""
        rows = self.rows("""
            WITH r AS (SELECT item, reason, count(*) AS n FROM verdicts WHERE verdict = 'na' GROUP BY ALL),
                 t AS (SELECT item FROM verdicts GROUP BY item HAVING count(*) FILTER (verdict != 'na') = 0)
            SELECT item, arg_max(reason, n) AS reason, max(n) AS reason_count, sum(n)::BIGINT AS episodes
            FROM r JOIN t USING (item) GROUP BY item""")
        order = {item: k for k, item in enumerate(self.item_order)}
        return sorted(rows, key=lambda r: (order.get(r["item"], len(order)), r["item"]))

    def error_reasons(self, per_item: int = 3) -> list[dict[str, Any]]:
        """Error verdicts grouped by item and reason, most frequent first (at most `per_item` reasons
        an item), with each group's count and one episode that has it."""
        rows = self.rows(f"""
            WITH g AS (SELECT item, reason, count(*) AS n, min(episode_id) AS example FROM verdicts
                       WHERE verdict = 'error' GROUP BY ALL),
                 r AS (SELECT *, row_number() OVER (PARTITION BY item ORDER BY n DESC, reason) AS k,
                              count(*) OVER (PARTITION BY item) AS reasons FROM g)
            SELECT item, reason, n AS count, example, reasons FROM r WHERE k <= {int(per_item)}""")
        order = {item: k for k, item in enumerate(self.item_order)}
        return sorted(rows, key=lambda r: (order.get(r["item"], len(order)), r["item"], -r["count"], r["reason"]))


COHORT_COLUMNS = ("task_id", "source_file", "source_path", "format")
NO_COHORT = "(none)"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _unknown_cohort_key(by: str, keys: frozenset[str]) -> None:
    import difflib

    known = [*COHORT_COLUMNS, *sorted(keys)]
    close = difflib.get_close_matches(by, known, n=1)
    shown = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
    hint = (f"did you mean '{close[0]}'? " if close else "") + f"keys the episodes have: {shown}"
    raise AnalysisError(f"--by {by}: no episode has the key '{by}' (neither an episode column nor a metadata key)",
                        name=by, hint=hint)


def _read_at(reader: TraceFormat, file: str, keys: Iterable[tuple[int | None, int | None]]) -> Iterator[Any]:
    """What `reader` reads from `file`, or, for an uncompressed JSONL file of a record format and
    keys that are all line numbers, only the records on those lines: the other lines are skipped
    undecoded (a few sampled episodes out of a 1 GB file cost a scan for newlines, not a parse)."""
    lines = {line for line, _ in keys}
    if None in lines or not isinstance(reader, RecordFormat) or compression(file) \
            or container_of(file, read_head(file, 4096)) != "jsonl":
        yield from reader.read(file)
        return
    spans = [Span(start, start + 1, number) for number, start in _line_starts(file, lines)]
    for span in spans:
        yield from reader.read(file, span)


def _read_remote(url: str, fmt: str) -> Iterator[Any]:
    """The records of a remote trace file (read whole through a local copy); nothing when it is gone."""
    fs, path = filesystem(url)
    try:
        size = int(fs.size(path))
    except FileNotFoundError:
        return
    yield from read_file(TraceFile(url, url.rsplit("/", 1)[0], size), fmt)


def _line_starts(file: str, lines: set[int], chunk_size: int = 1 << 24) -> list[tuple[int, int]]:
    """(line, byte offset where it starts) of these 1-based lines that the file has, found by
    counting newlines chunk by chunk (no line is copied or decoded)."""
    wanted = sorted(lines)
    out = [(n, 0) for n in wanted if n <= 1]
    k, seen, base = len(out), 0, 0  # seen: newlines before this chunk; base: its offset
    with open(file, "rb") as f:
        while k < len(wanted):
            chunk = f.read(chunk_size)
            if not chunk:
                break
            total = chunk.count(b"\n")
            pos, count = 0, seen
            while k < len(wanted) and wanted[k] - 1 <= seen + total:
                while count < wanted[k] - 1:  # line n starts after the (n - 1)-th newline
                    pos = chunk.index(b"\n", pos) + 1
                    count += 1
                out.append((wanted[k], base + pos))
                k += 1
            seen += total
            base += len(chunk)
    return out


def _quote(path: str) -> str:
    return path.replace("'", "''")


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a run directory written by `score_run` / `rubricate score`."""
    return Run(path)
