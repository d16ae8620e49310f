"""Rubricate: tell RL and agent teams why their agents fail, and turn the diagnosis into rewards.

    import rubricate
    traces = rubricate.load_episodes("runs/qwen4b")
    rubric = rubricate.load_rubric("tool-discipline")
    verdicts = rubricate.score(traces, rubric)    # judge items too with judge=rubricate.JudgeConfig("gpt-4.1-mini")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .analyzer import Run, open_run
    from .errors import RubricateError
    from .rubrics import CheckContext, Outcome, Rubric, Verdict, check, failed, load_rubric, not_applicable, passed
    from .rubrics.judges import JudgeConfig
    from .scoring import compact_run, score, score_run
    from .traces import Episode, LoadIssue, Step, ToolCall, detect, load_episodes, trace_format

# imported on first use (`rubricate.Run`, `from rubricate import score`): `import rubricate` stays cheap
_WHERE = {
    **dict.fromkeys(("Run", "open_run"), "analyzer"),
    **dict.fromkeys(("compact_run", "score", "score_run"), "scoring"),
    "RubricateError": "errors",
    **dict.fromkeys(("CheckContext", "Outcome", "Rubric", "Verdict", "check", "failed", "load_rubric",
                     "not_applicable", "passed"), "rubrics"),
    "JudgeConfig": "rubrics.judges",
    **dict.fromkeys(("Episode", "LoadIssue", "Step", "ToolCall", "detect", "load_episodes", "trace_format"),
                    "traces"),
}

__all__ = [
    "CheckContext",
    "Episode",
    "JudgeConfig",
    "LoadIssue",
    "Outcome",
    "Rubric",
    "RubricateError",
    "Run",
    "Step",
    "ToolCall",
    "Verdict",
    "__version__",
    "check",
    "compact_run",
    "detect",
    "failed",
    "load_episodes",
    "load_rubric",
    "not_applicable",
    "open_run",
    "passed",
    "score",
    "score_run",
    "trace_format",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
