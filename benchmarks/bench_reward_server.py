"""The reward server under trainer load, on loopback: `rubricate serve-reward` in its own process.

    python benchmarks/bench_reward_server.py [--clients 50] [--requests 20] [--episodes 4] [--json]

Phases, one after the other against one server:
  load        `clients` threads each send `requests` POSTs of `episodes` samples, each on a new
              connection (the accept path and the listen backlog are what is measured): latency
              p50/p99/max, connection errors, non-200 answers, wrong rewards.
  keep-alive  200 sequential POSTs of one sample on one kept-alive connection, against 200 on a new
              connection each: median and p99 latency.
  trickle     one client sends its request head a byte every 0.2 s; meanwhile 20 clients are
              served: when the trickler is cut off (the server's --header-timeout, 2 s here) and
              whether the others all got 200 meanwhile.
  idle        500 idle connections held open: the server's thread count before and with them.
Prints the figures (JSON with --json). tests/reliability/test_reward_server_load.py runs it and checks
the answers (no errors, the trickler cut off, no thread per connection); it never asserts timings.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUBRIC = os.path.join(ROOT, "examples", "wiki-search", "rubric.toml")
HEADER_TIMEOUT = 2.0
HEADERS = {"Content-Type": "application/json"}


def body(k: int, episodes: int) -> tuple[bytes, list[float]]:
    """`episodes` samples, alternately right (reward 1.0) and wrong (0.0): the expected rewards."""
    query = [f"Q{k}?\n{1901 if i % 2 == 0 else 'no idea'}" for i in range(episodes)]
    data = {"query": query, "prompts": [f"Q{k}?\n"] * episodes, "labels": ["1901"] * episodes}
    return json.dumps(data).encode(), [1.0 if i % 2 == 0 else 0.0 for i in range(episodes)]


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "rubricate", "serve-reward", RUBRIC, "--port", str(port),
                             "--header-timeout", str(HEADER_TIMEOUT), "--deadline", "10"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "RUBRICATE_NO_PLUGINS": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"serve-reward exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
    proc.kill()
    proc.communicate()
    raise RuntimeError("serve-reward did not start within 60 s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(conn: http.client.HTTPConnection, data: bytes) -> tuple[int, Any]:
    conn.request("POST", "/get_reward", data, HEADERS)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def load(port: int, clients: int, requests: int, episodes: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures = {"connection_errors": 0, "non_200": 0, "wrong_rewards": 0}
    lock = threading.Lock()

    def client(c: int) -> None:
        for r in range(requests):
            data, want = body(c * requests + r, episodes)
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status, out = post(conn, data)
                conn.close()
            except OSError:
                with lock:
                    failures["connection_errors"] += 1
                continue
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                if status != 200:
                    failures["non_200"] += 1
                elif out["rewards"] != want:
                    failures["wrong_rewards"] += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"requests": clients * requests, "answered": len(latencies), **failures, **_stats(latencies),
            "requests_per_s": round(len(latencies) / wall, 1)}


def _stats(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)
    return {"p50_ms": round(1000 * statistics.median(ordered), 2),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
            "max_ms": round(1000 * ordered[-1], 2)}


def keep_alive(port: int, n: int = 200) -> dict[str, Any]:
    data, want = body(0, 1)
    kept, fresh, wrong = [], [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(n):
        started = time.perf_counter()
        status, out = post(conn, data)
        kept.append(time.perf_counter() - started)
        wrong += status != 200 or out["rewards"] != want
    conn.close()
    for _ in range(n):
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, out = post(conn, data)
        conn.close()
        fresh.append(time.perf_counter() - started)
        wrong += status != 200
    return {"kept_alive": _stats(kept), "new_connection": _stats(fresh), "wrong": wrong}


def trickle(port: int) -> dict[str, Any]:
    """A client trickling its request head, while others are served."""
    head = b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n"
    result: dict[str, Any] = {}

    def trickler() -> None:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            for i in range(len(head)):
                try:
                    sock.sendall(head[i:i + 1])
                    time.sleep(0.2)
                    sock.setblocking(False)
                    try:
                        if sock.recv(1) == b"":
                            break
                    except BlockingIOError:
                        pass
                    finally:
                        sock.setblocking(True)
                except OSError:
                    break
        result["cut_off_after_s"] = round(time.monotonic() - started, 2)
        result["head_bytes_sent"] = i + 1
        result["head_bytes"] = len(head)

    t = threading.Thread(target=trickler)
    t.start()
    time.sleep(0.3)
    others = load(port, clients=20, requests=5, episodes=4)
    t.join()
    result["others_during"] = {k: others[k] for k in ("requests", "answered", "connection_errors", "non_200",
                                                      "wrong_rewards", "p99_ms")}
    result["header_timeout_s"] = HEADER_TIMEOUT
    return result


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def idle(port: int, pid: int, n: int = 500) -> dict[str, Any]:
    before = threads_of(pid)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(n)]
    time.sleep(0.5)
    during = threads_of(pid)
    data, want = body(1, 4)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, out = post(conn, data)
    conn.close()
    time.sleep(HEADER_TIMEOUT + 1)  # the idle ones are closed by the header timeout
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        s.close()
    return {"idle_connections": n, "threads_before": before, "threads_with_idle": during,
            "served_meanwhile": status == 200 and out["rewards"] == want, "closed_by_header_timeout": closed}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    port = free_port()
    proc = start_server(port)
    try:
        out = {"load": load(port, args.clients, args.requests, args.episodes), "keep_alive": keep_alive(port),
               "trickle": trickle(port), "idle": idle(port, proc.pid), "cores": os.cpu_count()}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # (and closes its stderr pipe)
    print(json.dumps(out, indent=None if args.json else 2))
    return out


if __name__ == "__main__":
    main()
