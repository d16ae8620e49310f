"""`rubricate serve-reward`: an OpenRLHF-style reward server on uvicorn (the `server` extra).

    POST /get_reward (or / or /reward)  {"query": [...], "prompts": [...], "labels": [...]}
      200 {"rewards": [...], "scores": [...], "extra_logs": {...}}      (see `_openrlhf`)
      400 malformed JSON, JSON nested deeper than 256 levels, or a wrong shape; 411 no Content-Length
      (nor chunked); 413 body too large; 415 a Content-Type that is not JSON (none is taken as JSON);
      503 busy; every error body is {"error": "..."} and closes the connection
    GET /health  {"status": "ok", "rubric": ..., "version": ..., "hash": ...}

Loopback (127.0.0.1) unless another host is asked for. One asyncio event loop (uvicorn, h11) holds
every connection (no thread per connection); the listen backlog is `backlog` (2048). A connection
must send its request head within `header_timeout_s` and its body within `deadline_s` of the head,
or it is closed; an idle kept-alive connection is closed after `keep_alive_s`. More than
`max_connections` open connections get 503 at once (uvicorn's limit). Scoring runs in
`max_concurrent` threads; a request waits up to `deadline_s` for one (503 after that, or at once when
`max_waiting` requests are already waiting), and scoring one request stops starting new completions
after `deadline_s` (the rest get None, sent as `none_reward`).
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._http import Limits, reward_app, timed_protocol
from ._scorer import RewardScorer

DEFAULT_MAX_BODY = 16 << 20
DEFAULT_BACKLOG = 2048
SERVER_EXTRA_HINT = "pip install 'rubricate[server]' (uvicorn and starlette)"


class RewardServer:
    """The reward server, bound at construction (`port` 0 picks a free port; see `server_address`):
    `serve_forever()` runs it (in the calling thread), `shutdown()` stops it from another thread,
    `server_close()` releases the socket."""

    def __init__(self, scorer: RewardScorer, host: str = "127.0.0.1", port: int = 0, *,
                 max_body_bytes: int = DEFAULT_MAX_BODY, deadline_s: float | None = None,
                 none_reward: float = 0.0, max_concurrent: int = 4, max_waiting: int = 256,
                 header_timeout_s: float = 10.0, keep_alive_s: float = 30.0, backlog: int = DEFAULT_BACKLOG,
                 max_connections: int = 1024) -> None:
        try:
            import uvicorn
        except ImportError as exc:
            raise ImportError(f"the reward server needs uvicorn and starlette: {SERVER_EXTRA_HINT}") from exc
        self.scorer = scorer
        self.deadline_s = float(deadline_s if deadline_s is not None else scorer.deadline_s)
        self.max_body_bytes = int(max_body_bytes)
        workers = max(1, max_concurrent)
        self.limits = Limits(self.max_body_bytes, self.deadline_s, float(none_reward), workers, max(0, max_waiting),
                             pool=ThreadPoolExecutor(workers, thread_name_prefix="reward"))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(backlog)
        except OSError:
            self.socket.close()
            raise
        self.server_address: tuple[Any, ...] = self.socket.getsockname()
        config = uvicorn.Config(
            reward_app(scorer, self.limits), lifespan="off", log_config=None, log_level="warning",
            access_log=False, backlog=backlog, limit_concurrency=max_connections,
            timeout_keep_alive=max(1, round(keep_alive_s)), http=timed_protocol(header_timeout_s, self.deadline_s),
            server_header=False, date_header=False,
        )
        self._server = uvicorn.Server(config)
        self._stopped = threading.Event()
        self._stopped.set()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/get_reward"

    def serve_forever(self) -> None:
        """Serve until `shutdown()` (or, in the main thread, Ctrl-C / SIGTERM)."""
        self._stopped.clear()
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop serving (in-flight requests finish) and wait for `serve_forever` to return."""
        self._server.should_exit = True
        self._stopped.wait(timeout)

    def server_close(self) -> None:
        self.socket.close()
        self.limits.pool.shutdown(wait=False)


def serve_reward(scorer: RewardScorer, host: str = "127.0.0.1", port: int = 0,
                 **options: Any) -> RewardServer:
    """A bound (not yet serving) RewardServer; call `serve_forever()` on it."""
    return RewardServer(scorer, host, port, **options)
