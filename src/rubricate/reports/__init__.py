"""reports: the self-contained HTML failure report of a run.

    from rubricate.reports import write_report
    write_report("runs/ws", "report.html", by="model")

One file: plotly.js, the page's script and styles are inline, a Content-Security-Policy allows only
them, and the page loads nothing from the network. The figures are pure functions of analysis data
frames or of an analysis (`rates_figure`, `attribution_figure`, `chain_figure`, ...), returning plotly
figure dicts.
"""

from ._diagnosis import attribution_figure, chain_figure, reward_figure, training_figure
from ._figures import cohort_figure, compare_figure, cooccurrence_figure, rates_figure
from ._render import render_report, write_report

__all__ = ["attribution_figure", "chain_figure", "cohort_figure", "compare_figure", "cooccurrence_figure",
           "rates_figure", "render_report", "reward_figure", "training_figure", "write_report"]
