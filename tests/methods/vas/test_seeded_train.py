"""`vas train` twice with one seed gives bit-identical value models (issue 20, item 5): the LoRA adapter and
the value head are initialised after seeding, not before (they used to differ by up to 0.25)."""
import contextlib
import io

import torch

from interp.io import load_tensors


def test_vas_train_twice_with_one_seed_is_bit_identical(stories, tmp_path, monkeypatch):
    import interp
    import interp.models
    from app.cli import main

    load = lambda spec=None, device=None, **kw: stories  # noqa: E731
    monkeypatch.setattr(interp.models, "load_model", load)
    monkeypatch.setattr(interp, "load_model", load)
    prompts = tmp_path / "p.txt"
    prompts.write_text("once upon a time\nthe cat sat\nthe dog ran\nthe sun was\n")
    weights = []
    for out, noise in (("a", 0), ("b", 7)):
        torch.manual_seed(noise)  # whatever ran before in the process must not matter
        torch.rand(noise)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["vas", "train", "--model", "stories260k", "--prompts", str(prompts), "--max-new-tokens", "3",
                         "--batch-size", "4", "--out", str(tmp_path / out), "--adapter", "lora", "--lora-r", "2",
                         "--head", "mlp", "--val-fraction", "0.25", "--epochs", "1", "--seed", "0"]) == 0
        weights.append(load_tensors(tmp_path / out / "train" / "value.safetensors"))
    a, b = weights
    assert a.keys() == b.keys() and any("lora" in k for k in a)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"differ: {different[:5]}"
