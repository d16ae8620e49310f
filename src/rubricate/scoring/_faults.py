"""Fault injection for the run-lifecycle tests: `RUBRICATE_FAULT=POINT[:N[:ROLE]]` kills this process
with SIGKILL the N-th time (default 1) it reaches the checkpoint POINT; ROLE (`parent`, `worker` or
`any`, the default) says which process of a run may. Off, a checkpoint is one global test.

Points: `locked`, `planned`, `unit-committed`, `mid-unit`, `finalized`, `carried`, `swapped`,
`old-removed` (see `_lifecycle` and `_loop`), `unit-received` (the Ray driver, `_ray`).

`RUBRICATE_FAULT_ONCE=FILE` kills only the first process to reach the point (the one that creates
FILE): a retried Ray task runs in a fresh worker, whose own count starts again.
"""

from __future__ import annotations

import os
import signal

SPEC = os.environ.get("RUBRICATE_FAULT", "")
ACTIVE = bool(SPEC)
_point, _, _rest = SPEC.partition(":")
_nth, _, _role = _rest.partition(":")
_seen = 0
ROLE = "parent"  # a worker process sets "worker"
ONCE = os.environ.get("RUBRICATE_FAULT_ONCE", "")


def checkpoint(point: str) -> None:
    global _seen
    if not ACTIVE or point != _point or (_role not in ("", "any") and _role != ROLE):
        return
    _seen += 1
    if _seen == int(_nth or 1) and _first():
        os.kill(os.getpid(), signal.SIGKILL)


def _first() -> bool:
    if not ONCE:
        return True
    try:
        os.close(os.open(ONCE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True
