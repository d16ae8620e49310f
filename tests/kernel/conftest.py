"""The kernel under test: the installed `rubricate._kernel`, or the build named by RUBRICATE_KERNEL_SO
(scripts/build-kernel.sh) while working on src/kernel."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from types import ModuleType

import pytest


def load_kernel() -> ModuleType | None:
    path = os.environ.get("RUBRICATE_KERNEL_SO")
    if path:
        loader = importlib.machinery.ExtensionFileLoader("_kernel", path)
        spec = importlib.util.spec_from_file_location("_kernel", path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    try:
        from rubricate import _kernel
    except ImportError:
        return None
    return _kernel


@pytest.fixture(scope="session")
def kernel() -> ModuleType:
    module = load_kernel()
    if module is None:
        if os.environ.get("RUBRICATE_REQUIRE_KERNEL"):
            pytest.fail("the native kernel is not built (RUBRICATE_REQUIRE_KERNEL is set)")
        pytest.skip("the native kernel is not built here (no C compiler at install time)")
    return module
