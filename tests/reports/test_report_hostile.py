"""Hostile traces: markup payloads in every field a trace or a rubric controls (content, tool names,
arguments, results, ids, metadata keys and values, cohorts, check reasons, behavior names, file
names of damaged files). No payload may execute, load anything or break out of the page; every one
must show as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.cli import EXIT_OK, main
from rubricate.reports import write_report
from rubricate.rubrics import isolated_registry

from .conftest import Page

TITLE = "hostile report"
# Each payload, if it ran, would set window.__pwned or change document.title.
PAYLOADS = [
    "<script>window.__pwned = 1; document.title = 'pwned'</script>",
    "</script><script>window.__pwned = 2</script>",
    '<img src=x onerror="window.__pwned = 3">',
    '<a href="javascript:window.__pwned = 4">click me</a>',
    '<iframe src="javascript:parent.__pwned = 5"></iframe>',
    '<svg onload="window.__pwned = 6"><script>window.__pwned = 6</script></svg>',
    "\u2028</ScRiPt ><!--<script>window.__pwned = 7</script>-->",
    '"><style>body{display:none}</style><b onmouseover="window.__pwned = 8">',
    "</style></template><script>window.__pwned = 9</script>",
    "{{ 7*7 }} ${window.__pwned = 10} <br>bold<b>",
]
P = PAYLOADS
HOSTILE_CHECKS = f'''
from rubricate import check, failed, passed

PAYLOADS = {PAYLOADS!r}

@check(behavior={P[5]!r})
def hostile_reason(ctx):
    k = len(ctx.episode.steps) % len(PAYLOADS)
    if k % 2:
        return passed("passes " + PAYLOADS[k], 1)
    return failed("reason " + PAYLOADS[k] + " " + PAYLOADS[(k + 1) % len(PAYLOADS)], 1, 2)
'''
RUBRIC = f'''
id = "hostile"
version = "1.0.0"
[params]
discovery_tools = ["search"]
[[items]]
id = "hostile_reason"
[[items]]
id = "discovers_tables"
behavior = {json.dumps(P[2])}
[[items]]
id = "answer_correct"
'''


def _record(i: int) -> dict:
    p = lambda k: PAYLOADS[(i + k) % len(PAYLOADS)]
    name = "search" if i % 3 else p(0)
    messages = [
        {"role": "system", "content": p(0)},
        {"role": "user", "content": "Question " + p(1)},
        {"role": "assistant", "content": p(2), "tool_calls": [
            {"id": f"c{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps({p(3): p(4), "query": p(5)})}}]},
        {"role": "tool", "tool_call_id": f"c{i}", "name": name, "content": "Error: " + p(6)},
    ]
    if i % 2:
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"id": f"d{i}", "type": "function", "function": {"name": p(7), "arguments": "{not json " + p(8)}}]})
        messages.append({"role": "tool", "tool_call_id": f"d{i}", "content": p(9)})
    messages.append({"role": "assistant", "content": "The answer is " + p(1)})
    return {"id": f"ep-{i}-{p(2)}", "task_id": f"task-{i % 4}-{p(3)}", "messages": messages,
            "ground_truth": p(4), "reward": (i % 3) / 2,
            "metadata": {"model": p(i % 3), p(5): p(6), "nested": {p(7): [p(8)]}}}


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    traces = root / "traces"
    traces.mkdir()
    with open(traces / "episodes.jsonl", "w") as f:
        f.writelines(json.dumps(_record(i)) + "\n" for i in range(30))
    damaged = traces / f"{P[2].replace('/', '_')}.jsonl"  # a file name that is markup, with bad lines
    damaged.write_text(json.dumps(_record(30)) + "\n{" + P[0] + "\n" + json.dumps(P[1]) + "\n")
    (root / "checks.py").write_text(HOSTILE_CHECKS)
    (root / "rubric.toml").write_text(RUBRIC)
    run = root / "run"
    with isolated_registry():
        code = main(["score", str(traces), "--rubric", str(root / "rubric.toml"), "--checks",
                     str(root / "checks.py"), "--out", str(run), "--workers", "1", "--quiet"])
    assert code == EXIT_OK
    return write_report(run, root / "report.html", by="model", title=TITLE)


def test_no_payload_runs(page: Page, hostile_report: Path) -> None:
    p = page.open(hostile_report)
    assert p.title() == TITLE
    assert p.evaluate("window.__pwned") is None
    # open every episode: the browser builds each one's DOM from trace data
    rows = p.locator("#episode-list li[data-episode]")
    assert rows.count() == 31
    opened = p.evaluate("""() => {
        const rows = Array.from(document.querySelectorAll('#episode-list li[data-episode]'));
        for (const li of rows) {  // real click events: the handlers build each episode's DOM
            li.click();
            document.querySelectorAll('#episode-view a').forEach(a => a.click());
        }
        return rows.length;
    }""")
    assert opened == 31
    p.locator("#episode-view details.metadata summary").click()
    for name in ("cohorts", "rates", "cooccurrence"):  # hover labels are built from the same names
        p.locator(f'[data-figure="{name}"] .nsewdrag').first.hover()
        p.wait_for_timeout(50)
    assert p.evaluate("window.__pwned") is None
    assert p.title() == TITLE
    assert page.dialogs == []
    assert page.errors == []
    assert page.csp_violations() == []
    assert page.foreign_requests(hostile_report) == []
    counts = p.evaluate("""() => ({
        iframes: document.querySelectorAll('iframe').length,
        imgs: document.querySelectorAll('img').length,
        scripts: document.querySelectorAll('script').length,
        styles: document.querySelectorAll('style').length,
        handlers: Array.from(document.querySelectorAll('*')).filter(
            e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
        jsLinks: Array.from(document.querySelectorAll('a')).filter(
            a => (a.getAttribute('href') || '').trim().toLowerCase().startsWith('javascript:') ||
                 (a.getAttribute('xlink:href') || '').trim().toLowerCase().startsWith('javascript:')).length,
        svgLinks: document.querySelectorAll('svg a').length,
        bold: document.querySelectorAll('main b').length,
    })""")
    assert counts["iframes"] == 0 and counts["imgs"] == 0 and counts["handlers"] == 0
    assert counts["jsLinks"] == 0 and counts["svgLinks"] == 0 and counts["bold"] == 0
    assert counts["scripts"] == 2  # the JSON data and the page's one script
    assert counts["styles"] <= 2  # ours, and plotly's empty one filled through CSSOM
    assert p.locator("body").is_visible()


def test_payloads_show_as_text(page: Page, hostile_report: Path) -> None:
    p = page.open(hostile_report)
    p.locator("#episode-list li[data-episode]").first.click()
    p.locator("#episode-view details.metadata summary").click()
    view = p.locator("#episode-view").inner_text()
    shown = [x for x in PAYLOADS if x.replace("\u2028", "").strip() in view.replace("\u2028", "")]
    assert len(shown) >= 6, f"only {len(shown)} payloads shown literally"
    everything = p.locator("main").inner_text()
    for payload in PAYLOADS:
        assert payload.replace("\u2028", "").strip()[:30] in everything.replace("\u2028", ""), payload
    # the cohort chart's labels are payloads too: plotly shows them as text, not as markup
    ticks = " ".join(p.locator('[data-figure="cohorts"] .xtick text').all_text_contents())
    assert "<img src=x" in ticks and "<script>" in ticks
    behaviors = p.locator("table.behaviors").inner_text()
    assert P[5] in behaviors and P[2] in behaviors
    issues = p.locator("#issues").inner_text()
    assert "all 2 in" in issues
    assert P[2] in issues  # the damaged file's name
    page.screenshot("report-hostile.png")
    assert page.errors == [] and page.csp_violations() == []


def test_hostile_html_has_one_script_and_no_markup_from_data(hostile_report: Path) -> None:
    html = hostile_report.read_text("utf-8")
    assert html.lower().count("<script") == 2
    assert html.lower().count("</script") == 2
    for payload in PAYLOADS:
        assert payload not in html
    data = html.split('<script type="application/json" id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data and "&" not in data and "\u2028" not in data
