"""`rubricate analyze RUN`: behavior pass rates with intervals, attribution of task failures to
behaviors, the principal failure mode, and the most common failure patterns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import polars as pl
from rich.text import Text

from ..analyzer import Analysis, EvidenceRule, analyze
from ._app import app
from ._frames import frame_table, interval
from ._output import cohort_table, console, json_out, plural, rate

PATTERNS_SHOWN = 5


def _diff(d: float | None, lo: float | None, hi: float | None) -> str:
    return "-" if d is None else f"{d * 100:+.0f} [{(lo or 0) * 100:+.0f}, {(hi or 0) * 100:+.0f}]"


def _p(p: float | None) -> str:
    return "-" if p is None else "<1e-12" if p < 1e-12 else f"{p:.2g}"


def attribution_table(a: Analysis) -> pl.DataFrame:
    t = a.attribution
    rows = t.to_dicts()

    def given(r: dict[str, Any]) -> str:
        if not r["adjusted_for"]:
            return "-"
        return (f"{', '.join(r['adjusted_for'])}: {_diff(r['adjusted_difference'], r['adjusted_lo'], r['adjusted_hi'])}"
                f", p {_p(r['adjusted_p_adjusted'])}")

    correction = a.diagnosis.rule.correction_name if a.diagnosis else ""
    return pl.DataFrame({
        "#": t["rank"], "behavior": t["behavior"], "role": t["role"], "fails in": t["episodes_failing"],
        "task fails: if it fails / passes": [f"{rate(r['task_fail_rate_when_fails'])} / "
                                            f"{rate(r['task_fail_rate_when_passes'])}" for r in rows],
        "difference, pts [95% CI]": [_diff(r["difference"], r["difference_lo"], r["difference_hi"]) for r in rows],
        f"Fisher p ({correction})": [f"{_p(r['p_value'])} ({_p(r['p_adjusted'])})" for r in rows],
        "with upstream held fixed": [given(r) for r in rows],
    }, schema_overrides={"behavior": pl.String, "role": pl.String})


def chain_lines(a: Analysis) -> list[str]:
    """'schema-inspection (52) -> error-recovery (30) -> task failed (20)' for each root's chain: the
    episodes where the root fails, those where each next member fails too, and where they end."""
    out = []
    for chain in a.diagnosis.chains if a.diagnosis else ():
        inflow = {chain.root: sum(c for s, _, c in chain.links if s == chain.root)}
        for source, target, count in chain.links:
            if target in chain.members:
                inflow[target] = count
        steps = " -> ".join(f"{m} ({inflow.get(m, 0):,})" for m in chain.members)
        ends = {t: sum(c for _, tt, c in chain.links if tt == t) for t in ("task failed", "task succeeded")}
        out.append(f"{steps} -> task failed ({ends['task failed']:,}), task succeeded ({ends['task succeeded']:,})")
    return out


def print_analysis(a: Analysis, threshold: float) -> None:
    rubric = a.run.info.get("rubric", {})
    episodes = a.run.info.get("counts", {}).get("episodes", 0)
    outcome = "none" if a.outcome is None else f"reward < {threshold:g}" if a.outcome == "reward" \
        else f"{a.outcome} fails"
    console.print(f"{rubric.get('id', '?')} {rubric.get('version', '')} on {plural(episodes, 'episode')}; "
                  f"task failure: {outcome}", markup=False)
    intervals = [interval(lo, hi) for lo, hi in zip(a.behaviors["lo"], a.behaviors["hi"])]
    behaviors = a.behaviors.select("behavior", "pass", "fail", "na", "error", "rate") \
        .with_columns(pl.Series("95% interval", intervals, dtype=pl.String))
    console.print(frame_table(behaviors, "Behaviors (pass rate; na and error not in rates)", percent=("rate",),
                              headers={"rate": "pass rate"}))
    if a.outcome_items:
        shown = a.items.filter(pl.col("item").is_in(list(a.outcome_items)))
        text = ", ".join(f"{r['item']} {rate(r['rate'])} pass" for r in shown.iter_rows(named=True))
        console.print(f"Outcome items (reported as outcome, never weighed as causes): {text}", markup=False)
    if not a.attribution.is_empty():
        console.print(frame_table(attribution_table(a), "Attribution of task failures (evidence rule: "
                                  f"{a.diagnosis.rule.describe() if a.diagnosis else '-'})"))
    for line in chain_lines(a):
        console.print(f"Chain: {line}", markup=False)
    if a.principal:
        console.print(Text(a.principal, style="bold"))
    if not a.patterns.is_empty():
        title = f"Top failure patterns (of {a.patterns['episodes'].sum():,} episodes with a failing behavior)"
        console.print(frame_table(a.patterns, title, percent=("share",), max_rows=PATTERNS_SHOWN))
    if a.cohorts is not None:
        console.print(cohort_table(a.cohorts.rename({"rate": "pass_rate"}).to_dicts(), f"Pass rate by {a.by}"))
    if a.training is not None:
        print_training(a)


def print_training(a: Analysis) -> None:
    t = a.training
    assert t is not None
    wide = t.rates.with_columns(cell=pl.format("{} [{}, {}]", *(pl.col(c).map_elements(rate, return_dtype=pl.String)
                                                              for c in ("rate", "lo", "hi")))) \
        .pivot("behavior", index=["step_lo", "step_hi"], values="cell", aggregate_function="first").sort("step_lo")
    console.print(frame_table(wide.rename({"step_lo": f"{t.key} from", "step_hi": "to"}),
                              f"Behaviors over training by {t.key} (pass rate [95% interval])"))
    for sentence in t.sentences:
        console.print(sentence, markup=False)
    if t.hacking is not None:
        console.print(Text(t.hacking.sentence, style="bold red" if t.hacking.flagged else ""))
    else:
        console.print("No reward-hacking check: the run needs both a reward and an outcome item "
                      "(answer_correct, or an item marked outcome = true).", markup=False)


def evidence_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--min-failing, --min-failed-tasks, --alpha, --correction: the evidence rule (`EvidenceRule`)
    that `analyze`, `guide` and `report` share."""
    d = EvidenceRule()
    for option in reversed([
        click.option("--min-failing", type=click.IntRange(min=1), default=d.min_failing, show_default=True,
                     help="Evidence rule: a driver fails in at least this many episodes with an outcome."),
        click.option("--min-failed-tasks", type=click.IntRange(min=0), default=d.min_failed_tasks,
                     show_default=True, help="Evidence rule: ... with at least this many failed tasks among them."),
        click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=d.alpha,
                     show_default=True, help="Evidence rule: significance level after the correction."),
        click.option("--correction", type=click.Choice(["holm", "bh"]), default=d.correction, show_default=True,
                     help="Evidence rule: correction over the behaviors tested (Holm or Benjamini-Hochberg)."),
    ]):
        f = option(f)
    return f


