"""Shared by every test: never load the user's installed rubricate plugins (the variable also reaches
spawned scoring workers through the environment). tests/plugins re-enables them in the fresh
interpreters it starts.

As the CLI does (rubricate.cli), keep OpenBLAS and pyarrow's jemalloc from starting threads, so the
test process stays single-threaded and score_run forks its workers as `rubricate score` does (tests
that start threads of their own, such as loopback servers, get spawned workers)."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_plugins() -> Iterator[None]:
    old = os.environ.get("RUBRICATE_NO_PLUGINS")
    os.environ["RUBRICATE_NO_PLUGINS"] = "1"
    yield
    if old is None:
        os.environ.pop("RUBRICATE_NO_PLUGINS", None)
    else:
        os.environ["RUBRICATE_NO_PLUGINS"] = old


@pytest.fixture(autouse=True)
def _small_inputs_use_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned workers need 32 MB of input each to pay for their start; the test corpora are a few
    MB, and a test that asks for workers must get them however they start."""
    from rubricate.analyzer import _run

    monkeypatch.setitem(_run.BYTES_PER_WORKER, "spawn", _run.BYTES_PER_WORKER["fork"])
