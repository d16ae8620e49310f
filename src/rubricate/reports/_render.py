"""Rendering the report: one self-contained HTML file (plotly.js, our script and styles inline).

The jinja2 environment escapes every value in every template (autoescape=True, whatever the file
name); the only unescaped inserts are the trusted assets and the escaped JSON of `_safe`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..analyzer import EvidenceRule, Run, open_run
from ..scoring import atomic_write_bytes
from . import _safe
from ._data import build
from ._episodes import PER_GROUP

TEMPLATE = "report.html.j2"


def _template_text(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text("utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _template_text(name)),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(pct=_pct, num=_num, signed=_signed, fixed=_fixed)
    return env


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _fixed(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _signed(value: Any) -> str:
    return "-" if value is None else f"{value * 100:+.1f} pts"


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str, list[str], list[str]]:
    """(the page's one script: plotly.js then ours; our stylesheet; plotly's own attribute styles;
    ids of placeholders that keep plotly from injecting stylesheets)."""
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()
    script = _safe.inline_text(plotly_js + "\n;\n" + _template_text("report.js"), "the report script")
    css = _safe.inline_text(_template_text("report.css"), "the report stylesheet")
    return script, css, _safe.plotly_attribute_styles(plotly_js), _safe.plotly_style_guards(plotly_js)


def render_report(run: Run | str | os.PathLike[str], *, compare: Run | str | os.PathLike[str] | None = None,
                  by: str | None = None, outcome: str | None = None, sample: int = PER_GROUP,
                  title: str | None = None, rule: EvidenceRule | None = None, over: str | None = None,
                  force: bool = False, redact: bool = True) -> str:
    """The failure report of `run` as one self-contained HTML document (its texts redacted unless
    `redact=False`: see rubricate.redaction).

    `compare` adds the comparison with a baseline run (`run` is the candidate: e.g. the run after RL,
    compared with the one before); runs scored with different rubric ids raise AnalysisError unless
    `force`. `by` (an episode metadata key, e.g. "model") adds the cohort breakdown; `outcome`,
    `rule` (the evidence rule) and `over` (the metadata key ordering episodes in training) are handed
    to `analyze` and `guide`; `sample` is how many episodes per (item, verdict) the episode browser
    embeds (every number is computed on all episodes)."""
    run = run if isinstance(run, Run) else open_run(run)
    other = None if compare is None else compare if isinstance(compare, Run) else open_run(compare)
    context, data = build(run, compare_to=other, by=by, outcome=outcome, per_group=sample, title=title, rule=rule,
                          over=over, force=force, redact=redact)
    script, css, attribute_styles, guards = _assets()
    return environment().get_template(TEMPLATE).render(
        **context,
        csp=_safe.content_security_policy(script, [css], attribute_styles),
        script=Markup(script), css=Markup(css), style_guards=guards, data_json=Markup(_safe.script_json(data)),
    )


def write_report(run: Run | str | os.PathLike[str], out: str | os.PathLike[str], *,
                 compare: Run | str | os.PathLike[str] | None = None, by: str | None = None,
                 outcome: str | None = None, sample: int = PER_GROUP, title: str | None = None,
                 rule: EvidenceRule | None = None, over: str | None = None, force: bool = False,
                 redact: bool = True) -> Path:
    """Render the report (see `render_report`) and write it to `out` atomically; returns the path."""
    html = render_report(run, compare=compare, by=by, outcome=outcome, sample=sample, title=title, rule=rule,
                         over=over, force=force, redact=redact)
    path = Path(out)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(os.fspath(path), html.encode("utf-8"))
    return path
