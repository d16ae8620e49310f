"""Plugins: the entry points installed distributions declare for rubricate (`rubricate.formats`
readers, `rubricate.checks` check modules), read once per process.

Reading them means importing `importlib.metadata` (~10 ms) and a pass over every installed
distribution (~5 ms in a large environment); the trace-format and check registries share that one
pass, and a scoring worker forked later inherits it.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint, EntryPoints

NO_PLUGINS = "RUBRICATE_NO_PLUGINS"  # set (to anything): load no plugin


def entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of `group` of every installed distribution; none when RUBRICATE_NO_PLUGINS is set."""
    if os.environ.get(NO_PLUGINS):
        return ()
    return tuple(_installed().select(group=group))


@functools.cache
def _installed() -> EntryPoints:
    from importlib.metadata import entry_points as installed

    return installed()
