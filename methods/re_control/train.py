"""Training the value function on collected trajectories with the Bellman objective (Adam).

Trajectories are split into training and validation sets (seeded); each epoch reports the
mean Bellman loss on both and Spearman(V(s_T), r) on validation, and the weights of the epoch
with the lowest validation loss (or, with select="spearman", the highest validation Spearman)
are kept.

Every step sums the Bellman loss over its trajectories and divides by the batch's size. Under
`accelerate launch --num_processes N` each rank takes every N-th trajectory of each batch, the
gradients (sums) are all-reduced and divided by the batch's size: the update one process makes,
up to the order of float additions. Validation runs in full on every rank, so every rank keeps
the same epoch. With `checkpoints=`, the state after each epoch (weights, Adam, the shuffling
generator, the best epoch so far, history) is saved; a re-run resumes after the last one and
ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from scipy.stats import spearmanr
from torch import Tensor
from tqdm.auto import tqdm

from interp import distributed, faults
from interp.checkpoint import Checkpoints
from interp.training_guard import check_finite
from methods.re_control.bellman import bellman_loss, bellman_terms, last_valid, valid_mask
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


def split_indices(n: int, val_fraction: float, seed: int, groups: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Seeded (train, validation) trajectory indices; at least one of each.

    With `groups` (the prompt of each trajectory) whole groups go to one side, so that validation
    never holds another response to a training prompt.
    """
    if groups is None:
        groups = torch.arange(n)
    if len(groups) != n:
        raise ValueError(f"got {len(groups)} group ids for {n} trajectories")
    ids, inv = torch.unique(groups, return_inverse=True)
    if len(ids) < 2:
        raise ValueError(f"need at least 2 prompts to split into training and validation, got {len(ids)}")
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))
    n_val = min(max(1, round(len(ids) * val_fraction)), len(ids) - 1)
    is_val = torch.zeros(len(ids), dtype=torch.bool)
    is_val[perm[:n_val]] = True
    return torch.nonzero(~is_val[inv]).flatten(), torch.nonzero(is_val[inv]).flatten()


def group_centred(x: Float[Tensor, "n"], groups: Int[Tensor, "n"]) -> Float[Tensor, "n"]:
    """Each value minus the mean of its group (for rewards: the advantage over the same prompt's responses)."""
    _, inv = torch.unique(groups.to(x.device), return_inverse=True)
    sums = torch.zeros(int(inv.max()) + 1, dtype=x.dtype, device=x.device).index_add_(0, inv, x)
    return x - (sums / torch.bincount(inv).to(x.dtype))[inv]


def within_group_spearman(v: Tensor, r: Tensor, groups: Tensor) -> float:
    """Spearman between V and r after removing each group's mean from both: does V rank a prompt's responses?"""
    _, inv = torch.unique(groups, return_inverse=True)
    keep = (torch.bincount(inv) > 1)[inv]
    if keep.sum() < 3:
        return float("nan")
    return spearman(group_centred(v.double(), groups)[keep], group_centred(r.double(), groups)[keep])


@torch.no_grad()
def evaluate_value(
    value: ValueFunction,
    states: Float[Tensor, "n pos d"],
    lengths: Int[Tensor, "n"],
    rewards: Float[Tensor, "n"],
    cfg: TrainConfig,
    groups: Int[Tensor, "n"] | None = None,
) -> dict[str, float]:
    """Bellman loss, terminal MSE and Spearman(V(s_T), r) on a set of trajectories (and within prompts, with groups)."""
    value.eval()
    v = value(states)
    out = {
        "loss": float(bellman_loss(v, lengths, rewards, cfg.discount)),
        "terminal_mse": float(((last_valid(v, lengths) - rewards) ** 2).mean()),
        "spearman": spearman(last_valid(v, lengths), rewards),
        # how well the first state (the prompt alone) already predicts the reward
        "spearman_first_state": spearman(v[:, 0], rewards),
    }
    if groups is not None and len(torch.unique(groups)) < len(groups):
        out["spearman_within_group"] = within_group_spearman(last_valid(v, lengths), rewards, groups.to(v.device))
    return out


