"""analyzer: the scoring engine, the run store and what is computed from runs."""

from ._results import Run, open_run
from ._run import RunSummary, score_run
from ._score import SCORES, Verdict, iter_verdicts, score, score_episode

__all__ = ["SCORES", "Run", "RunSummary", "Verdict", "iter_verdicts", "open_run", "score", "score_episode",
           "score_run"]
