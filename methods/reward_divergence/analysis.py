"""The analysis steps after collection: train/measure SAEs, classify their features, probe the implicit reward.

Artifacts (what the explorer reads):
  saes/<model>/mlp_out.<l>/x<e>/            an SAE in sae-lens' format (cfg.json + sae_weights.safetensors)
  saes/<model>/mlp_out.<l>/x<e>.metrics.json  L0, explained variance, dead fraction, CE losses
  saes/table.json, saes/mmcs.json           all SAE metrics; MMCS small-vs-big and base-vs-tuned
  features/<model>/mlp_out.<l>/x<e>.jsonl   one row per feature: corr, p, reward_related, top contexts
  features/summary.json                     per-SAE counts
  probe/results.json, probe/words.jsonl     R^2, Kendall tau; predicted vs lexicon valence per word
"""
from __future__ import annotations

import logging
import shutil
from typing import Any

import numpy as np
import torch

from interp.io import read_json, write_json, write_jsonl
from interp.sites import mlp_out
from interp.pipeline import Context
from methods.reward_divergence.artifacts import (
    FEATURE_SUMMARY_FILE, MMCS_FILE, MODELS, PROBE_FILE, PROBE_WORDS_FILE, SAE_TABLE_FILE, collected, collected_texts,
    layers as chosen_layers, model_spec, sae_dir, sae_metrics_file, size_name,
)

log = logging.getLogger(__name__)


