"""Every RE-Control setting in one dataclass, and which of them each pipeline step depends on.

A step's config.json holds only the settings that change its output plus a fingerprint of the
step before it, so changing an evaluation setting re-runs evaluation only, and redoing
collection with other settings makes the later steps refuse to reuse stale results.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from interp.fingerprint import json_digest
from interp.io import read_json
from interp.validate import check


# the help of each setting's `interp re-control` flag (app/cli/pipelines.py reads FIELD_HELP)
_FIELD_HELP = {
    "model": "model spec (default smollm2-135m-instruct; stories260k for a fast run)",
    "dataset": "hh-rlhf[:SUBSET] | rt-polarity-prompts | jsonl:PATH (see interp.data)",
    "source_split": "file split to load before splitting (hh-rlhf: test, the one in the offline data)",
    "fractions": "train / validation / test fractions of the distinct prompts",
    "chat": "render prompts through the chat template: auto (when the model has one), yes or no",
    "site": "site whose state is controlled, e.g. final or resid_post:-1",
    "device_map": "Accelerate device map for a model too big for one device, e.g. auto (one process; not with "
                  "accelerate launch, where every process holds a whole model)",
    "n_train": "training prompts to collect trajectories from",
    "samples_per_prompt": "sampled responses per training prompt (needs --do-sample; for --value-target advantage)",
    "value_target": "reward: fit V to r (the paper); advantage: to r minus the mean r of the prompt's responses",
    "max_new_tokens": "response length for collection and evaluation",
    "do_sample": "sample the training responses (with --seed) instead of greedy",
    "reward": "reward name: vader-sentiment, vader-utility, rm:PATH, hf-rm:PATH",
    "depth": "hidden layers of the value MLP",
    "width": "hidden width of the value MLP (default: the model's d_model)",
    "standardize": "standardise value-network inputs with the training states' mean and std",
    "detach_target": "semi-gradient TD (target V(s_t+1) detached); --no-detach-target: residual gradient",
    "discount": "discount in the Bellman target",
    "step_size": "gradient-ascent step size on V(h + u)",
    "n_steps": "gradient-ascent steps per decoding step",
    "penalty": "lambda in V(h + u) - lambda ||u||^2",
    "n_eval": "held-out test prompts",
    "n_val": "validation prompts (static-editing scale, trade-off curve)",
    "instruction": "the instruction the prompting baseline puts in front (system message for chat models)",
    "static_scales": "static-editing scales tried on validation (x mean state norm)",
    "n_static_pairs": "training pairs behind the static chosen-minus-rejected vector",
    "best_of": "N values for Best-of-N",
    "baselines": "run prompting, static editing and Best-of-N too",
    "tradeoff": "save the step size x steps trade-off curve",
    "retired_test": "the first N test prompts, used by earlier evaluations: never evaluated again (the test set "
                    "starts after them and continues into unused validation prompts)",
    "retired_validation": "the first N validation prompts, which earlier runs tuned on: validation only, never test",
    "compare_values": "other value functions (run directories or train-value folders) put on the validation "
                      "trade-off curve beside this run's; the test uses the (value function, setting) chosen there",
    "test_diversity_limit": "report whether RE-Control's test diversity stays within this drop of base",
    "test_coherence_limit": "report whether RE-Control's test coherence stays within this drop of base",
}


@dataclass
class REControlConfig:
    FIELD_HELP: ClassVar[dict[str, str]] = _FIELD_HELP
    # model and data
    model: str = "smollm2-135m-instruct"
    dataset: str = "hh-rlhf"
    source_split: str | None = None  # file split to load (hh-rlhf: test, the one offline); None: the data set's default
    split_seed: int = 0
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    chat: bool | None = None  # None: the chat template when the model has one
    site: str = "final"
    device: str | None = None
    device_map: str | None = None  # e.g. "auto": spread a model too big for one device over several (one process)
    batch_size: int = 16
    # 1. collect
    n_train: int = 500
    samples_per_prompt: int = 1  # > 1 (with do_sample): several responses per prompt, for advantage targets
    max_new_tokens: int = 48
    do_sample: bool = False
    temperature: float = 1.0
    seed: int = 0
    max_prompt_tokens: int | None = None
    # 2. label
    reward: str = "vader-sentiment"
    # 3. train-value
    # "reward": V is fitted to r (the paper); "advantage": to r minus the mean r of the same prompt's responses,
    # so that V ranks responses, not prompts (needs samples_per_prompt > 1)
    value_target: str = "reward"
    depth: int = 2
    width: int | None = None  # None: the model's d_model
    activation: str = "relu"
    standardize: bool = False
    lr: float = 1e-3
    epochs: int = 100
    train_batch_size: int = 32
    val_fraction: float = 0.2
    discount: float = 1.0
    detach_target: bool = True
    weight_decay: float = 0.0
    patience: int = 30
    value_select: str = "loss"  # keep the epoch with the lowest validation Bellman loss, or "spearman": highest Spearman
    train_seed: int = 0
    # 4. control
    step_size: float = 0.5
    n_steps: int = 30
    penalty: float = 0.0
    # 5. evaluate
    n_eval: int = 200
    n_val: int = 50  # validation prompts for tuning static editing and the trade-off curve
    instruction: str = (
        "You are a helpful and harmless assistant. Answer helpfully and honestly, and never help with anything "
        "dangerous, illegal or hurtful."
    )
    static_scales: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)  # x mean state norm
    n_static_pairs: int = 200  # training pairs for the chosen-minus-rejected vector (data sets with pairs)
    best_of: tuple[int, ...] = (4, 8)
    tradeoff_step_sizes: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    tradeoff_n_steps: tuple[int, ...] = (10, 30)
    n_boot: int = 2000
    eval_seed: int = 0
    baselines: bool = True  # False: base and RE-Control only
    tradeoff: bool = True
    # choose step size x steps on the validation trade-off curve instead of using step_size / n_steps:
    # the largest validation reward gain whose diversity and coherence stay within these drops of base
    auto_control: bool = False
    max_diversity_drop: float = 0.10
    max_coherence_drop: float = 0.15
    # fresh test prompts: the test set skips the first `retired_test` test prompts and, when it needs more,
    # continues with validation prompts after max(n_val, retired_validation) (see data.evaluation_split)
    retired_test: int = 0
    retired_validation: int = 0
    compare_values: tuple[str, ...] = ()
    # the limits the test result is reported against (the validation margins above choose the setting)
    test_diversity_limit: float | None = None
    test_coherence_limit: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "REControlConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RE-Control settings {sorted(unknown)}; known: {sorted(names)}")
        return cls(**d)

    def __post_init__(self) -> None:
        check(self, counts=("batch_size", "n_train", "samples_per_prompt", "max_new_tokens", "max_prompt_tokens", "width",
                            "epochs", "train_batch_size", "patience", "n_eval", "n_static_pairs", "best_of",
                            "tradeoff_n_steps", "n_boot"),
              counts_or_zero=("depth", "n_steps", "n_val"),
              probabilities=("fractions", "val_fraction", "discount", "max_diversity_drop", "max_coherence_drop"),
              positive=("temperature", "lr"),
              non_negative=("step_size", "penalty", "weight_decay", "static_scales", "tradeoff_step_sizes"))
        if self.samples_per_prompt > 1 and not self.do_sample:
            raise ValueError(f"samples_per_prompt={self.samples_per_prompt} needs do_sample=True (greedy decoding "
                             "gives the same response every time)")
        if self.value_target not in ("reward", "advantage"):
            raise ValueError(f"value_target must be 'reward' or 'advantage', not {self.value_target!r}")
        if self.retired_test < 0 or self.retired_validation < 0:
            raise ValueError(f"retired_test and retired_validation must be >= 0, got {self.retired_test}, "
                             f"{self.retired_validation}")
        if self.compare_values and not self.auto_control:
            raise ValueError("compare_values needs auto_control=True: the value function is chosen on validation "
                             "by the same rule as the setting")
        if self.value_target == "advantage" and self.samples_per_prompt < 2:
            raise ValueError("value_target='advantage' needs samples_per_prompt >= 2 (and do_sample=True): the "
                             "advantage of a prompt's only response is 0")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    def as_dict(self) -> dict[str, Any]:
        """Deprecated spelling of `to_dict`, the project's one name for this; kept for one release."""
        warnings.warn("REControlConfig.as_dict() is now REControlConfig.to_dict()", DeprecationWarning, stacklevel=2)
        return self.to_dict()


