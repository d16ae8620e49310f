"""analyzer: the scoring engine, the run store and what is computed from runs."""

from ._analysis import Analysis, analyze
from ._compare import compare
from ._guide import GuideEntry, GuideExample, GuideWhere, guide, write_guide
from ._results import Run, open_run
from ._run import RunSummary, score_run
from ._score import SCORES, Verdict, iter_verdicts, score, score_episode

__all__ = ["SCORES", "Analysis", "GuideEntry", "GuideExample", "GuideWhere", "Run", "RunSummary", "Verdict",
           "analyze", "compare", "guide", "iter_verdicts", "open_run", "score", "score_episode", "score_run",
           "write_guide"]
