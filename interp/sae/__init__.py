"""Sparse autoencoders with sae-lens: train on real-token activations, save/load in sae-lens' format,
and measure them (L0, explained variance, dead features, CE loss recovered, MMCS between dictionaries).

    from interp.sae import SAETrainConfig, store_provider, train_sae, save_sae, load_sae
    sae = train_sae(store_provider(store, "mlp_out.3", 1024), d_in=576, cfg=SAETrainConfig(expansion=4))
    save_sae(sae, "saes/mlp_out.3")
"""
from interp.sae.data import store_provider, store_rows, tensor_provider
from interp.sae.metrics import ce_loss_recovered, encode, next_token_ce, reconstruction_stats
from interp.sae.mmcs import MMCS, cosine_matrix, decoder_directions, mmcs, random_baseline, sae_mmcs
from interp.sae.train import ARCHITECTURES, SAETrainConfig, build_training_sae, check_sae_for, load_sae, save_sae, train_sae

__all__ = [
    "SAETrainConfig", "ARCHITECTURES", "build_training_sae", "train_sae", "save_sae", "load_sae", "check_sae_for",
    "store_provider", "store_rows", "tensor_provider",
    "reconstruction_stats", "ce_loss_recovered", "encode", "next_token_ce",
    "MMCS", "mmcs", "sae_mmcs", "decoder_directions", "cosine_matrix", "random_baseline",
]
