"""The native kernel under coverage-guided fuzzing (tests/fuzz/fuzz.py: libFuzzer, AddressSanitizer,
UndefinedBehaviorSanitizer, seeded from the fixtures and the shared corpora), and the crashes it found.

The short run needs clang with libFuzzer (.ci/run installs Debian's); without it the test skips, and
fails under RUBRICATE_REQUIRE_FUZZ=1 (CI). RUBRICATE_FUZZ_SECONDS sets its length (default 150)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz  # noqa: E402
import kernel_target  # noqa: E402

REGRESSIONS = sorted((HERE / "regressions").iterdir())


@pytest.fixture(scope="module")
def kernel():
    from rubricate.scoring._native import _kernel

    if _kernel is None:
        if os.environ.get("RUBRICATE_REQUIRE_KERNEL"):
            pytest.fail("the native kernel is not built (RUBRICATE_REQUIRE_KERNEL is set)")
        pytest.skip("the native kernel is not built here")
    return _kernel


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_every_crash_found_is_fixed(kernel, path):
    """Each input the fuzzer once crashed on now gives the same rows through the kernel and Python."""
    kernel_target.one(path.read_bytes())


def test_the_target_compares_rows_the_kernel_scored(kernel):
    before = kernel_target.stats["kernel_episodes"]
    line = (HERE.parents[1] / "tests" / "fixtures" / "openai-chat" / "tau-bench-gpt-4o-airline.jsonl").read_bytes()
    kernel_target.one(b"\x00" + line)
    assert kernel_target.stats["kernel_episodes"] > before  # the kernel scored them, not only declined


def test_a_short_fuzz_run_finds_nothing(kernel, tmp_path):
    if fuzz.clang() is None:
        if os.environ.get("RUBRICATE_REQUIRE_FUZZ"):
            pytest.fail("clang with libFuzzer is not installed (RUBRICATE_REQUIRE_FUZZ is set)")
        pytest.skip("clang with libFuzzer is not installed (apt-get install clang-14 libclang-rt-14-dev)")
    seconds = int(os.environ.get("RUBRICATE_FUZZ_SECONDS", "150"))
    result = fuzz.main(["--seconds", str(seconds), "--out", str(tmp_path)])
    assert result["crashes"] == [], result["log_tail"]
    assert result["returncode"] == 0, result["log_tail"]
    assert result["seeds"] > 100 and result["executions"] >= result["seeds"]
    assert result["cov"] and result["cov"] > 500  # the kernel's code was reached, instrumented