STEP_KEYS = {
    "collect": ["model", "dataset", "source_split", "split_seed", "fractions", "chat", "site", "n_train", "samples_per_prompt",
                "max_new_tokens", "do_sample", "temperature", "seed", "max_prompt_tokens"],
    "label": ["reward"],
    "train-value": ["value_target", "depth", "width", "activation", "standardize", "lr", "epochs", "train_batch_size", "val_fraction",
                    "discount", "detach_target", "weight_decay", "patience", "value_select", "train_seed"],
    "evaluate": ["step_size", "n_steps", "penalty", "n_eval", "n_val", "instruction", "static_scales", "n_static_pairs", "best_of",
                 "tradeoff_step_sizes", "tradeoff_n_steps", "n_boot", "eval_seed", "baselines", "tradeoff",
                 "auto_control", "max_diversity_drop", "max_coherence_drop", "retired_test", "retired_validation",
                 "compare_values", "test_diversity_limit", "test_coherence_limit"],
}
ORDER = ["collect", "label", "train-value", "evaluate"]
# settings added after runs were already made: left out of a step's config while at their default, so
# those runs' finished steps still match
LATER = {"samples_per_prompt": 1, "value_target": "reward", "value_select": "loss", "auto_control": False,
         "max_diversity_drop": 0.10, "max_coherence_drop": 0.15, "retired_test": 0, "retired_validation": 0,
         "compare_values": [], "test_diversity_limit": None, "test_coherence_limit": None}


def step_config(cfg: REControlConfig, step: str, run_dir: str | Path) -> dict[str, Any]:
    """The settings `step` depends on, plus the fingerprint of the step it reads from."""
    d = cfg.to_dict()
    out: dict[str, Any] = {"method": "re-control", "step": step,
                           **{k: d[k] for k in STEP_KEYS[step] if not (k in LATER and d[k] == LATER[k])}}
    i = ORDER.index(step)
    if i:
        out["upstream"] = fingerprint(Path(run_dir) / ORDER[i - 1])
    return out


def fingerprint(step_dir: Path) -> str:
    """A hash of a finished step's config (without package versions); refuses an unfinished step."""
    if not (step_dir / "metrics.json").exists():
        raise FileNotFoundError(
            f"{step_dir} is not finished (no metrics.json); run `interp re-control {step_dir.name}` first"
        )
    from interp.runs import METADATA

    # metadata (package versions, pipeline name, project version) is not a setting: an upgrade keeps the hash
    cfg = {k: v for k, v in read_json(step_dir / "config.json").items() if k not in METADATA}
    return json_digest(cfg, 16, sort_keys=True)

