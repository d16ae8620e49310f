"""Optional packages of the reward tests: a missing one skips the test with the reason, or fails it where
the environment says the package must be there (CI and `RUBRICATE_REQUIRE_INTEGRATION` for the
`integration` extra; `RUBRICATE_REQUIRE_VERL` for verl, which no extra installs: see docs/rewards.md)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

INTEGRATION = ("CI", "RUBRICATE_REQUIRE_INTEGRATION")


def need_module(name: str, *, required_by: tuple[str, ...] = INTEGRATION,
                install: str = "pip install -e '.[integration]'") -> ModuleType:
    """The module `name`; skips when it is not installed, or fails when a `required_by` variable is set."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        required = [v for v in required_by if os.environ.get(v)]
        if required:
            pytest.fail(f"{name} is not installed but {required[0]} is set: {install} ({exc})")
        pytest.skip(f"{name} is not installed ({install})")
