"""Two CPU processes (gloo, `accelerate launch`) give the same RE-Control store rows and validation loss as one.

Collection gives whole chunks of prompts to ranks round-robin, so each chunk is generated exactly as
one process generates it; value training splits every batch over the ranks and all-reduces gradient
sums, so the updates are one process's updates up to the order of float additions.
"""
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from interp.io import load_tensors, read_json, read_jsonl
from interp.store import ActivationStore

JOB = Path(__file__).with_name("multiprocess_job.py")
ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--model", "stories260k", "--dataset", "rt-polarity-prompts", "--reward", "vader-sentiment", "--device", "cpu",
         "--n-train", "24", "--max-new-tokens", "8", "--batch-size", "4", "--do-sample", "--seed", "5",
         "--depth", "1", "--width", "32", "--epochs", "12", "--train-batch-size", "5", "--val-fraction", "0.25",
         "--lr", "3e-3", "--quiet"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sorted_rows(store_dir: Path) -> dict[str, torch.Tensor]:
    data = ActivationStore.open(store_dir).read_all()
    order = torch.argsort(data["traj_id"] * 10_000 + data["t"])
    return {k: v[order] for k, v in data.items()}


@pytest.mark.slow
def test_two_processes_collect_and_train_value_like_one(tmp_path):
    from app.cli import main

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in ("collect", "label", "train-value"):
            assert main(["re-control", step, "--run", "one", "--runs", str(tmp_path), *FLAGS]) == 0
    finally:
        torch.set_num_threads(torch_threads)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    res = subprocess.run([*launcher, str(JOB), "--run", "two", "--runs", str(tmp_path), *FLAGS],
                         capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-4000:]
    one, two = tmp_path / "one", tmp_path / "two"

    # collect: two shard series, the same rows
    assert ActivationStore.open(two / "collect" / "states").world_size == 2
    assert len(list((two / "collect" / "states").glob("manifest-r*.json"))) == 2
    a, b = sorted_rows(one / "collect" / "states"), sorted_rows(two / "collect" / "states")
    assert a.keys() == b.keys() and a["traj_id"].shape[0] == 24 * 9
    for k in ("traj_id", "t", "n_states"):
        assert torch.equal(a[k], b[k]), k
    state_diff = float((a["final"] - b["final"]).abs().max())
    print(f"collect: {a['final'].shape[0]} rows, max |state difference| 1 vs 2 processes = {state_diff:.3g}")
    assert state_diff <= 1e-6
    assert read_jsonl(one / "collect" / "trajectories.jsonl") == read_jsonl(two / "collect" / "trajectories.jsonl")
    assert read_json(two / "collect" / "metrics.json")["processes"] == 2

    # label: the same rewards
    assert read_jsonl(one / "label" / "labels.jsonl") == read_jsonl(two / "label" / "labels.jsonl")

    # train-value: the same validation loss (and weights) as one process
    m1, m2 = read_json(one / "train-value" / "metrics.json"), read_json(two / "train-value" / "metrics.json")
    h1, h2 = read_json(one / "train-value" / "history.json"), read_json(two / "train-value" / "history.json")
    loss_diff = abs(m1["val_loss"] - m2["val_loss"])
    curve_diff = max(abs(x - y) for x, y in zip(h1["val_loss"], h2["val_loss"]))
    w1, w2 = load_tensors(one / "train-value" / "value.safetensors"), load_tensors(two / "train-value" / "value.safetensors")
    weight_diff = max(float((w1[k] - w2[k]).abs().max()) for k in w1)
    print(json.dumps({"val_loss_1": m1["val_loss"], "val_loss_2": m2["val_loss"], "val_loss_diff": loss_diff,
                      "max_val_loss_curve_diff": curve_diff, "max_weight_diff": weight_diff}))
    assert len(h1["val_loss"]) == len(h2["val_loss"]) == 12 and m1["best_epoch"] == m2["best_epoch"]
    assert loss_diff <= 1e-5 and curve_diff <= 1e-5
    assert m2["val_loss"] == pytest.approx(m1["val_loss"], abs=1e-5)
    assert not (two / "train-value" / "checkpoints").exists()  # superseded by the saved value function
