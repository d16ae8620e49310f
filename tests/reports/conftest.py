"""Fixtures for the report tests: runs scored from the bundled wiki-search traces, reports written
from them, and a headless Chromium (Debian's `chromium`, driven by Playwright without its own browser
download) with a page that records console errors, CSP violations and network requests.

Without a browser the browser tests are skipped locally; on CI (CI=true) they fail instead, so a
missing `apt-get install chromium` cannot pass unnoticed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import rubricate
from rubricate.reports import write_report

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wiki-search"
TRACES = EXAMPLE / "traces"
RUBRIC = EXAMPLE / "rubric.toml"
BEFORE = next(TRACES.glob("wiki-search--qwen--qwen3-4b-instruct-2507/*/results.jsonl"))
AFTER = next(TRACES.glob("wiki-search--willcb--qwen3-4b-wiki-search/*/results.jsonl"))
SCREENSHOTS = ROOT / "test-output"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-default-apps", "--disable-sync"]
# Records CSP violations before any script of the page runs (init scripts are not subject to the CSP).
WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});"""


def chromium_path() -> str | None:
    for name in ("RUBRICATE_CHROMIUM",):
        if os.environ.get(name):
            return os.environ[name]
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _score(paths: Any, out: Path) -> Path:
    rubricate.score_run(paths, rubricate.load_rubric(str(RUBRIC)), out, workers=1)
    return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`all`: the four wiki-search models; `before` / `after`: Qwen3-4B before and after RL."""
    root = tmp_path_factory.mktemp("report-runs")
    return {"all": _score(TRACES, root / "all"), "before": _score(BEFORE, root / "before-rl"),
            "after": _score(AFTER, root / "after-rl")}


@pytest.fixture(scope="session")
def report_by_model(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(runs["all"], tmp_path_factory.mktemp("report") / "by-model.html", by="model")


@pytest.fixture(scope="session")
def report_compare(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run after RL (the candidate) compared with the run before (the baseline)."""
    return write_report(runs["after"], tmp_path_factory.mktemp("report") / "compare.html", compare=runs["before"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped on purpose: while Playwright's sync API is started, its event loop counts as
    running in this thread, and later tests that call asyncio.run (the judge's) would fail."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no headless Chromium: apt-get install -y chromium and pip install playwright")
        pytest.skip("needs Debian's chromium (apt-get install -y chromium) and the playwright package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Page:
    """A browser page on a report, with everything it complained about or asked for."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready]", state="attached", timeout=20_000)
        self.page.wait_for_function("Array.from(document.querySelectorAll('[data-figure]'))"
                                    ".every(function (d) { return d.querySelector('svg.main-svg'); })",
                                    timeout=20_000)
        return self.page

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp"))

    def foreign_requests(self, report: Path) -> list[str]:
        own = report.resolve().as_uri()
        return [u for u in self.requests if u != own and not u.startswith("data:")]

    def screenshot(self, name: str, selector: str | None = None) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / name
        if selector:
            self.page.locator(selector).screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, java_script_enabled=True)
    raw = context.new_page()
    raw.add_init_script(WATCH_CSP)
    p = Page(raw)
    raw.on("console", lambda m: p.errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning")
           else None)
    raw.on("pageerror", lambda e: p.errors.append(f"pageerror: {e}"))
    raw.on("request", lambda r: p.requests.append(r.url))
    raw.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    yield p
    context.close()
