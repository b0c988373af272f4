"""End to end on stories260k through the CLI with small settings: every step, its artifacts, skip and resume."""
import shutil
import time

import pytest
import torch

from app.cli import main
from interp.io import read_json, read_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    runs = tmp_path_factory.mktemp("runs")
    start = time.time()
    assert main(["divergence", "run", "--name", "e2e", "--runs-dir", str(runs), "--small", "--device", "cpu"]) == 0
    print(f"end-to-end pipeline: {time.time() - start:.1f}s")
    return runs / "e2e"


def test_rlhf_outputs(run_dir):
    from interp import load_model

    m = read_json(run_dir / "rlhf" / "metrics.json")
    for k in ("base_reward", "tuned_reward"):
        assert m[k]["low"] <= m[k]["mean"] <= m[k]["high"]
    d = m["tuned_minus_base"]
    assert d["low"] <= d["mean"] <= d["high"]
    assert d["mean"] == pytest.approx(m["tuned_reward"]["mean"] - m["base_reward"]["mean"], abs=1e-6)
    curve = read_json(run_dir / "rlhf" / "reward_curve.json")
    assert [r["step"] for r in curve] == [1, 2, 3] and all("kl" in r for r in curve)
    rows = read_jsonl(run_dir / "rlhf" / "eval.jsonl")
    assert len(rows) == m["n_prompts"] and {"base_response", "tuned_response", "base_reward"} <= set(rows[0])
    tuned = load_model(str(run_dir / "rlhf" / "model"), device="cpu")  # a plain HF folder the bridge loads
    assert tuned.n_layers == 5 and any((run_dir / "rlhf" / "model").glob("*.safetensors"))


def test_trl_checkpoints_hold_no_full_pickle(run_dir):
    """Issue 20, item 9: TRL's checkpoints keep weights as safetensors, optimizer/scheduler/RNG states that load with
    torch.load(weights_only=True) (numpy's array types allowlisted, as TRL's resume reads rng_state.pth), and no
    training_args.bin (a full pickle nothing reads)."""
    from transformers.trainer_pt_utils import safe_globals

    from interp.io import load_torch
    from methods.reward_divergence.rlhf import PICKLED_ARGS

    checkpoints = sorted((run_dir / "rlhf" / "trl").glob("checkpoint-*"))
    assert checkpoints
    for ckpt in checkpoints:
        names = {p.name for p in ckpt.iterdir()}
        assert PICKLED_ARGS not in names, ckpt
        assert any(n.endswith(".safetensors") for n in names), names
        for p in ckpt.iterdir():
            if p.suffix in (".pt", ".pth", ".bin"):
                with safe_globals():
                    load_torch(p)  # tensors, plain containers and numpy arrays only, or WeightsRefused


def test_divergence_outputs(run_dir):
    div = read_json(run_dir / "divergence" / "divergence.json")
    assert len(div["param"]) == 5 and min(div["param"]) > 0  # full-weight tuning moved every layer
    assert len(div["mlp_out"]["l2"]) == len(div["resid_post"]["cos"]) == 5
    assert div["layers"] == sorted(range(5), key=lambda i: -div["param"][i])[:2]


def test_sae_outputs(run_dir):
    from sae_lens import SAE

    m = read_json(run_dir / "saes" / "metrics.json")
    assert len(m["saes"]) == 2 * 2 * 2  # models x layers x sizes
    for r in m["saes"]:
        assert r["l0"] <= 8 + 1e-6 and 0 <= r["dead_fraction"] <= 1
        assert r["explained_variance"] > 0.2
        assert r["ce_clean"] < r["ce_zero"]
        sae = SAE.load_from_disk(run_dir / r["path"])  # sae-lens' own format
        assert sae.cfg.d_in == 64 and sae.cfg.d_sae == int(64 * r["expansion"])
        assert sae.cfg.metadata.tokenizer_size == 512  # stories260k's: lets check_sae_for refuse another tokenizer
    kinds = {r["kind"] for r in m["mmcs"]}
    assert kinds == {"small_vs_big", "tuned_vs_base"}
    for r in m["mmcs"]:
        assert r["hungarian"] > r["hungarian_random"]  # trained dictionaries share more than chance


def test_feature_and_probe_outputs(run_dir):
    m = read_json(run_dir / "features" / "metrics.json")
    assert set(m["counts"]) == {"base", "tuned"}
    rows = read_jsonl(next((run_dir / "features" / "tuned").glob("*/x4.jsonl")))
    assert len(rows) == 256
    live = [r for r in rows if r["top"]]
    assert live and all(len(c["tokens"]) == len(c["acts"]) for r in live for c in r["top"])
    for r in rows:
        assert r["reward_related"] == (abs(r["corr"]) >= 0.1 and r["p"] < 0.01)
    probe = read_json(run_dir / "probe" / "results.json")
    assert set(probe) == {"tuned", "base"} and probe["tuned"]["n_test_words"] > 0
    words = read_jsonl(run_dir / "probe" / "words.jsonl")
    assert {"word", "lexicon", "predicted", "recovered"} <= set(words[0])


def test_rerun_skips_and_changed_config_is_refused(run_dir, capsys):
    runs = str(run_dir.parent)
    before = (run_dir / "saes" / "metrics.json").stat().st_mtime
    start = time.time()
    assert main(["divergence", "run", "--name", "e2e", "--runs-dir", runs, "--small", "--device", "cpu",
                 "--skip", "rlhf"]) == 0
    assert time.time() - start < 60 and (run_dir / "saes" / "metrics.json").stat().st_mtime == before
    capsys.readouterr()
    assert main(["divergence", "run", "--name", "e2e", "--runs-dir", runs, "--small", "--device", "cpu",
                 "--steps", "saes", "--sae-k", "4"]) == 2
    assert "another config (differs in: k)" in capsys.readouterr().err


def test_rlhf_resumes_from_trl_checkpoint(run_dir):
    """A run killed after step 2 resumes from TRL's checkpoint-2 and ends where the uninterrupted run did."""
    from safetensors.torch import load_file

    rlhf = run_dir / "rlhf"
    curve = read_json(rlhf / "reward_curve.json")
    weights = load_file(str(rlhf / "model" / "model.safetensors"))
    (rlhf / "metrics.json").unlink()
    shutil.rmtree(rlhf / "model")
    shutil.rmtree(rlhf / "trl" / "checkpoint-3")
    assert main(["divergence", "run", "--name", "e2e", "--runs-dir", str(run_dir.parent), "--small",
                 "--device", "cpu", "--steps", "rlhf"]) == 0
    again_curve = read_json(rlhf / "reward_curve.json")
    assert [r["step"] for r in again_curve] == [1, 2, 3]
    assert again_curve[:2] == curve[:2]  # restored from the checkpoint's log
    assert again_curve[2]["reward"] == pytest.approx(curve[2]["reward"], abs=1e-6)  # same sampling (RNG restored)
    again = load_file(str(rlhf / "model" / "model.safetensors"))
    assert again.keys() == weights.keys()
    assert all(torch.allclose(again[k], weights[k], atol=1e-5) for k in weights)
    # resuming a run whose last checkpoint is final trains no further step
    (rlhf / "metrics.json").unlink()
    assert main(["divergence", "run", "--name", "e2e", "--runs-dir", str(run_dir.parent), "--small",
                 "--device", "cpu", "--steps", "rlhf"]) == 0
    assert [r["step"] for r in read_json(rlhf / "reward_curve.json")] == [1, 2, 3]
