"""Calibration: how well verdicts agree with human labels, with the programmatic items, and with
themselves (self-consistency over repeated judge calls).

Labels are a CSV with a header `episode_id,item,label` and an optional `steps` column (the steps a
person cites, separated by spaces or `;`). A label is pass/fail (also yes/no, true/false, 1/0), na, or
one of a judge item's choices. Per item: accuracy and Cohen's kappa over the episodes where both the
label and the verdict are pass or fail, the confusion table (label x verdict, na and error included),
and how often the verdict cites a labelled step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import JudgeError, RubricError
from ..rubrics import rubric_from_spec, read_rubric_spec
from ..rubrics.judges import EpisodeJudge, JudgeItem, JudgeSetup

if TYPE_CHECKING:
    from ._results import Run

_PASS = {"pass", "yes", "true", "1", "y", "passed"}
_FAIL = {"fail", "no", "false", "0", "n", "failed"}
_NA = {"na", "n/a", "not applicable", ""}


@dataclass(frozen=True, slots=True)
class Label:
    episode_id: str
    item: str
    label: str
    steps: tuple[int, ...] = ()


def normalise_label(value: str) -> str:
    v = value.strip().lower()
    if v in _PASS:
        return "pass"
    if v in _FAIL:
        return "fail"
    if v in _NA:
        return "na"
    return value.strip()


def read_labels(path: str) -> list[Label]:
    """The labels CSV (episode_id,item,label[,steps])."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = set(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise JudgeError(f"{path}: cannot read the labels: {exc}", path=path) from None
    if not {"episode_id", "item", "label"} <= columns:
        raise JudgeError(f"{path}: the labels CSV needs the columns episode_id, item, label", path=path,
                         hint="first line: episode_id,item,label (optionally ,steps)")
    out = []
    for k, row in enumerate(rows, 2):
        steps_text = (row.get("steps") or "").replace(";", " ").replace(",", " ").split()
        try:
            steps = tuple(int(s) for s in steps_text)
        except ValueError:
            raise JudgeError(f"{path}:{k}: steps {row.get('steps')!r} are not step numbers", path=path) from None
        out.append(Label(row["episode_id"], row["item"], normalise_label(row["label"] or ""), steps))
    return out


