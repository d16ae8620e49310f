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
    from rubricate.scoring import _engine

    monkeypatch.setitem(_engine.BYTES_PER_WORKER, "spawn", _engine.BYTES_PER_WORKER["fork"])


@pytest.fixture(scope="session")
def bench_chat(tmp_path_factory: pytest.TempPathFactory):
    """3,000 episodes of the scoring benchmark's synthetic SQL-agent traces (../shared/bench/gen_corpus.py),
    generated once per session (skipped without ../shared, failed under RUBRICATE_REQUIRE_SHARED)."""
    from _shared import generated_chat

    return generated_chat(tmp_path_factory.mktemp("bench") / "c3k.jsonl", 3000)
