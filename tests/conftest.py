"""Shared by every test: never load the user's installed rubricate plugins (the variable also reaches
spawned scoring workers through the environment). tests/plugins re-enables them in the fresh
interpreters it starts."""

from __future__ import annotations

import os
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
