"""Bradley-Terry head: the loss by hand, training on a known preference direction, save/load as rm:PATH."""
import math

import pytest
import torch

from interp.rewards import BTConfig, BTHead, bt_loss, get_reward, pairwise_accuracy, train_head
from interp.rewards.bradley_terry import BradleyTerryReward, save_bt
from interp.rewards.encoders import ModelEncoder, SentenceEncoder


def test_bt_loss_and_accuracy_by_hand():
    # -log sigmoid(2 - 0) = log(1 + e^-2) = 0.126928; -log sigmoid(0) = log 2 = 0.693147; mean 0.410038
    loss = bt_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]))
    assert loss.item() == pytest.approx((math.log(1 + math.exp(-2)) + math.log(2)) / 2, abs=1e-6)
    # [1 > 0, 2 == 2 (half), 3 < 4] -> (1 + 0.5 + 0) / 3
    assert pairwise_accuracy(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 2.0, 4.0])) == pytest.approx(0.5)


def synthetic(n, d=16, seed=0):
    """Pairs whose chosen side is further along a hidden direction w (noisy)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.zeros(d)
    w[0] = 1.0
    a, b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    better = (a @ w) > (b @ w)
    chosen = torch.where(better[:, None], a, b)
    rejected = torch.where(better[:, None], b, a)
    return chosen, rejected


def test_training_learns_the_direction_and_is_seeded():
    c, r = synthetic(600)
    cfg = BTConfig(hidden=16, dropout=0.0, lr=3e-3, max_epochs=60, patience=10, seed=1)
    head, hist = train_head((c[:400], r[:400]), (c[400:500], r[400:500]), cfg, progress=False)
    with torch.no_grad():
        acc = pairwise_accuracy(head(c[500:]), head(r[500:]))
    assert acc > 0.9
    assert hist["epochs_run"] >= hist["best_epoch"] + 1
    assert hist["val_loss"][hist["best_epoch"]] == pytest.approx(min(hist["val_loss"]))
    head2, _ = train_head((c[:400], r[:400]), (c[400:500], r[400:500]), cfg, progress=False)
    for k, v in head.state_dict().items():
        assert torch.equal(v, head2.state_dict()[k]), k


def test_save_load_roundtrip_as_rm(tmp_path):
    head = BTHead(384, hidden=8, dropout=0.0)
    torch.nn.init.normal_(head.net[0].weight)
    cfg = BTConfig(hidden=8, dropout=0.0)
    save_bt(tmp_path / "rm" / "train", head, cfg)
    reward = get_reward(f"rm:{tmp_path / 'rm'}")  # a run directory finds its train/ step
    prompts, responses = ["How are you?", "Hi"], [" I am well, thank you.", " Go away."]
    got = reward(prompts, responses)
    emb = SentenceEncoder("minilm")(prompts, responses)
    assert emb.shape == (2, 384) and torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-4)
    with torch.no_grad():
        want = head.eval()(emb)
    assert got.dtype == torch.float32 and torch.allclose(got, want, atol=1e-5)


def test_refusals(tmp_path):
    with pytest.raises(FileNotFoundError, match="interp reward train"):
        get_reward(f"rm:{tmp_path}")
    save_bt(tmp_path, BTHead(10, 4), BTConfig(hidden=4))
    with pytest.raises(ValueError, match="10-d embeddings but encoder 'minilm' gives 384-d"):
        BradleyTerryReward.load(tmp_path)
    with pytest.raises(ValueError, match="need training and validation pairs"):
        train_head((torch.zeros(0, 3), torch.zeros(0, 3)), (torch.zeros(1, 3), torch.zeros(1, 3)), BTConfig())


def test_model_encoder_pools_final_state_like_unbatched_capture():
    from interp.activations import capture

    enc = ModelEncoder("tiny-random-llama", pool="mean", max_length=64, device="cpu", batch_size=2)
    prompts, responses = ["short", "a much longer prompt here", "mid size"], [" a", " b", ""]
    got = enc(prompts, responses)
    assert got.shape == (3, enc.model.d_model)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        ids, mask = enc.model.pad([enc.model.tokenizer(p + r)["input_ids"]])
        want = next(iter(capture(enc.model, ids, mask, sites=["final"], pool="mean").values()))[0]
        assert torch.allclose(got[i], want, atol=1e-4), i


def test_a_response_only_model_ignores_the_prompt(tmp_path):
    head = BTHead(384, hidden=8, dropout=0.0)
    torch.nn.init.normal_(head.net[0].weight)
    save_bt(tmp_path / "joined", head, BTConfig(hidden=8, dropout=0.0))
    save_bt(tmp_path / "response", head, BTConfig(hidden=8, dropout=0.0, text="response"))
    joined, alone = BradleyTerryReward.load(tmp_path / "joined"), BradleyTerryReward.load(tmp_path / "response")
    assert alone.cfg.text == "response" and joined.cfg.text == "joined"
    responses = [" I am well, thank you.", " I am well, thank you."]
    prompts = ["How are you?", "Tell me how to hurt someone."]
    assert not torch.allclose(*joined(prompts, responses))  # the prompt changes the joined score
    a = alone(prompts, responses)
    assert torch.equal(a[0], a[1])
    with torch.no_grad():
        want = head.eval()(SentenceEncoder("minilm")(["", ""], responses))
    assert torch.allclose(a, want, atol=1e-5)
    with pytest.raises(ValueError, match="joined, response"):
        BTConfig(text="prompt")
