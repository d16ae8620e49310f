"""`rubricate calibrate RUN --labels labels.csv` and `rubricate labels RUN --out labels.csv`."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ..analyzer import open_run
from ..errors import JudgeError
from ..analyzer import calibrate, read_labels, sample_verdicts, self_consistency, write_labels
from ..analyzer import labels_from_run
from ._app import app
from ._judge import judge_config, judge_options
from . import EXIT_THRESHOLD
from ._output import console, fail, json_out


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@app.command("calibrate")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV: episode_id,item,label[,steps] (`rubricate labels RUN` writes one from episode metadata).")
@click.option("--samples", type=click.IntRange(min=2), default=None,
              help="Ask the judge K times per labelled episode (needs --judge-model): self-consistency.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@judge_options
def calibrate_command(run_dir: str, labels_path: str, samples: int | None, as_json: bool, **judge_opts: Any) -> None:
    """Agreement of a run's verdicts with human labels (accuracy, Cohen's kappa, confusion), of judge
    items with programmatic items of the same behavior, and of the judge with itself (--samples)."""
    config = judge_config(judge_opts)
    if samples and config is None:
        raise JudgeError("--samples needs a judge", hint="add --judge-model (and --judge-base-url for a local server)")
    run = open_run(run_dir)
    labels = read_labels(labels_path)
    result = calibrate(run, labels)
    unmatched = [item for item, r in result["items"].items() if not r["matched"]]
    if unmatched and len(unmatched) == len(result["items"]) and not samples:
        fail(EXIT_THRESHOLD, f"no verdicts to compare with the labels: {_why_no_verdicts(run, unmatched)}",
             "score the run with a judge (--judge-model M, and --judge-base-url for a local server), "
             "or label items the run has verdicts for")
    for item in unmatched:
        click.echo(f"note: no verdicts for the labelled item {item}: {_why_no_verdicts(run, [item])}", err=True)
    if samples and config is not None:
        ids = list(dict.fromkeys(lab.episode_id for lab in labels))
        answers, ledger = sample_verdicts(run, config, samples, ids)
        result["self_consistency"] = self_consistency(answers, labels)
        result["sampling_ledger"] = ledger.report(config.price())
    if as_json:
        json_out(result)
        return
    table = Table(title=f"verdicts vs {len(labels):,} labels", title_justify="left")
    for name in ("item", "labels", "matched", "pass/fail pairs", "accuracy", "kappa", "cites labelled step"):
        table.add_column(name, justify="left" if name == "item" else "right")
    for item, r in result["items"].items():
        table.add_row(escape(item), str(r["labels"]), str(r["matched"]), str(r["n"]), _num(r["accuracy"]),
                      _num(r["kappa"]), f"{_num(r['cites_labelled_step'])} ({r['cited_n']})" if r["cited_n"] else "-")
    console.print(table)
    for item, r in result["items"].items():
        cells = "; ".join(f"label {lab}: " + ", ".join(f"{v} {n}" for v, n in sorted(row.items()))
                          for lab, row in sorted(r["confusion"].items()))
        console.print(f"  {escape(item)}: {escape(cells) or 'no verdicts for these labels'}")
    if result["judge_vs_programmatic"]:
        t = Table(title="judge items vs programmatic items of the same behavior", title_justify="left")
        for name in ("judge item", "check item", "behavior", "pairs", "agreement", "kappa"):
            t.add_column(name, justify="right" if name in ("pairs", "agreement", "kappa") else "left")
        for r in result["judge_vs_programmatic"]:
            t.add_row(escape(r["judge_item"]), escape(r["check_item"]), escape(r["behavior"]), str(r["n"]),
                      _num(r["accuracy"]), _num(r["kappa"]))
        console.print(t)
    if "self_consistency" in result:
        t = Table(title=f"self-consistency over {samples} samples", title_justify="left")
        for name in ("item", "episodes", "modal agreement", "unanimous", "majority accuracy", "majority kappa"):
            t.add_column(name, justify="left" if name == "item" else "right")
        for item, r in result["self_consistency"].items():
            m = r["majority_vs_labels"]
            t.add_row(escape(item), str(r["episodes"]), _num(r["mean_modal_agreement"]), _num(r["unanimous"]),
                      _num(m["accuracy"]), _num(m["kappa"]))
        console.print(t)


def _why_no_verdicts(run: Any, items: list[str]) -> str:
    """Why a run has no verdicts for these labelled items: judge items it did not ask, items its rubric
    does not have, or episodes the labels name that it did not score."""
    rubric = {i["id"]: i for i in run.info.get("rubric", {}).get("items", [])}
    judge = run.info.get("judge") or {}
    skipped = [i for i in items if i in (judge.get("skipped_items") or [])]
    unknown = [i for i in items if i not in rubric]
    parts = []
    if skipped:
        parts.append(f"the judge items {', '.join(skipped)} were not asked when the run was scored "
                     f"({judge.get('reason') or 'no judge'})")
    if unknown:
        parts.append(f"the run's rubric has no item {', '.join(unknown)}")
    rest = [i for i in items if i not in skipped and i not in unknown]
    if rest:
        parts.append(f"no episode the labels name has a verdict for {', '.join(rest)} (other episode ids?)")
    return "; ".join(parts)


@app.command("labels")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False),
              help="Labels CSV to write (episode_id,item,label,steps).")
def labels_command(run_dir: str, out: str) -> None:
    """Write the human labels a run's episodes carry in metadata (Who&When, MAST) as a labels CSV."""
    labels = labels_from_run(open_run(run_dir))
    write_labels(out, labels)
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab.item] = counts.get(lab.item, 0) + 1
    console.print(f"{len(labels):,} labels for {len(counts)} items written to {escape(out)}")
    for item, n in sorted(counts.items()):
        console.print(f"  {escape(item)}: {n:,}")
