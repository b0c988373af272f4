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
    ta, tb = _alternate(fa, fb, repeat, warmup)
    return statistics.median(ta), statistics.median(tb)


def paired_ratio(fa: Callable[[], object], fb: Callable[[], object], repeat: int = 9, warmup: int = 1) -> dict:
    """Seconds of `fb` / seconds of `fa`, as the median over adjacent (a, b) pairs, with quartiles.

    On the shared 2-core dev machine single runs of the same generation vary by +/-15%; a ratio of
    two medians taken over few runs inherits that (the backbone's generation ratio read 1.00-1.18
    between runs of 2 pairs). Each pair runs back to back, so load that lasts seconds hits both
    sides, and the median over pairs drops the pairs it split. The quartiles say how wide it was.
    """
    ta, tb = _alternate(fa, fb, repeat, warmup)
    ratios = sorted(b / a for a, b in zip(ta, tb))
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return {"ratio": statistics.median(ratios), "q1": q1, "q3": q3, "pairs": len(ratios),
            "seconds_a": statistics.median(ta), "seconds_b": statistics.median(tb)}


def _alternate(fa: Callable[[], object], fb: Callable[[], object], repeat: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(_seconds(fa))
        tb.append(_seconds(fb))
    return ta, tb


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


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def dtype_arg(name: str) -> torch.dtype:
    """`--dtype bfloat16` -> torch.bfloat16 (argparse type)."""
    if name not in DTYPES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, not {name!r}")
    return DTYPES[name]


def device_name(device: torch.device) -> str:
    """The GPU's name (`NVIDIA H200`) or `cpu`, for the result file."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)


def emit(result: dict) -> None:
    print(json.dumps(result, indent=2))
    sys.stdout.flush()
