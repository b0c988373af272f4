"""One dataclass holds every setting of a ReprPO training run; it is what `config.json` records.

Methods:
  dpo, ipo            output-level preference losses on summed response log-probabilities
  mse, rank, prefvec  hidden-state losses on response-pooled states at the collection layers
  projgrad, projbp    the DPO loss with LoRA gradients projected onto the preference direction
Transforms (hidden-state methods only): none, ortho, hra, ether.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

OUTPUT_METHODS = ("dpo", "ipo")
HIDDEN_METHODS = ("mse", "rank", "prefvec")
PROJECTION_METHODS = ("projgrad", "projbp")
METHODS = OUTPUT_METHODS + HIDDEN_METHODS + PROJECTION_METHODS
TRANSFORMS = ("none", "ortho", "hra", "ether")
SCHEDULES = ("constant", "linear", "cosine")
EVAL_FIELDS = ("n_eval", "eval_max_length", "eval_batch_size")

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
    # where hidden states are read: "0.3:-3" (fractions or indices, a:b inclusive), "3,5,-3", ...
    layers: str = field(default="0.3:-3", metadata={"help": "collection layers: 'a:b' inclusive, indices or depth fractions"})
    # LoRA
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    # transforms
    hra_r: int = 8
    ether_blocks: int = 4
    # optimisation
    lr: float = 1e-3
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
        self.lora_targets = tuple(self.lora_targets)
        for name, value in METHOD_DEFAULTS[self.method].items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    @property
    def uses_hidden_states(self) -> bool:
        return self.method in HIDDEN_METHODS

    @property
    def uses_projection(self) -> bool:
        return self.method in PROJECTION_METHODS

    def to_dict(self) -> dict[str, Any]:
        """The settings that define the adapter (what train/config.json records)."""
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets)
        for name in EVAL_FIELDS:
            del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReprPOConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - {"versions"})
        if unknown:
            raise ValueError(f"unknown ReprPO config keys {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k in known})
