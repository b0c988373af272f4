"""Training the value function on collected trajectories with the Bellman objective (Adam).

Trajectories are split into training and validation sets (seeded); each epoch reports the
mean Bellman loss on both and Spearman(V(s_T), r) on validation, and the weights of the epoch
with the lowest validation loss (or, with select="spearman", the highest validation Spearman)
are kept.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from scipy.stats import spearmanr
from torch import Tensor
from tqdm.auto import tqdm

from methods.re_control.bellman import bellman_loss, last_valid, valid_mask
from methods.re_control.value import ValueConfig, ValueFunction


@dataclass
class TrainConfig:
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 32  # trajectories per step
    val_fraction: float = 0.2
    discount: float = 1.0
    detach_target: bool = True  # False: residual gradient through V(s_{t+1})
    weight_decay: float = 0.0
    patience: int = 30  # epochs without a better validation score before stopping
    select: str = "loss"  # keep the epoch with the lowest validation Bellman loss, or "spearman": highest Spearman
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if self.select not in ("loss", "spearman"):
            raise ValueError(f"select must be 'loss' or 'spearman', not {self.select!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")


def spearman(a: Tensor, b: Tensor) -> float:
    """Spearman rank correlation (nan when either side is constant)."""
    a, b = a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy()
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded (train, validation) trajectory indices; at least one of each."""
    if n < 2:
        raise ValueError(f"need at least 2 trajectories to split into training and validation, got {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return perm[n_val:].sort().values, perm[:n_val].sort().values


@torch.no_grad()
def evaluate_value(
    value: ValueFunction,
    states: Float[Tensor, "n pos d"],
    lengths: Int[Tensor, "n"],
    rewards: Float[Tensor, "n"],
    cfg: TrainConfig,
) -> dict[str, float]:
    """Bellman loss, terminal MSE and Spearman(V(s_T), r) on a set of trajectories."""
    value.eval()
    v = value(states)
    return {
        "loss": float(bellman_loss(v, lengths, rewards, cfg.discount)),
        "terminal_mse": float(((last_valid(v, lengths) - rewards) ** 2).mean()),
        "spearman": spearman(last_valid(v, lengths), rewards),
        # how well the first state (the prompt alone) already predicts the reward
        "spearman_first_state": spearman(v[:, 0], rewards),
    }


def train_value(
    states: Float[Tensor, "n pos d"],
    lengths: Int[Tensor, "n"],
    rewards: Float[Tensor, "n"],
    value_cfg: ValueConfig,
    cfg: TrainConfig,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[ValueFunction, dict[str, Any]]:
    """Fit V on trajectories; returns the best-validation-loss network (eval mode) and its history."""
    if not len(states) == len(lengths) == len(rewards):
        raise ValueError(f"got {len(states)} trajectories, {len(lengths)} lengths and {len(rewards)} rewards")
    if states.shape[-1] != value_cfg.d_model:
        raise ValueError(f"states have width {states.shape[-1]} but the value config says d_model={value_cfg.d_model}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    tr, va = split_indices(len(states), cfg.val_fraction, cfg.seed)
    states, lengths, rewards = states.float().to(device), lengths.long().to(device), rewards.float().to(device)
    value = ValueFunction(value_cfg).to(device)
    if value_cfg.standardize:
        mask = valid_mask(lengths[tr.to(device)], states.shape[1])
        value.fit_standardization(states[tr.to(device)][mask])
    opt = torch.optim.Adam(value.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = {k: (states[i.to(device)], lengths[i.to(device)], rewards[i.to(device)]) for k, i in (("train", tr), ("val", va))}
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_spearman": []}
    best = (math.inf, -1, copy.deepcopy(value.state_dict()))
    bar = tqdm(range(cfg.epochs), desc="value function", unit="epoch", disable=not progress, leave=False)
    xs, ls, rs = data["train"]
    for epoch in bar:
        value.train()
        perm = torch.randperm(len(xs), generator=gen).to(device)
        total = 0.0
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            width = int(ls[idx].max())  # trim padding the batch does not need
            loss = bellman_loss(value(xs[idx, :width]), ls[idx], rs[idx], cfg.discount, cfg.detach_target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        val = evaluate_value(value, *data["val"], cfg)
        history["train_loss"].append(total / len(xs))
        history["val_loss"].append(val["loss"])
        history["val_spearman"].append(val["spearman"])
        bar.set_postfix(val_loss=f"{val['loss']:.4f}", rho=f"{val['spearman']:.3f}")
        score = val["loss"] if cfg.select == "loss" else -val["spearman"]
        score = math.inf if math.isnan(score) else score  # a constant V has no Spearman
        if score < best[0] - 1e-7:
            best = (score, epoch, copy.deepcopy(value.state_dict()))
        elif epoch - best[1] >= cfg.patience:
            break
    value.load_state_dict(best[2])
    value.eval()
    summary = {
        "best_epoch": best[1], "epochs_run": len(history["val_loss"]),
        "n_train": len(tr), "n_val": len(va), "train": evaluate_value(value, *data["train"], cfg),
        "val": evaluate_value(value, *data["val"], cfg), "val_indices": va.tolist(),
    }
    return value.cpu(), {**summary, "history": history}
