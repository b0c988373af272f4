"""`interp divergence run|show`: the reward-divergence pipeline (RLHF, layer divergence, SAEs, features, probe)."""
from __future__ import annotations

import json
from pathlib import Path

from app.cli.options import count, count_or_zero, non_negative, positive, probability

STEP_HELP = "rlhf, divergence, collect, saes, features, probe"


def register(sub) -> None:
    p = sub.add_parser("divergence", help="reward-model divergence: RL-tune, compare layers, SAEs, reward features")
    dsub = p.add_subparsers(dest="divergence_command", metavar="ACTION")

    run = dsub.add_parser("run", help="run the pipeline (finished steps are skipped, unfinished ones resume)")
    run.add_argument("--name", "--run", dest="name", required=True, help="run name: results go to <runs-dir>/<name>/<step>/")
    run.add_argument("--runs-dir", "--runs", dest="runs_dir", default="runs", help="runs directory (default: runs)")
    run.add_argument("--small", action="store_true", help="tiny settings for a quick check (default policy stories260k)")
    run.add_argument("--steps", default=None, dest="run_steps", help=f"comma-separated steps to run (default all: {STEP_HELP})")
    run.add_argument("--skip", default="", help="comma-separated steps to skip")
    run.add_argument("--force", action="store_true", help="redo the chosen steps even if finished or configured differently")
    run.add_argument("--tuned", help="analyse this fine-tuned HF folder instead of the rlhf step's model")
    run.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    g = run.add_argument_group("rlhf")
    g.add_argument("--policy", help="policy model spec (default smollm2-135m-instruct; stories260k with --small)")
    g.add_argument("--reward", help="reward name (default vader-utility), see `interp reward`")
    g.add_argument("--algorithm", choices=["grpo", "rloo"])
    g.add_argument("--lora-r", type=count_or_zero, help="LoRA rank on q/v (0 = full weights)")
    g.add_argument("--lr", type=positive)
    g.add_argument("--rl-steps", type=count, dest="rl_steps", help="RL training steps")
    g.add_argument("--prompts-per-step", type=count)
    g.add_argument("--num-generations", type=count)
    g.add_argument("--max-new-tokens", type=count)
    g.add_argument("--beta", type=positive, help="KL coefficient to the reference (> 0)")
    g.add_argument("--eval-prompts", type=count, dest="n_eval_prompts")
    g.add_argument("--save-steps", type=count)
    g = run.add_argument_group("divergence")
    g.add_argument("--rank-by", help="param, mlp_out_l2, mlp_out_rel_l2, mlp_out_cos, resid_post_l2, ...")
    g.add_argument("--top-k", type=count, help="layers to analyse (default 5)")
    g.add_argument("--div-texts", type=count, dest="n_texts")
    g = run.add_argument_group("collect")
    g.add_argument("--train-texts", type=count, dest="n_train_texts")
    g.add_argument("--eval-texts", type=count, dest="n_eval_texts")
    g = run.add_argument_group("saes")
    g.add_argument("--expansions", help="dictionary sizes as multiples of d_model, e.g. 1,4")
    g.add_argument("--sae-arch", choices=["topk", "standard"], dest="architecture")
    g.add_argument("--sae-k", type=count, dest="k")
    g.add_argument("--l1", type=non_negative, dest="l1_coefficient")
    g.add_argument("--sae-lr", type=positive, dest="sae_lr")
    g.add_argument("--sae-tokens", type=count, dest="training_tokens")
    g.add_argument("--sae-batch", type=count, dest="sae_batch")
    g = run.add_argument_group("features and probe")
    g.add_argument("--valence", choices=["word", "token"], help="word valence on a word's last token, or the token's own")
    g.add_argument("--corr-threshold", type=probability)
    g.add_argument("--p-value", type=probability)
    g.add_argument("--permutations", type=count, dest="n_permutations")
    g.add_argument("--llm-labels", action="store_true", default=None,
                   help="also label reward-related features with the endpoint in INTERP_JUDGE_URL / INTERP_JUDGE_MODEL")
    g.add_argument("--probe-expansion", type=non_negative)
    g.add_argument("--seed", type=int)
    run.set_defaults(func=run_cmd)

    show = dsub.add_parser("show", help="print the metrics of a run's finished steps")
    show.add_argument("--name", "--run", dest="name", required=True)
    show.add_argument("--runs-dir", "--runs", dest="runs_dir", default="runs")
    show.set_defaults(func=show_cmd)
    p.set_defaults(func=lambda a: p.print_help())


