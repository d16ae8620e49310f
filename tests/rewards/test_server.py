"""The OpenRLHF-style reward server, through real HTTP on loopback: the protocol, bounded requests,
bad input as 4xx (never a crash), a stalled client cut off, and the `serve-reward` command."""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from rubricate.rewards import RewardScorer, RewardServer, serve_reward

WIKI = "examples/wiki-search/rubric.toml"


@pytest.fixture(scope="module")
def server() -> Iterator[RewardServer]:
    srv = serve_reward(RewardScorer(WIKI), max_body_bytes=64 << 10, deadline_s=1.0, none_reward=-1.0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _post(srv: RewardServer, body: bytes, headers: dict[str, str] | None = None, path: str = "/get_reward"):
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_openrlhf_protocol(server):
    assert server.server_address[0] == "127.0.0.1"
    status, out = _post(
        server,
        json.dumps(
            {"query": ["Q?\n1901", "Q?\nno idea"], "prompts": ["Q?\n", "Q?\n"], "labels": ["1901", "1901"]}
        ).encode(),
    )
    assert status == 200
    assert out["rewards"] == [1.0, 0.0] and out["scores"] == [1.0, 0.0]
    assert out["extra_logs"]["rubricate/answer_correct"] == [1.0, 0.0]
    # na is not a fail: NaN in the payload, which OpenRLHF's client (Python's json) reads as a float
    assert all(isinstance(v, float) and math.isnan(v) for v in out["extra_logs"]["rubricate/searches_first"])
    status, out = _post(server, json.dumps({"query": ["no labels at all"]}).encode(), path="/")
    assert status == 200 and out["rewards"] == [-1.0] and out["extra_logs"]["rubricate/scorable"] == [0.0]


def test_health(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/health")
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["rubric"] == "wiki-search-discipline"
    conn.close()


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"query": "one string"}', 400, "`query` must be a list"),
        (b'{"query": ["a", "b"], "labels": ["x"]}', 400, "`labels` must be a list as long"),
        (b'{"query": ["\\ud800"]}', 400, "not valid JSON"),  # a lone surrogate is not JSON text
        (json.dumps({"query": [{"role": "robot"}, [{"role": "user"}, 3], None, 5]}).encode(), 200, None),
    ],
)
def test_bad_requests_are_answered_not_crashed(server, body, status, fragment):
    got, out = _post(server, body)
    assert got == status
    if fragment:
        assert fragment in out["error"]
    else:
        assert out["rewards"] == [-1.0] * 4


def test_body_limits(server):
    status, out = _post(server, b"x" * (65 << 10))
    assert status == 413 and "over the limit" in out["error"]
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:  # no Content-Length
        sock.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 411 " in sock.recv(4096)
    assert _post(server, b"{}", path="/elsewhere")[0] == 404


def test_a_stalled_client_is_cut_off_and_the_server_goes_on(server):
    host, port = server.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b'POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"query": [')
        assert sock.recv(4096) == b""  # closed by the server after its deadline (1 s)
    assert time.monotonic() - started < 5
    assert _post(server, b'{"query": ["1"], "labels": ["1"]}')[0] == 200


def test_serve_reward_command_serves_on_loopback(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RUBRICATE_NO_PLUGINS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rubricate", "serve-reward", WIKI, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/get_reward", json.dumps({"query": ["1901"], "labels": ["1901"]}))
                response = conn.getresponse()
                assert response.status == 200 and json.loads(response.read())["rewards"] == [1.0]
                conn.close()
                break
            except ConnectionRefusedError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve-reward did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"serving wiki-search-discipline 1.0.0 at http://127.0.0.1:{port}/get_reward" in err.decode()


# --- the production stack (uvicorn): content types, deep JSON, busy, slow clients ----------------------


@pytest.mark.parametrize("ctype, status", [("text/plain", 415), ("application/x-www-form-urlencoded", 415),
                                           ("application/json; charset=utf-8", 200), ("application/vnd.x+json", 200)])
def test_content_type_must_be_json(server, ctype, status):
    got, out = _post(server, b'{"query": ["1"], "labels": ["1"]}', {"Content-Type": ctype})
    assert got == status
    if status == 415:
        assert "is not JSON" in out["error"]


@pytest.mark.parametrize("body", [b"[" * 10_000 + b"]" * 10_000,
                                  b'{"query": [' + b"[" * 300 + b"]" * 300 + b"]}"])
def test_deep_json_is_a_400_not_a_500(server, body):
    got, out = _post(server, body)
    assert got == 400 and "nested too deeply" in out["error"]


def test_a_chunked_body_over_the_limit_is_413(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * (16 << 10)
        for _ in range(5):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert b" 413 " in sock.recv(4096)


def test_a_trickled_request_head_is_cut_off_while_others_are_served(tmp_path):
    srv = serve_reward(RewardScorer(WIKI), header_timeout_s=0.5, deadline_s=5.0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = srv.server_address[:2]
        started = time.monotonic()
        with socket.create_connection((host, port), timeout=10) as sock:
            closed = False
            for byte in b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}":
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                assert _post(srv, b'{"query": ["1"], "labels": ["1"]}')[0] == 200  # others are served
                time.sleep(0.1)
                sock.setblocking(False)
                try:
                    closed = sock.recv(1) == b""
                except BlockingIOError:
                    pass
                sock.setblocking(True)
                if closed:
                    break
        assert closed and time.monotonic() - started < 5
    finally:
        srv.shutdown()
        srv.server_close()


SLOW_CHECKS = '''
import time
from rubricate import check

@check(behavior="x")
def slow(ctx):
    time.sleep(1.5)
    return True
'''


def test_over_the_concurrency_bound_is_503(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_CHECKS)
    (tmp_path / "slow.toml").write_text('id = "slow"\nversion = "1"\n[[items]]\nid = "slow"\ncheck = "slow"\n')
    scorer = RewardScorer(str(tmp_path / "slow.toml"), checks_files=[str(tmp_path / "slow.py")])
    srv = serve_reward(scorer, max_concurrent=1, max_waiting=0, deadline_s=10.0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        first: list[int] = []
        t = threading.Thread(target=lambda: first.append(_post(srv, b'{"query": ["a"]}')[0]))
        t.start()
        time.sleep(0.5)  # the first is being scored (1.5 s)
        status, out = _post(srv, b'{"query": ["b"]}')
        t.join()
        assert first == [200] and status == 503 and "busy" in out["error"]
    finally:
        srv.shutdown()
        srv.server_close()
