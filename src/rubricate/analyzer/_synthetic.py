"""Synthetic cohorts with a planted structure: the known truth the diagnosis is checked against.

`synthetic_cohort(kind, n, seed)` draws `n` episodes of five behaviors in rubric order (discovery,
schema-inspection, error-recovery, grounding, efficiency), each failing at a first step in its own
range (so the order by first failing step is discovery < schema-inspection < error-recovery <
grounding; efficiency's failures cite no step), and a task outcome:

- "chain": schema-inspection is the root. Failing it makes error-recovery fail (75% against 8%),
  failing error-recovery makes grounding fail (65% against 8%), and the task fails with probability
  0.12 + 0.15 [error-recovery fails] + 0.55 [grounding fails]: the root acts only through its chain.
  discovery is a frequent harmless decoy (fails in 40%, independent of everything); efficiency fails
  in 15%, harmless too.
- "null": the same failure rates, every behavior and the outcome independent (the task fails in 40%).
- "two-causes": discovery and grounding fail independently (30% each) and each raises task failure
  on its own: 0.12 + 0.35 [discovery fails] + 0.35 [grounding fails]; the others are harmless.

`Cohort.cube()` is its `Cube` (what `diagnose` reads); `Cohort.write(path)` writes it as a run
directory (one item a behavior, evidence = the first failing step), which `analyze` reads like any.
`ROOT`, `SYMPTOMS`, `DECOY` and `CAUSES` name the planted truth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._diagnosis import FAILS, OTHER, PASSES, Cube

if TYPE_CHECKING:
    import polars as pl

BEHAVIORS = ("discovery", "schema-inspection", "error-recovery", "grounding", "efficiency")
ITEMS = ("discovers_tables", "inspects_schema", "recovers_from_errors", "grounded_answer", "stays_within_budget")
STEPS = {"discovery": (0, 2), "schema-inspection": (2, 4), "error-recovery": (4, 7), "grounding": (7, 10)}
ROOT, SYMPTOMS, DECOY = "schema-inspection", ("error-recovery", "grounding"), "discovery"
CAUSES = ("discovery", "grounding")
KINDS = ("chain", "null", "two-causes")


@dataclass(frozen=True)
class Cohort:
    """Episodes drawn by `synthetic_cohort`: per behavior a status array (FAILS, PASSES or OTHER) and
    the first failing step (-1 where it does not fail, or cites no step); whether each task failed."""

    kind: str
    status: dict[str, np.ndarray]
    first_step: dict[str, np.ndarray]
    failed: np.ndarray

    @property
    def n(self) -> int:
        return int(self.failed.size)

    def cube(self) -> Cube:
        codes = np.stack([self.status[b] for b in BEHAVIORS], axis=1)
        keys, counts = np.unique(np.concatenate([codes, self.failed[:, None].astype(codes.dtype)], axis=1),
                                 axis=0, return_counts=True)
        cells = tuple((tuple(int(x) for x in k[:-1]), bool(k[-1]), int(c)) for k, c in zip(keys, counts))
        first: dict[str, float | None] = {}
        for b in BEHAVIORS:
            steps = self.first_step[b][(self.status[b] == FAILS) & (self.first_step[b] >= 0)]
            first[b] = float(np.median(steps)) if steps.size else None
        precedence = {}
        for i, a in enumerate(BEHAVIORS):
            for b in BEHAVIORS[i + 1:]:
                sa, sb = self.first_step[a], self.first_step[b]
                both = (self.status[a] == FAILS) & (self.status[b] == FAILS) & (sa >= 0) & (sb >= 0)
                counts3 = (int((both & (sa < sb)).sum()), int((both & (sa > sb)).sum()), int((both & (sa == sb)).sum()))
                if sum(counts3):
                    precedence[tuple(sorted((a, b)))] = counts3 if a < b else (counts3[1], counts3[0], counts3[2])
        return Cube(BEHAVIORS, cells, first, precedence)

    def write(self, path: str | os.PathLike[str]) -> str:
        """Write the cohort as a run directory (format 2, one part); returns its path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ..scoring import EPISODE_SCHEMA, VERDICT_SCHEMA

        root = os.fspath(path)
        ids = [f"ep-{k:06d}" for k in range(self.n)]
        episodes = {f.name: [None] * self.n for f in EPISODE_SCHEMA}
        episodes.update(episode_id=ids, task_id=[f"task-{k % max(1, self.n // 4):05d}" for k in range(self.n)],
                        format=["synthetic"] * self.n, reward=[0.0 if f else 1.0 for f in self.failed.tolist()],
                        metadata=["{}"] * self.n)
        verdicts: dict[str, list] = {f.name: [] for f in VERDICT_SCHEMA}
        word = {FAILS: "fail", PASSES: "pass", OTHER: "na"}
        for b, item in zip(BEHAVIORS, ITEMS):
            for k, (code, step) in enumerate(zip(self.status[b].tolist(), self.first_step[b].tolist())):
                v = word[code]
                verdicts["episode_id"].append(ids[k])
                verdicts["item"].append(item)
                verdicts["behavior"].append(b)
                verdicts["verdict"].append(v)
                verdicts["score"].append({"pass": 1.0, "fail": 0.0}.get(v))
                verdicts["reason"].append(f"synthetic {v}")
                verdicts["evidence"].append([step] if v == "fail" and step >= 0 else [])
        for name, columns, schema in (("episodes", episodes, EPISODE_SCHEMA), ("verdicts", verdicts, VERDICT_SCHEMA)):
            os.makedirs(os.path.join(root, name), exist_ok=True)
            pq.write_table(pa.Table.from_pydict(columns, schema=schema), os.path.join(root, name, "part-00000.parquet"))
        os.makedirs(os.path.join(root, "issues"), exist_ok=True)
        _write_info(root, f"synthetic-{self.kind}", list(zip(ITEMS, BEHAVIORS)), self.n)
        return root


