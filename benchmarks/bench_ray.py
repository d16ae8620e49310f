"""Ray's overhead against the local engine, and its scaling from 1 to 2 CPUs, measured in the same run.

    python benchmarks/bench_ray.py [--corpus FILE] [--shared ../shared] [--repeat 3] [--out FILE.json]

Uses the 200k-episode corpus of ../shared/bench/gen_corpus.py (generated into --corpus when absent,
2.1 GB). For 1 and then 2 CPUs: starts a Ray cluster of that many CPUs on loopback (`ray start --head
--block`), then alternates `rubricate score --rubric tool-discipline` with the local engine
(`--workers N`) and with `--engine ray --ray-address` on that cluster, `--repeat` times. Reports wall
times (process start to run.json), the ratio of each Ray run to the local run just before it, the
connect time, and the CPU seconds each run cost: the `rubricate` process tree for the local engine;
the driver and every process of the Ray cluster (workers, raylet, GCS: Ray's own cost included) for
Ray. CPU seconds barely depend on what else runs on the machine; wall times do, so the per-core rate
(episodes per CPU second) is what projects to a cluster. Once at the end it times the cold path:
`--engine ray --workers 2` starting a cluster of its own.
Needs `pip install 'rubricate[ray]'`. Measures; never asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# as an installed package runs (bytecode cached); Ray bound to loopback, token auth on both sides
ENV = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "RAY_ADDRESS")},
       "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}


TICK = os.sysconf("SC_CLK_TCK")


def _session_times(sid: int) -> dict[int, int]:
    """Clock ticks of CPU each process of session `sid` has used (with the children it reaped)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields after the name: state ppid pgrp session ...; utime stime cutime cstime
            out[int(entry)] = sum(int(x) for x in fields[11:15])
    return out


