"""Calling the judge through the `openai` client: bounded connections, bounded retries with backoff,
the run's budget, and a reply read from the raw HTTP body (never trusted to be well formed).

The client's own retries are off (`max_retries=0`): retries happen here, so each attempt is counted
in the ledger and charged to the budget. Retried: timeouts, connection errors, 408, 409, 429 (after
`Retry-After` when the server sends one) and 5xx. Not retried: other 4xx. A 400 while asking for a
JSON schema (response_format "auto") switches this client to plain JSON and asks again.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._config import JudgeConfig
from ._ledger import Ledger

if TYPE_CHECKING:
    import openai

BACKOFF_CAP = 30.0
_KEYLIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_*\-]{6,}", re.I)


class Budget:
    """The run's budget of calls and tokens, shared by worker processes (pass it to them at start)."""

    def __init__(self, max_calls: int | None, max_tokens: int | None) -> None:
        ctx = mp.get_context("spawn")
        self.max_calls, self.max_tokens = max_calls, max_tokens
        self._calls = ctx.Value("q", 0)
        self._tokens = ctx.Value("q", 0)

    def take_call(self) -> str | None:
        """Count one request, or say why the budget forbids it."""
        with self._calls.get_lock():
            if self.max_tokens is not None and self._tokens.value >= self.max_tokens:
                return f"the judge budget of {self.max_tokens:,} tokens is spent"
            if self.max_calls is not None and self._calls.value >= self.max_calls:
                return f"the judge budget of {self.max_calls:,} calls is spent"
            self._calls.value += 1
        return None

    def add_tokens(self, n: int) -> None:
        with self._calls.get_lock():
            self._tokens.value += n

    async def enter(self) -> tuple[Any, str | None]:
        """Before a request: (a ticket for `leave`, None) to send it, or (None, why not). A cluster's
        budget (`rubricate.scoring`'s Ray engine) also waits here for one of the cluster's connections."""
        return None, self.take_call()

    def leave(self, ticket: Any) -> None:
        """After a request (answered or not): give back what `enter` took (nothing here)."""

    @property
    def used(self) -> tuple[int, int]:
        return int(self._calls.value), int(self._tokens.value)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply's text, or the kind of failure and a reason a person can read.
    `content_fault`: the endpoint answered 200 but with nothing usable (worth one more try)."""

    text: str | None = None
    failure: str | None = None
    reason: str = ""
    content_fault: bool = False
    cut: bool = False  # the reply stopped at the output token limit (finish_reason "length")


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, ValueError):
        return None


def _content(body: str) -> Reply:
    """The message text of a chat completion body, or what is wrong with the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return Reply(failure="garbage", reason=f"the judge endpoint answered 200 with a body that is not JSON "
                                               f"({body[:40]!r})", content_fault=True)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        return Reply(failure="empty_choices", reason="the judge endpoint answered 200 with no choices",
                     content_fault=True)
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        finish = choices[0].get("finish_reason") if isinstance(choices[0], dict) else None
        return Reply(failure="empty_content", reason=f"the judge's reply was empty (finish_reason {finish!r})",
                     content_fault=True)
    return Reply(text=content, cut=choices[0].get("finish_reason") == "length")


def _usage(body: str) -> tuple[int, int]:
    try:
        usage = json.loads(body).get("usage") or {}
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (ValueError, AttributeError, TypeError):
        return 0, 0


