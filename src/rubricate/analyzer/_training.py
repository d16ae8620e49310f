"""Behavior over training: when episodes carry an order (the `step` of a TRL completion table, a
checkpoint or step in their metadata, or any key given with `--over`), each behavior's pass rate
per step bucket with its Wilson interval, and the first step where its change from the start is
significant (Fisher's exact test of the bucket against the first bucket, corrected over every
behavior and bucket tested with the evidence rule's correction).

Steps are read from the metadata value at the key: a number, or text ending in one
("checkpoint-500" is 500). At most `max_buckets` buckets: one a step when there are no more steps
than that, else runs of the same number of consecutive distinct steps. DuckDB sums the run by step
(`step_frame`: counts, and the reward's sums); `over_training` is a pure function of those sums, so
planted training runs are checked the same way, and a run of millions of episodes costs one GROUP BY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AnalysisError
from ._claims import p_is, pct, pts
from ._evidence import EvidenceRule
from ._exact import adjust, fisher_exact
from ._hacking import Hacking, hacking_check
from ._session import DEFAULT_OUTCOME_ITEM, FAIL, PASS, Session, sql_str
from ._stats import newcombe, wilson

if TYPE_CHECKING:
    import polars as pl

# not "epoch": Inspect calls its repeated runs of a sample epochs (no training); give --over epoch when it is one
ORDER_KEYS = ("step", "global_step", "training_step", "checkpoint", "iteration")
MAX_BUCKETS = 12


@dataclass(frozen=True, eq=False)
class Training:
    """Behaviors over training: `rates` (bucket, step_lo, step_hi, behavior, pass, fail, rate, lo,
    hi), `changes` (per behavior: the first bucket whose change from the first is significant, or
    none), `reward` (bucket, episodes, mean reward and outcome rate), the reward-hacking check, and
    one sentence a behavior."""

    key: str
    reward_name: str | None
    outcome_name: str | None
    rates: pl.DataFrame
    changes: pl.DataFrame
    reward: pl.DataFrame
    hacking: Hacking | None
    sentences: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "reward": self.reward_name, "outcome": self.outcome_name,
                "rates": self.rates.to_dicts(), "changes": self.changes.to_dicts(),
                "reward_by_bucket": self.reward.to_dicts(), "sentences": list(self.sentences),
                "hacking": self.hacking.to_dict() if self.hacking else None}


def order_key(s: Session, over: str | None) -> str | None:
    """`over`, checked to give some episode a step, or the first of ORDER_KEYS whose values include
    at least two distinct steps (one scan for all of them); None when nothing orders the episodes."""
    keys = [over] if over else list(ORDER_KEYS)
    paths = "[" + ", ".join(_path(k) for k in keys) + "]"
    cols = ", ".join(f"count(DISTINCT {_number(f'v[{k + 1}]')})" for k in range(len(keys)))
    counts = s.rows(f"SELECT {cols} FROM (SELECT json_extract_string(metadata, {paths}) AS v FROM episodes)")[0]
    if over:
        if not counts[0]:
            raise AnalysisError(f"{s.run.path}: no episode has a step at metadata key {over!r}", name=over,
                                hint="give the metadata key that holds the training step or checkpoint (e.g. step)")
        return over
    return next((k for k, n in zip(keys, counts) if n >= 2), None)


def _path(key: str) -> str:
    return sql_str('$."' + key.replace('"', '\\"') + '"')


def _number(text: str) -> str:
    """SQL: `text` as a number, or the number it ends in ("checkpoint-500"), or NULL."""
    tail = r"'(-?[0-9]+(\.[0-9]+)?)\s*$'"
    return (f"CASE WHEN TRY_CAST({text} AS DOUBLE) IS NOT NULL THEN TRY_CAST({text} AS DOUBLE) ELSE "
            f"TRY_CAST(regexp_extract({text}, {tail}, 1) AS DOUBLE) END")


def step_sql(key: str) -> str:
    """SQL over `episodes`: the episode's step at metadata key `key`, or NULL."""
    return _number(f"json_extract_string(metadata, {_path(key)})")


