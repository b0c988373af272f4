"""Training with sae-lens on our iterator, saving in its format, and the quality metrics."""
import json

import pytest
import torch

from interp import mlp_out
from interp.sae import (
    SAETrainConfig, ce_loss_recovered, load_sae, reconstruction_stats, save_sae, tensor_provider, train_sae,
)


def sparse_data(n: int, d: int, n_atoms: int, code_seed: int = 0):
    """Rows that are sparse non-negative mixtures of n_atoms unit directions (one fixed dictionary)."""
    atoms = torch.randn(n_atoms, d, generator=torch.Generator().manual_seed(1234))
    atoms = atoms / atoms.norm(dim=1, keepdim=True)
    g = torch.Generator().manual_seed(code_seed)
    codes = (torch.rand(n, n_atoms, generator=g) < 3 / n_atoms).float() * (0.5 + torch.rand(n, n_atoms, generator=g))
    return codes @ atoms


@pytest.mark.parametrize("arch", ["topk", "standard"])
def test_train_save_load_roundtrip(tmp_path, arch):
    d = 16
    data = sparse_data(4096, d, 32)
    cfg = SAETrainConfig(architecture=arch, expansion=2, k=4, l1_coefficient=1.0, lr=3e-3, batch_size=256,
                         training_tokens=256 * 150, n_batches_for_norm_estimate=5)
    sae = train_sae(tensor_provider(data, cfg.batch_size), d, cfg, metadata={"hook_name": "blocks.0.mlp.hook_out"})
    folder = save_sae(sae, tmp_path / "sae")
    cfg_json = json.loads((folder / "cfg.json").read_text())
    assert cfg_json["architecture"] == arch and cfg_json["d_sae"] == 32 and cfg_json["d_in"] == d
    assert cfg_json["metadata"]["hook_name"] == "blocks.0.mlp.hook_out"
    loaded = load_sae(folder)
    held_out = sparse_data(512, d, 32, code_seed=1)  # same dictionary, unseen rows
    with torch.no_grad():
        assert torch.allclose(loaded.decode(loaded.encode(held_out)), sae.decode(sae.encode(held_out)), atol=1e-5)
    stats = reconstruction_stats(loaded, [held_out[:300], held_out[300:]])
    assert stats["n_tokens"] == 512
    untrained = reconstruction_stats(
        train_sae(tensor_provider(data, 256), d, SAETrainConfig(architecture=arch, expansion=2, k=4, batch_size=256,
                                                                 training_tokens=256, lr=1e-9,
                                                                 n_batches_for_norm_estimate=1)),
        [held_out])
    assert stats["explained_variance"] > 0.6
    assert stats["explained_variance"] > untrained["explained_variance"] + 0.3
    if arch == "topk":
        assert stats["l0"] <= 4 + 1e-6
    else:
        assert 0 < stats["l0"] < 32


def pm_identity_sae(d: int, scale_dec: float = 1.0):
    """A real sae-lens StandardSAE with W_enc = [I, -I], W_dec = [I; -I]: relu(x) - relu(-x) = x exactly."""
    from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=d, d_sae=2 * d))
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], dim=1))
        sae.b_enc.zero_()
        sae.W_dec.copy_(scale_dec * torch.cat([eye, -eye], dim=0))
        sae.b_dec.zero_()
    return sae.eval()


def test_reconstruction_stats_of_an_exact_sae():
    sae = pm_identity_sae(8)
    x = torch.rand(100, 8) + 0.1  # all positive: the -I half never fires
    stats = reconstruction_stats(sae, [x])
    assert stats["explained_variance"] == pytest.approx(1.0, abs=1e-6)
    assert stats["dead_fraction"] == pytest.approx(0.5)
    assert stats["l0"] == pytest.approx(8.0)
    assert stats["mse"] == pytest.approx(0.0, abs=1e-10)


def test_ce_loss_recovered_bounds(stories):
    texts = ["Once upon a time, there was a little girl.", "The dog ran to the park and played."]
    site = mlp_out(2)
    exact = ce_loss_recovered(stories, pm_identity_sae(stories.d_model), site, texts)
    assert exact["ce_sae"] == pytest.approx(exact["ce_clean"], abs=1e-4)
    assert exact["ce_recovered"] == pytest.approx(1.0, abs=1e-3)
    assert exact["ce_zero"] > exact["ce_clean"]  # ablating an MLP hurts a trained model
    nothing = ce_loss_recovered(stories, pm_identity_sae(stories.d_model, scale_dec=0.0), site, texts)
    assert nothing["ce_recovered"] == pytest.approx(0.0, abs=1e-3)
    assert nothing["ce_clean"] == pytest.approx(exact["ce_clean"])
    # hooks are gone afterwards: a plain forward gives the clean loss again
    again = ce_loss_recovered(stories, pm_identity_sae(stories.d_model), site, texts)
    assert again["ce_clean"] == pytest.approx(exact["ce_clean"])


def test_wrong_width_sae_is_refused(stories):
    with pytest.raises(ValueError, match="d_model"):
        ce_loss_recovered(stories, pm_identity_sae(stories.d_model + 1), mlp_out(0), ["Hello there."])


def test_config_checks():
    with pytest.raises(ValueError, match="architecture"):
        SAETrainConfig(architecture="gated")
    with pytest.raises(ValueError, match="k <= d_sae"):
        train_sae(tensor_provider(torch.randn(64, 4), 16), 4,
                  SAETrainConfig(expansion=1, k=8, batch_size=16, training_tokens=16))
