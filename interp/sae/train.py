"""Train a sparse autoencoder with sae-lens on our own activation iterator, save it in sae-lens' format.

We use sae-lens' `SAETrainer` directly with a custom data provider (any `Iterator[Tensor]` of
`[batch d_in]` rows) rather than its `LanguageModelSAETrainingRunner`: the runner builds its
own activation store from a HookedTransformer and an HF dataset of token windows, which would
train on padding and knows nothing of our bridge sites; the trainer is the part that does the
optimisation (Adam, LR schedule, L1 warm-up, TopK aux loss, dead-feature tracking, activation
norm scaling folded into the weights at the end) and accepts exactly the iterator we have.

Saved with `save_inference_model` (`cfg.json` + `sae_weights.safetensors`), loadable by
`sae_lens.SAE.load_from_disk` or `load_sae` here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor

from interp.io import atomic_dir, check_safetensors

ARCHITECTURES = ("topk", "standard")
# sae-lens' inference format: what save_sae writes and load_sae reads
SAE_CONFIG = "cfg.json"
SAE_WEIGHTS = "sae_weights.safetensors"


@dataclass
class SAETrainConfig:
    """One SAE's training settings. `expansion` x d_in features; `k` for TopK, `l1_coefficient` for standard."""

    architecture: str = "topk"
    expansion: float = 4.0
    k: int = 32
    l1_coefficient: float = 5.0
    l1_warm_up_steps: int = 0
    lr: float = 3e-4
    lr_warm_up_steps: int = 0
    lr_decay_steps: int = 0
    batch_size: int = 1024
    training_tokens: int = 2_000_000
    normalize_activations: str = "expected_average_only_in"
    n_batches_for_norm_estimate: int = 50
    dead_feature_window: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown SAE architecture {self.architecture!r}: choose one of {', '.join(ARCHITECTURES)}")
        if self.expansion <= 0:
            raise ValueError(f"expansion must be positive, got {self.expansion}")
        if self.training_tokens < self.batch_size:
            raise ValueError(
                f"training_tokens ({self.training_tokens}) must be at least one batch ({self.batch_size})"
            )

    def d_sae(self, d_in: int) -> int:
        return max(1, int(round(self.expansion * d_in)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_training_sae(cfg: SAETrainConfig, d_in: int, metadata: dict[str, Any] | None = None):
    """A fresh sae-lens TrainingSAE for `cfg` (seeded initialisation)."""
    from sae_lens.saes.sae import SAEMetadata
    from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    d_sae = cfg.d_sae(d_in)
    meta = SAEMetadata(**(metadata or {}))
    common = dict(d_in=d_in, d_sae=d_sae, normalize_activations=cfg.normalize_activations, metadata=meta)
    torch.manual_seed(cfg.seed)
    if cfg.architecture == "topk":
        if not 1 <= cfg.k <= d_sae:
            raise ValueError(f"TopK needs 1 <= k <= d_sae, got k={cfg.k} with d_sae={d_sae}; lower --sae-k")
        return TopKTrainingSAE(TopKTrainingSAEConfig(k=cfg.k, **common))
    return StandardTrainingSAE(
        StandardTrainingSAEConfig(l1_coefficient=cfg.l1_coefficient, l1_warm_up_steps=cfg.l1_warm_up_steps, **common)
    )


def train_sae(
    data: Iterator[Tensor],
    d_in: int,
    cfg: SAETrainConfig,
    metadata: dict[str, Any] | None = None,
    device: str = "cpu",
    checkpoints: str | Path | None = None,
    checkpoint_every: int = 500,
):
    """Train on `data` (endless `[batch_size d_in]` batches of real-token activations); return the trained SAE.

    With `checkpoints` (a folder), the trainer state is saved every `checkpoint_every` steps and a
    re-run resumes from it; `data` must then yield the same batches each time (store_provider does).
    """
    from sae_lens import SAETrainer
    from sae_lens.config import SAETrainerConfig

    sae = build_training_sae(cfg, d_in, metadata)
    steps = cfg.training_tokens // cfg.batch_size
    trainer_cfg = SAETrainerConfig(
        total_training_samples=steps * cfg.batch_size,
        train_batch_size_samples=cfg.batch_size,
        lr=cfg.lr,
        lr_end=cfg.lr / 10,
        lr_warm_up_steps=min(cfg.lr_warm_up_steps, steps),
        lr_decay_steps=min(cfg.lr_decay_steps, max(steps - cfg.lr_warm_up_steps, 0)),
        device=device,
        dead_feature_window=cfg.dead_feature_window,
        feature_sampling_window=max(cfg.dead_feature_window, 1),
        n_batches_for_norm_estimate=cfg.n_batches_for_norm_estimate,
    )
    checked = _checked(data, d_in, cfg.batch_size)
    if checkpoints is not None:
        counted = _Counted(checked)
        return _fit_resumable(SAETrainer(trainer_cfg, sae, counted), counted, checkpoints, checkpoint_every)
    trainer = SAETrainer(trainer_cfg, sae, checked)
    return trainer.fit()


class _Counted:
    """An iterator that counts the batches taken from it (a resumed run skips that many)."""

    def __init__(self, it: Iterator[Tensor]):
        self.it, self.n = it, 0

    def __iter__(self) -> "_Counted":
        return self

    def __next__(self) -> Tensor:
        batch = next(self.it)
        self.n += 1
        return batch


def _fit_resumable(trainer, data: _Counted, checkpoints: str | Path, every: int):
    """sae-lens' `SAETrainer.fit` (without wandb), saving the whole trainer state every `every` steps.

    A checkpoint holds the SAE, Adam, the LR and coefficient schedules, the dead-feature counters,
    the activation scale, the number of batches drawn and the RNG; a re-run loads it and skips the
    batches already drawn from the (deterministic) data, so it ends with the uninterrupted run's SAE.
    """
    from interp import faults
    from interp.checkpoint import Checkpoints

    if every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {every}")
    ckpt = Checkpoints(checkpoints, shared=False)  # one SAE's own series, whichever process trains it
    sae, scaler, device = trainer.sae, trainer.activation_scaler, trainer.cfg.device
    sae.to(device)
    found = ckpt.load()
    if found is not None:
        _, st = found
        sae.load_state_dict(st["sae"])
        trainer.optimizer.load_state_dict(st["optimizer"])
        trainer.lr_scheduler.load_state_dict(st["lr_scheduler"])
        for name, sd in st["coefficients"].items():
            trainer.coefficient_schedulers[name].load_state_dict(sd)
        trainer.n_training_samples, trainer.n_training_steps = st["n_training_samples"], st["n_training_steps"]
        trainer.act_freq_scores = st["act_freq_scores"].to(device)
        trainer.n_forward_passes_since_fired = st["n_forward_passes_since_fired"].to(device)
        trainer.n_frac_active_samples = st["n_frac_active_samples"]
        trainer.started_fine_tuning = st["started_fine_tuning"]
        scaler.scaling_factor = st["scaling_factor"]
        for _ in range(st["batches_drawn"]):
            next(data)
    if sae.cfg.normalize_activations == "expected_average_only_in" and scaler.scaling_factor is None:
        scaler.estimate_scaling_factor(d_in=sae.cfg.d_in, data_provider=data,
                                       n_batches_for_norm_estimate=trainer.cfg.n_batches_for_norm_estimate)
    elif sae.cfg.normalize_activations not in ("none", "expected_average_only_in"):
        raise ValueError(f"resumable SAE training supports normalize_activations none or expected_average_only_in, "
                         f"not {sae.cfg.normalize_activations!r}")
    total = trainer.cfg.total_training_samples
    while trainer.n_training_samples < total:
        trainer.maybe_reset_sparsity()
        trainer.step(next(data))
        trainer.n_training_steps += 1
        if trainer.n_training_steps % every == 0 and trainer.n_training_samples < total:
            ckpt.save(trainer.n_training_steps, {
                "sae": sae.state_dict(), "optimizer": trainer.optimizer.state_dict(),
                "lr_scheduler": trainer.lr_scheduler.state_dict(),
                "coefficients": {k: v.state_dict() for k, v in trainer.coefficient_schedulers.items()},
                "n_training_samples": trainer.n_training_samples, "n_training_steps": trainer.n_training_steps,
                "act_freq_scores": trainer.act_freq_scores,
                "n_forward_passes_since_fired": trainer.n_forward_passes_since_fired,
                "n_frac_active_samples": trainer.n_frac_active_samples,
                "started_fine_tuning": trainer.started_fine_tuning, "scaling_factor": scaler.scaling_factor,
                "batches_drawn": data.n,
            })
        faults.point("sae step")
    if scaler.scaling_factor is not None:  # fold the activation scale into the weights, as fit() does
        sae.fold_activation_norm_scaling_factor(scaler.scaling_factor)
        scaler.scaling_factor = None
    trainer.set_final_sae_metadata()
    return sae


def _checked(data: Iterator[Tensor], d_in: int, batch_size: int) -> Iterator[Tensor]:
    for batch in data:
        if batch.ndim != 2 or batch.shape[1] != d_in:
            raise ValueError(f"SAE data batch has shape {tuple(batch.shape)}, expected [rows {d_in}]")
        if batch.shape[0] != batch_size:
            raise ValueError(f"SAE data batch has {batch.shape[0]} rows, expected batch_size={batch_size}")
        yield batch.float()


def save_sae(sae, folder: str | Path) -> Path:
    """Save in sae-lens' inference format (cfg.json + sae_weights.safetensors), atomically (aside, then rename)."""
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        if hasattr(sae, "save_inference_model"):
            sae.save_inference_model(tmp)
        else:
            sae.save_model(tmp)
    return folder


def load_sae(folder: str | Path, device: str = "cpu"):
    """Load an SAE saved in sae-lens' format (safetensors weights only)."""
    from sae_lens import SAE

    folder = Path(folder)
    if not (folder / SAE_CONFIG).exists() or not (folder / SAE_WEIGHTS).exists():
        raise FileNotFoundError(f"{folder} is not a saved sae-lens SAE (needs {SAE_CONFIG} and {SAE_WEIGHTS})")
    check_safetensors(folder / SAE_WEIGHTS)  # a clear refusal, not sae-lens' header error
    sae = SAE.load_from_disk(folder, device=device)
    sae.eval()
    return sae


def check_sae_for(sae, model, what: str = "SAE") -> None:
    """Refuse an SAE trained on another model width, or on another tokenizer when its metadata records
    `tokenizer_size` (pass `metadata={"tokenizer_size": len(model.tokenizer), ...}` when training)."""
    size = getattr(getattr(sae.cfg, "metadata", None), "tokenizer_size", None)
    model.check_compatible(d_model=int(sae.cfg.d_in), vocab={"size": size} if size else None, what=what)
