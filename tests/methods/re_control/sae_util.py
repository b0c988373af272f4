"""A small random sae-lens SAE whose codes switch on and off and whose decoder has a bias: what the controller's
decomposition must handle (shared by the interpretation tests and the explorer's controller page tests)."""
import torch

from interp.sae.train import SAETrainConfig, build_training_sae


def random_sae(d_in: int, architecture: str = "topk", expansion: float = 4, k: int = 8, seed: int = 1):
    sae = build_training_sae(SAETrainConfig(architecture=architecture, expansion=expansion, k=k), d_in).eval()
    with torch.no_grad():  # random but non-trivial codes: a bias that lets features switch on and off
        g = torch.Generator().manual_seed(seed)
        sae.b_enc.add_(torch.randn(sae.b_enc.shape, generator=g) * 0.5)
        sae.b_dec.add_(torch.randn(sae.b_dec.shape, generator=g))  # a decoder bias d_i must not carry
    return sae
