"""Every method x transform trains on stories260k; checkpoints resume to the same adapter."""
import pytest
import torch

from methods.reprpo.config import HIDDEN_METHODS, TRANSFORMS, ReprPOConfig
from methods.reprpo.trainer import ReprPOTrainer

COMBOS = [(m, "none") for m in ("dpo", "ipo", "projgrad", "projbp")] + [(m, t) for m in HIDDEN_METHODS for t in TRANSFORMS]


def tiny_config(**kw):
    base = dict(model="stories260k", lr=1e-2, warmup_steps=0, schedule="constant", batch_size=2, max_length=48,
                max_prompt_length=32, lora_r=4, lora_alpha=8)
    return ReprPOConfig(**{**base, **kw})


@pytest.mark.slow
@pytest.mark.parametrize("method, transform", COMBOS)
def test_each_method_and_transform_lowers_its_loss_on_a_fixed_batch(stories_model, short_pairs, method, transform):
    cfg = tiny_config(method=method, transform=transform, epochs=20)  # two pairs, batch two: the same batch 20 times
    trainer = ReprPOTrainer(stories_model, short_pairs[:2], cfg, progress=False)
    try:
        assert trainer.total_steps == 20 and len(trainer.data.pairs) == 2
        metrics = trainer.train()
    finally:
        trainer.close()
    hooks = [stories_model.bridge.hook_dict[f"blocks.{l}.hook_out"] for l in range(stories_model.n_layers)]
    assert not any(h._forward_hooks for h in hooks)  # close() detached the recording hooks
    losses = [h["loss"] for h in trainer.history]
    assert len(losses) == 20 and all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) / 5 < losses[0] - 1e-3, losses
    assert metrics["steps"] == 20 and metrics["layers"] == ([1, 2] if method in HIDDEN_METHODS else [])


@pytest.mark.slow
def test_resume_after_a_crash_gives_the_same_adapter(stories_model, short_pairs, tmp_path):
    cfg = tiny_config(method="mse", transform="hra", epochs=2, batch_size=2, save_every=2, schedule="cosine", warmup_steps=1)

    def run(out_dir, crash_at=None):
        trainer = ReprPOTrainer(stories_model, short_pairs, cfg, out_dir, progress=False)
        if crash_at is not None:
            step = trainer.train_step

            def crashing(idx):
                if trainer.step == crash_at:
                    raise KeyboardInterrupt("simulated crash")
                return step(idx)
            trainer.train_step = crashing
        try:
            trainer.train()
            return trainer.trainable_state(), trainer.history
        finally:
            trainer.close()

    want, hist = run(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "crashed", crash_at=5)
    assert (tmp_path / "crashed" / "checkpoints" / "step-0000004").is_dir()
    assert (tmp_path / "crashed" / "reference-rank0-of1.safetensors").exists()
    got, resumed = run(tmp_path / "crashed")
    assert len(hist) == 6  # 5 pairs survive truncation (3 dropped as identical), batch 2, 2 epochs
    assert [h["step"] for h in resumed] == [h["step"] for h in hist]
    assert [h["loss"] for h in resumed] == pytest.approx([h["loss"] for h in hist], abs=1e-5)
    for k in want:
        assert torch.allclose(got[k], want[k], atol=1e-5), k
    assert not (tmp_path / "crashed" / "checkpoints").exists()  # superseded by the final adapter
