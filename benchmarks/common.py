"""Benchmark helpers: median wall time of repeated runs, a plain HF reference model, JSON output."""
from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Callable

import torch


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median seconds of `repeat` runs after `warmup` runs (synchronising CUDA)."""
    for _ in range(warmup):
        fn()
    return statistics.median([_seconds(fn) for _ in range(repeat)])


def timeit_pair(fa: Callable[[], object], fb: Callable[[], object], repeat: int = 5, warmup: int = 1) -> tuple[float, float]:
    """Median seconds of `fa` and of `fb`, run alternately (a, b, a, b, ...).

    Alternating keeps a ratio fair on a shared machine, where load that comes and goes would
    otherwise land on whichever side happened to run during it.
    """
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(_seconds(fa))
        tb.append(_seconds(fb))
    return statistics.median(ta), statistics.median(tb)


def _seconds(fn: Callable[[], object]) -> float:
    """Wall seconds of one call, CUDA work included."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t


def plain_hf(model):
    """The same weights as a plain HF model (no bridge, no hooks), with the same attention kernel."""
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(model.path, dtype=model.dtype, attn_implementation="eager")
    return hf.to(model.device).eval()


def emit(result: dict) -> None:
    print(json.dumps(result, indent=2))
    sys.stdout.flush()
