"""The report without a browser: escaping JSON, the Content-Security-Policy against the page's real
script and style, autoescaping, figures as valid plotly figures, the bounded episode sample and its
byte budget, and `rubricate report` on the command line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.analyzer import analyze, open_run
from rubricate.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from rubricate.reports import (
    attribution_figure,
    chain_figure,
    cohort_figure,
    compare_figure,
    cooccurrence_figure,
    rates_figure,
    render_report,
    reward_figure,
    training_figure,
)
from rubricate.reports._diagnosis import comparison_context
from rubricate.reports._episodes import browser_episodes, sample_ids
from rubricate.reports._render import environment
from rubricate.reports._safe import csp_hash, inline_text, script_json


def _between(html: str, start: str, end: str) -> list[str]:
    return re.findall(re.escape(start) + r"(.*?)" + re.escape(end), html, flags=re.DOTALL)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12))
@settings(max_examples=200, deadline=None)
def test_script_json_round_trips_and_cannot_break_out(value: object) -> None:
    text = script_json(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == value


def test_script_json_survives_lone_surrogates_and_nan() -> None:
    assert json.loads(script_json({"a": "x\ud800y", "b": float("nan")})) == {"a": "x\ufffdy", "b": None}
    assert script_json("</script><!--") == '"\\u003c/script\\u003e\\u003c!--"'


def test_inline_text_refuses_what_would_end_its_element() -> None:
    for bad in ("a</script>b", "a</STYLE b", "x<!--y", "nul\x00"):
        with pytest.raises(ValueError):
            inline_text(bad, "asset")
    assert inline_text("a\r\nb\rc", "asset") == "a\nb\nc"


def test_autoescape_is_on_for_every_template_name() -> None:
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_csp_allows_exactly_the_page_script_and_style(runs: dict[str, Path]) -> None:
    html = render_report(runs["all"], by="model")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
    csp = csp.replace("&#39;", "'")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    scripts = _between(html, "<script>", "</script>")
    assert len(scripts) == 1 and directives["script-src"] == f"'{csp_hash(scripts[0])}'"
    assert "Plotly" in scripts[0] and len(scripts[0]) > 1_000_000
    styles = _between(html, "<style>", "</style>")
    assert len(styles) == 1 and f"'{csp_hash(styles[0])}'" in directives["style-src"]
    markup = html.replace(scripts[0], "")
    assert not re.search(r"<[^>]+\sstyle=", markup), "inline style attributes would be blocked"
    assert not re.search(r"<[^>]+\son[a-z]+=", markup), "no inline event handlers"
    assert not re.search(r"(src|href)=\"(https?:)?//", markup), "nothing loads from the network"


def test_figures_are_valid_plotly_figures_with_escaped_labels(runs: dict[str, Path]) -> None:
    import plotly.graph_objects as go

    a = analyze(runs["all"], by="model")
    hostile = a.items.with_columns(item=pl.lit("<b>x</b>") + pl.col("item"))
    rows = comparison_context(open_run(runs["before"]), open_run(runs["after"]))["rows"]
    figures = [rates_figure(a.items), rates_figure(hostile), attribution_figure(a), chain_figure(a),
               cooccurrence_figure(a.cooccurrence), cohort_figure(a.cohorts), compare_figure(rows, "before", "after")]
    for fig in figures:
        assert fig is not None
        go.Figure(fig)  # raises on anything plotly does not know
        json.dumps(fig)
    assert figures[1]["data"][0]["y"][0].startswith("&lt;b&gt;x&lt;/b&gt;")
    assert rates_figure(a.items.clear()) is None and cohort_figure(None) is None
    assert cooccurrence_figure(a.cooccurrence.clear()) is None
    assert a.training is None and training_figure(a) is None and reward_figure(a) is None
    sankey = figures[3]["data"][0]
    assert sankey["type"] == "sankey" and sankey["node"]["label"][-2:][0].startswith("task failed (")


def test_sample_is_bounded_per_item_and_verdict(runs: dict[str, Path]) -> None:
    run = open_run(runs["all"])
    ids = sample_ids(run, per_group=5, by="model")
    counts = run.sql(f"""SELECT item, verdict, count(*) AS n,
        count(*) FILTER (episode_id IN (SELECT unnest({ids!r}))) AS sampled FROM verdicts GROUP BY ALL""")
    for row in counts.iter_rows(named=True):
        assert row["sampled"] >= min(5, row["n"]), row
    assert len(ids) <= 5 * counts.height
    assert sample_ids(run, per_group=5, by="model") == ids  # stable


def test_episode_budget_clips_texts_then_drops_steps(runs: dict[str, Path]) -> None:
    run = open_run(runs["all"])
    ids = sample_ids(run, per_group=3)
    full, stats = browser_episodes(run, ids)
    assert stats["with_steps"] == len(ids) and stats["dropped"] == 0
    budget = len(script_json(full)) // 4
    small, stats = browser_episodes(run, ids, budget=budget)
    assert len(script_json(small)) <= budget * 1.01
    assert stats["text_limit"] < 20_000
    assert [e["id"] for e in small] == [e["id"] for e in full]  # verdicts of every episode are kept
    assert all(e["verdicts"] for e in small)


def test_cli_report(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "report.html"
    code = main(["report", str(runs["after"]), "--compare", str(runs["before"]), "--by", "model",
                 "--out", str(out), "--sample", "3", "--min-failing", "5", "--correction", "bh"])
    _, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert f"report written to {out}" in err
    html = out.read_text("utf-8")
    assert 'id="compare"' in html and 'id="cohorts"' in html and "before-rl" in html
    code = main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "x.html")])
    _, err = capsys.readouterr()
    assert code == EXIT_FAILED and err.startswith("error: ") and "hint: " in err
    assert not (tmp_path / "x.html").exists()


def test_report_refuses_a_baseline_of_another_rubric(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    other = _with_info(runs["before"], tmp_path / "other", rubric={**json.loads(
        (runs["before"] / "run.json").read_text())["rubric"], "id": "another-rubric"})
    out = tmp_path / "r.html"
    code = main(["report", str(runs["after"]), "--compare", str(other), "--out", str(out), "--sample", "1"])
    _, err = capsys.readouterr()
    assert code == EXIT_USAGE and "different rubrics" in err and "--force" in err and not out.exists()
    code = main(["report", str(runs["after"]), "--compare", str(other), "--out", str(out), "--sample", "1", "--force"])
    _, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert "warning: the runs were scored with different rubrics" in out.read_text("utf-8")


def test_report_when_trace_files_are_gone(runs: dict[str, Path], tmp_path: Path) -> None:
    """Episodes whose trace files moved keep their verdicts in the browser, without steps."""
    traces = tmp_path / "traces"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "wiki-search" / "traces", traces)
    main(["score", str(traces), "--rubric", str(Path(__file__).resolve().parents[2] / "examples" / "wiki-search"
                                                / "rubric.toml"), "--out", str(tmp_path / "run"), "--quiet"])
    shutil.rmtree(traces)
    html = render_report(tmp_path / "run", sample=2)
    data = json.loads(_between(html, '<script type="application/json" id="report-data">', "</script>")[0])
    assert data["episodes"] and all(e["steps"] is None and e["verdicts"] for e in data["episodes"])
    assert "could not be re-read from their trace files" in html


def _with_info(src: Path, dst: Path, **changes: object) -> Path:
    shutil.copytree(src, dst)
    info = json.loads((dst / "run.json").read_text())
    info.update(changes)
    (dst / "run.json").write_text(json.dumps(info))
    return dst


def test_judge_tiles_only_from_run_json(runs: dict[str, Path], tmp_path: Path) -> None:
    assert "judge" not in render_report(runs["before"], sample=1).split("<main>", 1)[1].split("Behaviors")[0]
    ledger = {"calls": 120, "error_verdicts": 3, "cost_usd": 0.4567, "tokens_in": 100000, "tokens_out": 2500}
    run = _with_info(runs["before"], tmp_path / "judged", judge={"status": "configured", "model": "judge-<m>",
                                                                  "ledger": ledger})
    html = render_report(run, sample=1)
    for text in ("judge calls", "120", "judge errors", "judge spend", "$0.46", "100,000 in, 2,500 out tokens",
                 "judge-&lt;m&gt;"):
        assert text in html
    skipped = _with_info(runs["before"], tmp_path / "skipped",
                         judge={"status": "not configured", "skipped_items": ["a", "b"], "reason": "no judge"})
    assert "2 judge items skipped" in render_report(skipped, sample=1)
