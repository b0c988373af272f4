"""The ReprPO training loop: LoRA on the policy, reference = adapter disabled, run under Accelerate.

Setup: seed, tokenize (identical pairs dropped and counted), add LoRA (+ transforms), AdamW with
linear warm-up then the chosen schedule, gradient clipping. Each epoch is a seeded permutation of
the pairs cut into global batches of batch_size x processes; rank r trains on every W-th pair of
a global batch, so W processes follow the trajectory of one process with a W times larger batch.
Reference log-probabilities, pooled reference states and (ProjGrad/ProjBP) the per-layer
reference preference directions are computed once per pair, before training, for the pairs this
rank will see, and cached in `out_dir` (reused on resume). One exception: the reference variant's
rank loss pools log_softmax(T(h)) per token, so with a learned transform its reference states
depend on the current transform and are recomputed at each step.
Checkpoints (adapter, transforms, optimizer, scheduler, step, history, RNG) are resumable.
"""
from __future__ import annotations

import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from tqdm.auto import tqdm

from interp import faults
from interp.io import load_tensors, save_tensors, write_jsonl
from interp.training_guard import check_finite
from methods.reprpo.adapter import add_lora, remove_lora, save_adapter
from methods.reprpo.batches import PairBatch, TokenizedPairs, collate, tokenize_pairs
from methods.reprpo.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from methods.reprpo.config import ReprPOConfig
from methods.reprpo.layers import parse_layers
from methods.reprpo.losses import LossInputs, compute_loss
from methods.reprpo.policy import Policy, split_rows
from methods.reprpo.projection import ProjBP, ProjGrad
from methods.reprpo.reading import make_reading
from methods.reprpo.transforms import LayerTransforms

if TYPE_CHECKING:
    from interp.data.types import PreferencePair
    from interp.models.model import Model


def lr_lambda(schedule: str, warmup: int, total: int):
    """Linear warm-up over `warmup` steps, then constant, linear or cosine decay to zero at `total`."""
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        frac = min(1.0, (step - warmup) / max(1, total - warmup))
        return 1.0 - frac if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))
    return f


@dataclass
class StepResult:
    loss: float
    info: dict[str, float]
    seconds: float


