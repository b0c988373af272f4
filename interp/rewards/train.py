"""The reward-model training pipeline behind `interp reward train`: split, embed once, train, evaluate.

Run directory `out/`:
  embed/   config.json, embeddings.safetensors (chosen, rejected: [n_pairs, d]), metrics.json
  train/   config.json (the reward model's config), head.safetensors, history.json, metrics.json
`train/` is a complete `rm:` folder; `rm:out` finds it too. The embed step is reused whenever
its config (encoder, texts) matches, so retraining the head with other settings costs seconds.
Split: a seeded `interp.data.splits.split` of the pairs into train (1 - test) * (1 - val),
validation (1 - test) * val (early stopping) and the held-out test part.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import torch

from interp.fingerprint import digest
from interp.io import load_tensors, save_tensors, write_json
from interp.rewards.bradley_terry import FORMAT, KIND, BTConfig, bt_loss, pairwise_accuracy, train_head
from interp.rewards.encoders import load_encoder
from interp.runs import RunConfigMismatch, open_step, writes_run

log = logging.getLogger(__name__)


def texts_digest(pairs: Sequence[Any]) -> str:
    """sha256 of every (prompt, chosen, rejected): names the exact texts an embedding cache holds."""
    return digest(json.dumps([p.prompt, p.chosen, p.rejected]) for p in pairs)


def split_indices(n: int, test_fraction: float, val_fraction: float, seed: int) -> tuple[list[int], list[int], list[int]]:
    """Seeded (train, validation, test) indices; validation is carved out of the non-test part."""
    from interp.data.splits import split

    if not 0 < test_fraction < 1 or not 0 < val_fraction < 1:
        raise ValueError(f"test and validation fractions must lie in (0, 1), got {test_fraction}, {val_fraction}")
    keep = 1.0 - test_fraction
    parts = split(list(range(n)), (keep * (1 - val_fraction), keep * val_fraction, test_fraction), seed)
    return parts.train, parts.validation, parts.test


def _text_option(cfg: BTConfig) -> dict[str, str]:
    """`text` for a step config, left out at its default so that runs made before the option stay valid."""
    return {"text": cfg.text} if cfg.text != "joined" else {}


def embed_pairs(out: Path, pairs: Sequence[Any], cfg: BTConfig, data: str, device: str | None, force: bool) -> dict[str, torch.Tensor]:
    """Embeddings of prompt+chosen and prompt+rejected (or chosen and rejected alone) for every pair,
    computed once per run directory."""
    step_cfg = {"encoder": cfg.encoder, "pool": cfg.pool, "max_length": cfg.max_length, "data": data,
                "n_pairs": len(pairs), "texts_sha256": texts_digest(pairs), **_text_option(cfg)}
    try:
        step = open_step(out, "embed", step_cfg)
    except RunConfigMismatch:
        if not force:
            raise
        step = open_step(out, "embed", step_cfg, force=True)
    file = step.file("embeddings.safetensors")
    if step.done and file.exists():
        log.info("reusing embeddings in %s", file)
        return load_tensors(file)
    encoder = load_encoder(cfg.encoder, cfg.pool, cfg.max_length, device)
    t0 = time.perf_counter()
    prompts = cfg.encoder_prompts([p.prompt for p in pairs])
    log.info("embedding %d pairs with %s", len(pairs), cfg.encoder)
    emb = {"chosen": encoder(prompts, [p.chosen for p in pairs], progress=True),
           "rejected": encoder(prompts, [p.rejected for p in pairs], progress=True)}
    save_tensors(file, emb)
    step.finish({"n_texts": 2 * len(pairs), "dim": int(emb["chosen"].shape[1]), "seconds": time.perf_counter() - t0})
    return emb


@writes_run("out")  # the whole training, not only the opening of each step: one writer per run
def train_reward_model(
    pairs: Sequence[Any],
    out: str | Path,
    cfg: BTConfig | None = None,
    data: str = "",
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    device: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a Bradley-Terry reward model on `pairs` into `out/`; return the metrics (held-out accuracy)."""
    cfg = cfg or BTConfig()
    out = Path(out)
    pairs = list(pairs)
    if len(pairs) < 10:
        raise ValueError(f"only {len(pairs)} preference pairs; training and evaluating a reward model needs at least 10")
    tr, va, te = split_indices(len(pairs), test_fraction, val_fraction, cfg.seed)
    emb = embed_pairs(out, pairs, cfg, data, device, force)
    d_in = int(emb["chosen"].shape[1])
    run_cfg = {**{k: v for k, v in asdict(cfg).items() if k != "text"}, **_text_option(cfg), "kind": KIND, "d_in": d_in,
               "data": data, "n_pairs": len(pairs),
               "texts_sha256": texts_digest(pairs), "test_fraction": test_fraction, "val_fraction": val_fraction}
    step = open_step(out, "train", run_cfg, force=force)
    if step.done and step.file(FORMAT.weights).exists():
        log.info("%s is already trained with this config (use --force to redo)", step.path)
        return step.metrics()
    c, r = emb["chosen"], emb["rejected"]
    part = lambda idx: (c[idx], r[idx])  # noqa: E731
    t0 = time.perf_counter()
    head, history = train_head(part(tr), part(va), cfg, progress=progress)
    seconds_train = time.perf_counter() - t0
    with torch.no_grad():
        scores = {name: (head(c[idx]), head(r[idx])) for name, idx in (("train", tr), ("val", va), ("test", te))}
    FORMAT.save_weights(step.path, head.state_dict())  # beside the step's config.json: a reward model folder
    write_json(step.file("history.json"), history)
    metrics: dict[str, Any] = {
        f"{name}_accuracy": pairwise_accuracy(*s) for name, s in scores.items()
    }
    metrics.update({f"{name}_loss": float(bt_loss(*s)) for name, s in scores.items()})
    metrics.update(
        n_train=len(tr), n_val=len(va), n_test=len(te), best_epoch=history["best_epoch"],
        epochs_run=history["epochs_run"], seconds_train=seconds_train,
        n_identical_test_pairs=sum(pairs[i].chosen == pairs[i].rejected for i in te),
    )
    return step.finish(metrics)