# --- SAEs -------------------------------------------------------------------------------
def massive(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Rows whose norm exceeds ratio x the median row norm (massive activations); none when ratio is 0."""
    norms = x.float().norm(dim=-1)
    if ratio <= 0 or norms.numel() == 0:
        return torch.zeros_like(norms, dtype=torch.bool)
    return norms > ratio * norms.median()


def site_rows(store, key: str, skip_first: int, max_norm_ratio: float = 0.0) -> tuple[torch.Tensor, dict[str, Any]]:
    """Rows of `key` in a store (float32): real tokens at positions >= skip_first (padding is at -1), without
    massive-activation rows (norm > max_norm_ratio x median); and what was left out."""
    data = store.read_all(columns=["position"], sites=[key])
    keep = data["position"] >= max(skip_first, 0)
    rows = data[key][keep].float()
    big = massive(rows, max_norm_ratio)
    norms = rows.norm(dim=-1)
    info = {"n_skipped_first": int((data["position"] >= 0).sum() - keep.sum()), "n_massive": int(big.sum()),
            "max_norm": float(max_norm_ratio * norms.median()) if max_norm_ratio > 0 else None}
    rows = rows[~big]
    if rows.shape[0] == 0:
        raise ValueError(f"{store.path} holds no rows of {key} at positions >= {skip_first}")
    return rows, info


def drop_first(table, skip_first: int, max_norm_ratio: float = 0.0):
    """A token table without the rows the SAEs were not trained on: positions < skip_first, and massive
    activations (norm > max_norm_ratio x median at any of its sites)."""
    from methods.reward_divergence.features import TokenTable

    keep = table.position >= skip_first
    for x in table.acts.values():
        keep &= ~massive(x, max_norm_ratio).numpy()
    if keep.all():
        return table
    idx = torch.from_numpy(np.flatnonzero(keep))
    return TokenTable({k: v[idx] for k, v in table.acts.items()}, table.seq_id[keep], table.position[keep],
                      table.token_id[keep], table.valence[keep], [w for w, k in zip(table.word, keep) if k])


def saes(ctx: Context) -> dict[str, Any]:
    """SAEs (sae-lens) on both models' MLP outputs at the chosen layers, at every dictionary size; MMCS."""
    from interp.sae import ce_loss_recovered, load_sae, reconstruction_stats, save_sae, tensor_provider, train_sae

    from interp import distributed

    cfg = ctx.cfg.saes
    layers = chosen_layers(ctx)
    ce_texts = collected_texts(ctx)["eval"][: cfg.ce_texts]
    table = []
    # under `accelerate launch` the SAEs go round-robin to the processes (each trains its own, whole)
    jobs = [(name, layer, e) for name in MODELS for layer in layers for e in cfg.expansions]
    mine = set(distributed.round_robin(jobs))
    for name in MODELS:
        if not any(job[0] == name for job in mine):
            continue
        model = ctx.model(name)
        train_store, eval_store = collected(ctx, name, "train"), collected(ctx, name, "eval")
        for layer in layers:
            key = mlp_out(layer).key
            train_rows = eval_rows = None
            for e in cfg.expansions:
                if (name, layer, e) not in mine:
                    continue
                folder = sae_dir(ctx, name, layer, e)
                mfile = sae_metrics_file(ctx, name, layer, e)
                if mfile.exists() and folder.exists():
                    table.append(read_json(mfile))
                    continue
                if not folder.exists():
                    log.info("training SAE %s %s %s", name, key, size_name(e))
                    tcfg = cfg.train_config(e)
                    meta = {"model_name": model_spec(ctx, name), "hook_name": mlp_out(layer).hook_name(model), "interp_site": key,
                            "tokenizer_size": len(model.tokenizer)}  # lets check_sae_for refuse another tokenizer
                    ckpts = folder.parent / f"{size_name(e)}.checkpoints"  # a killed run resumes from them
                    if train_rows is None:
                        train_rows, _ = site_rows(train_store, key, cfg.skip_first, cfg.max_norm_ratio)
                    sae = train_sae(tensor_provider(train_rows, tcfg.batch_size, seed=tcfg.seed), model.d_model,
                                    tcfg, metadata=meta, device=ctx.device, checkpoints=ckpts)
                    save_sae(sae, folder)
                    shutil.rmtree(ckpts, ignore_errors=True)
                sae = load_sae(folder, device=ctx.device)
                if eval_rows is None:
                    eval_rows, left_out = site_rows(eval_store, key, cfg.skip_first, cfg.max_norm_ratio)
                quality = reconstruction_stats(sae, eval_rows.split(4096))
                # the positions and massive rows the SAE was not trained on keep their own activations
                ce = ce_loss_recovered(model, sae, mlp_out(layer), ce_texts, max_length=ctx.cfg.collect.max_length,
                                       skip_first=cfg.skip_first, max_norm=left_out["max_norm"])
                row = {"model": name, "site": key, "layer": layer, "expansion": e, "architecture": cfg.architecture,
                       "skip_first": cfg.skip_first, "eval_left_out": left_out,
                       "path": str(folder.relative_to(ctx.run_dir)), **quality, **ce}
                write_json(mfile, row)
                table.append(row)
    distributed.barrier()
    if not distributed.is_main():
        return {}  # the main process reports, once every process has trained its share
    table = [read_json(sae_metrics_file(ctx, n, l, e)) for n, l, e in jobs]
    write_json(ctx.file(SAE_TABLE_FILE), table)
    mm = mmcs_table(ctx, layers)
    write_json(ctx.file(MMCS_FILE), mm)
    return {"saes": table, "mmcs": mm}


def mmcs_table(ctx: Context, layers: list[int]) -> list[dict[str, Any]]:
    """MMCS (Hungarian and max) small-vs-big per model and layer, and tuned-vs-base per layer and size, with chance levels."""
    from interp.sae import load_sae, random_baseline, sae_mmcs

    cfg = ctx.cfg.saes
    sizes = sorted(cfg.expansions)
    baselines: dict[tuple, dict] = {}

    def compare(kind: str, a_id: dict, b_id: dict, a, b) -> dict[str, Any]:
        row: dict[str, Any] = {"kind": kind, "a": a_id, "b": b_id, "n_a": int(a.cfg.d_sae), "n_b": int(b.cfg.d_sae)}
        for match in ("hungarian", "max"):
            row[match] = sae_mmcs(a, b, match).value
            shape = (row["n_a"], row["n_b"], int(a.cfg.d_in), match)
            if shape not in baselines:
                baselines[shape] = random_baseline(*shape, n_sims=cfg.mmcs_sims, seed=cfg.seed)
            row[f"{match}_random"] = baselines[shape]["mean"]
        return row

    rows = []
    for layer in layers:
        key = mlp_out(layer).key
        loaded = {(n, e): load_sae(sae_dir(ctx, n, layer, e)) for n in MODELS for e in sizes}
        for n in MODELS:
            for e in sizes[1:]:
                rows.append(compare("small_vs_big", {"model": n, "site": key, "expansion": sizes[0]},
                                    {"model": n, "site": key, "expansion": e}, loaded[(n, sizes[0])], loaded[(n, e)]))
        for e in sizes:
            rows.append(compare("tuned_vs_base", {"model": "tuned", "site": key, "expansion": e},
                                {"model": "base", "site": key, "expansion": e}, loaded[("tuned", e)], loaded[("base", e)]))
    return rows


# --- features -----------------------------------------------------------------------------
def features(ctx: Context) -> dict[str, Any]:
    """Reward-related SAE features: correlation with token valence under a permutation test."""
    from interp.sae import load_sae
    from methods.reward_divergence.features import classify_features, token_table
    from methods.reward_divergence.valence import label_texts

    cfg = ctx.cfg.features
    layers = chosen_layers(ctx)
    keys = [mlp_out(layer).key for layer in layers]
    texts = collected_texts(ctx)["eval"]
    labeller = None
    if cfg.llm_labels:
        from methods.reward_divergence.labeller import FeatureLabeller

        labeller = FeatureLabeller.from_env()
    summaries, counts, counts_fdr = [], {}, {}
    for name in MODELS:
        tokenizer = ctx.model(name).tokenizer
        labels = label_texts(tokenizer, texts, cfg.valence, ctx.cfg.collect.max_length)
        table = drop_first(token_table(collected(ctx, name, "eval"), keys, labels, cfg.max_tokens),
                           ctx.cfg.saes.skip_first, ctx.cfg.saes.max_norm_ratio)
        for layer, key in zip(layers, keys):
            for e in ctx.cfg.saes.expansions:
                sae = load_sae(sae_dir(ctx, name, layer, e))
                rows, summ = classify_features(sae, table, key, cfg, tokenizer)
                if labeller is not None:
                    for r in rows:
                        if r["reward_related"] and r["top"]:
                            r["llm_label"] = labeller.label(r["top"])
                write_jsonl(ctx.step_dir / name / key / f"{size_name(e)}.jsonl", rows)
                summaries.append({"model": name, "site": key, "layer": layer, "expansion": e, **summ})
                counts.setdefault(name, {}).setdefault(key, {})[size_name(e)] = summ["n_reward_related"]
                counts_fdr.setdefault(name, {}).setdefault(key, {})[size_name(e)] = summ["n_reward_related_fdr"]
    write_json(ctx.file(FEATURE_SUMMARY_FILE), summaries)
    return {"counts": counts, "counts_fdr": counts_fdr, "fdr": cfg.fdr, "summaries": summaries}


# --- probe --------------------------------------------------------------------------------
def probe(ctx: Context) -> dict[str, Any]:
    """Two probes from the tuned model's (and, for comparison, the base model's) SAE features: a ridge probe to token
    valence, and the paper's probe to the signed code distance from a neutral counterpart (probe.py)."""
    from interp.sae import load_sae
    from methods.reward_divergence.features import token_table
    from methods.reward_divergence.probe import run_probe, run_triple_probe
    from methods.reward_divergence.valence import label_texts

    cfg = ctx.cfg.probe
    expansion = cfg.expansion or max(ctx.cfg.saes.expansions)  # checked by the pipeline before any step
    layers = chosen_layers(ctx)
    keys = [mlp_out(layer).key for layer in layers]
    texts = collected_texts(ctx)["eval"]
    results, words, triple_words = {}, [], []
    for name in ("tuned", "base"):  # the tuned model is the point; the base model is the comparison
        tokenizer = ctx.model(name).tokenizer
        labels = label_texts(tokenizer, texts, ctx.cfg.features.valence, ctx.cfg.collect.max_length)
        table = drop_first(token_table(collected(ctx, name, "eval"), keys, labels, cfg.max_tokens),
                           ctx.cfg.saes.skip_first, ctx.cfg.saes.max_norm_ratio)
        saes = [load_sae(sae_dir(ctx, name, layer, expansion)) for layer in layers]
        res = run_probe(saes, table, keys, cfg)
        words.extend({"model": name, **w} for w in res.pop("words"))
        results[name] = {**res, "expansion": expansion, "sites": keys}
        if cfg.triple_max_texts:  # the paper's probe on the same held-out texts, split by word the same way
            tri = run_triple_probe(ctx.model(name), saes, [mlp_out(layer) for layer in layers], texts, cfg)
            triple_words.extend({"model": name, **w} for w in tri.pop("words"))
            write_json(ctx.step_dir / name / "triple_pairs.json", tri.pop("pairs"))
            results[name]["triple"] = tri
    write_jsonl(ctx.file(PROBE_WORDS_FILE), words)
    if triple_words:
        write_jsonl(ctx.file("triple_words.jsonl"), triple_words)
    write_json(ctx.file(PROBE_FILE), results)
    brief = {n: {k: r[k] for k in ("r2_test", "kendall_tau", "kendall_p", "n_test_words", "n_recovered", "alpha")}
             for n, r in results.items()}
    for n, r in results.items():
        if "triple" in r:
            brief[n]["triple"] = {k: r["triple"][k] for k in ("r2_test", "kendall_tau", "kendall_p", "kendall_tau_target",
                                                             "n_test_words", "n_pairs", "alpha")}
    return brief