def train_value(
    states: Float[Tensor, "n pos d"],
    lengths: Int[Tensor, "n"],
    rewards: Float[Tensor, "n"],
    value_cfg: ValueConfig,
    cfg: TrainConfig,
    device: str | torch.device = "cpu",
    progress: bool = True,
    checkpoints: str | Path | None = None,
    checkpoint_every: int = 1,
    groups: Int[Tensor, "n"] | None = None,
) -> tuple[ValueFunction, dict[str, Any]]:
    """Fit V on trajectories; returns the best-validation-loss network (eval mode) and its history.

    `checkpoints`: a folder to save the training state into every `checkpoint_every` epochs and
    to resume from (see the module docstring). `groups`: the prompt of each trajectory, when a
    prompt has several; the validation split then takes whole prompts.
    """
    if not len(states) == len(lengths) == len(rewards):
        raise ValueError(f"got {len(states)} trajectories, {len(lengths)} lengths and {len(rewards)} rewards")
    if states.shape[-1] != value_cfg.d_model:
        raise ValueError(f"states have width {states.shape[-1]} but the value config says d_model={value_cfg.d_model}")
    rank, world = distributed.rank(), distributed.world_size()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    tr, va = split_indices(len(states), cfg.val_fraction, cfg.seed, groups)
    groups = torch.arange(len(states)) if groups is None else groups.long()
    states, lengths, rewards = states.float().to(device), lengths.long().to(device), rewards.float().to(device)
    value = ValueFunction(value_cfg).to(device)
    if value_cfg.standardize:
        mask = valid_mask(lengths[tr.to(device)], states.shape[1])
        value.fit_standardization(states[tr.to(device)][mask])
    params = list(value.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = {k: (states[i.to(device)], lengths[i.to(device)], rewards[i.to(device)]) for k, i in (("train", tr), ("val", va))}
    group_of = {"train": groups[tr], "val": groups[va]}
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_spearman": []}
    best = (math.inf, -1, copy.deepcopy(value.state_dict()))
    start = 0
    ckpt = Checkpoints(checkpoints) if checkpoints is not None else None
    found = ckpt.load() if ckpt is not None else None
    if found is not None:
        start, st = found
        value.load_state_dict(st["value"])
        opt.load_state_dict(st["optimizer"])
        gen.set_state(st["generator"])
        history = st["history"]
        best = (st["best_score"], st["best_epoch"], st["best_state"])
    bar = tqdm(range(start, cfg.epochs), desc="value function", unit="epoch", disable=not (progress and rank == 0),
               leave=False)
    xs, ls, rs = data["train"]
    for epoch in bar:
        if epoch - best[1] > cfg.patience:  # resumed after the epoch that stopped training
            break
        value.train()
        perm = torch.randperm(len(xs), generator=gen).to(device)
        total = 0.0
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            width = int(ls[idx].max())  # trim padding the batch does not need (the same on every rank)
            mine = idx[rank::world]
            opt.zero_grad(set_to_none=True)
            loss_sum = torch.zeros((), device=device)
            if len(mine):
                td, terminal = bellman_terms(value(xs[mine, :width]), ls[mine], rs[mine], cfg.discount, cfg.detach_target)
                loss_sum = (td + terminal).sum()
                loss_sum.backward()
            # sums over every rank's share, divided by the batch's size: the mean over the whole batch
            loss_sum = distributed.all_reduce_grads(params, loss_sum.detach(), divide_by=len(idx))
            check_finite(loss_sum, f"epoch {epoch}, batch {s // cfg.batch_size}", "value training: the Bellman loss",
                         f"lower the learning rate (--lr {cfg.lr}) or check the rewards, then re-run with --force")
            opt.step()
            total += float(loss_sum)
        val = evaluate_value(value, *data["val"], cfg)
        history["train_loss"].append(total / len(xs))
        history["val_loss"].append(val["loss"])
        history["val_spearman"].append(val["spearman"])
        bar.set_postfix(val_loss=f"{val['loss']:.4f}", rho=f"{val['spearman']:.3f}")
        score = val["loss"] if cfg.select == "loss" else -val["spearman"]
        score = math.inf if math.isnan(score) else score  # a constant V has no Spearman
        stop = False
        if score < best[0] - 1e-7:
            best = (score, epoch, copy.deepcopy(value.state_dict()))
        elif epoch - best[1] >= cfg.patience:
            stop = True
        if ckpt is not None and ((epoch + 1) % checkpoint_every == 0 or stop) and epoch + 1 < cfg.epochs:
            ckpt.save(epoch + 1, {"value": value.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                                  "history": history, "best_score": best[0], "best_epoch": best[1], "best_state": best[2]})
        faults.point("value epoch")
        if stop:
            break
    value.load_state_dict(best[2])
    value.eval()
    summary = {
        "best_epoch": best[1], "epochs_run": len(history["val_loss"]),
        "n_train": len(tr), "n_val": len(va), "train": evaluate_value(value, *data["train"], cfg, group_of["train"]),
        "val": evaluate_value(value, *data["val"], cfg, group_of["val"]), "val_indices": va.tolist(), "processes": world,
    }
    return value.cpu(), {**summary, "history": history}
