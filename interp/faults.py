"""Fault injection for tests: named points where a test may SIGKILL the running process.

Long steps call `point("name")` at the places a crash is interesting (after a batch, inside an
atomic write before its rename, between a checkpoint's files and its `latest.json`). Normally a
point costs one environment lookup. A test sets, in the process it means to kill:

    INTERP_FAULT_KILL_AT=N     SIGKILL this process at the N-th point it passes (1-based)
    INTERP_FAULT_TRACE=FILE    append each point's name to FILE (to count a run's points)

and then checks that re-running the step ends where an uninterrupted run ends.
"""
from __future__ import annotations

import os
import signal

KILL_AT = "INTERP_FAULT_KILL_AT"
TRACE = "INTERP_FAULT_TRACE"
_passed = 0


def point(name: str) -> None:
    """A place where the process may be killed by a test (a no-op unless the variables above are set)."""
    global _passed
    kill_at, trace = os.environ.get(KILL_AT), os.environ.get(TRACE)
    if not kill_at and not trace:
        return
    _passed += 1
    if trace:
        with open(trace, "a", encoding="utf-8") as f:
            f.write(f"{_passed}\t{name}\n")
    if kill_at and _passed == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Start counting points from zero (a test's forked child starts a fresh count)."""
    global _passed
    _passed = 0
