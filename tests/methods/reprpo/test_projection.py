import torch

from interp.data.types import PreferencePair
from methods.reprpo.adapter import add_lora, remove_lora
from methods.reprpo.batches import collate, tokenize_pairs
from methods.reprpo.losses import dpo_loss
from methods.reprpo.policy import Policy, split_rows
from methods.reprpo.projection import ProjBP, ProjGrad, project

PAIRS = [PreferencePair("Lily went to the park.", " She saw a big dog.", " It rained."),
         PreferencePair("Once upon a time,", " there was a cat.", " a boy ran home.")]


def test_project_keeps_the_parallel_part_and_scales_the_rest():
    u = torch.tensor([1.0, 0.0, 0.0])
    g = torch.tensor([[2.0, 3.0, -1.0]])
    assert torch.allclose(project(g, u, 0.0), torch.tensor([[2.0, 0.0, 0.0]]))
    assert torch.allclose(project(g, u, 0.5), torch.tensor([[2.0, 1.5, -0.5]]))
    assert torch.allclose(project(g, u, 1.0), g)
    G = torch.randn(5, 3)
    assert (project(G, u, 0.0) * G).sum() >= 0  # still a descent direction


def dpo_backward(model, peft_model, projector=None, bp=False):
    data = tokenize_pairs(model.tokenizer, PAIRS, max_length=200, max_prompt_length=100)
    batch = collate(model, data.pairs)
    policy = Policy(model, peft_model)
    with projector.recording_reference(batch.state_mask) if projector else torch.no_grad():
        ref = policy.reference_outputs(batch)
    for p in peft_model.parameters():
        p.grad = None
    ctx = projector.projecting() if bp else torch.enable_grad()
    with ctx:
        out = policy(batch.input_ids, batch.attention_mask, batch.n_response)
    (c, r), (rc, rr) = split_rows(out["logps"]), split_rows(ref["logps"])
    dpo_loss(c, r, rc, rr, 0.1).mean().backward()


def perturb(peft_model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def test_projgrad_leaves_every_b_gradient_along_its_layer_direction(stories_model):
    peft_model = add_lora(stories_model, r=4, alpha=8)
    try:
        perturb(peft_model)
        proj = ProjGrad(peft_model, orth_scale=0.0)
        dpo_backward(stories_model, peft_model, proj)
        before = {n: l.lora_B["default"].weight.grad.clone() for n, l in proj.layers.items()}
        proj.project_gradients()
        for name, layer in proj.layers.items():
            u = torch.nn.functional.normalize(proj.directions[name].mean(0), dim=-1)
            g = layer.lora_B["default"].weight.grad  # [out, r]
            assert torch.allclose(g, torch.outer(u, u @ before[name]), atol=1e-6)
            assert (g * before[name]).sum() >= -1e-9
    finally:
        remove_lora(peft_model)


def test_projbp_projects_output_gradients_during_backprop(stories_model):
    peft_model = add_lora(stories_model, r=4, alpha=8)
    try:
        perturb(peft_model)
        plain = ProjBP(peft_model, orth_scale=1.0)  # s = 1: the identity, gradients unchanged
        dpo_backward(stories_model, peft_model)
        want = {n: p.grad.clone() for n, p in peft_model.named_parameters() if p.grad is not None}
        dpo_backward(stories_model, peft_model, plain, bp=True)
        for n, p in peft_model.named_parameters():
            if n in want:
                assert torch.allclose(p.grad, want[n], atol=1e-6), n

        proj = ProjBP(peft_model, orth_scale=0.0)
        seen = {}

        def spy(name):
            def hook(module, inputs, out):
                out.register_hook(lambda g: seen.__setitem__(name, g.detach().clone()))
            return hook

        data = tokenize_pairs(stories_model.tokenizer, PAIRS, max_length=200, max_prompt_length=100)
        batch = collate(stories_model, data.pairs)
        policy = Policy(stories_model, peft_model)
        with proj.recording_reference(batch.state_mask):
            policy.reference_outputs(batch)
        with proj.projecting():
            handles = [l.register_forward_hook(spy(n)) for n, l in proj.layers.items()]  # runs after the projection
            out = policy(batch.input_ids, batch.attention_mask, batch.n_response)
        out["logps"].sum().backward()
        for h in handles:
            h.remove()
        for name, g in seen.items():
            u = proj.directions[name]
            rows = torch.cat([u, u]).unsqueeze(1)  # [2n, 1, d]
            assert torch.allclose(g, (g * rows).sum(-1, keepdim=True) * rows, atol=1e-6), name
        assert len(seen) == len(proj.layers)
    finally:
        remove_lora(peft_model)


def test_projgrad_keeps_every_lora_b_column_in_the_span_of_its_directions_under_adamw(stories_model, short_pairs):
    """Adam rescales each coordinate on its own, so projecting the gradient alone lets B leave the span
    (|cos| ~0.8 on the unfixed code); the update itself must be projected."""
    from methods.reprpo.config import ReprPOConfig
    from methods.reprpo.trainer import ReprPOTrainer

    cfg = ReprPOConfig(model="stories260k", method="projgrad", lr=1e-2, warmup_steps=0, schedule="constant",
                       batch_size=2, max_length=48, max_prompt_length=32, lora_r=4, lora_alpha=8, epochs=1)
    trainer = ReprPOTrainer(stories_model, short_pairs, cfg, progress=False)
    try:
        trainer.precompute_reference()
        seen: dict[str, list[torch.Tensor]] = {}
        for step in range(3):
            trainer.train_step(trainer.batch_indices(step))
            for name, u in trainer.projector.directions.items():  # this step's per-pair directions
                seen.setdefault(name, []).append(torch.nn.functional.normalize(u.float().mean(0), dim=-1))
        moved = 0
        for name, layer in trainer.projector.layers.items():
            basis, _ = torch.linalg.qr(torch.stack(seen[name], 1))  # [out, k]: the span of the steps' directions
            b = layer.lora_B["default"].weight.detach().float()  # [out, r]
            for col in b.T:
                if col.norm() < 1e-8:
                    continue
                moved += 1
                cos = (basis @ (basis.T @ col)).norm() / col.norm()  # |cos| between the column and its projection
                assert cos > 0.999, (name, float(cos))
        assert moved >= len(trainer.projector.layers)  # the adapter did move
    finally:
        trainer.close()
