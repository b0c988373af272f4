"""One dataclass holds every setting of a ReprPO training run; it is what `config.json` records.

Methods:
  dpo, ipo            output-level preference losses on summed response log-probabilities
  mse, rank, prefvec  hidden-state losses on response-pooled states at the collection layers
  projgrad, projbp    the DPO loss with LoRA gradients projected onto the preference direction
Transforms (hidden-state methods only): none, ortho, hra, ether.
Variants (per run): `ours` (the corrected forms this package started with) and `reference` (the
forms, sites, pooling and constants of wassname/repr-preference-optimization; see the README's
departures table). `dpo`, `ipo` and `projgrad` have one form each.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from interp.validate import check

OUTPUT_METHODS = ("dpo", "ipo")
HIDDEN_METHODS = ("mse", "rank", "prefvec")
PROJECTION_METHODS = ("projgrad", "projbp")
METHODS = OUTPUT_METHODS + HIDDEN_METHODS + PROJECTION_METHODS
TRANSFORMS = ("none", "ortho", "hra", "ether")
VARIANTS = ("ours", "reference")
REFERENCE_METHODS = HIDDEN_METHODS + ("projbp",)
SCHEDULES = ("constant", "linear", "cosine")
EVAL_FIELDS = ("n_eval", "eval_max_length", "eval_batch_size", "eval_splits")
# what the eval step can measure (random_test only with a `random` set); the data module describes each
EVAL_SPLITS = ("source_train", "source_test", "target_test", "random_test")

# default hyper-parameters per method (a CLI flag or explicit field overrides them)
METHOD_DEFAULTS: dict[str, dict[str, float]] = {
    "dpo": {"beta": 0.1},
    "ipo": {"beta": 0.1},
    "mse": {"alpha": 1.0, "eps": 0.1},
    "rank": {"alpha": 1.0, "beta": 1.0},
    "prefvec": {"alpha": 1.0, "orth_weight": 0.5},
    "projgrad": {"beta": 0.1, "orth_scale": 0.0},
    "projbp": {"beta": 0.1, "orth_scale": 0.0},
}
LR_DEFAULT = 1e-3
# the reference's constants (file/function in the README's departures table)
REFERENCE_DEFAULTS: dict[str, dict[str, float]] = {
    "mse": {"alpha": 0.6, "eps": 1e-12, "lr": 4e-4},
    "rank": {"alpha": 0.25, "beta": 1.0, "lr": 4e-4},
    "prefvec": {"alpha": 1.0, "orth_weight": 0.5, "lr": 4e-4},
    "projbp": {"beta": 0.1, "orth_scale": 0.2, "leaky_slope": 0.01, "mag_clip": 0.6, "lr": 1e-5},
}
REFERENCE_ETHER_BLOCKS = 16
# fields that only the reference variant uses: a run of `ours` records none of them, so its
# config.json is the one it recorded before the variants existed (and earlier runs are still skipped)
REFERENCE_FIELDS = ("variant", "rank_sign_bug", "leaky_slope", "mag_clip", "sink_threshold", "ether_reduction")


@dataclass
class ReprPOConfig:
    """Everything that defines a run; two runs with equal configs produce the same adapter."""

    model: str = field(default="smollm2-135m-instruct", metadata={"help": "model spec"})
    method: str = field(default="dpo", metadata={"choices": METHODS, "help": "preference loss"})
    transform: str = field(default="none", metadata={"choices": TRANSFORMS,
                                                     "help": "hidden-state transform (mse/rank/prefvec)"})
    # loss hyper-parameters (None: the method's default from METHOD_DEFAULTS)
    beta: float | None = field(default=None, metadata={"help": "DPO/IPO beta, rank softness (method default if unset)"})
    alpha: float | None = field(default=None, metadata={"help": "weight of the retain term (hidden-state methods)"})
    eps: float | None = field(default=None, metadata={"help": "mse: log-distance softening, a fraction of the reference distance"})
    orth_weight: float | None = field(default=None, metadata={"help": "prefvec: penalty on orthogonal movement"})
    orth_scale: float | None = field(default=None, metadata={"help": "projgrad/projbp: share of the orthogonal gradient kept"})
    ipo_per_token: bool = field(default=False, metadata={"help": "IPO on per-token log-ratios (TRL's form)"})
    variant: str = field(default="ours", metadata={
        "choices": VARIANTS, "help": "ours (corrected forms) or reference (wassname/repr-preference-optimization's "
                                    "sites, pooling, losses and constants; mse/rank/prefvec/projbp)"})
    rank_sign_bug: bool = field(default=False, metadata={
        "help": "reference rank only: reproduce the reference's sign bug, -logsigmoid(-beta * ptheta), which pushes "
                "the chosen side *down*, contrary to its own docstring (off: the sign the docstring intends)"})
    leaky_slope: float | None = field(default=None, metadata={"help": "reference projbp: leaky-relu slope on the parallel part"})
    mag_clip: float | None = field(default=None, metadata={
        "help": "reference projbp: clip |mean gradient| to this fraction of |preference vector|"})
    sink_threshold: float | None = field(default=None, metadata={
        "help": "reference pooling: drop tokens with norm > mean + t * std (3 by default)"})
    ether_reduction: int = field(default=60, metadata={"help": "reference ether: down-projection d -> d / reduction"})
    # where hidden states are read: "0.3:-3" (fractions or indices, a:b inclusive), "3,5,-3", ...
    layers: str = field(default="0.3:-3", metadata={"help": "collection layers: 'a:b' inclusive, indices or depth fractions"})
    # LoRA
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    # transforms
    hra_r: int = 8
    ether_blocks: int | None = field(default=None, metadata={"help": "ether: reflection blocks (4; reference 16)"})
    # optimisation
    lr: float | None = field(default=None, metadata={"help": "AdamW learning rate (1e-3; reference variant: "
                                                              "4e-4 hidden-state, 1e-5 projbp)"})
    weight_decay: float = 0.0
    warmup_steps: int = 10
    schedule: str = field(default="cosine", metadata={"choices": SCHEDULES})
    max_grad_norm: float = 1.0
    mixed_precision: str = field(default="no", metadata={"choices": ("no", "fp16", "bf16"),
                                                         "help": "autocast of the policy forward (Accelerate's)"})
    batch_size: int = field(default=4, metadata={"help": "pairs per step and process"})
    epochs: int = 1
    max_steps: int | None = None
    seed: int = 0
    # tokens
    max_length: int = 256
    max_prompt_length: int = 192
    chat: bool | None = field(default=None, metadata={"help": "render prompts through the chat template (auto: when "
                                                              "the model has one)"})
    add_eos: bool = True
    # data
    source: str = field(default="alpaca_easy", metadata={"help": "GENIES set to train on (needs a train split)"})
    target: str = field(default="alpaca_hard", metadata={"help": "GENIES set of the shift's target (test split)"})
    random: str = field(default="ranking_logic", metadata={"help": "unrelated GENIES set (test split); '' for none"})
    n_train: int | None = field(default=1500, metadata={"help": "distinct training pairs (one pass by default)"})
    save_every: int = 100
    extra: dict[str, Any] = field(default_factory=dict)
    # evaluation (base vs adapter preference accuracy): does not change the adapter, so `to_dict`,
    # the train step's recorded config, leaves these out
    n_eval: int | None = field(default=750, metadata={"help": "pairs per evaluation split (0: skip evaluation)"})
    eval_max_length: int = field(default=512, metadata={"help": "evaluation never cuts responses; prompts lose their start"})
    eval_batch_size: int = 8
    eval_splits: tuple[str, ...] = field(default=EVAL_SPLITS, metadata={
        "help": "splits to evaluate, of " + ",".join(EVAL_SPLITS) + " (random_test needs --random)"})

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {self.transform!r}; choose one of {', '.join(TRANSFORMS)}")
        if self.transform != "none" and self.method not in HIDDEN_METHODS:
            raise ValueError(
                f"transform {self.transform!r} acts on hidden states, but method {self.method!r} has no hidden-state "
                f"loss; use --transform none, or a hidden-state method ({', '.join(HIDDEN_METHODS)})"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.max_prompt_length >= self.max_length:
            raise ValueError(
                f"max_prompt_length ({self.max_prompt_length}) must be below max_length ({self.max_length}) "
                "to leave room for the response"
            )
        for name in ("batch_size", "epochs", "lora_r", "max_length", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        reference = self.variant == "reference"
        if reference and self.method not in REFERENCE_METHODS:
            raise ValueError(
                f"method {self.method!r} has one form only; --variant reference applies to "
                f"{', '.join(REFERENCE_METHODS)}"
            )
        if self.rank_sign_bug and not (reference and self.method == "rank"):
            raise ValueError("--rank-sign-bug reproduces the reference rank loss's sign; it needs --method rank "
                             "--variant reference")
        if not reference:
            given = [n for n in ("leaky_slope", "mag_clip", "sink_threshold") if getattr(self, n) is not None]
            if given:
                raise ValueError(f"{', '.join(given)} belong to the reference variant; add --variant reference")
        self.lora_targets = tuple(self.lora_targets)
        self.eval_splits = tuple(self.eval_splits)
        unknown = [s for s in self.eval_splits if s not in EVAL_SPLITS]
        if unknown or not self.eval_splits:
            raise ValueError(f"eval_splits {list(self.eval_splits)}: choose among {', '.join(EVAL_SPLITS)} "
                             "(--n-eval 0 skips evaluation)")
        defaults = {**METHOD_DEFAULTS[self.method], "lr": LR_DEFAULT}
        if reference:
            defaults.update(REFERENCE_DEFAULTS[self.method])
            defaults["ether_blocks"] = REFERENCE_ETHER_BLOCKS
            if self.uses_hidden_states:
                defaults["sink_threshold"] = 3.0
        defaults.setdefault("ether_blocks", 4)
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        check(self, counts=("max_prompt_length", "hra_r", "ether_blocks", "ether_reduction", "max_steps", "n_train",
                            "eval_max_length", "eval_batch_size"),
              counts_or_zero=("warmup_steps", "n_eval"), probabilities=("lora_dropout", "orth_scale"),
              positive=("lr", "lora_alpha", "beta"),
              non_negative=("weight_decay", "max_grad_norm", "alpha", "eps", "orth_weight", "leaky_slope", "mag_clip",
                            "sink_threshold"))

    @property
    def uses_hidden_states(self) -> bool:
        return self.method in HIDDEN_METHODS

    @property
    def uses_projection(self) -> bool:
        return self.method in PROJECTION_METHODS

    @property
    def is_reference(self) -> bool:
        return self.variant == "reference"

    def to_dict(self) -> dict[str, Any]:
        """The settings that define the adapter (what train/config.json records)."""
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets)
        for name in EVAL_FIELDS:
            del d[name]
        if not self.is_reference:
            for name in REFERENCE_FIELDS:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReprPOConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - {"versions"})
        if unknown:
            raise ValueError(f"unknown ReprPO config keys {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k in known})
