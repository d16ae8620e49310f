"""analyzer: the scoring engine, the run store and what is computed from runs.

Names are imported on first use, so a scoring worker does not pay for the analysis stack (polars,
DuckDB) it never touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._analysis import Analysis, analyze
    from ._compare import compare
    from ._guide import GuideEntry, GuideExample, GuideWhere, guide, write_guide
    from ._results import Run, open_run
    from ._run import RunSummary, score_run
    from ._score import SCORES, Verdict, iter_verdicts, score, score_episode

_WHERE = {
    "Analysis": "_analysis", "analyze": "_analysis", "compare": "_compare", "GuideEntry": "_guide",
    "GuideExample": "_guide", "GuideWhere": "_guide", "guide": "_guide", "write_guide": "_guide",
    "Run": "_results", "open_run": "_results", "RunSummary": "_run", "score_run": "_run", "SCORES": "_score",
    "Verdict": "_score", "iter_verdicts": "_score", "score": "_score", "score_episode": "_score",
}

__all__ = ["SCORES", "Analysis", "GuideEntry", "GuideExample", "GuideWhere", "Run", "RunSummary", "Verdict",
           "analyze", "compare", "guide", "iter_verdicts", "open_run", "score", "score_episode", "score_run",
           "write_guide"]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
