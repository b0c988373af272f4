"""Train a value model with TD(lambda) on base-model rollouts (see `td.py` for the targets).

Each batch runs one forward with gradient; the lambda-returns are computed from the same
values detached (the GAE form), so targets move with the model as in the paper. A seeded split
holds out `val_fraction` of the rollouts for validation: TD loss, MSE to the reward, and
Spearman(V at the last response token, reward), which says whether the head ranks responses as
the reward does. The last epoch is kept, or with keep="best" the one with the lowest MSE.
Data-parallel under `accelerate launch` and resumable from per-epoch checkpoints (see
`train_value_model`).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp import distributed, faults
from interp.checkpoint import Checkpoints
from interp.training_guard import check_finite
from interp.validate import check
from methods.vas.rollouts import Rollout
from methods.vas.td import td_lambda_returns, value_loss
from methods.vas.value_model import ValueModel


@dataclass
class TrainConfig:
    epochs: int = 4
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    gamma: float = 1.0
    lam: float = 0.95
    val_fraction: float = 0.1
    grad_clip: float = 1.0
    keep: str = "last"  # "last" epoch, or "best": lowest validation MSE to the reward (early stopping)
    seed: int = 0

    def __post_init__(self) -> None:
        check(self, counts=("epochs", "batch_size"), positive=("lr",), non_negative=("weight_decay", "grad_clip"))
        if not 0 <= self.lam <= 1 or not 0 < self.gamma <= 1:
            raise ValueError(f"need 0 <= lam <= 1 and 0 < gamma <= 1, got lam={self.lam}, gamma={self.gamma}")
        if self.keep not in ("last", "best"):
            raise ValueError(f"keep must be 'last' or 'best', not {self.keep!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


@dataclass
class Batch:
    ids: Int[Tensor, "batch pos"]
    mask: Int[Tensor, "batch pos"]
    response_mask: Float[Tensor, "batch steps"]
    rewards: Float[Tensor, "batch"]
    start: int  # column of the first response token


def collate(rollouts: Sequence[Rollout], pad_id: int, device: torch.device) -> Batch:
    """Prompts left-padded to one width, responses right-padded after them: response j sits at column start + j."""
    width = max(len(r.prompt_ids) for r in rollouts)
    steps = max(len(r.response_ids) for r in rollouts)
    b = len(rollouts)
    ids = torch.full((b, width + steps), pad_id, dtype=torch.long)
    mask = torch.zeros((b, width + steps), dtype=torch.long)
    resp = torch.zeros((b, steps))
    for i, r in enumerate(rollouts):
        p, n = len(r.prompt_ids), len(r.response_ids)
        ids[i, width - p:width] = torch.tensor(r.prompt_ids)
        ids[i, width:width + n] = torch.tensor(r.response_ids)
        mask[i, width - p:width + n] = 1
        resp[i, :n] = 1
    rewards = torch.tensor([r.reward for r in rollouts], dtype=torch.float32)
    return Batch(ids.to(device), mask.to(device), resp.to(device), rewards.to(device), width)


def response_values(model: ValueModel, batch: Batch) -> Float[Tensor, "batch steps"]:
    """V(s_1..s_T): the values at the response token positions."""
    out = model(batch.ids, batch.mask)
    return out.values[:, batch.start:]


def split_rollouts(rollouts: Sequence[Rollout], val_fraction: float, seed: int) -> tuple[list[Rollout], list[Rollout]]:
    """Seeded split by prompt, so samples of one prompt never sit on both sides."""
    prompts = sorted({r.prompt for r in rollouts})
    gen = torch.Generator().manual_seed(seed)
    order = [prompts[i] for i in torch.randperm(len(prompts), generator=gen).tolist()]
    n_val = max(1, round(len(order) * val_fraction))
    if len(order) < 2:
        raise ValueError("need rollouts of at least 2 distinct prompts to hold some out for validation")
    val = set(order[:n_val])
    return [r for r in rollouts if r.prompt not in val], [r for r in rollouts if r.prompt in val]


@torch.no_grad()
def evaluate_values(model: ValueModel, rollouts: Sequence[Rollout], cfg: TrainConfig, pad_id: int) -> dict[str, float]:
    """TD loss; squared error of V against the final reward (every position, and the last); Spearman(V_end, reward).

    The TD loss's targets move with the model, so `keep="best"` chooses the epoch by `mc_mse`,
    whose target (the episode's reward) does not. VAS uses only differences of Q between
    candidates, so a model that ranks well (Spearman) helps even before it is calibrated.
    """
    from scipy.stats import spearmanr

    model.eval()
    total, mc, weight, ends, rewards = 0.0, 0.0, 0.0, [], []
    for s in range(0, len(rollouts), cfg.batch_size):
        batch = collate(rollouts[s:s + cfg.batch_size], pad_id, model.device)
        values = response_values(model, batch)
        returns = td_lambda_returns(values, batch.rewards, batch.response_mask, cfg.gamma, cfg.lam)
        n = float(batch.response_mask.sum())
        total += float(value_loss(values, returns, batch.response_mask)) * n
        mc += float((((values - batch.rewards[:, None]) ** 2) * batch.response_mask).sum())
        weight += n
        last = batch.response_mask.sum(1).long() - 1
        ends.extend(values.gather(1, last[:, None]).squeeze(1).tolist())
        rewards.extend(batch.rewards.tolist())
    rho = spearmanr(ends, rewards).statistic if len(set(rewards)) > 1 and len(set(ends)) > 1 else float("nan")
    end_mse = sum((e - r) ** 2 for e, r in zip(ends, rewards)) / len(ends)
    return {"loss": total / weight, "mc_mse": mc / weight, "end_mse": end_mse, "spearman_end": float(rho)}


def train_value_model(
    model: ValueModel, rollouts: Sequence[Rollout], cfg: TrainConfig, pad_id: int, progress: bool = True,
    checkpoints: str | Path | None = None,
) -> dict[str, Any]:
    """Fit `model` in place; returns the history and the kept epoch's metrics (`cfg.keep`).

    Under `accelerate launch --num_processes N` every batch is collated whole on every rank (the
    same padding as one process) and rank r trains on its rows r, r + N, ...; squared-error sums
    and gradients are all-reduced and divided by the batch's response tokens, so N processes take
    one process's steps. With `checkpoints=`, the state after each epoch (trainable tensors, AdamW,
    the shuffling generator, RNG, history, the kept epoch) is saved and a re-run resumes from it.
    """
    rank, world = distributed.rank(), distributed.world_size()
    torch.manual_seed(cfg.seed)
    train, val = split_rollouts(rollouts, cfg.val_fraction, cfg.seed)
    mean_reward = sum(r.reward for r in train) / len(train)
    _init_bias(model, mean_reward)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    keys = ("train_loss", "val_loss", "val_mc_mse", "val_end_mse", "val_spearman_end")
    history: dict[str, list[float]] = {k: [] for k in keys}
    ckpt = Checkpoints(checkpoints) if checkpoints is not None else None
    found = ckpt.load() if ckpt is not None else None
    first = 0
    if found is None:
        start = evaluate_values(model, val, cfg, pad_id)
        best = (start["mc_mse"], -1, copy.deepcopy(model.trainable_state()), start)
    else:
        first, st = found
        model.load_trainable(st["trainable"], source="the checkpoint")
        opt.load_state_dict(st["optimizer"])
        gen.set_state(st["generator"])
        history, start = st["history"], st["start"]
        best = (st["best_score"], st["best_epoch"], st["best_state"], st["best_metrics"])
    bar = tqdm(range(first, cfg.epochs), desc="vas train", unit="epoch", disable=not (progress and rank == 0))
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(train), generator=gen).tolist()
        total, weight = 0.0, 0.0
        for s in range(0, len(perm), cfg.batch_size):
            batch = collate([train[i] for i in perm[s:s + cfg.batch_size]], pad_id, model.device)
            n = float(batch.response_mask.sum())  # the whole batch's response tokens
            opt.zero_grad(set_to_none=True)
            mine = slice(rank, None, world)
            sq = torch.zeros((), device=model.device)
            if len(batch.rewards[mine]):
                part = Batch(batch.ids[mine], batch.mask[mine], batch.response_mask[mine], batch.rewards[mine], batch.start)
                values = response_values(model, part)
                returns = td_lambda_returns(values, part.rewards, part.response_mask, cfg.gamma, cfg.lam)
                # value_loss's 0.5 * masked mean, as a sum over this rank's rows divided by the batch's count
                sq = 0.5 * (((values - returns) ** 2) * part.response_mask).sum()
                (sq / n).backward()
            loss = distributed.all_reduce_grads(params, sq.detach()) / n  # the gradients are already means
            check_finite(loss, f"epoch {epoch}, batch {s // cfg.batch_size}", "vas train: the TD loss",
                         f"lower the learning rate (--lr {cfg.lr}) or check the rewards, then re-run with --force")
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            total, weight = total + loss.item() * n, weight + n
        metrics = evaluate_values(model, val, cfg, pad_id)
        history["train_loss"].append(total / weight)
        history["val_loss"].append(metrics["loss"])
        history["val_mc_mse"].append(metrics["mc_mse"])
        history["val_end_mse"].append(metrics["end_mse"])
        history["val_spearman_end"].append(metrics["spearman_end"])
        bar.set_postfix(val_loss=f"{metrics['loss']:.4f}", rho=f"{metrics['spearman_end']:.2f}")
        if cfg.keep == "last" or metrics["mc_mse"] < best[0]:
            best = (metrics["mc_mse"], epoch, copy.deepcopy(model.trainable_state()), metrics)
        if ckpt is not None and epoch + 1 < cfg.epochs:
            ckpt.save(epoch + 1, {"trainable": model.trainable_state(), "optimizer": opt.state_dict(),
                                  "generator": gen.get_state(), "history": history, "start": start,
                                  "best_score": best[0], "best_epoch": best[1], "best_state": best[2],
                                  "best_metrics": best[3]})
        faults.point("vas epoch")
    model.load_trainable(best[2])
    model.eval()
    return {
        "config": asdict(cfg), "history": history, "best_epoch": best[1], "n_train": len(train), "n_val": len(val),
        "val_loss_before": start["loss"], "val_mc_mse_before": start["mc_mse"], "val_spearman_before": start["spearman_end"],
        "val_loss": best[3]["loss"], "val_mc_mse": best[3]["mc_mse"], "val_end_mse": best[3]["end_mse"],
        "val_spearman_end": best[3]["spearman_end"],
        "train_reward_mean": mean_reward, "processes": world,
    }


def _init_bias(model: ValueModel, value: float) -> None:
    """Start the head at the mean reward, so early TD targets are on the reward's scale."""
    last = model.head if isinstance(model.head, torch.nn.Linear) else model.head[-1]
    if not math.isfinite(value):
        raise ValueError("rewards hold NaN or infinite values")
    with torch.no_grad():
        last.bias.fill_(value)
