"""Behavior over training: when episodes carry an order (the `step` of a TRL completion table, a
checkpoint or step in their metadata, or any key given with `--over`), each behavior's pass rate
per step bucket with its Wilson interval, and the first step where its change from the start is
significant (Fisher's exact test of the bucket against the first bucket, corrected over every
behavior and bucket tested with the evidence rule's correction).

Steps are read from the metadata value at the key: a number, or text ending in one
("checkpoint-500" is 500). At most `max_buckets` buckets: one a step when there are no more steps
than that, else runs of the same number of consecutive distinct steps. The per-episode frame (`episode_frame`) is read with
DuckDB; `over_training` is a pure function of it, so planted training runs are checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AnalysisError
from ._claims import pct, p_is, pts
from ._evidence import EvidenceRule
from ._exact import adjust, fisher_exact
from ._hacking import Hacking, hacking_check
from ._session import DEFAULT_OUTCOME_ITEM, FAIL, PASS, Session, sql_str
from ._stats import newcombe, wilson

if TYPE_CHECKING:
    import polars as pl

ORDER_KEYS = ("step", "global_step", "training_step", "checkpoint", "iteration", "epoch")
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
    """`over`, checked to give some episode a step, or the first of ORDER_KEYS that gives at least two
    distinct steps (one scan for all of them); None when nothing orders the episodes."""
    keys = [over] if over else list(ORDER_KEYS)
    cols = ", ".join(f"count(DISTINCT {step_sql(k)})" for k in keys)
    counts = s.rows(f"SELECT {cols} FROM episodes")[0]
    if over:
        if not counts[0]:
            raise AnalysisError(f"{s.run.path}: no episode has a step at metadata key {over!r}", name=over,
                                hint="give the metadata key that holds the training step or checkpoint (e.g. step)")
        return over
    return next((k for k, n in zip(keys, counts) if n >= 2), None)


def training(s: Session, over: str | None, outcome: str | None, rule: EvidenceRule | None,
             max_buckets: int = MAX_BUCKETS) -> Training | None:
    """Behaviors over training for a run whose episodes carry an order (see the module); None when
    they carry none. The reward checked for hacking is the episodes' reward (a trainer's), else the
    rubric's; the outcome is `outcome` when it is an item, else answer_correct or the item the rubric
    marks as an outcome."""
    key = order_key(s, over)
    if key is None:
        return None
    has = s.rows("SELECT count(reward), count(rubric_reward) FROM episodes")[0]
    reward = "reward" if has[0] else "rubric_reward" if has[1] else None
    if outcome is None or outcome == "reward":
        marked = [i["id"] for i in s.run.info.get("rubric", {}).get("items", []) if i.get("outcome") is True]
        outcome = next((i for i in [DEFAULT_OUTCOME_ITEM, *marked] if i in s.item_ids), None)
    process = [i for i in s.item_ids if i not in s.outcome_items and i != outcome]
    frame = episode_frame(s, key, reward, outcome, process)
    return over_training(frame, key=key, behaviors=list(s.behavior_order), process_items=process, rule=rule,
                         reward_name=reward, outcome_name=outcome, max_buckets=max_buckets)


def step_sql(key: str) -> str:
    """SQL: the episode's step at metadata key `key` (a number, or text ending in one), or NULL."""
    path = sql_str('$."' + key.replace('"', '\\"') + '"')
    text = f"json_extract_string(metadata, {path})"
    return f"TRY_CAST(regexp_extract({text}, '(-?[0-9]+(\\.[0-9]+)?)\\s*$', 1) AS DOUBLE)"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def episode_frame(s: Session, key: str, reward: str | None, outcome: str | None,
                  items: list[str]) -> pl.DataFrame:
    """One row an episode with a step: step, reward (the episodes column `reward` names: "reward" or
    "rubric_reward"), outcome (true when the outcome item passes, false when it fails), and the
    `b:<behavior>` and `i:<item>` status codes (3 fail, 2 pass, 1 error, 0 na)."""
    cols = ["e.step AS step", "e.r AS reward"]
    cols.append(f"CASE {s.item_code(outcome)} WHEN {PASS} THEN true WHEN {FAIL} THEN false END AS outcome"
                if outcome else "NULL::BOOLEAN AS outcome")
    cols += [f"{s.behavior_code(b) or '0'} AS {_ident('b:' + b)}" for b in s.behavior_order]
    cols += [f"{s.item_code(i)} AS {_ident('i:' + i)}" for i in items]
    r = reward if reward in ("reward", "rubric_reward") else "NULL::DOUBLE"
    return s.sql(f"""SELECT {', '.join(cols)} FROM {s.ew} AS w
                     JOIN (SELECT episode_id, {step_sql(key)} AS step, {r} AS r FROM episodes) AS e USING (episode_id)
                     WHERE e.step IS NOT NULL""")