def build_config(args):
    from methods.reward_divergence.config import PipelineConfig, update

    cfg = PipelineConfig.small(args.policy or "stories260k") if args.small else PipelineConfig()
    seed = args.seed
    cfg.rlhf = update(cfg.rlhf, policy=args.policy, reward=args.reward, algorithm=args.algorithm, lora_r=args.lora_r,
                      lr=args.lr, steps=args.rl_steps, prompts_per_step=args.prompts_per_step,
                      num_generations=args.num_generations, max_new_tokens=args.max_new_tokens, beta=args.beta,
                      n_eval_prompts=args.n_eval_prompts, save_steps=args.save_steps, seed=seed)
    cfg.divergence = update(cfg.divergence, rank_by=args.rank_by, top_k=args.top_k, n_texts=args.n_texts)
    cfg.collect = update(cfg.collect, n_train_texts=args.n_train_texts, n_eval_texts=args.n_eval_texts, seed=seed)
    expansions = tuple(float(x) for x in args.expansions.split(",")) if args.expansions else None
    cfg.saes = update(cfg.saes, expansions=expansions, architecture=args.architecture, k=args.k,
                      l1_coefficient=args.l1_coefficient, lr=args.sae_lr, training_tokens=args.training_tokens,
                      batch_size=args.sae_batch, seed=seed)
    cfg.features = update(cfg.features, valence=args.valence, corr_threshold=args.corr_threshold,
                          p_value=args.p_value, n_permutations=args.n_permutations, llm_labels=args.llm_labels,
                          seed=seed)
    cfg.probe = update(cfg.probe, expansion=args.probe_expansion, seed=seed)
    cfg.tuned = args.tuned
    cfg.device = args.device
    return cfg


def chosen_steps(steps: str | None, skip: str) -> list[str]:
    from methods.reward_divergence.config import STEPS

    chosen = [s.strip() for s in steps.split(",") if s.strip()] if steps else list(STEPS)
    skipped = {s.strip() for s in skip.split(",") if s.strip()}
    unknown = [s for s in [*chosen, *skipped] if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}: choose among {STEP_HELP}")
    return [s for s in chosen if s not in skipped]


def run_cmd(args) -> int:
    from interp.runs import safe_name
    from methods.reward_divergence.pipeline import run_pipeline, summary

    cfg = build_config(args)
    run_dir = Path(args.runs_dir) / safe_name(args.name)
    run_pipeline(run_dir, cfg, steps=chosen_steps(args.run_steps, args.skip), force=args.force)
    from interp import distributed

    if not distributed.is_main():  # under `accelerate launch` the main process reports
        return 0
    print(json.dumps(brief(summary(run_dir)), indent=2))
    print(f"results in {run_dir}")
    return 0


def brief(metrics: dict) -> dict:
    """The headline numbers of each finished step (the full metrics stay in metrics.json)."""
    out = {}
    if "rlhf" in metrics:
        m = metrics["rlhf"]
        out["rlhf"] = {k: m.get(k) for k in ("base_reward", "tuned_reward", "tuned_minus_base", "reward_first", "reward_last")}
    if "divergence" in metrics:
        out["divergence"] = {k: metrics["divergence"].get(k) for k in ("layers", "rank_by", "param_per_layer")}
    if "saes" in metrics:
        out["saes"] = [{k: r.get(k) for k in ("model", "site", "expansion", "l0", "explained_variance", "dead_fraction",
                                              "ce_recovered")} for r in metrics["saes"]["saes"]]
        out["mmcs"] = [{"kind": r["kind"], "a": r["a"], "b": r["b"], "hungarian": r["hungarian"],
                        "random": r["hungarian_random"]} for r in metrics["saes"]["mmcs"]]
    if "features" in metrics:
        out["reward_related_counts"] = metrics["features"]["counts"]
    if "probe" in metrics:
        out["probe"] = metrics["probe"]
    return out


def show_cmd(args) -> int:
    from interp.runs import safe_name
    from methods.reward_divergence.pipeline import summary

    run_dir = Path(args.runs_dir) / safe_name(args.name)
    metrics = summary(run_dir)
    if not metrics:
        raise FileNotFoundError(f"{run_dir} holds no finished reward-divergence step")
    print(json.dumps(brief(metrics), indent=2))
    return 0