class ReprPOTrainer:
    def __init__(self, model: "Model", pairs: Sequence["PreferencePair"], cfg: ReprPOConfig,
                 out_dir: str | Path | None = None, accelerator=None, progress: bool = True):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs, set_seed

        self.cfg, self.model, self.progress = cfg, model, progress
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.acc = accelerator or Accelerator(
            cpu=model.device.type == "cpu", mixed_precision=cfg.mixed_precision,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        set_seed(cfg.seed)
        eos = model.eos_token_ids[0] if (cfg.add_eos and model.eos_token_ids) else None
        self.data: TokenizedPairs = tokenize_pairs(model.tokenizer, pairs, cfg.max_length, cfg.max_prompt_length, eos)
        if not self.data.pairs:
            raise ValueError(f"no usable pairs left after tokenization ({self.data.summary()})")
        self.layers = parse_layers(cfg.layers, model.n_layers) if cfg.uses_hidden_states else []
        peft_model = add_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets)
        try:
            self._setup(model, cfg, peft_model)
        except BaseException:
            if getattr(self, "policy", None) is not None:
                self.policy.stop_recording()
            remove_lora(peft_model)  # a failed setup leaves the model as it found it
            raise

    def _setup(self, model: "Model", cfg: ReprPOConfig, peft_model) -> None:
        transforms, reading = None, None
        if cfg.uses_hidden_states:
            reading = make_reading(cfg.variant, model, self.layers)
            transforms = LayerTransforms(cfg.transform, len(reading.dims), reading.dims, cfg.hra_r, cfg.ether_blocks,
                                         reference=cfg.is_reference, ether_reduction=cfg.ether_reduction)
            transforms.to(model.device)
        self.policy = Policy(model, peft_model, reading, transforms,
                             pooling="all_sink" if cfg.is_reference else "response", sink_threshold=cfg.sink_threshold,
                             per_token_log_softmax=cfg.is_reference and cfg.method == "rank")
        self.policy.start_recording()
        # reference rank with a learned transform: pooled log_softmax(T(h)) of the reference changes with T
        self.ref_states_each_step = self.policy.per_token_log_softmax and cfg.transform != "none"
        self.projector = None
        if cfg.method == "projgrad":
            self.projector = ProjGrad(peft_model, cfg.orth_scale)
        elif cfg.method == "projbp":
            self.projector = ProjBP(peft_model, cfg.orth_scale, cfg.leaky_slope, cfg.mag_clip)

        # a global batch of batch_size * world pairs per step; rank r takes every W-th of them, so
        # W processes with batch b follow the same trajectory as one process with batch W*b
        world = self.acc.num_processes
        n = len(self.data.pairs)
        if n < world:
            raise ValueError(f"{n} pairs cannot feed {world} processes")
        self.global_batch = cfg.batch_size * world
        self.batches_per_epoch = math.ceil(n / self.global_batch)
        if n % self.global_batch and n % self.global_batch < world:
            self.batches_per_epoch -= 1  # a last global batch too small to give every rank a pair
        self.total_steps = cfg.epochs * self.batches_per_epoch
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, int(cfg.max_steps))

        params = [p for p in self.policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(cfg.schedule, cfg.warmup_steps, self.total_steps))
        # the scheduler is stepped by hand once per optimizer step (Accelerate would step it once per process)
        self.wrapped, self.optimizer = self.acc.prepare(self.policy, self.optimizer)
        self.reference: dict[int, dict[str, torch.Tensor]] = {}
        self.history: list[dict[str, Any]] = []
        self.step = 0

    # ---- data ------------------------------------------------------------------------------
    def global_indices(self, step: int) -> list[int]:
        """Indices (into self.data.pairs) of the global batch at `step`: a seeded permutation per epoch."""
        epoch, k = divmod(step, self.batches_per_epoch)
        g = torch.Generator().manual_seed(self.cfg.seed * 100_003 + epoch)
        order = torch.randperm(len(self.data.pairs), generator=g).tolist()
        return order[k * self.global_batch:(k + 1) * self.global_batch]

    def batch_indices(self, step: int) -> list[int]:
        """This rank's share of the global batch at `step`."""
        return self.global_indices(step)[self.acc.process_index::self.acc.num_processes]

    def collate(self, idx: Sequence[int]) -> PairBatch:
        return collate(self.model, [self.data.pairs[i] for i in idx])

    # ---- reference ----------------------------------------------------------------------------
    def pool_mask(self, batch: PairBatch) -> torch.Tensor:
        """The tokens pooled into one state per row: the response (ours) or every real token (reference)."""
        return batch.attention_mask.bool() if self.cfg.is_reference else batch.state_mask

    def precompute_reference(self) -> None:
        """Reference log-probs, pooled states and projection directions of every pair this rank will train on, once."""
        needed = sorted({i for step in range(self.step, self.total_steps) for i in self.batch_indices(step)})
        cache = None
        if self.out_dir is not None:
            cache = self.out_dir / f"reference-rank{self.acc.process_index}-of{self.acc.num_processes}.safetensors"
            if cache.exists() and not self.reference:
                t = load_tensors(cache, device=str(self.model.device))
                if "states" in t:  # written before states were kept per site: [pairs, 2, layer, d]
                    for k, s in enumerate(t.pop("states").unbind(2)):
                        t[f"states.{k}"] = s
                for j, i in enumerate(t["index"].tolist()):
                    self.reference[i] = {k: v[j] for k, v in t.items() if k != "index"}
        missing = [i for i in needed if i not in self.reference]
        if not missing:
            return
        bs = self.cfg.batch_size
        chunks = [missing[i:i + bs] for i in range(0, len(missing), bs)]
        maps = None if self.ref_states_each_step else self.policy.token_maps()
        for idx in tqdm(chunks, desc="reference pass", disable=not (self.progress and self.acc.is_main_process)):
            batch = self.collate(idx)
            n = len(idx)
            if self.projector is not None:
                with self.projector.recording_reference(self.pool_mask(batch)):
                    out = self.policy.reference_outputs(batch)
                dirs = self.projector.pair_entries(n)
            else:
                out, dirs = self.policy.reference_outputs(batch, maps), None
            for j, i in enumerate(idx):
                entry = {"logps": torch.stack([out["logps"][j], out["logps"][n + j]])}
                if "states" in out and not self.ref_states_each_step:
                    for k, s in enumerate(out["states"]):
                        entry[f"states.{k}"] = torch.stack([s[j], s[n + j]])
                if dirs is not None:
                    entry.update(dirs[j])
                self.reference[i] = entry
        if cache is not None:
            keys = sorted(self.reference)
            tensors = {"index": torch.tensor(keys)}
            for name in self.reference[keys[0]]:
                tensors[name] = torch.stack([self.reference[i][name] for i in keys])
            save_tensors(cache, tensors)

    def _reference_for(self, idx: Sequence[int], batch: PairBatch) -> dict[str, Any]:
        entries = [self.reference[i] for i in idx]
        ref: dict[str, Any] = {"logps": torch.cat([torch.stack([e["logps"][0] for e in entries]),
                                                   torch.stack([e["logps"][1] for e in entries])])}
        n_sites = sum(1 for k in entries[0] if k.startswith("states."))
        if n_sites:
            ref["states"] = [torch.cat([torch.stack([e[f"states.{k}"][0] for e in entries]),
                                        torch.stack([e[f"states.{k}"][1] for e in entries])]) for k in range(n_sites)]
        if self.ref_states_each_step:
            ref["states"] = self.policy.reference_outputs(batch, self.policy.token_maps())["states"]
        if self.projector is not None:
            self.projector.use(entries)
        return ref

    # ---- one step --------------------------------------------------------------------------
    def train_step(self, idx: Sequence[int]) -> StepResult:
        t0 = time.perf_counter()
        batch = self.collate(idx)
        ref = self._reference_for(idx, batch)
        self.wrapped.train()
        ctx = self.projector.projecting() if isinstance(self.projector, ProjBP) else nullcontext()
        with ctx:
            out = self.wrapped(batch.input_ids, batch.attention_mask, batch.n_response, ref.get("states"))
        lc, lr_ = split_rows(out["logps"])
        rc, rr = split_rows(ref["logps"].to(out["logps"].dtype))
        nc, nr = split_rows(out["n_tokens"].float())
        x = LossInputs(lc, lr_, rc, rr, nc, nr)
        if "ref_states" in out:
            states, refs = out["states"], out["ref_states"]
            if not self.cfg.is_reference:  # ours: one width, stacked [rows, layer, d]
                x.states_chosen, x.states_rejected = split_rows(torch.stack(states, 1))
                x.ref_states_chosen, x.ref_states_rejected = split_rows(torch.stack(refs, 1))
            else:
                x.states_chosen, x.states_rejected = (list(t) for t in zip(*(split_rows(s) for s in states)))
                x.ref_states_chosen, x.ref_states_rejected = (list(t) for t in zip(*(split_rows(s) for s in refs)))
        loss, info = compute_loss(self.cfg, x)
        check_finite(loss, self.step, f"reprpo {self.cfg.method} loss",
                     f"lower the learning rate (--lr {self.cfg.lr}), then re-run with --force")
        self.acc.backward(loss)
        if isinstance(self.projector, ProjGrad):
            reduce = (lambda t: self.acc.reduce(t, "mean")) if self.acc.num_processes > 1 else None
            info.update(self.projector.project_gradients(reduce))
        info["grad_norm"] = float(self.acc.clip_grad_norm_(
            [p for p in self.policy.parameters() if p.requires_grad], self.cfg.max_grad_norm))
        with self.projector.projecting_update() if isinstance(self.projector, ProjGrad) else nullcontext():
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        logged = self.acc.reduce(loss.detach(), "mean") if self.acc.num_processes > 1 else loss.detach()
        return StepResult(float(logged), info, time.perf_counter() - t0)  # info: this rank's batch

    # ---- the loop --------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach() for n, p in self.policy.named_parameters() if p.requires_grad}

    def load_trainable(self, tensors: dict[str, torch.Tensor]) -> None:
        params = dict(self.policy.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and n not in tensors]
        if missing:
            raise ValueError(f"checkpoint lacks trained weights {missing[:3]}; it belongs to another configuration")
        with torch.no_grad():
            for n, t in tensors.items():
                params[n].copy_(t.to(params[n].device, params[n].dtype))

    def resume(self) -> None:
        if self.out_dir is None:
            return
        path = latest_checkpoint(self.out_dir / "checkpoints")
        if path is None:
            return
        self.step, trainable, self.history = load_checkpoint(path, self.optimizer, self.scheduler, self.acc)
        self.load_trainable(trainable)

    def checkpoint(self) -> None:
        if self.out_dir is not None:
            save_checkpoint(self.out_dir / "checkpoints", self.step, self.trainable_state(), self.optimizer,
                            self.scheduler, self.history, self.acc)

    def train(self) -> dict[str, Any]:
        self.resume()
        self.precompute_reference()
        bar = tqdm(total=self.total_steps, initial=self.step, desc=f"reprpo {self.cfg.method}",
                   disable=not (self.progress and self.acc.is_main_process))
        while self.step < self.total_steps:
            r = self.train_step(self.batch_indices(self.step))
            self.step += 1
            row = {"step": self.step, "loss": r.loss, "lr": self.scheduler.get_last_lr()[0], "seconds": r.seconds, **r.info}
            self.history.append(row)
            bar.update(1)
            bar.set_postfix(loss=f"{r.loss:.4f}")
            if self.step % self.cfg.save_every == 0 and self.step < self.total_steps:
                self.checkpoint()
            faults.point("reprpo step")
        bar.close()
        return self.finish()

    def close(self) -> None:
        """Detach the recording hooks and take the LoRA layers out of the model (it is the reference again)."""
        self.policy.stop_recording()
        remove_lora(self.policy.peft)

    def finish(self) -> dict[str, Any]:
        """Save the adapter (+ transforms) and the loss history; return summary metrics."""
        if self.out_dir is not None and self.acc.is_main_process:
            extra = {f"transforms.{k}": v for k, v in self.policy.transforms.state_dict().items()} \
                if self.policy.transforms is not None else {}
            save_adapter(self.policy.peft, self.out_dir / "adapter", extra)
            write_jsonl(self.out_dir / "history.jsonl", self.history)
            shutil.rmtree(self.out_dir / "checkpoints", ignore_errors=True)  # the finished adapter supersedes them
        self.acc.wait_for_everyone()
        losses = [h["loss"] for h in self.history]
        secs = [h["seconds"] for h in self.history]
        k = max(1, len(losses) // 10)
        return {
            **self.data.summary(), "steps": self.step, "world_size": self.acc.num_processes,
            "layers": self.layers, "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "loss_first_tenth": sum(losses[:k]) / k if losses else None,
            "loss_last_tenth": sum(losses[-k:]) / k if losses else None,
            "seconds_per_step": sum(secs) / len(secs) if secs else None,
        }