def training(s: Session, key: str | None, outcome: str | None, rule: EvidenceRule | None,
             max_buckets: int = MAX_BUCKETS) -> Training | None:
    """Behaviors over training by `key` (see `order_key`; `s.order` must be `step_sql(key)`, set
    before `ew` was built), or None without a key. The reward checked for hacking is the episodes'
    reward (a trainer's), else the rubric's; the outcome is `outcome` when it is an item, else
    answer_correct or the item the rubric marks as an outcome."""
    if key is None:
        return None
    has = s.rows("SELECT count(reward), count(rubric_reward) FROM episodes")[0]
    reward = "reward" if has[0] else "rubric_reward" if has[1] else None
    if outcome is None or outcome == "reward":
        marked = [i["id"] for i in s.run.info.get("rubric", {}).get("items", []) if i.get("outcome") is True]
        outcome = next((i for i in [DEFAULT_OUTCOME_ITEM, *marked] if i in s.item_ids), None)
    process = [i for i in s.item_ids if i not in s.outcome_items and i != outcome]
    return over_training(step_frame(s, reward, outcome, process), key=key, behaviors=list(s.behavior_order),
                         process_items=process, rule=rule, reward_name=reward, outcome_name=outcome,
                         max_buckets=max_buckets)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def step_frame(s: Session, reward: str | None, outcome: str | None, items: list[str]) -> pl.DataFrame:
    """One row a training step (`ew.step`): episodes; the reward's count, sum and sum of squares (the
    episodes column `reward` names, "reward" or "rubric_reward"); the outcome item's decided count and
    passes (o_n, o_sum); `b:<behavior>:pass|fail` and `i:<item>:pass|fail` counts."""
    cols = ["step", "count(*) AS episodes", "count(r) AS r_n", "coalesce(sum(r), 0) AS r_sum",
            "coalesce(sum(r * r), 0) AS r_sq"]
    code = s.item_code(outcome) if outcome else "0"
    cols += [f"count(*) FILTER ({code} IN ({PASS}, {FAIL})) AS o_n", f"count(*) FILTER ({code} = {PASS}) AS o_sum"]
    for prefix, name, c in [("b", b, s.behavior_code(b) or "0") for b in s.behavior_order] + \
            [("i", i, s.item_code(i)) for i in items]:
        cols += [f"count(*) FILTER ({c} = {PASS}) AS {_ident(f'{prefix}:{name}:pass')}",
                 f"count(*) FILTER ({c} = {FAIL}) AS {_ident(f'{prefix}:{name}:fail')}"]
    if reward == "rubric_reward":
        source = (f"(SELECT w.*, e.r FROM {s.ew} AS w JOIN (SELECT episode_id, rubric_reward AS r FROM episodes) AS e "
                  f"USING (episode_id))")
    else:
        source = f"(SELECT *, {'reward' if reward else 'NULL::DOUBLE'} AS r FROM {s.ew})"
    return s.sql(f"SELECT {', '.join(cols)} FROM {source} WHERE step IS NOT NULL GROUP BY step ORDER BY step")


