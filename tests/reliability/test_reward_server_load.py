"""The reward server under trainer load on loopback (benchmarks/bench_reward_server.py, run whole):
50 clients x 20 requests of 4 episodes each on new connections, 200 requests on one kept-alive
connection, a client trickling its request head, 500 idle connections. Checks the answers, never the
timings (those are figures: docs/reliability.md)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_reward_server as bench  # noqa: E402


def test_the_server_holds_trainer_load(capsys):
    out = bench.main(["--json"])
    load = out["load"]
    assert load["requests"] == 1000 and load["answered"] == 1000
    assert load["connection_errors"] == 0 and load["non_200"] == 0 and load["wrong_rewards"] == 0
    assert out["keep_alive"]["wrong"] == 0
    trickle = out["trickle"]
    assert trickle["head_bytes_sent"] < trickle["head_bytes"]  # cut off before its head was complete
    assert bench.HEADER_TIMEOUT - 0.2 <= trickle["cut_off_after_s"] <= bench.HEADER_TIMEOUT + 3
    others = trickle["others_during"]
    assert others["answered"] == others["requests"] and others["non_200"] == others["connection_errors"] == 0
    idle = out["idle"]
    assert idle["threads_with_idle"] <= idle["threads_before"] + 2  # no thread per connection
    assert idle["served_meanwhile"] and idle["closed_by_header_timeout"] == idle["idle_connections"]
