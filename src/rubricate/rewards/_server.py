"""`rubricate serve-reward`: an OpenRLHF-style reward server on the standard library's HTTP server.

    POST /get_reward (or /)  {"query": [...], "prompts": [...], "labels": [...]}
      200 {"rewards": [...], "scores": [...], "extra_logs": {...}}      (see `_openrlhf`)
      400 bad JSON or shape, 411 no Content-Length, 413 body too large, 503 busy, 500 internal error;
      every error body is {"error": "..."}
    GET /health  {"status": "ok", "rubric": ..., "version": ..., "hash": ...}

Loopback (127.0.0.1) unless another host is asked for. Bounded: a request body larger than
`max_body_bytes` is refused before it is read; a client that stalls is cut off after `deadline_s`
(socket timeout); scoring one request stops starting new completions after `deadline_s` (the rest get
None, sent as `none_reward`); at most `max_concurrent` requests score at once, others wait up to
`deadline_s` and then get 503.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

from ._openrlhf import score_openrlhf
from ._scorer import RewardScorer

DEFAULT_MAX_BODY = 16 << 20


class RewardServer(ThreadingHTTPServer):
    """The reward server; `serve_forever()` runs it, `shutdown()` stops it. `port` 0 picks a free port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, scorer: RewardScorer, host: str = "127.0.0.1", port: int = 0, *,
                 max_body_bytes: int = DEFAULT_MAX_BODY, deadline_s: float | None = None,
                 none_reward: float = 0.0, max_concurrent: int = 4) -> None:
        self.scorer = scorer
        self.max_body_bytes = int(max_body_bytes)
        self.deadline_s = float(deadline_s if deadline_s is not None else scorer.deadline_s)
        self.none_reward = float(none_reward)
        self.slots = threading.BoundedSemaphore(max(1, max_concurrent))
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/get_reward"


class _Handler(BaseHTTPRequestHandler):
    server: RewardServer
    protocol_version = "HTTP/1.1"
    server_version = "rubricate-reward"

    def setup(self) -> None:
        self.timeout = self.server.deadline_s  # a stalled client cannot hold a thread forever
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: trainers call this thousands of times
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = msgspec.json.encode(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/health":
            self._send(404, {"error": f"no such path {self.path!r}; POST /get_reward, GET /health"})
            return
        r = self.server.scorer.rubric
        self._send(200, {"status": "ok", "rubric": r.id, "version": r.version, "hash": r.hash})

    def do_POST(self) -> None:
        try:
            self._post()
        except (TimeoutError, ConnectionError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001  (the server outlives any request)
            try:
                self._send(500, {"error": f"internal error: {type(exc).__name__}: {exc}"[:500]})
            except OSError:
                self.close_connection = True

    def _read_body(self, size: int) -> bytes:
        """Read `size` bytes within the deadline (a client trickling bytes cannot hold the thread)."""
        end = time.monotonic() + self.server.deadline_s
        chunks, remaining = [], size
        while remaining:
            if time.monotonic() > end:
                raise TimeoutError("request body not received within the deadline")
            chunk = self.rfile.read1(min(remaining, 1 << 16))
            if not chunk:
                raise ConnectionError("client closed the connection mid-body")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _post(self) -> None:
        if self.path.rstrip("/") not in ("", "/get_reward", "/reward"):
            self._send(404, {"error": f"no such path {self.path!r}; POST /get_reward"})
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            self._send(411, {"error": "a Content-Length header is required"})
            return
        size = int(length)
        if size > self.server.max_body_bytes:
            self._send(413, {"error": f"request body of {size} bytes is over the limit of "
                                      f"{self.server.max_body_bytes}"})
            return
        body = self._read_body(size)
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            self._send(400, {"error": f"request body is not valid JSON: {exc}"})
            return
        problem = _shape_problem(data)
        if problem:
            self._send(400, {"error": problem})
            return
        if not self.server.slots.acquire(timeout=self.server.deadline_s):
            self._send(503, {"error": "busy: too many requests are being scored; retry"})
            return
        try:
            out = score_openrlhf(self.server.scorer, data["query"], data.get("prompts"), data.get("labels"),
                                 none_reward=self.server.none_reward)
        finally:
            self.server.slots.release()
        self._send(200, out)


def _shape_problem(data: Any) -> str | None:
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


def serve_reward(scorer: RewardScorer, host: str = "127.0.0.1", port: int = 0,
                 **options: Any) -> RewardServer:
    """A bound (not yet serving) RewardServer; call `serve_forever()` on it."""
    return RewardServer(scorer, host, port, **options)
