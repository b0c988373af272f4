"""Loss formulas: DPO/IPO against TRL's DPOTrainer.compute_loss in float64, hidden-state losses by hand."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from methods.reprpo.losses import LossInputs, dpo_loss, ipo_loss, mse, prefvec, rank
from methods.reprpo.transforms import LayerTransforms


class FixedLogprobs(torch.nn.Module):
    """Stand-in policy for TRL: returns the given per-token log-probabilities (0 outside the completion,
    as TRL's fused head does for labels -100) whatever the input."""

    def __init__(self, per_token):
        super().__init__()
        self.per_token = per_token
        self.dummy = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def forward(self, input_ids=None, labels=None, **kwargs):
        lp = self.per_token
        shape = lp.shape
        return SimpleNamespace(log_probs=lp, entropy=torch.zeros(shape, dtype=lp.dtype),
                               mean_logits=torch.zeros(shape, dtype=lp.dtype), is_top1=torch.zeros(shape, dtype=torch.bool))


@pytest.fixture
def fresh_accelerate_state():
    """TRL's trainer initialises Accelerate's process-wide state (with its own mixed precision); reset it
    afterwards so later trainers in this process start clean."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


def trl_trainer(tmp_path, loss_type: str, beta: float):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from interp.models.registry import registered_folder

    path = registered_folder("tiny-random-llama")
    tok = AutoTokenizer.from_pretrained(path)
    tok.pad_token = tok.pad_token or tok.eos_token
    args = DPOConfig(output_dir=str(tmp_path / loss_type), beta=beta, loss_type=[loss_type], report_to=[], use_cpu=True,
                     precompute_ref_log_probs=True, per_device_train_batch_size=2, save_strategy="no")
    ds = Dataset.from_list([{"prompt": "Hello", "chosen": " yes", "rejected": " no"}] * 2)
    return DPOTrainer(model=AutoModelForCausalLM.from_pretrained(path), args=args, train_dataset=ds, processing_class=tok)


def fixed_batch(n=3, width=9, seed=0):
    """Per-token log-probs of 2n rows [chosen; rejected] and TRL-style inputs with prompts of different lengths."""
    g = torch.Generator().manual_seed(seed)
    completion = torch.zeros(2 * n, width, dtype=torch.long)
    for i in range(2 * n):
        start = 2 + i % 3  # prompt tokens first, then the completion
        completion[i, start:width - i % 2] = 1
    per_token = -torch.rand(2 * n, width - 1, generator=g, dtype=torch.float64) * 3
    per_token = per_token * completion[:, 1:]  # TRL's fused head gives 0 where labels are -100
    ref = -torch.rand(2 * n, generator=g, dtype=torch.float64) * 20
    inputs = {"input_ids": torch.ones(2 * n, width, dtype=torch.long), "attention_mask": torch.ones(2 * n, width, dtype=torch.long),
              "completion_mask": completion, "ref_chosen_logps": ref[:n], "ref_rejected_logps": ref[n:]}
    return per_token, inputs


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_and_ipo_equal_trl_compute_loss(tmp_path, beta, fresh_accelerate_state):
    per_token, inputs = fixed_batch()
    sums = per_token.sum(1)
    n = sums.shape[0] // 2
    ref = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
    lengths = inputs["completion_mask"][:, 1:].sum(1).double()

    trainer = trl_trainer(tmp_path, "sigmoid", beta)
    assert trainer.precompute_ref_logps
    theirs = trainer.compute_loss(FixedLogprobs(per_token), dict(inputs))
    ours = dpo_loss(sums[:n], sums[n:], *ref, beta=beta).mean()
    assert theirs.dtype == torch.float64
    assert abs(float(theirs) - float(ours)) < 1e-10

    trainer = trl_trainer(tmp_path, "ipo", beta)
    theirs = trainer.compute_loss(FixedLogprobs(per_token), dict(inputs))
    ours = ipo_loss(sums[:n], sums[n:], *ref, beta=beta, n_tokens_chosen=lengths[:n], n_tokens_rejected=lengths[n:]).mean()
    assert abs(float(theirs) - float(ours)) < 1e-10


def test_dpo_and_summed_ipo_formulas():
    c, r, rc, rr = (torch.tensor([x], dtype=torch.float64) for x in (-3.0, -5.0, -4.0, -4.5))
    z = (-3.0 + 4.0) - (-5.0 + 4.5)  # 1.5
    assert torch.allclose(dpo_loss(c, r, rc, rr, beta=0.1), -F.logsigmoid(torch.tensor([0.15], dtype=torch.float64)))
    assert torch.allclose(ipo_loss(c, r, rc, rr, beta=0.1), torch.tensor([(z - 5.0) ** 2], dtype=torch.float64))


def states(n=4, layers=2, d=8, seed=0, same_policy=False):
    g = torch.Generator().manual_seed(seed)
    a0, b0 = torch.randn(n, layers, d, generator=g), torch.randn(n, layers, d, generator=g)
    if same_policy:
        a, b = a0.clone(), b0.clone()
    else:
        a, b = a0 + 0.3 * torch.randn(n, layers, d, generator=g), b0 + 0.3 * torch.randn(n, layers, d, generator=g)
    lp = torch.randn(4, n, generator=g)
    return LossInputs(lp[0], lp[1], lp[2], lp[3], torch.full((n,), 5.0), torch.full((n,), 6.0), a, b, a0, b0)


def test_mse_is_zero_rerouting_when_rejected_reaches_reference_chosen():
    x = states()
    x.states_rejected = x.ref_states_chosen.clone()
    x.states_chosen = x.ref_states_chosen.clone()
    loss, info = mse(x, alpha=1.0, eps=0.1)
    assert info["reroute"] == pytest.approx(torch.log(torch.tensor(0.1)).item(), abs=1e-5)
    assert loss.item() == pytest.approx(2 * torch.log(torch.tensor(0.1)).item(), abs=1e-5)
    at_start, _ = mse(states(same_policy=True), alpha=1.0, eps=0.1)  # rejected one reference distance away
    assert at_start.item() == pytest.approx(0.5 * torch.log(torch.tensor(1.01)).item() + torch.log(torch.tensor(0.1)).item(), abs=1e-5)


def test_prefvec_rewards_movement_along_the_reference_direction_only():
    x = states(same_policy=True)
    v = x.ref_states_chosen - x.ref_states_rejected
    start, _ = prefvec(x)
    moved = states(same_policy=True)
    moved.states_chosen = moved.states_chosen + 0.5 * v  # s = 0.5, no orthogonal movement
    loss, info = prefvec(moved, alpha=1.0, orth_weight=0.5)
    assert info["along"] == pytest.approx(0.5, abs=1e-5) and info["orthogonal"] == pytest.approx(0.0, abs=1e-6)
    assert loss < start
    assert loss.item() == pytest.approx(-torch.tanh(torch.tensor(0.5)).item() + info["retain"], abs=1e-5)


def test_rank_starts_at_log2_and_retain_is_a_hinge_on_the_dpo_margin():
    x = states(same_policy=True)
    loss, info = rank(x, alpha=0.0, beta=1.0)
    assert info["reroute"] == pytest.approx(torch.log(torch.tensor(2.0)).item(), abs=1e-6)
    z = x.logratio_margin()
    _, info = rank(x, alpha=1.0)
    assert info["retain"] == pytest.approx(torch.relu(-z).mean().item(), abs=1e-6)


def test_orthogonal_transforms_leave_mse_and_prefvec_unchanged_but_not_rank():
    torch.manual_seed(1)
    x = states(d=8, layers=2)
    for kind in ("ortho", "hra", "ether"):
        t = LayerTransforms(kind, 2, 8, hra_r=3, ether_blocks=2)
        with torch.no_grad():
            for p in t.parameters():
                p.add_(torch.randn_like(p))
        y = LossInputs(x.logp_chosen, x.logp_rejected, x.ref_logp_chosen, x.ref_logp_rejected, x.n_tokens_chosen,
                       x.n_tokens_rejected, t(x.states_chosen), t(x.states_rejected), t(x.ref_states_chosen), t(x.ref_states_rejected))
        assert torch.allclose(mse(x)[0], mse(y)[0], atol=1e-5)
        assert torch.allclose(prefvec(x)[0], prefvec(y)[0], atol=1e-5)
        assert not torch.allclose(rank(x)[0], rank(y)[0], atol=1e-4)
