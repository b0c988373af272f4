"""The demo's settings for every pipeline, in one place.

Two profiles:
  compact  real models (the default SmolLM2-135M-Instruct): the whole demo within 20 minutes on
           2 CPU cores, so every size below is a trade between that budget and an effect that
           shows through the noise. The comment on each says why.
  tiny     stories260k and the tiny-random models (tests): the same pipelines at toy sizes.

Each method's run directory (runs/demo/<name>/) is what its own CLI writes, so the explorer and
`interp <method> ...` read it like any other run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# run directory names under runs/demo/, in the order the demo runs them
METHODS = ("re_control", "vas", "reprpo", "divergence")
TITLES = {"re_control": "RE-Control", "vas": "VAS", "reprpo": "ReprPO", "divergence": "Reward divergence"}
STEPS = {
    "re_control": "collect -> label -> train-value -> evaluate",
    "vas": "rollouts -> train -> evaluate",
    "reprpo": "train -> eval",
    "divergence": "rlhf -> divergence -> collect -> saes -> features -> probe",
}


@dataclass
class ReprPOPlan:
    """What `interp reprpo train` takes: the training config and the evaluation sizes."""

    config: Any  # methods.reprpo.ReprPOConfig
    n_eval: int = 48
    eval_max_length: int = 256
    eval_batch_size: int = 8


@dataclass
class DemoPlan:
    model: str
    profile: str
    re_control: Any  # methods.re_control.REControlConfig
    vas: Any  # methods.vas.pipeline.VASConfig
    reprpo: ReprPOPlan
    divergence: Any  # methods.reward_divergence.PipelineConfig
    threads: int | None = None  # torch threads (None: torch's default, one per core)


def is_tiny(model: str) -> bool:
    return model == "stories260k" or model.startswith("tiny-random-")


def make_plan(model: str) -> DemoPlan:
    """The demo's settings for `model`: tiny ones for the test models, compact ones otherwise."""
    return (_tiny if is_tiny(model) else _compact)(model)