class JudgeClient:
    """One AsyncOpenAI client for one event loop; `complete` never raises for endpoint trouble."""

    def __init__(self, config: JudgeConfig, ledger: Ledger, budget: Budget, *, concurrency: int | None = None) -> None:
        self.config, self.ledger, self.budget = config, ledger, budget
        import asyncio

        import openai  # here, not at module level: scoring without a judge never pays for importing it

        self._errors = openai
        self.format = "json_schema" if config.response_format == "auto" else config.response_format
        self._key = config.api_key()
        self._client = openai.AsyncOpenAI(
            api_key=self._key, base_url=config.base_url, max_retries=0,
            timeout=openai.Timeout(config.timeout, connect=min(10.0, config.timeout)))
        self._slots = asyncio.Semaphore(concurrency or config.concurrency)
        self._fatal: str | None = None

    def _request(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": messages,
                                  "temperature": self.config.temperature, "seed": seed}
        # OpenAI's own endpoint wants max_completion_tokens; compatible servers know max_tokens
        kwargs["max_tokens" if self.config.base_url else "max_completion_tokens"] = self.config.max_output_tokens
        if self.format == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "checklist", "strict": True, "schema": schema}}
        elif self.format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], item_ids: list[str],
                       *, seed: int = 0) -> Reply:
        attempt = 0
        while True:
            reply, wait = await self._attempt(messages, schema, item_ids, seed, attempt)
            if reply.failure == "format_unsupported":
                continue  # asked again at once in plain JSON; happens once per client
            if wait is None or attempt >= self.config.max_retries:
                return reply
            attempt += 1
            await _sleep(wait if wait >= 0 else self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return min(BACKOFF_CAP, self.config.backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)

    async def _attempt(self, messages: list[dict[str, str]], schema: dict[str, Any], item_ids: list[str],
                       seed: int, attempt: int) -> tuple[Reply, float | None]:
        """One request: the reply, and how long to wait before retrying (-1: backoff; None: do not)."""
        openai = self._errors
        async with self._slots:
            if self._fatal:  # the endpoint refused our key or model: asking again cannot help
                self.ledger.failure("not_sent")
                return Reply(failure="not_sent", reason=self._fatal), None
            ticket, refused = await self.budget.enter()
            if refused:
                self.ledger.failure("budget")
                return Reply(failure="budget", reason=refused), None
            self.ledger.calls += 1
            if attempt:
                self.ledger.retries += 1
            started = time.monotonic()
            sent_format = self.format
            try:
                raw = await self._client.chat.completions.with_raw_response.create(
                    **self._request(messages, schema, seed))
                body = raw.text
            except openai.APITimeoutError:
                return self._failed("timeout", f"the judge did not answer within {self.config.timeout:g}s"), -1
            except openai.APIConnectionError as exc:
                return self._failed("connection", f"cannot reach the judge endpoint: {exc}"), -1
            except openai.APIStatusError as exc:
                return self._status_failure(exc, sent_format)
            finally:
                self.ledger.latency(item_ids, time.monotonic() - started)
                self.budget.leave(ticket)
        tokens_in, tokens_out = _usage(body)
        self.ledger.usage(item_ids, tokens_in, tokens_out)
        self.budget.add_tokens(tokens_in + tokens_out)
        reply = _content(body)
        if reply.failure:
            self.ledger.failure(reply.failure)
        else:
            self.ledger.ok_calls += 1
        return reply, None

    def _failed(self, kind: str, reason: str) -> Reply:
        self.ledger.failure(kind)
        return Reply(failure=kind, reason=self._scrub(reason))

    def _scrub(self, text: str) -> str:
        """Error texts may quote the API key (401 messages do): never let it reach a verdict."""
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return _KEYLIKE.sub("***", text)

    def _status_failure(self, exc: openai.APIStatusError, sent_format: str) -> tuple[Reply, float | None]:
        status = exc.status_code
        detail = " ".join(str(exc.message).split())[:200]
        about_format = any(w in detail.lower() for w in ("response_format", "json_schema", "schema", "structured"))
        if status == 400 and sent_format == "json_schema" and self.config.response_format == "auto" and about_format:
            self.format = "text"  # the endpoint refuses structured output: plain JSON from here on
            return self._failed("format_unsupported", f"the endpoint refused response_format: {detail}"), 0.0
        if status == 429:
            after = _retry_after(exc)
            return self._failed("rate_limit", f"the judge endpoint is rate limiting (429): {detail}"), \
                (min(after, BACKOFF_CAP) if after is not None else -1)
        if status >= 500 or status in (408, 409):
            return self._failed("server_error", f"the judge endpoint failed ({status}): {detail}"), -1
        reply = self._failed(f"http_{status}", f"the judge endpoint refused the request ({status}): {detail}")
        if status in (401, 403, 404):  # a wrong key, no access, or no such model: stop asking
            self._fatal = reply.reason
        return reply, None

    async def close(self) -> None:
        await self._client.close()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
