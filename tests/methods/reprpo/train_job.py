"""A ReprPO training job run by the tests in a subprocess, under `accelerate launch` for several processes.

    python train_job.py OUT --method mse --transform hra --batch-size 1
Writes OUT/trainable.safetensors (main process) and OUT/metrics.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root, when run as a script


def job_pairs():
    from interp.data import genies

    return [p for p in genies("alpaca_easy", "test") if len(p.chosen) < 40 and len(p.rejected) < 40][:8]


def job_config(method: str, transform: str, batch_size: int):
    from methods.reprpo.config import ReprPOConfig

    return ReprPOConfig(model="stories260k", method=method, transform=transform, lr=1e-2, warmup_steps=1,
                        schedule="linear", batch_size=batch_size, epochs=1, max_length=96, max_prompt_length=64,
                        lora_r=4, lora_alpha=8, seed=3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--method", default="mse")
    ap.add_argument("--transform", default="hra")
    ap.add_argument("--batch-size", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from interp.io import save_tensors, write_json
    from interp.models import load_model
    from methods.reprpo.trainer import ReprPOTrainer

    model = load_model("stories260k", device="cpu")
    trainer = ReprPOTrainer(model, job_pairs(), job_config(args.method, args.transform, args.batch_size),
                            Path(args.out) / "train", progress=False)
    metrics = trainer.train()
    if trainer.acc.is_main_process:
        save_tensors(Path(args.out) / "trainable.safetensors", trainer.trainable_state())
        write_json(Path(args.out) / "metrics.json", {**metrics, "losses": [h["loss"] for h in trainer.history]})


if __name__ == "__main__":
    main()
