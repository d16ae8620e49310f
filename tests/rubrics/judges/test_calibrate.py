"""Calibration against labels: kappa, accuracy, confusion, cited steps, judge vs programmatic items,
self-consistency; labels from the Who&When and MAST metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

import rubricate
from rubricate.scoring import score_run
from rubricate.cli import EXIT_OK, EXIT_USAGE, main
from rubricate.analyzer import Label, calibrate, cohen_kappa, read_labels, self_consistency, write_labels
from rubricate.analyzer import labels_from_metadata, labels_from_run, mast_item
from rubricate.testing import ScriptedJudge

from ._support import JUDGE_RUBRIC, sql_episode
from .test_judge_http import _write

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_cohen_kappa():
    assert cohen_kappa([("pass", "pass"), ("pass", "fail"), ("fail", "fail"), ("fail", "fail")]) == 0.5
    assert cohen_kappa([("pass", "pass"), ("fail", "fail")]) == 1.0
    assert cohen_kappa([("pass", "fail"), ("fail", "pass")]) == -1.0
    assert cohen_kappa([("fail", "fail")] * 3) is None, "one class only: kappa is undefined"
    assert cohen_kappa([]) is None


def test_labels_csv_round_trip_and_normalisation(tmp_path: Path):
    path = tmp_path / "labels.csv"
    path.write_text("episode_id,item,label,steps\ne1,a,Yes,3;4\ne1,b,false,\ne2,a,N/A,\ne2,c,partly,\n")
    labels = read_labels(str(path))
    assert labels == [Label("e1", "a", "pass", (3, 4)), Label("e1", "b", "fail"), Label("e2", "a", "na"),
                      Label("e2", "c", "partly")]
    write_labels(str(tmp_path / "out.csv"), labels)
    assert read_labels(str(tmp_path / "out.csv")) == labels
    (tmp_path / "bad.csv").write_text("episode,verdict\n")
    with pytest.raises(rubricate.RubricateError, match="episode_id, item, label"):
        read_labels(str(tmp_path / "bad.csv"))


@pytest.fixture
def judged_run(tmp_path: Path):
    eps = [sql_episode(i) for i in range(6)]

    def answer(req):  # "no" on episodes whose question asks about an odd year; cites step 5
        odd = any(f"in {2000 + i}?" in req.user for i in (1, 3, 5))
        return {i: {"reason": "r", "steps": [5], "verdict": ("no" if odd else "yes") if i == "acknowledges_errors"
                    else "supported"} for i in req.items}

    rubric_file = tmp_path / "judged.toml"  # sampling re-reads the run's rubric file
    rubric_file.write_text(JUDGE_RUBRIC)
    with ScriptedJudge(answer) as server:
        config = server.config(cache_dir=str(tmp_path / "cache"))
        score_run(_write(tmp_path, eps), rubricate.load_rubric(rubric_file), tmp_path / "run", judge=config)
        yield rubricate.open_run(tmp_path / "run"), server, config


def test_calibrate_agreement_confusion_and_citations(judged_run):
    run, _, _ = judged_run
    labels = [Label(f"ep-{i:03d}", "acknowledges_errors", "pass" if i < 4 else "fail", (5,) if i == 0 else (2,))
              for i in range(6)] + [Label("ep-000", "answer_quality", "supported"), Label("nope", "answer_quality", "x")]
    result = calibrate(run, labels)
    ack = result["items"]["acknowledges_errors"]
    # verdicts: pass on even, fail on odd; labels: pass 0-3, fail 4-5
    assert (ack["n"], ack["accuracy"]) == (6, 0.5)
    assert ack["confusion"] == {"pass": {"pass": 2, "fail": 2}, "fail": {"pass": 1, "fail": 1}}
    assert ack["kappa"] == cohen_kappa([("pass", "pass"), ("pass", "fail"), ("pass", "pass"), ("pass", "fail"),
                                        ("fail", "pass"), ("fail", "fail")])
    assert (ack["cites_labelled_step"], ack["cited_n"]) == (round(1 / 6, 4), 6)
    quality = result["items"]["answer_quality"]
    assert (quality["matched"], quality["no_verdict"], quality["n"]) == (1, 1, 0)
    assert quality["confusion"] == {"supported": {"pass": 1}}
    (pair,) = result["judge_vs_programmatic"]
    assert (pair["judge_item"], pair["check_item"], pair["n"]) == ("acknowledges_errors", "recovers_from_errors", 6)


def test_self_consistency():
    answers = {"a": {"e1": ["pass", "pass", "fail"], "e2": ["fail", "fail", "fail"]}}
    out = self_consistency(answers, [Label("e1", "a", "pass"), Label("e2", "a", "pass")])["a"]
    assert out["mean_modal_agreement"] == round((2 / 3 + 1) / 2, 4) and out["unanimous"] == 0.5
    assert out["majority_vs_labels"]["accuracy"] == 0.5


def test_cli_calibrate_with_samples_and_labels_command(judged_run, tmp_path: Path, capsys):
    run, server, config = judged_run
    labels = tmp_path / "labels.csv"
    write_labels(str(labels), [Label(f"ep-{i:03d}", "acknowledges_errors", "pass") for i in range(6)])
    before = len(server.requests)
    code = main(["calibrate", run.path, "--labels", str(labels), "--samples", "3", "--judge-model", config.model,
                 "--judge-base-url", server.base_url, "--judge-cache", config.cache_dir])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert len(server.requests) - before == 2 * 6, "sample 0 is the scoring call: answered from the cache"
    assert "verdicts vs 6 labels" in out and "self-consistency over 3 samples" in out
    assert "acknowledges_errors" in out and "recovers_from_errors" in out
    assert main(["calibrate", run.path, "--labels", str(labels), "--samples", "2"]) == EXIT_USAGE
    assert main(["labels", run.path, "-o", str(tmp_path / "none.csv")]) == EXIT_OK
    assert read_labels(str(tmp_path / "none.csv")) == []


def test_labels_from_who_and_when_and_mast_metadata():
    assert labels_from_metadata({"decisive_step": 7, "responsible_agent": "Coder"}, "e") == \
        [Label("e", "no_decisive_mistake", "fail", (7,))]
    meta = {"failure_modes_rated": ["1.5 Step repetition", "2.6 Withholding relevant information", "1.6 Backtracking"],
            "failure_modes": {"annotator_1": ["1.5 Step repetition"], "annotator_2": ["1.5 Step repetition"],
                              "annotator_3": ["2.6 Withholding relevant information"]},
            "failure_modes_missing": {"annotator_3": ["1.5 Step repetition"]}}
    assert labels_from_metadata(meta, "m") == [Label("m", "step_repetition", "fail"),
                                               Label("m", "information_withholding", "pass")]
    assert mast_item("3.1 Premature Termination") == "premature_termination"
    assert mast_item("2.2 Fail to elicit clarification") == "fail_to_ask_for_clarification"
    assert mast_item("1.6 Backtracking interruption") is None


@pytest.mark.parametrize(("fixture", "fmt", "items"), [
    ("who-and-when/who-and-when.jsonl", "who-and-when", {"no_decisive_mistake"}),
    ("mast-mad/mast-mad.jsonl", "mast-mad", {"step_repetition", "no_or_incomplete_verification"}),
])
def test_labels_from_real_reader_metadata(tmp_path: Path, fixture: str, fmt: str, items: set[str]):
    from rubricate.traces import formats

    if fmt not in formats():
        pytest.skip(f"the {fmt} reader is not registered")
    rubric = rubricate.load_rubric(Path(__file__).resolve().parents[3] / "examples" / "multi-agent" / "rubric.toml")
    score_run(FIXTURES / fixture, rubric, tmp_path / "run")
    labels = labels_from_run(rubricate.open_run(tmp_path / "run"))
    assert labels and items <= {lab.item for lab in labels}
    assert {lab.item for lab in labels} <= {i.id for i in rubric.items}
    assert all(lab.label in ("pass", "fail") for lab in labels)


def test_the_multi_agent_example_has_a_judge_item_for_every_label():
    from rubricate.analyzer import MAST_MODES, WHO_AND_WHEN_ITEM

    rubric = rubricate.load_rubric(Path(__file__).resolve().parents[3] / "examples" / "multi-agent" / "rubric.toml")
    assert {i.id for i in rubric.judges} == set(MAST_MODES) | {WHO_AND_WHEN_ITEM}
    assert not rubric.checks and all(i.weight == 0 for i in rubric.items)
