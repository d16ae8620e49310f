"""How to reach and drive a judge: endpoint, model, limits, budget, cache. The API key is never held
here: only the name of the environment variable it is read from, in the process that calls."""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from ...errors import JudgeError

ResponseFormat = Literal["auto", "json_schema", "json_object", "text"]
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "rubricate")
NO_KEY = "no-key"  # sent to endpoints given by --judge-base-url when no key is set (local servers need none)


@dataclass(frozen=True)
class JudgeConfig:
    """A judge: an OpenAI-compatible chat completions endpoint and how to use it.

    `concurrency` bounds connections (shared by the worker processes of a run); `max_retries` bounds
    retries of 429, 5xx, timeouts and connection errors (exponential backoff from `backoff` seconds);
    `max_calls` / `max_tokens` are the run's budget; `response_format` "auto" asks for a JSON schema
    and falls back to plain JSON when the endpoint refuses it. `prices` maps a model to USD per
    million input and output tokens (`{"m": {"input": 0.4, "output": 1.6}}`).
    """

    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.0
    max_output_tokens: int = 1024
    timeout: float = 60.0
    max_retries: int = 3
    backoff: float = 0.5
    concurrency: int = 8
    max_calls: int | None = None
    max_tokens: int | None = None
    batch: int = 32
    max_prompt_chars: int = 60_000
    max_step_chars: int = 6_000
    redact: bool = True  # secrets (and emails, phone numbers) in the episode are redacted before it is sent
    response_format: ResponseFormat = "auto"
    cache_dir: str | None = DEFAULT_CACHE_DIR
    prices: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise JudgeError("the judge needs a model name", hint="pass --judge-model NAME")
        if self.base_url and urlsplit(self.base_url).scheme not in ("http", "https"):
            raise JudgeError(f"--judge-base-url {self.base_url!r} is not an http(s) URL",
                              hint="e.g. http://127.0.0.1:8080/v1")
        for name in ("concurrency", "batch", "max_output_tokens"):
            if getattr(self, name) < 1:
                raise JudgeError(f"judge {name} must be at least 1")

    def api_key(self) -> str:
        """The key from the named variable, else OPENAI_API_KEY; local endpoints may go without."""
        name = self.api_key_env or "OPENAI_API_KEY"
        key = os.environ.get(name)
        if key:
            return key
        if self.api_key_env:
            raise JudgeError(f"the environment variable {name} (--judge-api-key-env) is not set",
                              hint=f"export {name}=... with the judge endpoint's API key")
        if self.base_url:
            return NO_KEY
        raise JudgeError("OPENAI_API_KEY is not set and no --judge-base-url is given",
                          hint="export OPENAI_API_KEY, or name another variable with --judge-api-key-env, "
                               "or point --judge-base-url at an OpenAI-compatible server")

    @property
    def bounded_schema(self) -> bool:
        """Cap reason length and citations in the reply schema: for OpenAI-compatible servers, not OpenAI."""
        return self.base_url is not None

    def call_params(self) -> dict[str, Any]:
        """What, besides the prompt, decides the judge's answer (part of the cache key)."""
        return {"temperature": self.temperature, "max_output_tokens": self.max_output_tokens,
                "response_format": self.response_format, "max_prompt_chars": self.max_prompt_chars,
                "max_step_chars": self.max_step_chars, "bounded_schema": self.bounded_schema}

    def describe(self) -> dict[str, Any]:
        """What a run records about its judge (never the key)."""
        data = asdict(self)
        data.pop("prices")
        data["api_key_env"] = self.api_key_env or "OPENAI_API_KEY"
        return data

    def price(self) -> dict[str, float] | None:
        return self.prices.get(self.model)

    def with_options(self, **changes: Any) -> JudgeConfig:
        return replace(self, **changes)


def load_prices(path: str) -> dict[str, dict[str, float]]:
    """A price table file (TOML or JSON): `[models."gpt-4.1-mini"] input = 0.4, output = 1.6`
    (USD per million tokens)."""
    import json

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f) if not path.endswith(".json") else json.load(f)
    except (OSError, ValueError) as exc:
        raise JudgeError(f"{path}: cannot read the price table: {exc}", path=path,
                          hint='TOML: [models."MODEL"] input = 0.4  output = 1.6  (USD per million tokens)') from None
    models = data.get("models", data)
    out: dict[str, dict[str, float]] = {}
    for model, p in models.items():
        if not isinstance(p, dict) or not {"input", "output"} <= set(p):
            raise JudgeError(f"{path}: models.{model}: needs `input` and `output` (USD per million tokens)",
                              path=path)
        out[str(model)] = {"input": float(p["input"]), "output": float(p["output"])}
    return out
