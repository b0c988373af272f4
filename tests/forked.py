"""Shared by the tests that fork real processes (writers of one run, steps killed at fault points).

A forked child inherits the models this process loaded, so it starts in milliseconds: `one_model_per_spec`
makes `load_model` return one cached model per spec, and `exit_with` is the end of every child (its status
is the test's only channel back; it never returns into pytest).
"""
from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator, NoReturn


@contextmanager
def one_model_per_spec(*preload: str) -> Iterator[None]:
    """While open, `interp.load_model(spec)` on the CPU returns one model per spec (read-only use: tests leave no
    hooks); `preload` loads those specs now, before any fork."""
    import interp
    import interp.models

    real, cache = interp.models.load_model, {}

    def cached(spec=None, device=None, **kw):
        if kw or str(device or "cpu") != "cpu" or spec is None:
            return real(spec, device=device, **kw) if spec else real(device=device, **kw)
        if spec not in cache:
            cache[spec] = real(spec, device="cpu")
        return cache[spec]

    interp.models.load_model = interp.load_model = cached
    try:
        for spec in preload:
            cached(spec)
        yield
    finally:
        interp.models.load_model = interp.load_model = real


def exit_with(body: Callable[[], int]) -> NoReturn:
    """End a forked child: exit with `body()`'s status, or 1 with the traceback on stderr if it raised."""
    code = 1
    try:
        code = body()
    except BaseException:  # noqa: BLE001 - reported through the exit status
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