def _compact(model: str) -> DemoPlan:
    from methods.re_control import REControlConfig
    from methods.reprpo.config import ReprPOConfig
    from methods.reward_divergence.config import (
        CollectConfig, DivergenceConfig, FeatureConfig, PipelineConfig, ProbeConfig, RLHFConfig, SAEStepConfig,
    )
    from methods.vas import TrainConfig, ValueConfig
    from methods.vas.evaluate import EvalConfig
    from methods.vas.pipeline import VASConfig

    re_control = REControlConfig(
        model=model,
        # movie-review prefixes + VADER sentiment: a reward that needs no trained reward model and that a
        # 135M model's responses vary on; VAS uses the same pair, so the playground compares like with like
        dataset="rt-polarity-prompts", reward="vader-sentiment",
        n_train=160,  # ~4k states; with 96 the value ranked validation responses at Spearman 0.49 only
        max_new_tokens=24,  # generation dominates the cost; 24 tokens is a sentence or two
        epochs=40, patience=10,  # the MLP trains in seconds; early stopping keeps the best validation epoch
        # 10 ascent steps of 1.5 push as far as the paper's 30 of 0.5 (the prototype saw step size
        # x steps matter, not the split) at a third of the gradient evaluations per token
        n_steps=10, step_size=1.5,
        n_eval=48, n_val=8,  # 48 paired test prompts: the interval is wide but honest (full run: 200)
        baselines=False,  # prompting / static editing / Best-of-N: the full run's (`interp re-control run`)
        # a 3-point trade-off curve on the 8 validation prompts, for the explorer's trade-off page
        tradeoff_step_sizes=(0.5, 1.5, 3.0), tradeoff_n_steps=(10,),
        n_boot=1000,
    )
    vas = VASConfig(
        model=model,
        value=ValueConfig(
            backbone=model, adapter="lora", head="linear",
            n_layers=6,  # the first 6 of 30 blocks: V costs a fifth of the base model inside the decoding loop
        ),
        # keep the last epoch: with ~10 validation rollouts "best" often keeps the untrained (zero) head
        train=TrainConfig(epochs=4, batch_size=16, lr=1e-3, val_fraction=0.1, keep="last", seed=0),
        eval=EvalConfig(
            betas=[32.0],  # a 384-rollout run on this model moved the reward at beta 32 and not at 2 or 8
            best_of=[],  # Best-of-N costs N generations per prompt; the full `interp vas evaluate` has it
            top_k=10, max_new_tokens=24, batch_size=16, chat=False, coherence=True, n_boot=1000,
        ),
        n_train_prompts=96,  # 96 sampled responses x 24 tokens: TD targets for every prefix (full run: 384+)
        n_eval_prompts=32,  # base and VAS answer the same 32 prompts with the same seed: a paired interval
        max_new_tokens=24,
    )
    reprpo = ReprPOPlan(
        config=ReprPOConfig(
            model=model,
            method="prefvec",  # the hidden-state loss ReprPO is about (DPO is the output-level baseline)
            n_train=48, batch_size=4,  # 12 optimiser steps on ~85-token pairs (full run: 1,500 pairs, 375 steps)
            max_length=192, max_prompt_length=128,  # every alpaca_easy training pair fits
            # 3x the full run's rate: at 1e-3, 12-16 steps left source-test accuracy unchanged; at 3e-3 it rose
            warmup_steps=2, lr=3e-3, lora_r=8, lora_alpha=16,
            source="alpaca_easy", target="alpaca_hard",  # the README's shift: easy -> hard instructions
            random="",  # the unrelated split's ~180-token pairs would add a third of the evaluation time
        ),
        # evaluation is this run's costliest part: (source train, source test, target test) x 24 pairs x
        # (base, adapter); target pairs are ~200 tokens, and 256 keeps all but the longest tenth
        n_eval=24, eval_max_length=256, eval_batch_size=8,
    )
    divergence = PipelineConfig(
        rlhf=RLHFConfig(
            # the settings of the 2-core acceptance run, at 32 steps: GRPO with LoRA on q/v/up/down at
            # lr 1e-3, 2 prompts x 4 completions of 16 tokens per step (the costliest step of the demo;
            # 40 steps raised held-out vader-utility by +0.25 [+0.14, +0.36])
            policy=model, lora_r=16, lora_targets=("q_proj", "v_proj", "up_proj", "down_proj"), lr=1e-3,
            steps=32, prompts_per_step=2, num_generations=4, max_new_tokens=16,
            n_eval_prompts=64,  # base vs tuned on the same 64 held-out prefixes: a paired interval
            save_steps=8, n_boot=1000,
        ),
        divergence=DivergenceConfig(top_k=2, n_texts=48, max_length=32),  # SAEs on the 2 most-changed layers
        # ~8k training tokens per model and layer (the full run: 6,000 texts); both models read every text
        collect=CollectConfig(n_train_texts=400, n_eval_texts=100, max_length=32, batch_size=16),
        saes=SAEStepConfig(
            expansions=(1.0, 4.0),  # two dictionary sizes, so MMCS small-vs-big is measured
            k=64, lr=1e-3, batch_size=512,
            training_tokens=60_000,  # ~7 passes over the collected tokens, 117 steps per SAE, 8 SAEs
            dead_feature_window=100, ce_texts=16, mmcs_sims=2,
        ),
        features=FeatureConfig(n_permutations=200, max_tokens=3000, top_contexts=5),  # p < 0.01 needs >= 100
        probe=ProbeConfig(max_tokens=3000),
    )
    return DemoPlan(model, "compact", re_control, vas, reprpo, divergence)


def _tiny(model: str) -> DemoPlan:
    """Toy sizes (the stories260k settings of the methods' own end-to-end tests): seconds, not minutes."""
    from methods.re_control import REControlConfig
    from methods.reprpo.config import ReprPOConfig
    from methods.reward_divergence.config import PipelineConfig
    from methods.vas import TrainConfig, ValueConfig
    from methods.vas.evaluate import EvalConfig
    from methods.vas.pipeline import VASConfig

    re_control = REControlConfig(
        model=model, dataset="rt-polarity-prompts", reward="vader-sentiment", n_train=64, max_new_tokens=16,
        n_eval=8, n_val=4, epochs=20, batch_size=32, n_boot=200, baselines=False,
        tradeoff_step_sizes=(0.5, 2.0), tradeoff_n_steps=(5,),
    )
    vas = VASConfig(
        model=model,
        value=ValueConfig(backbone=model, adapter="lora", head="linear"),
        train=TrainConfig(epochs=1, seed=0),
        eval=EvalConfig(betas=[8.0], best_of=[], max_new_tokens=12, chat=False, coherence=False, n_boot=200),
        n_train_prompts=48, n_eval_prompts=8, max_new_tokens=16,
    )
    reprpo = ReprPOPlan(
        config=ReprPOConfig(
            model=model, method="prefvec", n_train=8, batch_size=4, max_length=160, max_prompt_length=128,
            warmup_steps=0, lora_r=4, source="alpaca_easy", target="alpaca_low_quality", random="ranking_logic",
        ),
        n_eval=6, eval_max_length=160, eval_batch_size=6,
    )
    divergence = PipelineConfig.small(model)
    divergence.features.n_permutations = 100
    # one thread: a 260K-parameter model gains nothing from a second core and loses on a shared machine
    return DemoPlan(model, "tiny", re_control, vas, reprpo, divergence, threads=1)
