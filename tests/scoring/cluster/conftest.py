"""A real Ray cluster and a real S3-compatible server, both on loopback, started once for these tests.

`ray_address`: `ray start --head --block` with 2 CPUs (two worker processes), bound to 127.0.0.1, in a
temporary folder; stopped (its process group) when the session ends. `s3`: moto's server mode on a
free loopback port, with the AWS variables pointing at it for the session and a bucket made.

Ray, moto and s3fs are optional extras (`rubricate[ray,s3]`, `rubricate[test]`): without them these
tests skip, and fail instead under RUBRICATE_REQUIRE_INTEGRATION=1 (scripts/test.sh, CI).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
# Before Ray is imported anywhere in this process: bind Ray to loopback (Ray reads this at import;
# otherwise it resolves 127.0.0.1 to the machine's network address), and use token authentication
# on both sides explicitly (`ray start` enables it by default; a driver must agree).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")


def need(*modules: str) -> None:
    """Skip (fail under RUBRICATE_REQUIRE_INTEGRATION=1) when an optional package is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        why = f"{', '.join(missing)} not installed (pip install 'rubricate[test,ray,s3]')"
        if os.environ.get("RUBRICATE_REQUIRE_INTEGRATION") == "1":
            pytest.fail(f"{why}; RUBRICATE_REQUIRE_INTEGRATION=1")
        pytest.skip(why)


@pytest.fixture
def ray_installed() -> None:
    """Ray is importable (skip, or fail under RUBRICATE_REQUIRE_INTEGRATION=1, when it is not)."""
    need("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Stop a process we started and everything in its process group (its session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a local two-CPU Ray cluster (head node only), started for the session."""
    need("ray")
    folder = tempfile.mkdtemp(prefix="rray-", dir="/tmp")  # short: Ray's socket paths live under it
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(os.path.join(folder, "head.log"), "wb")
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    proc = subprocess.Popen([ray_cli, "start", "--head", "--block", "--num-cpus=2", f"--port={port}",
                             f"--node-ip-address={LOOPBACK}", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={folder}"], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while b"Ray runtime started" not in Path(folder, "head.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed:\n{Path(folder, 'head.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"{LOOPBACK}:{port}"
    finally:
        _stop(proc, grace=5)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class S3:
    endpoint: str
    bucket: str

    def url(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", *parts])

    @property
    def fs(self):  # noqa: ANN201
        import fsspec

        fs = fsspec.filesystem("s3")
        fs.invalidate_cache()
        return fs


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    """moto's S3 server on loopback; AWS_ENDPOINT_URL and keys point every client (and Ray worker) at it."""
    need("moto", "s3fs")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=f"http://{LOOPBACK}:{port}", AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection((LOOPBACK, port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.2)
        server = S3(f"http://{LOOPBACK}:{port}", "rubricate-test")
        server.fs.mkdir(server.bucket)
        yield server
    finally:
        _stop(proc, grace=5)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
