"""One DuckDB connection over a run's Parquet, and the per-episode table the analysis reads.

The table `ew` has one row an episode: every item's verdict packed two bits an item into unsigned
64-bit words (p0 for items 0-31, p1 for 32-63, ...), the reward, and, when asked, the task id and the
cohort. It is built with one GROUP BY over the verdicts and episodes (no join); everything per
episode after that (behavior status, attribution, co-occurrence, patterns, cohorts) is integer
arithmetic on about a sixth of the rows.

Codes: 0 na (also an item with no verdict row), 1 error, 2 pass, 3 fail. A behavior's status in an
episode is the greatest code of its items: fail if any item fails, pass if some item passes and none
fails, error if some item errs and none passes or fails, na otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._results import Run

if TYPE_CHECKING:
    import duckdb
    import polars as pl

NA, ERROR, PASS, FAIL = 0, 1, 2, 3
CODE = "(CASE verdict WHEN 'fail' THEN 3 WHEN 'pass' THEN 2 WHEN 'error' THEN 1 ELSE 0 END)::UBIGINT"
WORD = 32  # items a packed word
NO_COHORT = "(none)"
DEFAULT_OUTCOME_ITEM = "answer_correct"
# Behaviors that restate the outcome (a wrong answer is the task failure): ranked in the attribution
# table, never named the principal failure mode, last in the guide.
OUTCOME_BEHAVIORS = frozenset({"correctness"})


def as_run(run: Run | str) -> Run:
    return run if isinstance(run, Run) else Run(run)


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]" if values else "[]::VARCHAR[]"


def cohort_sql(by: str, column: str = "metadata") -> str:
    """The cohort of an episode: its metadata value at key `by`, or '(none)'."""
    path = '$."' + by.replace('"', '\\"') + '"'
    return f"coalesce(json_extract_string({column}, {sql_str(path)}), {sql_str(NO_COHORT)})"


def attach(con: duckdb.DuckDBPyConnection, run: Run, suffix: str = "") -> None:
    """Views `verdicts{suffix}` and `episodes{suffix}` over the run's Parquet files."""
    run.register(con)
    for view in ("verdicts", "episodes"):
        con.execute(f"CREATE VIEW {view}{suffix} AS SELECT * FROM {run.parquet_sql(view)}")


def ordered(frame: pl.DataFrame, column: str, order: list[str], *then: str) -> pl.DataFrame:
    """Sort by position of `column` in `order` (unknown values last, by name), then by `then`."""
    import polars as pl

    index = {v: k for k, v in enumerate(order)}
    key = pl.col(column).replace_strict(index, default=len(index), return_dtype=pl.Int64)
    return frame.with_columns(_o=key).sort(["_o", column, *then]).drop("_o")


class Session:
    """A run's views `verdicts` and `episodes`, its items and behaviors in rubric order, and `ew`
    (built on first use; with a `cohort` column when `by` is given, `task_id` when `tasks`). Two runs
    can share a connection under different name suffixes (`verdicts_a`, `ew_a`, ...)."""

    def __init__(self, run: Run, *, by: str | None = None, tasks: bool = False,
                 con: duckdb.DuckDBPyConnection | None = None, suffix: str = "") -> None:
        import duckdb

        self.run, self.by, self.tasks, self.suffix = run, by, tasks, suffix
        self.con: duckdb.DuckDBPyConnection = con if con is not None else duckdb.connect()
        attach(self.con, run, suffix)
        items = [(i["id"], i.get("behavior") or "") for i in run.info.get("rubric", {}).get("items", [])]
        if not items:  # a hand-made run without rubric items: read them from the verdicts
            items = [(r[0], r[1]) for r in self.con.sql(
                f"SELECT item, any_value(behavior) FROM verdicts{suffix} GROUP BY item ORDER BY item").fetchall()]
        self.item_ids = [i for i, _ in items]
        self.groups: dict[str, list[str]] = {}
        for item, behavior in items:
            self.groups.setdefault(behavior, []).append(item)
        self.behavior_order = list(self.groups)
        self._built = False

    def sql(self, query: str) -> pl.DataFrame:
        return self.con.sql(query).pl()

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.con.sql(query).fetchall()

    def item_code(self, item: str, table: str = "") -> str:
        """SQL for the item's code in `ew` (`table` qualifies the column: "a." for `ew AS a`)."""
        k = self.item_ids.index(item)
        return f"(({table}p{k // WORD} >> {2 * (k % WORD)}) & 3)"

    def behavior_code(self, behavior: str, exclude: str | None = None) -> str | None:
        """SQL for the behavior's status in `ew` (`exclude` left out); None when no item is left."""
        codes = [self.item_code(i) for i in self.groups.get(behavior, []) if i != exclude]
        if not codes:
            return None
        return codes[0] if len(codes) == 1 else f"greatest({', '.join(codes)})"

    @property
    def ew(self) -> str:
        if not self._built:
            self._build()
        return f"ew{self.suffix}"

    def _build(self) -> None:
        words = max(1, -(-len(self.item_ids) // WORD))
        shifts = [" ".join(f"WHEN {sql_str(i)} THEN {2 * (k % WORD)}" for k, i in enumerate(self.item_ids)
                           if k // WORD == w) for w in range(words)]
        bits = [f"{CODE} << (CASE item {s} END) AS p{w}" if s else f"NULL::UBIGINT AS p{w}"
                for w, s in enumerate(shifts)]
        extra = [("reward", "NULL::DOUBLE", "reward")]
        if self.tasks:
            extra.append(("task_id", "NULL::VARCHAR", "task_id"))
        if self.by:
            extra.append(("cohort", "NULL::VARCHAR", cohort_sql(self.by)))
        v_cols = ", ".join(bits + [f"{null} AS {name}" for name, null, _ in extra])
        e_cols = ", ".join([f"NULL::UBIGINT AS p{w}" for w in range(words)] + [f"{expr} AS {name}"
                                                                                for name, _, expr in extra])
        aggs = [f"coalesce(bit_or(p{w}), 0)::UBIGINT AS p{w}" for w in range(words)]
        aggs += [f"any_value({name}) AS {name}" for name, _, _ in extra]
        if self.by:
            aggs[-1] = f"coalesce(any_value(cohort), {sql_str(NO_COHORT)}) AS cohort"
        x = self.suffix
        self.con.execute(f"""
            CREATE TEMP TABLE ew{x} AS SELECT episode_id, {', '.join(aggs)}
            FROM (SELECT episode_id, {v_cols} FROM verdicts{x} UNION ALL SELECT episode_id, {e_cols} FROM episodes{x})
            GROUP BY episode_id""")
        self._built = True
