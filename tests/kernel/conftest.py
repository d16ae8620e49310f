"""The kernel under test.

`native`: the kernel whole runs use (the installed `rubricate._kernel`, or the build named by
RUBRICATE_KERNEL_SO while working on src/kernel). `kernel`: a test build of the same sources, with
the `_debug_*` entry points the differential tests call (the installed kernel has none): the build
RUBRICATE_KERNEL_SO names when it is one (scripts/build-kernel.sh --debug), else one compiled here
once per session with scripts/build-kernel.sh --debug (needs gcc, as the install does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _missing(why: str) -> None:
    if os.environ.get("RUBRICATE_REQUIRE_KERNEL"):
        pytest.fail(f"{why} (RUBRICATE_REQUIRE_KERNEL is set)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def native() -> ModuleType:
    from rubricate.scoring._native import _kernel as module  # the one whole runs use

    if module is None:
        _missing("the native kernel is not built here (no C compiler at install time)")
    return module


@pytest.fixture(scope="session")
def kernel(native: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    from rubricate.scoring._native import load_kernel

    if native.DEBUG:
        return native
    if shutil.which("gcc") is None:
        _missing("no gcc to compile the kernel's test build (scripts/build-kernel.sh --debug)")
    out = tmp_path_factory.mktemp("kernel-debug")
    subprocess.run(["bash", str(ROOT / "scripts" / "build-kernel.sh"), "--debug", str(out), sys.executable],
                   check=True, capture_output=True)
    module = load_kernel(str(out / "_kernel.so"))
    assert module.DEBUG == 1
    return module
