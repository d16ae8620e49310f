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

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from ._results import NO_COHORT, Run

if TYPE_CHECKING:
    import duckdb
    import polars as pl

NA, ERROR, PASS, FAIL = 0, 1, 2, 3
CODE = "(CASE verdict WHEN 'fail' THEN 3 WHEN 'pass' THEN 2 WHEN 'error' THEN 1 ELSE 0 END)::UBIGINT"
WORD = 32  # items a packed word
STEP_WORD, MAX_STEP = 4, 65534  # first failing steps: 16 bits an item, 4 items a word; steps above are capped
DEFAULT_OUTCOME_ITEM = "answer_correct"
# Outcome items restate the task's outcome (a wrong answer is the task failure): reported as outcome,
# never weighed as causes. They are the items a rubric marks `outcome = true`, `answer_correct`, and
# the items of these behaviors.
OUTCOME_BEHAVIORS = frozenset({"correctness"})


def outcome_items(items: list[dict[str, Any]]) -> list[str]:
    """The ids of the outcome items among run.json's rubric items (see OUTCOME_BEHAVIORS)."""
    return [i["id"] for i in items if i.get("outcome") is True or i["id"] == DEFAULT_OUTCOME_ITEM
            or i.get("behavior") in OUTCOME_BEHAVIORS]


def as_run(run: Run | str) -> Run:
    return run if isinstance(run, Run) else Run(run)


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]" if values else "[]::VARCHAR[]"


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
    (built on first use; with a `cohort` column when `by` is given, `task_id` when `tasks`, the first
    step each item's fail verdict cites packed in `q<w>` words when `first_steps` (see `first_step`;
    one verdict per episode and item, so a bit_or holds it), and `step` when `order`, SQL
    over `episodes` giving an episode's training step, is set before `ew` is first used). Two runs can
    share a connection under different name suffixes (`verdicts_a`, `ew_a`, ...)."""

    def __init__(self, run: Run, *, by: str | None = None, tasks: bool = False, first_steps: bool = False,
                 con: duckdb.DuckDBPyConnection | None = None, suffix: str = "") -> None:
        import duckdb

        self.run, self.by, self.tasks, self.first_steps, self.suffix = run, by, tasks, first_steps, suffix
        self.order: str | None = None
        self.cohort = run.cohort_sql(by) if by else None  # AnalysisError when no episode has `by`
        self.con: duckdb.DuckDBPyConnection = con if con is not None else duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")  # never a progress bar on the command's output
        attach(self.con, run, suffix)
        specs = run.info.get("rubric", {}).get("items", [])
        items = [(i["id"], i.get("behavior") or "") for i in specs]
        if not items:  # a hand-made run without rubric items: read them from the verdicts
            items = [(r[0], r[1]) for r in self.con.sql(
                f"SELECT item, any_value(behavior) FROM verdicts{suffix} GROUP BY item ORDER BY item").fetchall()]
            specs = [{"id": i, "behavior": b} for i, b in items]
        self.item_ids = [i for i, _ in items]
        self.outcome_items = outcome_items(specs)
        self.groups: dict[str, list[str]] = {}
        for item, behavior in items:
            self.groups.setdefault(behavior, []).append(item)
        self.behavior_order = list(self.groups)
        # behaviors with an item that is not an outcome item: the candidate causes
        self.process_behaviors = [b for b, its in self.groups.items() if any(i not in self.outcome_items for i in its)]
        self._built = False

    def sql(self, query: str) -> pl.DataFrame:
        return self.con.sql(query).pl()

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.con.sql(query).fetchall()

    def item_code(self, item: str, table: str = "") -> str:
        """SQL for the item's code in `ew` (`table` qualifies the column: "a." for `ew AS a`)."""
        k = self.item_ids.index(item)
        return f"(({table}p{k // WORD} >> {2 * (k % WORD)}) & 3)"

    def item_first_step(self, item: str) -> str:
        """SQL for the first step the item's fail verdict cites in `ew` (NULL: no fail, or no evidence)."""
        k = self.item_ids.index(item)
        return f"(nullif((q{k // STEP_WORD} >> {16 * (k % STEP_WORD)}) & 65535, 0)::INTEGER - 1)"

    def first_step(self, behavior: str, exclude: Collection[str] = ()) -> str | None:
        """SQL for the first step the behavior's fail verdicts cite in `ew` (needs `first_steps`)."""
        steps = [self.item_first_step(i) for i in self.groups.get(behavior, []) if i not in exclude]
        if not steps:
            return None
        return steps[0] if len(steps) == 1 else f"least({', '.join(steps)})"

    def behavior_code(self, behavior: str, exclude: str | Collection[str] | None = None) -> str | None:
        """SQL for the behavior's status in `ew` (the item or items `exclude` left out); None when no
        item is left."""
        out = {exclude} if isinstance(exclude, str) else set(exclude or ())
        codes = [self.item_code(i) for i in self.groups.get(behavior, []) if i not in out]
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
        if self.order:
            extra.append(("step", "NULL::DOUBLE", self.order))
        if self.by:
            extra.append(("cohort", "NULL::VARCHAR", self.cohort))
        v_cols = ", ".join(bits + [f"{null} AS {name}" for name, null, _ in extra])
        e_cols = ", ".join([f"NULL::UBIGINT AS p{w}" for w in range(words)] + [f"{expr} AS {name}"
                                                                                for name, _, expr in extra])
        aggs = [f"coalesce(bit_or(p{w}), 0)::UBIGINT AS p{w}" for w in range(words)]
        aggs += [f"any_value({name}) AS {name}" for name, _, _ in extra]
        if self.by:
            aggs[-1] = f"coalesce(any_value(cohort), {sql_str(NO_COHORT)}) AS cohort"
        if self.first_steps:  # the first step each item's fail verdict cites, packed 16 bits an item (+1; 0: none)
            for w in range(-(-len(self.item_ids) // STEP_WORD)):
                shift = " ".join(f"WHEN {sql_str(i)} THEN {16 * (k % STEP_WORD)}" for k, i in enumerate(self.item_ids)
                                 if k // STEP_WORD == w)
                v_cols += (f", CASE WHEN verdict = 'fail' AND len(evidence) > 0 THEN (least(list_min(evidence), {MAX_STEP}) + 1)::UBIGINT "
                           f"<< (CASE item {shift} END) END AS q{w}")
                e_cols += f", NULL::UBIGINT AS q{w}"
                aggs.append(f"bit_or(q{w}) AS q{w}")
        x = self.suffix
        self.con.execute(f"""
            CREATE TEMP TABLE ew{x} AS SELECT episode_id, {', '.join(aggs)}
            FROM (SELECT episode_id, {v_cols} FROM verdicts{x} UNION ALL SELECT episode_id, {e_cols} FROM episodes{x})
            GROUP BY episode_id""")
        self._built = True