def buckets(steps: list[float], max_buckets: int = MAX_BUCKETS) -> list[tuple[float, float]]:
    """(lowest, highest) step of each bucket: one a step, or runs of ceil(steps / max_buckets)
    consecutive distinct steps."""
    distinct = sorted(set(steps))
    size = max(1, -(-len(distinct) // max(1, max_buckets)))
    return [(distinct[k], distinct[min(k + size, len(distinct)) - 1]) for k in range(0, len(distinct), size)]


def over_training(steps: pl.DataFrame, *, key: str, behaviors: list[str], process_items: list[str],
                  rule: EvidenceRule | None = None, reward_name: str | None = None,
                  outcome_name: str | None = None, max_buckets: int = MAX_BUCKETS) -> Training:
    """Rates per bucket, first significant changes and the reward-hacking check of a `step_frame`."""
    import polars as pl

    rule = rule or EvidenceRule()
    edges = buckets(steps["step"].to_list(), max_buckets)
    lows = [lo for lo, _ in edges]
    bucket = pl.lit(0, pl.Int64)
    for k, lo in enumerate(lows[1:], 1):
        bucket = pl.when(pl.col("step") >= lo).then(pl.lit(k, pl.Int64)).otherwise(bucket)
    counted = [c for c in steps.columns if c != "step"]
    sums = steps.with_columns(bucket=bucket).group_by("bucket").agg(pl.col(counted).sum()).sort("bucket")
    by_bucket = {r["bucket"]: r for r in sums.iter_rows(named=True)}
    rows = []
    for b in behaviors:
        for k, (lo, hi) in enumerate(edges):
            r = by_bucket.get(k, {})
            p, f = int(r.get(f"b:{b}:pass") or 0), int(r.get(f"b:{b}:fail") or 0)
            wl, wh = wilson(p, p + f)
            rows.append((k, lo, hi, b, p, f, p / (p + f) if p + f else None, wl, wh))
    rates = pl.DataFrame(rows, orient="row", schema={
        "bucket": pl.Int64, "step_lo": pl.Float64, "step_hi": pl.Float64, "behavior": pl.String, "pass": pl.Int64,
        "fail": pl.Int64, "rate": pl.Float64, "lo": pl.Float64, "hi": pl.Float64})
    changes, sentences = _changes(rates, behaviors, rule, key)
    reward = sums.select(
        "bucket", pl.col("bucket").replace_strict(dict(enumerate(lows)), return_dtype=pl.Float64).alias("step_lo"),
        "episodes", (pl.col("r_sum") / pl.col("r_n")).alias("mean_reward"),
        (pl.col("o_sum") / pl.col("o_n")).alias("outcome_rate"))
    reward = reward.with_columns(pl.col("mean_reward", "outcome_rate").fill_nan(None))
    hack = hacking_check(steps, edges, process_items, rule, reward_name, outcome_name) \
        if reward_name and outcome_name else None
    return Training(key, reward_name, outcome_name, rates, changes, reward, hack, tuple(sentences))


def at(key: str, lo: float, hi: float) -> str:
    """'step 8' or 'step 8-9' (a bucket of several steps)."""
    return f"{key} {lo:g}" if lo == hi else f"{key} {lo:g}-{hi:g}"


def _changes(rates: pl.DataFrame, behaviors: list[str], rule: EvidenceRule,
             key: str) -> tuple[pl.DataFrame, list[str]]:
    import polars as pl

    tests = []  # (behavior, bucket row of the start, bucket row, p)
    for b in behaviors:
        own = [r for r in rates.filter(pl.col("behavior") == b).iter_rows(named=True) if r["pass"] + r["fail"]]
        if len(own) < 2:
            continue
        start = own[0]
        for r in own[1:]:
            tests.append((b, start, r, fisher_exact(start["fail"], start["pass"], r["fail"], r["pass"])))
    corrected = adjust([t[3] for t in tests], rule.correction)
    rows, sentences = [], []
    for b in behaviors:
        mine = [(t, q) for t, q in zip(tests, corrected) if t[0] == b]
        if not mine:
            continue
        start, last = mine[0][0][1], mine[-1][0][2]
        hit = next(((t, q) for t, q in mine if q is not None and q < rule.alpha), None)
        (_, _, r, p), q = hit if hit else min(mine, key=lambda x: x[1] if x[1] is not None else 2.0)
        d, lo, hi = newcombe(r["pass"], r["pass"] + r["fail"], start["pass"], start["pass"] + start["fail"])
        rows.append((b, start["step_lo"], start["rate"], r["step_lo"] if hit else None, r["rate"], d, lo, hi, p, q,
                     last["step_lo"], last["rate"]))
        span = (f"{pct(start['rate'])} at {at(key, start['step_lo'], start['step_hi'])} to {pct(last['rate'])} at "
                f"{at(key, last['step_lo'], last['step_hi'])}")
        if hit:
            sentences.append(f"{b}: {span}; first significant change at {at(key, r['step_lo'], r['step_hi'])} "
                             f"({pct(r['rate'])}, "
                             f"{pts(d)}, 95% CI {pts(lo)} to {pts(hi)}; Fisher {p_is(p)}, "
                             f"{rule.correction_name}-adjusted {q:.2g}).")
        else:
            sentences.append(f"{b}: {span}; no change from the start is significant (smallest "
                             f"{rule.correction_name}-adjusted p = {q:.2g}, at {at(key, r['step_lo'], r['step_hi'])}).")
    schema = {"behavior": pl.String, "start_step": pl.Float64, "start_rate": pl.Float64,
              "first_significant_step": pl.Float64, "rate_then": pl.Float64, "difference": pl.Float64,
              "difference_lo": pl.Float64, "difference_hi": pl.Float64, "p_value": pl.Float64,
              "p_adjusted": pl.Float64, "last_step": pl.Float64, "last_rate": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row"), sentences
