"""Settings of the reward-divergence pipeline, one dataclass per step (every field lands in config.json).

Defaults follow the full run (SmolLM2-135M-Instruct, GRPO with LoRA r=16 on q/v); `small()`
gives the settings of the stories260k end-to-end test.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from interp.sae import SAETrainConfig
from interp.validate import check

STEPS = ("rlhf", "divergence", "collect", "saes", "features", "probe")


@dataclass
class RLHFConfig:
    policy: str = "smollm2-135m-instruct"
    reward: str = "vader-utility"
    algorithm: str = "grpo"  # grpo | rloo (TRL 1.x has no PPO)
    lora_r: int = 16  # 0 = full weights
    lora_alpha: int = 32
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    lr: float = 1e-4
    steps: int = 130
    prompts_per_step: int = 4
    num_generations: int = 8
    max_new_tokens: int = 24
    temperature: float = 1.0
    beta: float = 0.04  # KL to the reference; must be > 0
    min_prefix_tokens: int = 2
    max_prefix_tokens: int = 9
    n_train_prompts: int = 0  # 0 = all training prefixes
    n_eval_prompts: int = 200
    eval_samples: int = 1  # completions per held-out prompt and model
    save_steps: int = 25
    gradient_checkpointing: bool = False  # recomputation costs a third more compute; small models fit without it
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        check(self, "rlhf.", counts=("lora_alpha", "steps", "prompts_per_step", "num_generations", "max_new_tokens",
                                     "min_prefix_tokens", "max_prefix_tokens", "n_eval_prompts", "eval_samples",
                                     "save_steps", "n_boot"),
              counts_or_zero=("lora_r", "n_train_prompts"), positive=("lr", "temperature", "beta"))
        if self.beta <= 0:
            raise ValueError(f"beta (KL to the reference) must be > 0, got {self.beta}")
        if self.algorithm not in ("grpo", "rloo"):
            raise ValueError(f"algorithm must be 'grpo' or 'rloo' (TRL 1.x has no PPO), got {self.algorithm!r}")
        if self.num_generations < 2:
            raise ValueError("num_generations must be at least 2 (GRPO/RLOO compare completions of one prompt)")
        self.lora_targets = tuple(self.lora_targets)


@dataclass
class DivergenceConfig:
    rank_by: str = "param"  # see interp.divergence.RANKINGS
    top_k: int = 5
    n_texts: int = 256
    max_length: int = 64
    batch_size: int = 16
    skip_first: int = 1  # leave each text's attention-sink token out of activation divergence (see SAEConfig)

    def __post_init__(self) -> None:
        check(self, "divergence.", counts=("top_k", "n_texts", "max_length", "batch_size"), counts_or_zero=("skip_first",))


@dataclass
class CollectConfig:
    n_train_texts: int = 6000
    n_eval_texts: int = 1000
    max_length: int = 64
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        check(self, "collect.", counts=("n_train_texts", "n_eval_texts", "max_length", "batch_size"))


@dataclass
class SAEStepConfig:
    expansions: tuple[float, ...] = (1.0, 4.0)
    architecture: str = "topk"  # topk | standard (L1, as in the paper)
    k: int = 32
    l1_coefficient: float = 5.0
    lr: float = 3e-4
    batch_size: int = 1024
    training_tokens: int = 1_000_000
    dead_feature_window: int = 1000
    ce_texts: int = 200
    mmcs_sims: int = 3
    # Tokens at positions < skip_first are left out of SAE training, SAE metrics (the CE splice
    # leaves them untouched), feature classification and the probe. The first token of every text
    # is an attention sink with massive MLP outputs (SmolLM2 mlp_out.11: norm ~24,000 against ~40
    # elsewhere, 99% of the variance): an SAE would spend its capacity on it and explained variance
    # would only measure that one token. 0 keeps every real token.
    skip_first: int = 1
    # Likewise tokens whose activation norm exceeds max_norm_ratio x the median norm of the same rows
    # (massive activations, Sun et al. 2024: in SmolLM2 a handful of later tokens become sinks too,
    # 2 of 4,432 held-out mlp_out.11 rows carrying 99% of the variance). 0 keeps them.
    max_norm_ratio: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        check(self, "saes.", counts=("k", "batch_size", "training_tokens", "dead_feature_window", "ce_texts", "mmcs_sims"),
              positive=("expansions", "lr"), non_negative=("l1_coefficient",))
        self.expansions = tuple(float(e) for e in self.expansions)
        if len(self.expansions) < 1:
            raise ValueError("give at least one dictionary size (expansion factor)")
        if self.skip_first < 0:
            raise ValueError(f"skip_first must be >= 0, got {self.skip_first}")
        if self.max_norm_ratio < 0:
            raise ValueError(f"max_norm_ratio must be >= 0 (0 = off), got {self.max_norm_ratio}")

    def train_config(self, expansion: float) -> SAETrainConfig:
        return SAETrainConfig(
            architecture=self.architecture, expansion=expansion, k=self.k, l1_coefficient=self.l1_coefficient,
            lr=self.lr, batch_size=self.batch_size, training_tokens=self.training_tokens,
            dead_feature_window=self.dead_feature_window, seed=self.seed,
        )


@dataclass
class FeatureConfig:
    valence: str = "word"  # word: a word's valence on its last token; token: the token's own string
    corr_threshold: float = 0.1
    p_value: float = 0.01
    n_permutations: int = 1000
    max_tokens: int = 20000
    top_contexts: int = 8
    context_before: int = 8
    context_after: int = 2
    llm_labels: bool = False  # label reward-related features with an OpenAI-compatible endpoint (env vars)
    seed: int = 0
    # false discovery rate for Benjamini-Hochberg across each dictionary's features (features.py, fdr.py); BH can only
    # discover a feature when 1 / (1 + n_permutations) <= fdr / d_sae, so size n_permutations with the dictionary
    fdr: float = 0.05

    def __post_init__(self) -> None:
        check(self, "features.", counts=("n_permutations", "max_tokens", "top_contexts"),
              counts_or_zero=("context_before", "context_after"), probabilities=("corr_threshold", "p_value"))


@dataclass
class ProbeConfig:
    expansion: float = 0.0  # which dictionary's features (0 = the largest)
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)  # chosen on a word-grouped validation split
    test_fraction: float = 0.2
    min_abs: float = 0.1  # a held-out word is recovered when the prediction has its sign and |pred| >= this
    max_tokens: int = 50000
    seed: int = 0
    # the paper's probe (probe.run_triple_probe): held-out sentences cut after a valenced word, and the same prefix with
    # a neutral word; target = sign(valence) x ||SAE codes(word) - SAE codes(neutral)||. 0 turns it off
    triple_max_texts: int = 400

    def __post_init__(self) -> None:
        check(self, "probe.", counts=("max_tokens",), probabilities=("test_fraction",), positive=("alphas",),
              non_negative=("expansion", "min_abs"))
        self.alphas = tuple(float(a) for a in self.alphas)


@dataclass
class PipelineConfig:
    rlhf: RLHFConfig = field(default_factory=RLHFConfig)
    divergence: DivergenceConfig = field(default_factory=DivergenceConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    saes: SAEStepConfig = field(default_factory=SAEStepConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    tuned: str | None = None  # analyse this tuned model folder instead of the rlhf step's output
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def small(cls, policy: str = "stories260k") -> "PipelineConfig":
        """Settings for a quick end-to-end run on a tiny model (CI)."""
        return cls(
            rlhf=RLHFConfig(
                policy=policy, lora_r=0, lr=3e-3, steps=3, prompts_per_step=2, num_generations=4, max_new_tokens=8,
                n_train_prompts=64, n_eval_prompts=24, save_steps=2, n_boot=500,
            ),
            divergence=DivergenceConfig(top_k=2, n_texts=32),
            collect=CollectConfig(n_train_texts=300, n_eval_texts=120, max_length=32),
            saes=SAEStepConfig(k=8, lr=3e-3, batch_size=256, training_tokens=256 * 60, dead_feature_window=100,
                               ce_texts=32, mmcs_sims=2),
            features=FeatureConfig(n_permutations=200, max_tokens=4000, top_contexts=3),
            probe=ProbeConfig(max_tokens=4000),
        )


def cpu_smollm2() -> PipelineConfig:
    """The compact SmolLM2-135M-Instruct run that fits a shared 2-core CPU in about an hour (issue 7's acceptance run).

    GRPO with LoRA r=16 on q/v/up/down at lr 1e-3, 40 steps of 2 prompts x 4 completions of 16
    tokens; top 3 layers; SAEs (TopK k=64) on 6,000 training sentences (~134k tokens), 1M tokens each
    (1,500 sentences left the layer-11 4x SAE at held-out explained variance 0.665 against 0.78 on its
    training tokens: too few sentences; 6,000 at 400k tokens gave 0.699 held-out, 0.728 on training tokens).
    """
    return PipelineConfig(
        rlhf=RLHFConfig(lora_targets=("q_proj", "v_proj", "up_proj", "down_proj"), lr=1e-3, steps=40,
                        prompts_per_step=2, num_generations=4, max_new_tokens=16, beta=0.04, n_eval_prompts=100,
                        save_steps=5),
        divergence=DivergenceConfig(top_k=3, n_texts=48, max_length=32),
        collect=CollectConfig(n_train_texts=6000, n_eval_texts=400, max_length=32, batch_size=16),
        saes=SAEStepConfig(k=64, lr=1e-3, batch_size=512, training_tokens=1_000_000, dead_feature_window=100,
                           ce_texts=16, mmcs_sims=2),
        features=FeatureConfig(n_permutations=50_000, max_tokens=6000),
        probe=ProbeConfig(max_tokens=6000),
        device="cpu",
    )


def update(obj: Any, **changes: Any) -> Any:
    """A copy of a config dataclass with only the non-None changes applied (for CLI overrides)."""
    names = {f.name for f in fields(obj)}
    unknown = set(changes) - names
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)} for {type(obj).__name__}")
    return replace(obj, **{k: v for k, v in changes.items() if v is not None})
