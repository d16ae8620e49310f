"""The report's diagnosis in headless Chromium: the banner says plainly when no behavior reliably
explains task failure (tau-bench scored with agent-basics: no claim built on 3 episodes), the banner,
`analyze` and `guide` share one evidence rule, and behaviors over training with the reward-hacking
warning draw on a planted training run."""

from __future__ import annotations

from pathlib import Path

import pytest
from _shared import CORPORA, need

import rubricate
from rubricate.analyzer import EvidenceRule, analyze, guide, open_run
from rubricate.analyzer._synthetic import synthetic_training, write_training
from rubricate.reports import write_report

from .conftest import Page


@pytest.fixture(scope="module")
def tau_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = need(CORPORA / "tau-bench" / "gpt-4o-airline.json")
    out = tmp_path_factory.mktemp("tau") / "run"
    rubricate.score_run(corpus, rubricate.load_rubric("agent-basics"), out, workers=1)
    return out


@pytest.fixture(scope="module")
def tau_report(tau_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(tau_run, tmp_path_factory.mktemp("report") / "tau.html", sample=2)


@pytest.fixture(scope="module")
def training_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("training")
    run, _ = synthetic_training("hacking", seed=1)
    return write_report(write_training(run, root / "run"), root / "training.html", sample=1)


def test_tau_bench_makes_no_claim_on_three_episodes(tau_run: Path) -> None:
    a = analyze(tau_run)
    grounding = a.attribution.filter(a.attribution["behavior"] == "grounding").row(0, named=True)
    assert grounding["episodes_failing"] <= 3 and not grounding["supported"]  # the old claim rested on 3
    assert not a.attribution["supported"].any()
    assert a.roots == () and a.principal_behavior is None
    assert a.principal is not None and a.principal.startswith("No behavior reliably explains task failure in this run")
    assert "too few to test" in a.principal
    assert "episodes at this mix would detect a difference that size" in a.principal
    entries = guide(tau_run, top=6)
    assert entries
    for entry in entries:  # the guide claims nothing either, and speaks the rubric's words
        assert entry.role in ("not shown", "outcome"), entry
        assert "misspelled" not in entry.recommendation and "section" not in entry.recommendation
        assert entry.tools, entry  # the tools the failing episodes called, from this run
    answering = {e.behavior: e for e in entries}["answering"]
    assert "Ends with an answer, or a hand-off to a person" in answering.recommendation  # the item's own words


def test_banner_analyze_and_guide_share_one_rule(tau_run: Path, tmp_path: Path) -> None:
    from rubricate.analyzer._synthetic import synthetic_cohort

    chain = synthetic_cohort("chain", 400, 1).write(tmp_path / "chain")
    for run, rule in ((chain, EvidenceRule()), (chain, EvidenceRule(min_failing=200)), (tau_run, EvidenceRule()),
                      (tau_run, EvidenceRule(min_failing=1, min_failed_tasks=1, alpha=0.5))):
        a = analyze(run, rule=rule)
        roles = dict(zip(a.attribution["behavior"], a.attribution["role"]))
        for entry in guide(run, top=10, rule=rule):
            assert entry.role == roles.get(entry.behavior, "outcome")
        html = (write_report(run, tmp_path / "r.html", sample=1, rule=rule)).read_text("utf-8")
        banner = html.split('id="principal">', 1)[1].split("</p>", 1)[0]
        text = banner.replace("<strong>", "").replace("</strong>", "")
        import html as h

        assert h.unescape(text) == a.principal
        assert ("<strong>" in banner) == bool(a.roots)


def test_no_claim_banner_in_the_browser(page: Page, tau_report: Path) -> None:
    p = page.open(tau_report)
    assert page.errors == [] and page.csp_violations() == []
    headline = p.locator("#principal")
    assert "neutral" in (headline.get_attribute("class") or "")
    assert headline.inner_text().startswith("No behavior reliably explains task failure in this run")
    assert headline.locator("strong").count() == 0
    roles = p.locator("table.attribution-table td .role").all_inner_texts()
    assert roles and set(roles) <= {"not shown"}
    assert p.locator("#guidance .evidence-line").first.inner_text().startswith(("Not shown", "Not a driver"))


def test_training_section_draws_lines_and_the_hacking_warning(page: Page, training_report: Path) -> None:
    p = page.open(training_report)
    assert page.errors == [] and page.csp_violations() == []
    section = p.locator("#training")
    assert section.locator("h2").inner_text().startswith("Behaviors over training")
    lines = section.locator('[data-figure="training"] g.scatterlayer g.trace')
    assert lines.count() == 4  # one line a behavior
    assert section.locator('[data-figure="training"] g.errorbar').count() > 0  # the intervals
    assert section.locator('[data-figure="reward"] g.scatterlayer g.trace').count() == 2
    warning = section.locator("#hacking")
    assert warning.inner_text().startswith("Reward-hacking warning: from step ")
    assert "cites_sources" in warning.inner_text() and "neutral" not in (warning.get_attribute("class") or "")
    assert section.locator('[data-figure="reward"] path').count() > 0
    sentences = section.locator(".training-sentences li").all_inner_texts()
    assert any("first significant change at step" in s for s in sentences)
    page.screenshot("report-training.png", "#training")


def test_json_of_a_training_run(tmp_path: Path) -> None:
    run, onset = synthetic_training("hacking", seed=2)
    a = analyze(open_run(write_training(run, tmp_path / "run")))
    data = a.to_dict()["training"]
    assert data["key"] == "step" and data["reward"] == "reward" and data["outcome"] == "answer_correct"
    assert data["hacking"]["flagged"] and abs(data["hacking"]["onset_step"] - onset) <= 4
    assert {r["behavior"] for r in data["rates"]} == {"correctness", "grounding", "answering", "efficiency"}