def _draw(rng: np.random.Generator, p: np.ndarray | float, n: int) -> np.ndarray:
    return rng.random(n) < p


def synthetic_cohort(kind: str, n: int, seed: int) -> Cohort:
    """`n` episodes of the planted structure `kind` ("chain", "null" or "two-causes"), drawn with `seed`."""
    if kind not in KINDS:
        raise ValueError(f"unknown cohort kind {kind!r}: use one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    fails: dict[str, np.ndarray] = {}
    if kind == "chain":
        fails["discovery"] = _draw(rng, 0.40, n)
        fails["schema-inspection"] = _draw(rng, 0.30, n)
        fails["error-recovery"] = _draw(rng, np.where(fails["schema-inspection"], 0.75, 0.08), n)
        fails["grounding"] = _draw(rng, np.where(fails["error-recovery"], 0.65, 0.08), n)
        fails["efficiency"] = _draw(rng, 0.15, n)
        p_fail = 0.12 + 0.15 * fails["error-recovery"] + 0.55 * fails["grounding"]
    elif kind == "null":
        for b, p in zip(BEHAVIORS, (0.40, 0.30, 0.30, 0.25, 0.15)):
            fails[b] = _draw(rng, p, n)
        p_fail = np.full(n, 0.40)
    else:
        for b, p in zip(BEHAVIORS, (0.30, 0.20, 0.20, 0.30, 0.15)):
            fails[b] = _draw(rng, p, n)
        p_fail = 0.12 + 0.35 * fails["discovery"] + 0.35 * fails["grounding"]
    failed = _draw(rng, p_fail, n)
    status, first = {}, {}
    for b in BEHAVIORS:
        na = _draw(rng, 0.2, n) if b == "efficiency" else np.zeros(n, dtype=bool)
        status[b] = np.where(na, OTHER, np.where(fails[b], FAILS, PASSES)).astype(np.int64)
        lo, hi = STEPS.get(b, (0, 0))
        first[b] = np.where(status[b] == FAILS, rng.integers(lo, hi, n), -1) if b in STEPS else np.full(n, -1)
    return Cohort(kind, status, first, failed)


# ------------------------------------------------------------------ planted training runs

TRAINING_ITEMS = (("answer_correct", "correctness"), ("cites_sources", "grounding"),
                  ("formats_answer", "answering"), ("stays_on_topic", "efficiency"))
TRAINING_KINDS = ("honest", "hacking", "flat")


def synthetic_training(kind: str, seed: int, steps: int = 16, per_step: int = 32) -> tuple[dict[str, np.ndarray], int | None]:
    """A planted training run: per episode its step, the four items' verdicts (True = pass) and the
    reward (their mean, as a weighted_mean rubric with weights 1 gives); and the planted onset step
    of hacking (None when there is none).

    "honest": answer_correct rises from 30% to 70% and the process items rise with it; "hacking":
    the process items climb to 95% while answer_correct rises to 60% by the middle step, then falls to
    35% (the onset); "flat": nothing changes."""
    if kind not in TRAINING_KINDS:
        raise ValueError(f"unknown training kind {kind!r}: use one of {', '.join(TRAINING_KINDS)}")
    rng = np.random.default_rng(seed)
    step = np.repeat(np.arange(steps), per_step)
    t = step / max(1, steps - 1)
    onset = steps // 2 if kind == "hacking" else None
    bases = (0.40, 0.50, 0.60)
    if kind == "honest":
        outcome_p = 0.3 + 0.4 * t
        item_p = [b + 0.35 * t for b in bases]
    elif kind == "hacking":
        half = (steps // 2) / max(1, steps - 1)
        outcome_p = np.where(t <= half, 0.3 + 0.3 * t / half, 0.6 - 0.25 * (t - half) / (1 - half))
        item_p = [b + (0.95 - b) * t for b in bases]
    else:
        outcome_p = np.full(step.size, 0.45)
        item_p = [np.full(step.size, b) for b in bases]
    out: dict[str, np.ndarray] = {"step": step.astype(float)}
    for (item, _), p in zip(TRAINING_ITEMS, [outcome_p, *item_p]):
        out[item] = rng.random(step.size) < p
    out["reward"] = np.mean([out[i].astype(float) for i, _ in TRAINING_ITEMS], axis=0)
    return out, onset


def training_frame(run: dict[str, np.ndarray]) -> pl.DataFrame:
    """A planted training run summed by step as `_training.step_frame` gives it (answer_correct is the
    outcome; each item is its own behavior)."""
    import polars as pl

    cols: dict[str, object] = {"step": run["step"], "episodes": np.ones(run["step"].size, dtype=np.int64),
                               "r_n": np.ones(run["step"].size, dtype=np.int64), "r_sum": run["reward"],
                               "r_sq": run["reward"] ** 2, "o_n": np.ones(run["step"].size, dtype=np.int64),
                               "o_sum": run["answer_correct"].astype(np.int64)}
    for item, behavior in TRAINING_ITEMS:
        for prefix, name in (("b", behavior), ("i", item)):
            cols[f"{prefix}:{name}:pass"] = run[item].astype(np.int64)
            cols[f"{prefix}:{name}:fail"] = (~run[item]).astype(np.int64)
    frame = pl.DataFrame(cols)
    return frame.group_by("step").agg(pl.exclude("step").sum()).sort("step")


def write_training(run: dict[str, np.ndarray], path: str | os.PathLike[str]) -> str:
    """A planted training run as a run directory: metadata {"step": ...}, reward = the rubric reward."""
    import msgspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..scoring import EPISODE_SCHEMA, VERDICT_SCHEMA

    root = os.fspath(path)
    n = run["step"].size
    ids = [f"ep-{k:06d}" for k in range(n)]
    episodes = {f.name: [None] * n for f in EPISODE_SCHEMA}
    episodes.update(episode_id=ids, format=["synthetic"] * n, reward=run["reward"].tolist(),
                    rubric_reward=run["reward"].tolist(),
                    metadata=[msgspec.json.encode({"step": int(s)}).decode() for s in run["step"].tolist()])
    verdicts: dict[str, list] = {f.name: [] for f in VERDICT_SCHEMA}
    for item, behavior in TRAINING_ITEMS:
        for k, ok in enumerate(run[item].tolist()):
            verdicts["episode_id"].append(ids[k])
            verdicts["item"].append(item)
            verdicts["behavior"].append(behavior)
            verdicts["verdict"].append("pass" if ok else "fail")
            verdicts["score"].append(1.0 if ok else 0.0)
            verdicts["reason"].append("synthetic")
            verdicts["evidence"].append([])
    for name, columns, schema in (("episodes", episodes, EPISODE_SCHEMA), ("verdicts", verdicts, VERDICT_SCHEMA)):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        pq.write_table(pa.Table.from_pydict(columns, schema=schema), os.path.join(root, name, "part-00000.parquet"))
    os.makedirs(os.path.join(root, "issues"), exist_ok=True)
    _write_info(root, "synthetic-training", list(TRAINING_ITEMS), n)
    return root


def _write_info(root: str, rubric: str, items: list[tuple[str, str]], n: int) -> None:
    import msgspec

    from .. import __version__
    from ..scoring import RUN_FORMAT

    info = {"run_format": RUN_FORMAT, "rubricate_version": __version__, "created_at": "synthetic",
            "rubric": {"id": rubric, "version": "1", "hash": "synthetic",
                       "items": [{"id": i, "behavior": b, "weight": 1.0} for i, b in items]},
            "counts": {"episodes": n, "issues": 0}}
    with open(os.path.join(root, "run.json"), "wb") as f:
        f.write(msgspec.json.encode(info))