def write_labels(path: str, labels: list[Label]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["episode_id", "item", "label", "steps"])
        for lab in labels:
            w.writerow([lab.episode_id, lab.item, lab.label, " ".join(map(str, lab.steps))])


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters over the same cases; None when chance agreement is total (one class)."""
    n = len(pairs)
    if not n:
        return None
    po = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    pe = sum(left[c] * right[c] for c in left) / (n * n)
    return None if pe >= 1.0 else round((po - pe) / (1 - pe), 4)


def agreement(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """n, accuracy and kappa over the pairs where both sides are pass or fail."""
    decided = [(a, b) for a, b in pairs if a in ("pass", "fail") and b in ("pass", "fail")]
    n = len(decided)
    return {"n": n, "accuracy": round(sum(a == b for a, b in decided) / n, 4) if n else None,
            "kappa": cohen_kappa(decided)}


def calibrate(run: Run, labels: list[Label]) -> dict[str, Any]:
    """Per item: agreement with the labels, confusion, citations; and judge-vs-programmatic agreement."""
    verdicts = {(e, i): (v, tuple(ev or ())) for e, i, v, ev in
                run.verdicts().select("episode_id", "item", "verdict", "evidence").iter_rows()}
    by_item: dict[str, list[Label]] = {}
    for lab in labels:
        by_item.setdefault(lab.item, []).append(lab)
    items: dict[str, Any] = {}
    for item, labs in by_item.items():
        pairs, confusion, missing = [], {}, 0
        cited = cite_n = 0
        for lab in labs:
            got = verdicts.get((lab.episode_id, item))
            if got is None:
                missing += 1
                continue
            verdict, evidence = got
            pairs.append((lab.label, verdict))
            row = confusion.setdefault(lab.label, {})
            row[verdict] = row.get(verdict, 0) + 1
            if lab.steps:
                cite_n += 1
                cited += bool(set(lab.steps) & set(evidence))
        items[item] = {"labels": len(labs), "matched": len(pairs), "no_verdict": missing, **agreement(pairs),
                       "confusion": confusion,
                       "cites_labelled_step": round(cited / cite_n, 4) if cite_n else None, "cited_n": cite_n}
    return {"items": items, "judge_vs_programmatic": judge_vs_programmatic(run, verdicts)}


def judge_vs_programmatic(run: Run, verdicts: dict[tuple[str, str], tuple[str, tuple[int, ...]]]) -> list[dict[str, Any]]:
    """Agreement of every judge item with every programmatic item of the same behavior, where both exist."""
    rubric_items = run.info["rubric"]["items"]
    judges = [i for i in rubric_items if i.get("kind") == "judge"]
    checks = [i for i in rubric_items if i.get("kind", "check") == "check"]
    by_item: dict[str, dict[str, str]] = {}
    for (episode, item), (verdict, _) in verdicts.items():
        by_item.setdefault(item, {})[episode] = verdict
    out = []
    for j in judges:
        for c in checks:
            if j["behavior"] != c["behavior"] or j["id"] not in by_item or c["id"] not in by_item:
                continue
            jv, cv = by_item[j["id"]], by_item[c["id"]]
            pairs = [(cv[e], jv[e]) for e in jv.keys() & cv.keys()]
            out.append({"judge_item": j["id"], "check_item": c["id"], "behavior": j["behavior"], **agreement(pairs)})
    return out


def self_consistency(answers: dict[str, dict[str, list[str]]], labels: list[Label] | None = None) -> dict[str, Any]:
    """From k verdicts per (item, episode): mean agreement with the modal verdict, the share of unanimous
    episodes, and (with labels) the accuracy of the majority vote."""
    lab = {(x.item, x.episode_id): x.label for x in labels or []}
    out = {}
    for item, per_episode in answers.items():
        agree, unanimous, votes = [], 0, []
        for episode, vs in per_episode.items():
            mode, count = Counter(vs).most_common(1)[0]
            agree.append(count / len(vs))
            unanimous += count == len(vs)
            if (item, episode) in lab:
                votes.append((lab[(item, episode)], mode))
        n = len(agree)
        out[item] = {"episodes": n, "samples": max((len(v) for v in per_episode.values()), default=0),
                     "mean_modal_agreement": round(sum(agree) / n, 4) if n else None,
                     "unanimous": round(unanimous / n, 4) if n else None, "majority_vs_labels": agreement(votes)}
    return out


def run_judge_items(run: Run) -> tuple[list[Any], bool]:
    """The judge items of the rubric a run used (from its file or built-in name), and whether the
    rubric's content still has the hash the run recorded."""
    info = run.info["rubric"]
    path = info.get("path") or ""
    try:
        spec = read_rubric_spec(path)
    except (OSError, ValueError, RubricError) as exc:
        raise JudgeError(f"cannot read the run's rubric {path!r}: {exc}", path=path,
                         hint="sampling re-asks the judge items of the rubric file the run used") from None
    judges = [s for s in spec.items if s.kind == "judge"]
    try:
        same = rubric_from_spec(spec, path=path).hash == info.get("hash")
    except Exception:  # noqa: BLE001  (custom checks not loaded here: only the judge items matter)
        same = False
    return [JudgeItem.from_spec(s) for s in judges], same


def sample_verdicts(run: Run, config: Any, samples: int, episode_ids: list[str]) -> tuple[dict[str, dict[str, list[str]]], Any]:
    """Ask the judge `samples` times (sample 0 is the scoring call, often cached) about these episodes;
    verdicts per item and episode, and the ledger of the calls."""
    items, _ = run_judge_items(run)
    if not items:
        raise JudgeError("the run's rubric has no judge items to sample", hint="--samples needs judge items")
    episodes = run.load_episodes(episode_ids)
    eps = [episodes[e] for e in episode_ids if e in episodes]
    out: dict[str, dict[str, list[str]]] = {it.id: {} for it in items}
    with EpisodeJudge(JudgeSetup.create(config), items) as judge:
        for s in range(samples):
            for ep, outcomes in zip(eps, judge.judge_many(eps, sample=s)):
                for it, (outcome, _) in zip(items, outcomes):
                    if outcome.verdict != "error":
                        out[it.id].setdefault(ep.id, []).append(outcome.verdict)
        return out, judge.ledger
