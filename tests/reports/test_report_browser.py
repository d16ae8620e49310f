"""The report in headless Chromium: it loads with no console error, CSP violation or network request,
draws its charts, and its episode browser filters, opens episodes and jumps to cited steps."""

from __future__ import annotations

from pathlib import Path

from .conftest import Page

ITEMS = ["searches_first", "views_sections_first", "recovers_from_errors", "no_repeated_failing_call",
         "grounded_answer", "answer_correct"]


def test_loads_clean_offline_with_charts(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    assert page.errors == []
    assert page.csp_violations() == []
    assert page.foreign_requests(report_by_model) == []
    charts = p.locator("[data-figure]")
    names = sorted(charts.nth(k).get_attribute("data-figure") for k in range(charts.count()))
    assert names == ["attribution", "chain", "cohorts", "cooccurrence", "rates"]
    for name in names:  # plotly drew each one as SVG, with marks in it
        chart = p.locator(f'[data-figure="{name}"]')
        assert chart.locator("svg.main-svg").count() >= 1, name
        assert chart.locator("g.trace, g.hm, g.heatmaplayer image, g.point, g.sankey-node").count() > 0, name
    assert p.locator('[data-figure="rates"] .ytick text').all_text_contents() == list(reversed(ITEMS))
    page.screenshot("report-by-model.png")


def test_headline_and_tables(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    headline = p.locator("#principal").inner_text()
    # wiki-search: never searching is the root; not viewing sections and ungrounded answers follow it
    assert headline.startswith("The principal failure mode is discovery: ")
    assert "Fisher p = " in headline and "95% CI" in headline and "Downstream of it, schema-inspection" in headline
    assert p.locator("#principal strong").inner_text() == "discovery"
    roles = dict(zip(p.locator("table.attribution-table tbody th").all_inner_texts(),
                     p.locator("table.attribution-table tbody td .role").all_inner_texts()))
    assert roles["discovery"] == "root cause" and roles["schema-inspection"] == "symptom of discovery"
    assert "correctness" not in roles  # an outcome, never weighed as a cause
    assert "answer_correct" in p.locator("#outcome-items").inner_text()
    assert p.locator('[data-figure="chain"] g.sankey-node').count() >= 3
    assert p.locator("ul.chains li").first.inner_text().startswith("discovery (13) → schema-inspection (13)")
    guides = p.locator("#guidance article.guide")
    assert guides.first.locator(".role").inner_text() == "root cause"
    assert guides.first.locator(".evidence-line").inner_text().startswith("Root cause of task failure: ")
    assert "400" in p.locator(".stat").first.inner_text()
    items = p.locator("table.behaviors tr.item-row td.item-name").all_inner_texts()
    assert items == ITEMS
    assert p.locator("table.behaviors svg.ci").count() >= len(ITEMS)
    cohorts = p.locator("#cohorts table tbody th").all_inner_texts()
    assert len(cohorts) == 4 and "gpt-4.1" in cohorts
    assert p.locator("#guidance article.guide").count() >= 1


def test_filters_narrow_the_episode_list(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    rows = p.locator("#episode-list li[data-episode]")
    everything = rows.count()
    assert everything > 20
    p.select_option("#f-item", "answer_correct")
    p.select_option("#f-verdict", "fail")
    failing = rows.count()
    # at least 20 sampled per (item, verdict) (110 fail answer_correct); episodes sampled for other
    # groups may fail it too
    assert 20 <= failing < everything
    assert p.locator("#f-count").inner_text().startswith(f"{failing} of ")
    for k in range(failing):  # every listed episode fails answer_correct: its chip says so
        chip = rows.nth(k).locator(".chip").nth(ITEMS.index("answer_correct"))
        assert chip.get_attribute("title") == "answer_correct: fail"
    p.select_option("#f-cohort", "gpt-4.1")
    assert 0 < rows.count() <= failing
    assert all(t.endswith("gpt-4.1") for t in rows.locator(".ep-sub").all_inner_texts())
    p.fill("#f-text", "no episode has this id")
    assert rows.count() == 0


def test_failures_link_sets_filters(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    p.locator('a.browse[data-item="views_sections_first"]').click()
    assert p.locator("#f-item").input_value() == "views_sections_first"
    assert p.locator("#f-verdict").input_value() == "fail"
    assert p.locator("#episode-list li[data-episode]").count() > 0


def test_open_episode_and_jump_to_cited_step(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    p.select_option("#f-item", "grounded_answer")
    p.select_option("#f-verdict", "fail")
    first = p.locator("#episode-list li[data-episode]").first
    episode_id = first.get_attribute("data-episode")
    first.click()
    view = p.locator("#episode-view")
    assert view.get_attribute("data-episode") == episode_id
    assert "active" in (first.get_attribute("class") or "")
    steps = view.locator(".step")
    assert steps.count() >= 3
    assert view.locator(".step.role-system, .step.role-user").count() >= 1
    verdict = view.locator('li.verdict[data-item="grounded_answer"]')
    assert verdict.locator(".pill").inner_text() == "fail"
    assert verdict.locator(".reason").inner_text()
    link = verdict.locator("a.evidence-link").last
    step = int(link.inner_text().removeprefix("step "))
    link.click()
    target = view.locator(f"#step-{step}")
    assert "highlight" in (target.get_attribute("class") or "")
    assert view.locator(".step.highlight").count() == 1
    for _ in range(50):  # smooth scrolling takes a moment, longer on a loaded machine
        box, pane = target.bounding_box(), view.bounding_box()
        if box and pane and box["y"] < pane["y"] + pane["height"] and box["y"] + box["height"] > pane["y"]:
            break
        p.wait_for_timeout(100)
    assert target.is_visible()
    assert box and pane and box["y"] < pane["y"] + pane["height"] and box["y"] + box["height"] > pane["y"], \
        "the cited step was not scrolled into the episode pane"
    page.screenshot("report-episode.png", "#browser")


def test_tool_calls_show_arguments_and_link_results(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    p.select_option("#f-item", "recovers_from_errors")
    p.select_option("#f-verdict", "fail")
    p.locator("#episode-list li[data-episode]").first.click()
    view = p.locator("#episode-view")
    call = view.locator(".call").first
    assert call.locator(".call-name").inner_text()
    assert call.locator("pre.args").inner_text().strip().startswith("{")
    assert view.locator(".step.role-tool.error").count() >= 1  # the tool error the item is about
    result = call.locator("a", has_text="result in step")
    n = int(result.inner_text().rsplit(" ", 1)[1])
    result.click()
    assert "highlight" in (view.locator(f"#step-{n}").get_attribute("class") or "")
    assert page.errors == []


def test_guidance_example_opens_in_browser(page: Page, report_by_model: Path) -> None:
    p = page.open(report_by_model)
    link = p.locator("#guidance a.ep-link").first
    episode_id = link.get_attribute("data-episode")
    link.click()
    assert p.locator("#episode-view").get_attribute("data-episode") == episode_id
    if link.get_attribute("data-step") is not None:
        assert p.locator("#episode-view .step.highlight").count() == 1


def test_comparison_section(page: Page, report_compare: Path) -> None:
    p = page.open(report_compare)
    assert page.errors == [] and page.csp_violations() == []
    section = p.locator("#compare")
    assert section.locator("h2").inner_text() == "Comparison: before-rl → after-rl"  # baseline -> candidate
    assert "100 matched episode pairs on 100 tasks" in section.locator(".lede").inner_text()
    assert section.locator('[data-figure="compare"] svg.main-svg').count() >= 1
    assert section.locator('[data-figure="compare"] path.point').count() >= 2 * 4
    rows = section.locator("table.compare-table tbody tr")
    assert rows.count() == len(ITEMS)
    text = section.locator("table.compare-table").inner_text()
    assert "mcnemar-exact" in text  # the runs share task ids: paired test
    # RL's gains read as gains: +30 pts answer_correct, green ("better"), never a red negative
    gain = section.locator('tr[data-item="answer_correct"]')
    assert gain.locator("td.delta").inner_text() == "+30.0 pts" and gain.locator("td.direction").inner_text() == "better"
    assert "better" in (gain.get_attribute("class") or "")
    assert gain.locator("td.delta").evaluate("e => getComputedStyle(e).color") == "rgb(31, 157, 107)"
    assert section.locator("tr.significant.worse").count() == 0
    assert section.locator("tr.significant.better").count() >= 3  # searches, views sections, answers correctly
    assert p.locator("#cohorts").count() == 0
    page.screenshot("report-compare.png", "#compare")