def buckets(steps: list[float], max_buckets: int = MAX_BUCKETS) -> list[tuple[float, float]]:
    """(lowest, highest) step of each bucket: one a step, or runs of ceil(steps / max_buckets)
    consecutive distinct steps."""
    distinct = sorted(set(steps))
    size = max(1, -(-len(distinct) // max(1, max_buckets)))
    return [(distinct[k], distinct[min(k + size, len(distinct)) - 1]) for k in range(0, len(distinct), size)]


def bucket_index(frame: pl.DataFrame, edges: list[tuple[float, float]]) -> pl.DataFrame:
    import polars as pl

    lows = [lo for lo, _ in edges]
    expr = pl.lit(0, pl.Int64)
    for k, lo in enumerate(lows[1:], 1):
        expr = pl.when(pl.col("step") >= lo).then(pl.lit(k, pl.Int64)).otherwise(expr)
    return frame.with_columns(bucket=expr)


def over_training(frame: pl.DataFrame, *, key: str, behaviors: list[str], process_items: list[str],
                  rule: EvidenceRule | None = None, reward_name: str | None = None,
                  outcome_name: str | None = None, max_buckets: int = MAX_BUCKETS) -> Training:
    """Rates per bucket, first significant changes and the reward-hacking check of an `episode_frame`."""
    import polars as pl

    rule = rule or EvidenceRule()
    edges = buckets(frame["step"].to_list(), max_buckets)
    frame = bucket_index(frame, edges)
    rows = []
    for b in behaviors:
        counts = frame.group_by("bucket").agg(
            (pl.col(f"b:{b}") == PASS).sum().alias("pass"), (pl.col(f"b:{b}") == FAIL).sum().alias("fail"))
        got = {r["bucket"]: (r["pass"], r["fail"]) for r in counts.iter_rows(named=True)}
        for k, (lo, hi) in enumerate(edges):
            p, f = got.get(k, (0, 0))
            wl, wh = wilson(p, p + f)
            rows.append((k, lo, hi, b, p, f, p / (p + f) if p + f else None, wl, wh))
    rates = pl.DataFrame(rows, orient="row", schema={
        "bucket": pl.Int64, "step_lo": pl.Float64, "step_hi": pl.Float64, "behavior": pl.String, "pass": pl.Int64,
        "fail": pl.Int64, "rate": pl.Float64, "lo": pl.Float64, "hi": pl.Float64})
    changes, sentences = _changes(rates, behaviors, rule, key)
    reward = frame.group_by("bucket").agg(
        pl.len().alias("episodes"), pl.col("reward").mean().alias("mean_reward"),
        pl.col("outcome").cast(pl.Float64).mean().alias("outcome_rate")).sort("bucket")
    reward = reward.with_columns(step_lo=pl.col("bucket").replace_strict(dict(enumerate(lo for lo, _ in edges)),
                                                                         return_dtype=pl.Float64))
    hack = hacking_check(frame, edges, process_items, rule, reward_name, outcome_name) \
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
