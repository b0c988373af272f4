"""Build the explorer's test runs directory by running every pipeline on stories260k with tiny settings.

Nothing here is hand-written: each run is what `interp ...` writes. Steps already finished with the
same settings are skipped by the pipelines themselves, so building into an existing folder is cheap
(`python -m tests.app.fixture_runs DIR` builds one for trying the explorer by hand:
`interp app --runs DIR`).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

DIVERGENCE = "rd-small"
RE_CONTROL = "rc-small"
VAS = "vas-small"
REPRPO_RUNS = (("dpo", "none", 0), ("dpo", "none", 1), ("prefvec", "ortho", 0))

REPRPO_TINY = ["--model", "stories260k", "--source", "alpaca_easy", "--target", "alpaca_low_quality",
               "--random", "ranking_logic", "--n-train", "8", "--n-eval", "6", "--batch-size", "4",
               "--max-length", "160", "--max-prompt-length", "128", "--eval-batch-size", "6", "--lora-r", "4",
               "--warmup-steps", "0", "--device", "cpu"]


def _cli(*argv: str) -> None:
    from app.cli import main

    rc = main(list(argv))
    if rc != 0:
        raise RuntimeError(f"`interp {' '.join(argv)}` exited with {rc}")


def build_divergence(root: Path) -> None:
    # the pipeline's own --small settings (the CI ones), with fewer permutations
    _cli("divergence", "run", "--name", DIVERGENCE, "--runs-dir", str(root), "--small", "--device", "cpu",
         "--permutations", "100")


def build_re_control(root: Path) -> None:
    _cli("re-control", "run", "--run", RE_CONTROL, "--runs", str(root), "--model", "stories260k",
         "--dataset", "rt-polarity-prompts", "--reward", "vader-sentiment", "--n-train", "64",
         "--max-new-tokens", "16", "--n-eval", "8", "--n-val", "4", "--epochs", "20", "--batch-size", "32",
         "--n-boot", "200", "--no-baselines", "--tradeoff-step-sizes", "0.5", "2", "--tradeoff-n-steps", "5",
         "--device", "cpu", "--quiet")


def build_vas(root: Path) -> None:
    _cli("vas", "train", "--model", "stories260k", "--device", "cpu", "--max-new-tokens", "16", "--seed", "0",
         "--n-prompts", "48", "--epochs", "1", "--reward", "vader-sentiment", "--out", str(root / VAS))


def build_reprpo(root: Path) -> None:
    for method, transform, seed in REPRPO_RUNS:
        _cli("reprpo", "train", *REPRPO_TINY, "--method", method, "--transform", transform, "--seed", str(seed),
             "--runs-dir", str(root))


BUILDERS = {"divergence": build_divergence, "re_control": build_re_control, "vas": build_vas,
            "reprpo": build_reprpo}
RUN_DIRS = {"divergence": [DIVERGENCE], "re_control": [RE_CONTROL], "vas": [VAS],
            "reprpo": [f"reprpo/alpaca_easy-{m}-{t}-s{s}" for m, t, s in REPRPO_RUNS]}


def build(root: str | Path, only: list[str] | None = None, rebuild_stale: bool = False) -> dict[str, float]:
    """Run the chosen pipelines into `root`; returns seconds per pipeline.

    `rebuild_stale`: when reusing a folder, a run a pipeline refuses (made by an older version of its
    settings) is deleted and made again.
    """
    import shutil

    import torch

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread beats two on a shared machine
    seconds = {}
    try:
        for name, fn in BUILDERS.items():
            if only and name not in only:
                continue
            t0 = time.perf_counter()
            try:
                fn(root)
            except RuntimeError:
                if not rebuild_stale:
                    raise
                for d in RUN_DIRS[name]:
                    shutil.rmtree(root / d, ignore_errors=True)
                fn(root)
            seconds[name] = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    return seconds


if __name__ == "__main__":
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    took = build(sys.argv[1], sys.argv[2:] or None, rebuild_stale=True)
    print({k: round(v, 1) for k, v in took.items()})
