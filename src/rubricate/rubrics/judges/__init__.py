"""judges: rubric items answered by an LLM through any OpenAI-compatible endpoint.

    [[items]]
    id = "acknowledges_tool_errors"
    kind = "judge"
    question = "When a tool call failed, did the agent notice the failure?"

One call per episode answers all of its judge items (a checklist; `_prompt` documents the prompt),
cached on disk per item (`_cache`), with bounded concurrency, retries and budget (`_client`), a
ledger of calls, tokens, cache hits, errors, latency and cost (`_ledger`), and calibration against
human labels (`rubricate.analyzer.calibrate`). `rubricate.testing.ScriptedJudge` is a scripted server for tests. Without a configured judge, judge items are skipped, never failed.
"""

from ._batch import JudgeBatcher, judge_run_info, judge_setup
from ._cache import CACHE_FILE, JudgeCache, KeptCache, answer_columns, answers_from_columns, cache_key
from ._client import Budget, JudgeClient, Reply
from ._config import DEFAULT_CACHE_DIR, JudgeConfig, load_prices
from ._engine import EpisodeJudge, JudgeSetup
from ._items import JudgeItem
from ._ledger import Ledger
from ._parse import ItemAnswer, extract_json, read_answers
from ._prompt import PROMPT_VERSION, SYSTEM_PROMPT, Rendering, build_messages, render_episode, reply_schema

_SCRIPTED = ("FAULTS", "JudgeRequest", "ScriptedJudge", "default_answer")


def __getattr__(name: str) -> object:
    """The scripted test server (`_scripted`, with http.server) is imported when asked for, not by every
    `rubricate score`."""
    if name in _SCRIPTED:
        from . import _scripted

        return getattr(_scripted, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CACHE_FILE", "DEFAULT_CACHE_DIR", "FAULTS", "PROMPT_VERSION", "SYSTEM_PROMPT", "Budget", "EpisodeJudge",
    "ItemAnswer", "JudgeBatcher", "JudgeCache", "JudgeClient", "JudgeConfig", "JudgeItem", "JudgeRequest",
    "KeptCache", "answer_columns", "answers_from_columns",
    "JudgeSetup", "Ledger", "Rendering", "Reply", "ScriptedJudge", "build_messages", "cache_key", "default_answer",
    "extract_json", "judge_run_info", "judge_setup", "load_prices", "read_answers", "render_episode", "reply_schema",
]
