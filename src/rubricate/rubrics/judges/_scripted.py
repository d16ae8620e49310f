"""A scripted judge: an OpenAI-compatible chat completions server on loopback, for tests.

    with ScriptedJudge(faults={"rate_limit": 0.2, "timeout": 0.05}) as server:
        verdicts = rubricate.score(episodes, rubric, judge=server.config())

The real `openai` client talks to it over HTTP. By default it answers every checklist item "yes"
(the best choice for items with choices), citing the last step shown; pass `answer` to decide per
request. `faults` gives per-request rates of: rate_limit (429), server_error (500), timeout (no answer
until the client gave up), garbage (200, not JSON), empty_choices (200, `choices: []`), bad_json
(200, a reply that is no JSON), incomplete (200, JSON answering only the first item). `style`
wraps replies as plain JSON, a ```json fence, or after a sentence of prose; `api_key` makes it answer 401
to any other key (quoting the key, as OpenAI does). It records every request
(`requests`), what it served (`served`) and the most requests it had in flight at once (`max_active`).
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._config import JudgeConfig

FAULTS = ("rate_limit", "server_error", "timeout", "garbage", "empty_choices", "bad_json", "incomplete")
_FENCE = re.compile(r"<<<EPISODE ([0-9a-f]+)>>>\n(.*?)\n<<<END EPISODE \1>>>", re.S)
_ITEM = re.compile(r"^\d+\. id: (\S+)$", re.M)


@dataclass
class JudgeRequest:
    """One request as the scripted judge reads it: the messages, the items asked (in order), their
    allowed answers, and the episode's step objects parsed back from the fenced data."""

    body: dict[str, Any]
    items: list[str]
    allowed: dict[str, list[str]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    nonce: str | None = None

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.body.get("messages", []) if m.get("role") == "system"), "")

    @property
    def user(self) -> str:
        return next((m["content"] for m in self.body.get("messages", []) if m.get("role") == "user"), "")

    @property
    def shown_steps(self) -> list[int]:
        return [s["step"] for s in self.steps if isinstance(s.get("step"), int)]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> JudgeRequest:
        schema = (((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {})
        req = cls(body, [], {})
        if schema.get("properties"):
            for item_id, prop in schema["properties"].items():
                req.items.append(item_id)
                req.allowed[item_id] = list(prop["properties"]["verdict"]["enum"])
        else:
            for item_id in _ITEM.findall(req.user):
                req.items.append(item_id)
                block = re.split(r"\n\d+\. id: |\n\n", req.user.split(f"id: {item_id}\n", 1)[1], maxsplit=1)[0]
                found = re.search(r"allowed answers, worst to best: (.*?); or", block)
                req.allowed[item_id] = ([a.strip().strip('"') for a in found.group(1).split(",")] + ["na"]
                                        if found else ["yes", "no", "na"])
        fenced = _FENCE.search(req.user)
        if fenced:
            req.nonce = fenced.group(1)
            for line in fenced.group(2).split("\n"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and "step" in obj:
                    req.steps.append(obj)
        return req


Answer = Callable[[JudgeRequest], Mapping[str, Any]]


def default_answer(req: JudgeRequest) -> dict[str, Any]:
    """Yes (or the best choice) for every item, citing the last step shown."""
    last = req.shown_steps[-1:] or []
    return {i: {"reason": "scripted answer", "steps": last, "verdict": best(req.allowed[i])} for i in req.items}


def best(allowed: list[str]) -> str:
    """The best answer of an item: yes, or the last choice (na always comes last)."""
    return "yes" if allowed[:2] == ["yes", "no"] else allowed[-2]


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that hung up: not our error
        pass


class ScriptedJudge:
    """Context manager: a scripted OpenAI-compatible server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, answer: Answer | Mapping[str, str] | None = None, *, faults: Mapping[str, float] | None = None,
                 seed: int = 0, style: str = "json", model: str = "scripted-judge", delay: float = 0.0,
                 reject_json_schema: bool = False, api_key: str | None = None) -> None:
        unknown = set(faults or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULTS)}")
        if isinstance(answer, Mapping):
            fixed = dict(answer)

            def answer(req: JudgeRequest) -> dict[str, Any]:
                out = default_answer(req)
                for k, v in fixed.items():
                    if k in out:
                        out[k]["verdict"] = v
                return out

        self.answer: Answer = answer or default_answer
        self.faults = dict(faults or {})
        self.style, self.model, self.delay = style, model, delay
        self.reject_json_schema = reject_json_schema
        self.api_key = api_key  # when set, other keys get 401 with OpenAI's message (which quotes the key)
        self.requests: list[JudgeRequest] = []
        self.served: Counter[str] = Counter()
        self.active = self.max_active = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> ScriptedJudge:
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="scripted-judge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ScriptedJudge:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the scripted judge first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def config(self, **options: Any) -> JudgeConfig:
        """A JudgeConfig for this server: no cache, short timeout and backoff unless `options` say otherwise."""
        defaults: dict[str, Any] = {"model": self.model, "base_url": self.base_url, "cache_dir": None,
                                    "timeout": 2.0, "backoff": 0.01, "api_key_env": None}
        return JudgeConfig(**{**defaults, **options})

    # ---------------------------------------------------------------- serving
    def _draw(self) -> str | None:
        with self._lock:
            roll = self._rng.random()
        acc = 0.0
        for kind in FAULTS:
            acc += self.faults.get(kind, 0.0)
            if roll < acc:
                return kind
        return None

    def _reply(self, req: JudgeRequest, fault: str | None) -> tuple[int, dict[str, str], bytes]:
        if fault == "rate_limit":
            return 429, {"Retry-After": "0"}, json.dumps({"error": {"message": "rate limited (scripted)",
                                                                    "type": "rate_limit"}}).encode()
        if fault == "server_error":
            return 500, {}, json.dumps({"error": {"message": "internal error (scripted)"}}).encode()
        if fault == "garbage":
            return 200, {"Content-Type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>"
        if fault == "empty_choices":
            return 200, {}, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()
        answers = dict(self.answer(req))
        if fault == "incomplete":
            answers = dict(list(answers.items())[:1]) if len(answers) > 1 else {}
        content = json.dumps(answers)
        if fault == "bad_json":
            content = "I have looked at the episode and I think the agent did fine."
        elif self.style == "fenced":
            content = f"```json\n{json.dumps(answers, indent=2)}\n```"
        elif self.style == "prose":
            content = f"Here is my evaluation of the episode.\n{content}\nI hope this helps."
        prompt_chars = sum(len(m.get("content") or "") for m in req.body.get("messages", []))
        body = {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": self.model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                          "total_tokens": prompt_chars // 4 + len(content) // 4}}
        return 200, {}, json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        judge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {}, b'{"error": {"message": "not found"}}')
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                req = JudgeRequest.parse(body)
                with judge._lock:
                    judge.requests.append(req)
                    judge.active += 1
                    judge.max_active = max(judge.max_active, judge.active)
                self._in_flight = True
                try:
                    sent = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    if judge.api_key is not None and sent != judge.api_key:
                        judge.served["unauthorized"] += 1
                        message = f"Incorrect API key provided: {sent}. You can find your API key at ..."
                        self._send(401, {}, json.dumps({"error": {"message": message, "code": "invalid_api_key"}}).encode())
                        return
                    if judge.reject_json_schema and (body.get("response_format") or {}).get("type") == "json_schema":
                        judge.served["rejected_json_schema"] += 1
                        self._send(400, {}, b'{"error": {"message": "response_format json_schema is not supported"}}')
                        return
                    fault = judge._draw()
                    judge.served[fault or "ok"] += 1
                    if fault == "timeout":
                        judge._stop.wait(30)  # until the client gives up (or the server stops)
                        return
                    if judge.delay:
                        judge._stop.wait(judge.delay)
                    self._send(*judge._reply(req, fault))
                finally:
                    self._done()

            def _done(self) -> None:
                """The request is no longer in flight: counted off before its reply is written, since
                a client may send its next request as soon as it has the reply (before this thread
                would get back to counting)."""
                if getattr(self, "_in_flight", False):
                    self._in_flight = False
                    with judge._lock:
                        judge.active -= 1

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self._done()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

        return Handler
