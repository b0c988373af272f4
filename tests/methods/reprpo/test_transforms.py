import pytest
import torch

from methods.reprpo.transforms import HRA, Ether, LayerTransforms, Ortho, make_transform


@pytest.mark.parametrize("kind", ["ortho", "hra", "ether"])
def test_every_transform_is_orthogonal_and_trainable(kind):
    torch.manual_seed(0)
    t = make_transform(kind, 16, hra_r=4, ether_blocks=4)
    with torch.no_grad():
        for p in t.parameters():
            p.add_(0.3 * torch.randn_like(p))  # away from the initialisation
    m = t(torch.eye(16))  # rows: images of the basis vectors
    assert torch.allclose(m @ m.T, torch.eye(16), atol=1e-5)
    x = torch.randn(3, 16)
    t(x).pow(3).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in t.parameters())


def test_ortho_starts_at_identity():
    x = torch.randn(5, 8)
    assert torch.allclose(Ortho(8)(x), x, atol=1e-6)


def test_hra_basis_is_orthonormal_and_reflects_its_span():
    t = HRA(12, r=3)
    w = t.basis()
    assert torch.allclose(w.T @ w, torch.eye(3), atol=1e-5)
    assert torch.allclose(t(w.T), -w.T, atol=1e-5)  # vectors in the span flip sign


def test_ether_reflects_each_block_on_its_own():
    t = Ether(8, blocks=2)
    u = t.u.detach() / t.u.detach().norm(dim=-1, keepdim=True)
    x = torch.cat([u[0], torch.zeros(4)])
    assert torch.allclose(t(x), torch.cat([-u[0], torch.zeros(4)]), atol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        Ether(10, blocks=4)


def test_layer_transforms_apply_one_map_per_layer():
    lt = LayerTransforms("hra", n_layers=3, d=8, hra_r=2)
    s = torch.randn(4, 3, 8)
    out = lt(s)
    for i in range(3):
        assert torch.allclose(out[:, i], lt.per_layer[i](s[:, i]))
    assert LayerTransforms("none", 3, 8)(s) is s
