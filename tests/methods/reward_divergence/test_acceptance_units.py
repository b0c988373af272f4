"""Issue 7's unit tests, through the method's own steps (the backbone has its own in tests/interp):

- MMCS (the `saes` step's table): a dictionary against itself scores 1; against a random one, the
  random-baseline value the table reports beside it;
- parameter divergence (the `divergence` step): a model against itself is 0 at every layer; largest,
  and the only non-zero one, at the one layer a test perturbs;
- padding never reaches SAE data: the `collect` step's stores hold exactly the real tokens of its texts,
  and what the SAE trainer is fed from them is real-token activations only.
"""
import pytest
import torch

from interp import capture, mlp_out
from interp.io import read_json, write_json
from interp.models.registry import resolve_spec
from interp.sae import SAETrainConfig, build_training_sae, save_sae, store_provider
from methods.reward_divergence.analysis import mmcs_table, sae_dir
from methods.reward_divergence.config import CollectConfig, DivergenceConfig, PipelineConfig, SAEStepConfig
from interp.pipeline import Context
from methods.reward_divergence.artifacts import collected
from methods.reward_divergence.pipeline import make_context, step_collect, step_divergence


def context(run_dir, tuned: str, **changes) -> Context:
    cfg = PipelineConfig.small("stories260k")
    cfg.tuned = tuned
    for k, v in changes.items():
        setattr(cfg, k, v)
    return make_context(run_dir, cfg, device="cpu")


# --- MMCS -----------------------------------------------------------------------------------
def test_mmcs_table_self_is_one_and_random_is_at_the_baseline(tmp_path):
    d_in, layer = 32, 0
    ctx = context(tmp_path, tuned=None, saes=SAEStepConfig(expansions=(1.0, 4.0), k=4, mmcs_sims=4, seed=0))
    for name in ("base", "tuned"):
        for e, seed in ((1.0, 11), (4.0, 12)):
            # tuned gets the very same dictionary as base (same seed); small and big are independent random ones
            sae = build_training_sae(SAETrainConfig(expansion=e, k=4, seed=seed), d_in)
            save_sae(sae, sae_dir(ctx, name, layer, e))
    rows = mmcs_table(ctx, [layer])
    same = [r for r in rows if r["kind"] == "tuned_vs_base"]
    assert len(same) == 2
    for r in same:
        assert r["hungarian"] == pytest.approx(1.0, abs=1e-5) and r["max"] == pytest.approx(1.0, abs=1e-5)
        assert r["hungarian_random"] < 0.9  # the chance level is far below a perfect match
    rand = [r for r in rows if r["kind"] == "small_vs_big"]
    assert len(rand) == 2 and all((r["n_a"], r["n_b"]) == (32, 128) for r in rand)
    for r in rand:
        # 32 matched pairs: the mean of their cosines has a standard error of a few hundredths
        assert r["hungarian"] == pytest.approx(r["hungarian_random"], abs=0.06)
        assert r["max"] == pytest.approx(r["max_random"], abs=0.06)
        assert r["hungarian"] < 0.8