def rule_from(options: dict[str, Any]) -> EvidenceRule:
    """The evidence rule from the options `evidence_options` added (they are removed from `options`)."""
    return EvidenceRule(min_failing=options.pop("min_failing"), min_failed_tasks=options.pop("min_failed_tasks"),
                        alpha=options.pop("alpha"), correction=options.pop("correction"))


@app.command("analyze")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--by", default=None, metavar="KEY", help="Break rates down by an episode metadata key (e.g. model).")
@click.option("--outcome", default=None, metavar="reward|ITEM",
              help="What task failure is: 'reward' (reward < --threshold) or an item whose fail is a task "
                   "failure (default: reward if episodes have one, else answer_correct if the rubric has it).")
@click.option("--threshold", type=float, default=1.0, show_default=True,
              help="With --outcome reward: a reward below this is a task failure.")
@click.option("--over", default=None, metavar="KEY",
              help="The episode metadata key that orders episodes in training (step, checkpoint): behaviors over "
                   "training and the reward-hacking check (default: step, global_step, training_step, checkpoint, "
                   "or iteration when episodes have one).")
@evidence_options
@click.option("--json", "as_json", is_flag=True, help="Print the whole analysis as JSON.")
def analyze_command(run_dir: str, by: str | None, outcome: str | None, threshold: float, over: str | None,
                    as_json: bool, **rule: Any) -> None:
    """Which behaviors fail, how often, and which of them explains task failures (only with evidence);
    behaviors over training when episodes carry a step."""
    a = analyze(run_dir, by=by, outcome=outcome, threshold=threshold, rule=rule_from(rule), over=over)
    if as_json:
        json_out({**a.to_dict(), "threshold": threshold})
        return
    print_analysis(a, threshold)
