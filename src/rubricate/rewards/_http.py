"""The reward server's HTTP layer on uvicorn and starlette: the ASGI app and uvicorn's HTTP/1.1
protocol with timeouts for the request head and body.

uvicorn times out idle kept-alive connections but not a client that trickles its request head or
body; `timed_protocol` adds both: a connection must deliver a whole request head within
`header_timeout_s` of connecting (or of its first byte after an idle keep-alive), and its body
within `body_timeout_s` of the head, or it is closed.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..traces.files import TooDeep, decode_json
from ._openrlhf import score_openrlhf
from ._scorer import RewardScorer

POST_PATHS = ("", "/get_reward", "/reward")
JSON_TYPES = ("application/json", "text/json")


@dataclass
class Limits:
    """What one server allows: body size, time, and how many requests score or wait at once."""

    max_body_bytes: int
    deadline_s: float
    none_reward: float
    max_concurrent: int
    max_waiting: int
    slots: asyncio.Semaphore | None = None
    waiting: int = 0
    pool: ThreadPoolExecutor = field(default_factory=ThreadPoolExecutor)


def reward_app(scorer: RewardScorer, limits: Limits) -> Any:
    """The ASGI app: POST /get_reward (or / or /reward), GET /health; every error is {"error": ...}."""
    from starlette.requests import ClientDisconnect, Request

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            status, body = await _handle(request, scorer, limits)
        except ClientDisconnect:  # cut off (body timeout) or gone: nobody to answer
            return
        await _json(status, body)(scope, receive, send)

    return app


def _json(status: int, body: dict[str, Any]) -> Any:
    from starlette.responses import Response

    headers = {"connection": "close"} if status >= 400 else None
    # NaN stays NaN (na is not a fail): OpenRLHF's client reads the reply with Python's json, which takes
    # NaN; msgspec would write null, which torch.tensor refuses. Plain data only, so json.dumps is exact.
    data = json.dumps(msgspec.to_builtins(body), allow_nan=True, separators=(",", ":")).encode()
    return Response(data, status, headers, media_type="application/json")


async def _handle(request: Any, scorer: RewardScorer, limits: Limits) -> tuple[int, dict[str, Any]]:
    path = request.url.path.rstrip("/")
    if request.method == "GET":
        if path != "/health":
            return 404, {"error": f"no such path {request.url.path!r}; POST /get_reward, GET /health"}
        r = scorer.rubric
        return 200, {"status": "ok", "rubric": r.id, "version": r.version, "hash": r.hash}
    if request.method != "POST":
        return 405, {"error": f"{request.method} is not allowed; POST /get_reward, GET /health"}
    if path not in POST_PATHS:
        return 404, {"error": f"no such path {request.url.path!r}; POST /get_reward"}
    problem = _header_problem(request.headers, limits.max_body_bytes)
    if problem:
        return problem
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limits.max_body_bytes:
            return 413, {"error": f"request body is over the limit of {limits.max_body_bytes} bytes"}
    try:
        data = decode_json(b"".join(chunks))
    except TooDeep as exc:
        return 400, {"error": f"request body is nested too deeply: {exc}"}
    except msgspec.DecodeError as exc:
        return 400, {"error": f"request body is not valid JSON: {exc}"}
    problem_text = shape_problem(data)
    if problem_text:
        return 400, {"error": problem_text}
    return await _score(data, scorer, limits)


def _header_problem(headers: Any, max_body: int) -> tuple[int, dict[str, Any]] | None:
    ctype = headers.get("content-type")
    if ctype is not None:
        media = ctype.split(";", 1)[0].strip().lower()
        if media not in JSON_TYPES and not media.endswith("+json"):
            return 415, {"error": f"Content-Type {ctype!r} is not JSON; send application/json"}
    length = headers.get("content-length")
    if length is None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return None  # read with the limit
        return 411, {"error": "a Content-Length header is required"}
    if not length.strip().isdigit():
        return 400, {"error": f"Content-Length {length!r} is not a number"}
    if int(length) > max_body:
        return 413, {"error": f"request body of {int(length)} bytes is over the limit of {max_body}"}
    return None


async def _score(data: dict[str, Any], scorer: RewardScorer, limits: Limits) -> tuple[int, dict[str, Any]]:
    """Score in the pool, at most `max_concurrent` requests at once; one that cannot start within the
    deadline, or finds `max_waiting` others waiting, gets 503."""
    if limits.slots is None:
        limits.slots = asyncio.Semaphore(limits.max_concurrent)
    if limits.slots.locked() and limits.waiting >= limits.max_waiting:
        return 503, {"error": f"busy: {limits.waiting} requests are waiting to be scored; retry"}
    limits.waiting += 1
    try:
        await asyncio.wait_for(limits.slots.acquire(), limits.deadline_s)
    except TimeoutError:
        return 503, {"error": "busy: too many requests are being scored; retry"}
    finally:
        limits.waiting -= 1
    try:
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(limits.pool, lambda: score_openrlhf(
            scorer, data["query"], data.get("prompts"), data.get("labels"), none_reward=limits.none_reward))
    finally:
        limits.slots.release()
    return 200, out


def shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "the body must be a JSON object with a `query` list"
    query = data.get("query")
    if not isinstance(query, list):
        return "`query` must be a list (one prompt + response per sample)"
    for key in ("prompts", "labels"):
        value = data.get(key)
        if value is not None and (not isinstance(value, list) or len(value) != len(query)):
            return f"`{key}` must be a list as long as `query` ({len(query)})"
    return None


def timed_protocol(header_timeout_s: float, body_timeout_s: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request head or body is too slow."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):  # type: ignore[misc]
        _timer: asyncio.TimerHandle | None = None
        _phase: str | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm("head", header_timeout_s)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle until the next request: uvicorn's keep-alive timeout

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _follow(self) -> None:
            state = self.conn.their_state
            if state is h11.IDLE:  # (part of) a request head
                if self._phase != "head":
                    self._arm("head", header_timeout_s)
            elif state is h11.SEND_BODY:
                if self._phase != "body":
                    self._arm("body", body_timeout_s)
            else:
                self._disarm()

        def _arm(self, phase: str, seconds: float) -> None:
            self._disarm()
            self._phase = phase
            self._timer = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._phase = None, None

        def _expire(self) -> None:
            self._timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return TimedH11Protocol
