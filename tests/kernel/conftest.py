"""The kernel under test: the installed `rubricate._kernel`, or the build named by RUBRICATE_KERNEL_SO
(scripts/build-kernel.sh) while working on src/kernel."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def kernel() -> ModuleType:
    from rubricate.scoring._native import _kernel as module  # the one whole runs use

    if module is None:
        if os.environ.get("RUBRICATE_REQUIRE_KERNEL"):
            pytest.fail("the native kernel is not built (RUBRICATE_REQUIRE_KERNEL is set)")
        pytest.skip("the native kernel is not built here (no C compiler at install time)")
    return module