class SessionCPU:
    """CPU seconds used by the processes of session `sid` while it runs (Ray's workers have process
    groups of their own, and the raylet does not collect their times when they exit, so each process
    is sampled every 0.1 s and counted at its last sample)."""

    def __init__(self, sid: int) -> None:
        import threading

        self.sid, self.first, self.last = sid, _session_times(sid), {}
        self.last.update(self.first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.last.update(_session_times(self.sid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.last.update(_session_times(self.sid))
        return sum(t - self.first.get(pid, 0) for pid, t in self.last.items()) / TICK


def children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A head-only Ray cluster of `cpus` CPUs, started and stopped (its process group) by us."""

    def __init__(self, cpus: int) -> None:
        self.folder = tempfile.mkdtemp(prefix="rbench-", dir="/tmp")
        self.address = f"127.0.0.1:{free_port()}"
        ray = str(Path(sys.executable).parent / "ray")
        self.log = Path(self.folder, "head.log")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([ray, "start", "--head", "--block", f"--num-cpus={cpus}",
                                      f"--port={self.address.rsplit(':', 1)[1]}", "--node-ip-address=127.0.0.1",
                                      "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.folder}"],
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=ENV,
                                     start_new_session=True)
        while b"Ray runtime started" not in self.log.read_bytes():
            if self.proc.poll() is not None:
                raise SystemExit(f"ray start failed:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.25)
        self.start_s = round(time.perf_counter() - t0, 2)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def score(corpus: str, out: str, *extra: str, cluster: Cluster | None = None) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    cpu0 = children_cpu_s()
    sampler = SessionCPU(cluster.proc.pid) if cluster else None
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rubricate", "score", corpus, "-r", "tool-discipline", "-o", out,
                    "--no-progress", "-q", *extra], check=True, env=ENV, capture_output=True)
    wall = time.perf_counter() - t0
    cpu = children_cpu_s() - cpu0 + (sampler.stop() if sampler else 0.0)
    info = json.loads(Path(out, "run.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    t = info["timings"]
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "run_s": t["seconds"],
            "task_s": round(sum(t["seconds_per_worker"]), 2),
            "tasks": len(t["seconds_per_worker"]), "episodes": info["counts"]["episodes"],
            "kernel_episodes": info["counts"]["kernel_episodes"], "connect_s": info.get("engine", {}).get("start_s")}


def span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def measure(corpus: str, cpus: int, repeat: int, scratch: str) -> dict[str, Any]:
    cluster = Cluster(cpus)
    try:
        local, ray = [], []
        for _ in range(repeat):  # alternating, so that both see the same load on this shared machine
            local.append(score(corpus, os.path.join(scratch, "local"), "--workers", str(cpus)))
            ray.append(score(corpus, os.path.join(scratch, "ray"), "--engine", "ray", "--ray-address", cluster.address,
                             cluster=cluster))
    finally:
        cluster.stop()
    ratios = [r["wall_s"] / l["wall_s"] for l, r in zip(local, ray)]
    episodes = ray[0]["episodes"]
    return {"cpus": cpus, "cluster_start_s": cluster.start_s, "local": local, "ray": ray,
            "ratio_wall": [round(x, 3) for x in ratios],
            "ratio_cpu": [round(r["cpu_s"] / l["cpu_s"], 3) for l, r in zip(local, ray)],
            "ray_episodes_per_cpu_s": round(episodes / statistics.median(r["cpu_s"] for r in ray)),
            "local_episodes_per_cpu_s": round(episodes / statistics.median(l["cpu_s"] for l in local))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="/tmp/bench/corpus-200000.jsonl")
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    args = parser.parse_args()
    if not os.path.exists(args.corpus):
        os.makedirs(os.path.dirname(args.corpus) or ".", exist_ok=True)
        subprocess.run([sys.executable, os.path.join(args.shared, "bench", "gen_corpus.py"), "jsonl", "0", "200000",
                        args.corpus], check=True)
    with open(args.corpus, "rb") as f:  # into the page cache: every timed run reads it from memory
        while f.read(1 << 24):
            pass
    scratch = tempfile.mkdtemp(prefix="rbench-runs-", dir=os.path.dirname(os.path.abspath(args.corpus)))
    try:
        results = [measure(args.corpus, cpus, args.repeat, scratch) for cpus in (1, 2)]
        cold = score(args.corpus, os.path.join(scratch, "cold"), "--engine", "ray", "--workers", "2")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    mb = os.path.getsize(args.corpus) / 1e6
    print(f"corpus: {args.corpus} ({mb:,.1f} MB, {results[0]['ray'][0]['episodes']:,} episodes)\n")
    print("| CPUs | local wall s | ray wall s | ray / local wall | local CPU s | ray CPU s | ray / local CPU | "
          "ray connect s | ray tasks | episodes per CPU s: ray, local |")
    print("|---:|---|---|---|---|---|---|---|---:|---|")
    for r in results:
        print(f"| {r['cpus']} | {span([x['wall_s'] for x in r['local']])} | {span([x['wall_s'] for x in r['ray']])} | "
              f"{span(r['ratio_wall'])} | {span([x['cpu_s'] for x in r['local']])} | "
              f"{span([x['cpu_s'] for x in r['ray']])} | {span(r['ratio_cpu'])} | "
              f"{span([x['connect_s'] for x in r['ray']])} | {r['ray'][0]['tasks']} | "
              f"{r['ray_episodes_per_cpu_s']:,}, {r['local_episodes_per_cpu_s']:,} |")
    one, two = (statistics.median(x["wall_s"] for x in r["ray"]) for r in results)
    print(f"\nray 2 CPUs / 1 CPU speed-up (median wall): {one / two:.2f}x; "
          f"cold `--engine ray --workers 2` (starts its own cluster): {cold['wall_s']:.2f} s "
          f"(connect {cold['connect_s']} s)")
    if args.out:
        Path(args.out).write_text(json.dumps({"corpus_MB": round(mb, 1), "results": results, "cold": cold}, indent=2))


if __name__ == "__main__":
    main()
