"""What the reward-divergence steps share: the names of their models and the places of their artifacts.

The package that writes an artifact owns its name: the explorer (app/explorer/rd_data.py) imports
these helpers instead of repeating the paths. Every function takes the protocol's
`interp.pipeline.Context`; nothing here imports the steps, so pipeline.py and analysis.py both
build on it without importing each other.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from interp.io import read_json
from interp.sites import mlp_out

MODELS = ("base", "tuned")
TEXTS_FILE = "texts.json"  # collect/: {"train": [...], "eval": [...]}
DIVERGENCE_FILE = "divergence.json"  # divergence/: per-layer arrays and the chosen layers
SAE_TABLE_FILE = "table.json"  # saes/: every SAE's quality metrics, one row each
MMCS_FILE = "mmcs.json"  # saes/: MMCS small-vs-big and base-vs-tuned
FEATURE_SUMMARY_FILE = "summary.json"  # features/: per-SAE counts of reward-related features
PROBE_FILE = "results.json"  # probe/: R^2 and Kendall tau per model
PROBE_WORDS_FILE = "words.jsonl"  # probe/: predicted vs lexicon valence per held-out word


def resolve_device(device: str | None) -> str:
    from interp import distributed

    # under `accelerate launch` each process takes its own device (cuda:<local rank>)
    return device or str(distributed.default_device())


def tuned_path(ctx) -> Path:
    path = Path(ctx.cfg.tuned) if ctx.cfg.tuned else ctx.run_dir / "rlhf" / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no tuned model at {path}: run the rlhf step first, or pass --tuned with a Hugging Face folder "
            "fine-tuned from the policy"
        )
    return path


def model_spec(ctx, name: str) -> str:
    """`base` is the policy's spec, `tuned` the RL-tuned folder; anything else is a spec already."""
    if name == "base":
        return ctx.cfg.rlhf.policy
    if name == "tuned":
        return str(tuned_path(ctx))
    return name


def layers(ctx) -> list[int]:
    div = ctx.run_dir / "divergence" / "metrics.json"
    if not div.exists():
        raise FileNotFoundError(f"{div} is missing: run the divergence step first (it chooses the layers)")
    return list(read_json(div)["layers"])


def base_config(ctx) -> dict[str, Any]:
    """What every analysis step depends on: the two models."""
    return {"policy": ctx.cfg.rlhf.policy, "tuned": str(tuned_path(ctx)), "device": ctx.device}


def upstream(ctx) -> dict[str, Any]:
    """What the SAE, feature and probe steps depend on: the models, the chosen layers, the collected texts."""
    from dataclasses import asdict

    return {**base_config(ctx), "layers": layers(ctx), "collect": asdict(ctx.cfg.collect)}


def analysis_texts(seed: int) -> tuple[list[str], list[str]]:
    """rt-polarity sentences: (training split, held-out split) of the one split the RL prompts come from
    (`texts.sentence_split`, a fixed seed), each part shuffled by `seed`."""
    from methods.reward_divergence.texts import sentence_split

    train, test = sentence_split()
    train_t, test_t = [s.text for s in train], [s.text for s in test]
    random.Random(seed + 7).shuffle(train_t)
    random.Random(seed + 8).shuffle(test_t)
    return train_t, test_t


def collected(ctx, name: str, part: str):
    from interp.store import ActivationStore

    return ActivationStore.open(ctx.run_dir / "collect" / name / part)


def collected_texts(ctx) -> dict[str, list[str]]:
    return read_json(ctx.run_dir / "collect" / TEXTS_FILE)


def size_name(expansion: float) -> str:
    """How a dictionary size names its folder and files: x1, x4, x0.5."""
    return f"x{float(expansion):g}"


def sae_dir(ctx_or_run_dir, name: str, layer: int | str, expansion: float) -> Path:
    """saes/<model>/<site>/<size>/ (sae-lens's own format); `layer` is an index or a site key."""
    run_dir = getattr(ctx_or_run_dir, "run_dir", ctx_or_run_dir)
    site = mlp_out(layer).key if isinstance(layer, int) else layer
    return Path(run_dir) / "saes" / name / site / size_name(expansion)


def sae_metrics_file(ctx_or_run_dir, name: str, layer: int | str, expansion: float) -> Path:
    folder = sae_dir(ctx_or_run_dir, name, layer, expansion)
    return folder.parent / f"{size_name(expansion)}.metrics.json"


def features_file(ctx_or_run_dir, name: str, layer: int | str, expansion: float) -> Path:
    """features/<model>/<site>/<size>.jsonl: one row per SAE feature."""
    run_dir = getattr(ctx_or_run_dir, "run_dir", ctx_or_run_dir)
    site = mlp_out(layer).key if isinstance(layer, int) else layer
    return Path(run_dir) / "features" / name / site / f"{size_name(expansion)}.jsonl"
