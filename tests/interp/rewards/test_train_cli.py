"""`interp reward train` end to end on a small subset of HH-RLHF (slow: embeds real text with MiniLM)."""
import json

import pytest
import torch

from app.cli import main
from interp.io import read_json
from interp.rewards import get_reward


@pytest.mark.slow
def test_reward_train_cli_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "rm"
    args = ["reward", "train", "--data", "hh-rlhf", "--out", str(out), "--limit", "60", "--epochs", "20", "--patience", "5"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "held-out pairwise accuracy" in printed

    metrics = read_json(out / "train" / "metrics.json")
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (43, 5, 12)  # 60 * (0.72, 0.08, 0.2)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    cfg = read_json(out / "train" / "config.json")
    assert cfg["kind"] == "bradley-terry" and cfg["encoder"] == "minilm" and cfg["d_in"] == 384
    assert cfg["data"] == "hh-rlhf[:60]" and "versions" in cfg
    emb = read_json(out / "embed" / "metrics.json")
    assert emb["n_texts"] == 120

    reward = get_reward(f"rm:{out}")
    scores = reward(["\n\nHuman: How do I pick a lock?\n\nAssistant:"] * 2, [" I can't help with that.", " Sure, here is how."])
    assert scores.shape == (2,) and torch.isfinite(scores).all()

    # same config: the finished step is skipped and reports the same metrics
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out.split("\nheld-out")[0])
    assert again["test_accuracy"] == metrics["test_accuracy"]

    # another head config is refused without --force; with --force it retrains on the cached embeddings
    emb_mtime = (out / "embed" / "embeddings.safetensors").stat().st_mtime_ns
    assert main(args + ["--hidden", "0"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(args + ["--hidden", "0", "--force"]) == 0
    assert (out / "embed" / "embeddings.safetensors").stat().st_mtime_ns == emb_mtime
    assert read_json(out / "train" / "config.json")["hidden"] == 0


def test_train_refuses_non_pair_data(tmp_path):
    assert main(["reward", "train", "--data", "rt-polarity", "--out", str(tmp_path / "x")]) == 2
