"""judges: rubric items answered by an LLM through any OpenAI-compatible endpoint.

    [[items]]
    id = "acknowledges_tool_errors"
    kind = "judge"
    question = "When a tool call failed, did the agent notice the failure?"

One call per episode answers all of its judge items (a checklist; `_prompt` documents the prompt),
cached on disk per item (`_cache`), with bounded concurrency, retries and budget (`_client`), a
ledger of calls, tokens, cache hits, errors, latency and cost (`_ledger`), and calibration against
human labels (`_calibrate`, `_labels`). `rubricate.testing.ScriptedJudge` is a scripted server for tests. Without a configured judge, judge items are skipped, never failed.
"""

from ._batch import JudgeBatcher, judge_run_info, judge_setup
from ._cache import CACHE_FILE, JudgeCache, cache_key
from ._calibrate import Label, calibrate, cohen_kappa, read_labels, sample_verdicts, self_consistency, write_labels
from ._client import Budget, JudgeClient, Reply
from ._config import DEFAULT_CACHE_DIR, JudgeConfig, load_prices
from ._engine import EpisodeJudge, JudgeSetup
from ._items import JudgeItem
from ._labels import MAST_MODES, WHO_AND_WHEN_ITEM, labels_from_metadata, labels_from_run, mast_item
from ._ledger import Ledger
from ._parse import ItemAnswer, extract_json, read_answers
from ._prompt import PROMPT_VERSION, SYSTEM_PROMPT, Rendering, build_messages, render_episode, reply_schema

__all__ = [
    "CACHE_FILE", "DEFAULT_CACHE_DIR", "MAST_MODES", "PROMPT_VERSION", "SYSTEM_PROMPT", "WHO_AND_WHEN_ITEM", "Budget",
    "EpisodeJudge", "ItemAnswer", "JudgeBatcher", "JudgeCache", "JudgeClient", "JudgeConfig", "JudgeItem",
    "JudgeSetup", "Label", "Ledger", "Rendering", "Reply", "build_messages", "cache_key", "calibrate", "cohen_kappa",
    "extract_json", "judge_run_info", "judge_setup", "labels_from_metadata", "labels_from_run", "load_prices",
    "mast_item", "read_answers", "read_labels", "render_episode", "reply_schema", "sample_verdicts",
    "self_consistency", "write_labels",
]
