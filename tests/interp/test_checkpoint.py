"""interp.checkpoint: nested state round-trips through safetensors + JSON, RNG is restored, folders are atomic."""
import random

import numpy as np
import pytest
import torch

from interp.checkpoint import Checkpoints, pack, unpack


def test_state_round_trips_without_pickle(tmp_path):
    net = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
    net(torch.randn(5, 4)).sum().backward()
    opt.step()
    sched.step()
    gen = torch.Generator().manual_seed(3)
    tied = torch.ones(2, 2)
    state = {"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(),
             "best": (float("inf"), -1, {"w": tied, "w_again": tied}), "history": {"loss": [1.5, float("nan")]},
             7: "an int key"}
    ckpt = Checkpoints(tmp_path / "ck")
    ckpt.save(12, state)
    assert {p.name for p in (tmp_path / "ck" / "step-0000012").iterdir()} == {
        "state.safetensors", "state.json", "rng-rank0.safetensors", "rng-rank0.json", "done.json"}
    assert not list((tmp_path / "ck").rglob("*.pt"))
    want = (torch.rand(3), np.random.rand(), random.random())
    step, got = ckpt.load()
    assert step == 12 and (torch.rand(3).tolist(), np.random.rand(), random.random()) == (
        want[0].tolist(), want[1], want[2])  # every RNG is back where the checkpoint left it
    opt2 = torch.optim.AdamW(net.parameters(), lr=1e-2)
    opt2.load_state_dict(got["opt"])
    assert opt2.state_dict()["param_groups"][0]["betas"] == (0.9, 0.999)
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert got["best"][0] == float("inf") and got["best"][1] == -1 and torch.equal(got["best"][2]["w_again"], tied)
    assert got["history"]["loss"][0] == 1.5 and got["history"]["loss"][1] != got["history"]["loss"][1]
    assert got[7] == "an int key" and got["sched"]["last_epoch"] == 1
    g2 = torch.Generator()
    g2.set_state(got["gen"])
    assert torch.equal(torch.rand(4, generator=g2), torch.rand(4, generator=torch.Generator().manual_seed(3)))


def test_newest_whole_checkpoint_wins_and_older_ones_go(tmp_path):
    ckpt = Checkpoints(tmp_path, keep=2)
    for step in (1, 2, 3):
        ckpt.save(step, {"x": torch.tensor([step])})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-0000002", "step-0000003"]
    (tmp_path / ".step-0000004.tmp").mkdir()  # a save killed half way: never read
    assert ckpt.load()[1]["x"].item() == 3
    ckpt.clear()
    assert ckpt.load() is None and not tmp_path.exists()


def test_unknown_objects_are_refused():
    with pytest.raises(TypeError, match="cannot store object"):
        pack({"x": object()})
    tensors, skeleton = pack([1, (2, 3), {"a": None}])
    assert unpack(tensors, skeleton) == [1, (2, 3), {"a": None}]
