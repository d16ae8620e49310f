"""Processes a run starts (scoring workers, the line counter): the cores there are, whether this process
may fork, and children that die with the process that started them. Imports nothing heavy (the line
index uses it before the scoring stack is imported)."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_count() -> int:
    """This process's threads (0 where it cannot be told: not Linux). Forking a process with more than
    one can deadlock the child."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), and exit now if it already
    has: a worker of a killed run never scores on alone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's terminate() is all there is
        return
    if os.getppid() != parent:
        os._exit(1)