# --- parameter divergence -------------------------------------------------------------------
def tuned_copy(folder, perturb_layer: int | None):
    """stories260k saved as a HF folder, with one layer's MLP down-projection perturbed (or untouched)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from methods.reward_divergence.rlhf import save_hf_folder

    src = resolve_spec("stories260k")
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32, use_safetensors=True)
    if perturb_layer is not None:
        gen = torch.Generator().manual_seed(0)
        w = model.model.layers[perturb_layer].mlp.down_proj.weight
        with torch.no_grad():
            w.add_(0.3 * torch.randn(w.shape, generator=gen))
    return save_hf_folder(model, AutoTokenizer.from_pretrained(src), folder)


@pytest.mark.parametrize("perturb_layer", [None, 2])
def test_divergence_step_is_zero_for_self_and_largest_at_the_perturbed_layer(tmp_path, perturb_layer):
    tuned = tuned_copy(tmp_path / "tuned", perturb_layer)
    ctx = context(tmp_path / "run", tuned=str(tuned), divergence=DivergenceConfig(top_k=1, n_texts=12, max_length=24))
    m = step_divergence(ctx)
    arrays = read_json(tmp_path / "run" / "divergence" / "divergence.json")
    per_layer = arrays["param"]
    assert per_layer == m["param_per_layer"] and len(per_layer) == 5
    assert arrays["param_other"] == 0.0
    if perturb_layer is None:
        assert per_layer == [0.0] * 5
        assert max(arrays["mlp_out"]["l2"]) < 1e-5 and max(arrays["resid_post"]["l2"]) < 1e-5
    else:
        assert m["layers"] == [perturb_layer]
        assert per_layer[perturb_layer] > 0
        assert all(v == 0.0 for i, v in enumerate(per_layer) if i != perturb_layer)
        assert max(arrays["mlp_out"]["l2"][:perturb_layer]) < 1e-5  # earlier layers see the same inputs
        assert arrays["mlp_out"]["l2"][perturb_layer] == max(arrays["mlp_out"]["l2"])


# --- padding --------------------------------------------------------------------------------
def test_collect_step_keeps_padding_out_of_sae_data(tmp_path):
    src = resolve_spec("stories260k")
    ctx = context(tmp_path, tuned=str(src), collect=CollectConfig(n_train_texts=24, n_eval_texts=8, max_length=400,
                                                                  batch_size=8))
    layers = [1, 3]
    write_json(tmp_path / "divergence" / "metrics.json", {"layers": layers})  # the layers step_collect reads
    step_collect(ctx)
    model = ctx.model("base")
    texts = read_json(tmp_path / "collect" / "texts.json")["train"]
    ids, mask = model.tokenize(texts, max_length=400)
    keep = mask.bool()
    assert (~keep).sum() > 50, "these texts must need padding in a batch for the test to mean anything"
    for layer in layers:
        site = mlp_out(layer)
        acts = capture(model, ids, mask, [site])[site]
        real, pad = acts[keep].double(), acts[~keep].double()
        store = collected(ctx, "base", "train")
        assert store.n_rows == int(keep.sum())  # one row per real token, none for padding
        provider = store_provider(store, site.key, batch_size=16, seed=0)
        rows = torch.cat([next(provider) for _ in range(2 * store.n_rows // 16 + 1)]).double()  # two epochs
        assert torch.cdist(rows, real).min(dim=1).values.max() < 1e-4
        assert torch.cdist(rows, pad).min(dim=1).values.min() > 1e-3


def test_sae_rows_skip_padding_and_the_first_token(tmp_path):
    """What the saes step trains and measures on: real tokens only, and none at positions < skip_first."""
    from interp.store import collect
    from methods.reward_divergence.analysis import site_rows

    src = resolve_spec("stories260k")
    ctx = context(tmp_path, tuned=str(src))
    model = ctx.model("base")
    texts = ["Hi.", "Once upon a time, there was a little girl named Lily.", "The cat sat on the mat."]
    site = mlp_out(1)
    ids, mask = model.tokenize(texts)
    acts = capture(model, ids, mask, [site])[site]
    pos = mask.long().cumsum(-1) - 1
    store = collect(model, texts, [site], tmp_path / "store", batch_size=3, exclude_padding=False, progress=False)
    for skip in (0, 1, 2):
        rows = site_rows(store, site.key, skip)[0].double()
        want = (mask.bool() & (pos >= skip))
        assert rows.shape[0] == int(want.sum())
        assert torch.cdist(rows, acts[want].double()).min(dim=1).values.max() < 1e-4
        assert torch.cdist(rows, acts[~want].double()).min(dim=1).values.min() > 1e-3
    # massive activations: rows over ratio x the median norm (of the rows kept by position) are left out too
    kept = acts[mask.bool() & (pos >= 1)]
    norms = kept.norm(dim=-1)
    rows, info = site_rows(store, site.key, 1, max_norm_ratio=1.2)
    assert 0 < info["n_massive"] == int((norms > 1.2 * norms.median()).sum()) < len(norms)
    assert rows.shape[0] == len(norms) - info["n_massive"] and info["n_skipped_first"] == 3
    assert float(rows.norm(dim=-1).max()) <= info["max_norm"] + 1e-4


def test_ce_splice_leaves_skipped_positions_and_massive_rows_alone(tmp_path):
    """The method splices the SAE only where it was trained: skip_first=1 leaves position 0 alone, and
    max_norm=0 (every row over the norm) leaves the whole run clean."""
    from interp.sae import ce_loss_recovered

    model = context(tmp_path, tuned=None).model("base")
    sae = build_training_sae(SAETrainConfig(expansion=2, k=8, seed=0), model.d_model)
    texts = ["Once upon a time, there was a girl.", "The dog ran.", "Lily was happy and sang a song."]
    ref = ce_loss_recovered(model, sae, mlp_out(2), texts, max_length=64)
    skip = ce_loss_recovered(model, sae, mlp_out(2), texts, max_length=64, skip_first=1)
    assert skip["ce_clean"] == pytest.approx(ref["ce_clean"], rel=1e-6)
    assert skip["ce_sae"] != pytest.approx(ref["ce_sae"], rel=1e-6)  # position 0 kept its own activation
    none = ce_loss_recovered(model, sae, mlp_out(2), texts, max_length=64, skip_first=0, max_norm=0.0)
    assert none["ce_sae"] == pytest.approx(ref["ce_clean"], rel=1e-6)  # every row is over the norm: none spliced
    assert none["ce_zero"] == pytest.approx(ref["ce_clean"], rel=1e-6)
