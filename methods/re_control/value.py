"""The value function V(s): an MLP on one site's hidden state that predicts the final reward.

RE-Control (Kong et al. 2024) treats decoding as a control problem whose state is the
hidden state at a site; V is trained with a Bellman objective on the states of sampled
trajectories and then steers generation by gradient ascent. A saved value function is a folder:
  value.safetensors   the MLP weights (and the input standardisation buffers)
  value.json          ValueConfig: d_model, site, model spec, tokenizer size, width, depth, ...
so applying it to a model of another width or tokenizer fails with a clear error (`check`).
Unlike the paper's code, the width is a setting (default: the model's d_model), not 4096.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from interp.tagged import TaggedWeights

if TYPE_CHECKING:
    from interp.models.model import Model

KIND = "re-control-value"
FORMAT = TaggedWeights(KIND, "value.safetensors", "value.json", "RE-Control value function", "train-value",
                       "interp re-control train-value", article="an")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


@dataclass
class ValueConfig:
    """Everything that defines a value network and what it may be applied to."""

    d_model: int
    site: str = "final"
    model: str = ""
    tokenizer_size: int | None = None
    width: int | None = None  # None: d_model
    depth: int = 2  # hidden layers; 0 is a linear value function
    activation: str = "relu"
    standardize: bool = False  # learn on (s - mean) / std of the training states

    def __post_init__(self) -> None:
        if self.width is None:
            self.width = int(self.d_model)
        if self.depth < 0 or self.width < 1 or self.d_model < 1:
            raise ValueError(f"value network needs depth >= 0 and positive widths, got depth={self.depth}, width={self.width}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ValueConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class ValueFunction(nn.Module):
    """V(s) = MLP((s - mean) / std), `depth` hidden layers of `width` units, one output."""

    def __init__(self, cfg: ValueConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.zeros(cfg.d_model))
        self.register_buffer("std", torch.ones(cfg.d_model))
        layers: list[nn.Module] = []
        d_in = cfg.d_model
        for _ in range(cfg.depth):
            layers += [nn.Linear(d_in, cfg.width), ACTIVATIONS[cfg.activation]()]
            d_in = cfg.width
        layers.append(nn.Linear(d_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, states: Float[Tensor, "*batch d_model"]) -> Float[Tensor, "*batch"]:
        if states.shape[-1] != self.cfg.d_model:
            raise ValueError(
                f"value function expects states of width {self.cfg.d_model}, got shape {tuple(states.shape)}; "
                "it was trained for another model or site"
            )
        x = states.to(self.mean.dtype)
        if self.cfg.standardize:
            x = (x - self.mean) / self.std
        return self.net(x).squeeze(-1)

    def fit_standardization(self, states: Float[Tensor, "n d_model"]) -> None:
        """Set the input standardisation from training states (used only when cfg.standardize)."""
        self.mean.copy_(states.mean(0))
        self.std.copy_(states.std(0).clamp(min=1e-6))

    def check(self, model: "Model") -> None:
        """Refuse a model of another width or tokenizer (a value function is tied to its model's states)."""
        model.check_compatible(
            d_model=self.cfg.d_model,
            vocab={"size": self.cfg.tokenizer_size} if self.cfg.tokenizer_size is not None else None,
            what=f"RE-Control value function (trained on {self.cfg.model or 'an unnamed model'} at {self.cfg.site})",
        )

    # --- files -----------------------------------------------------------------------
    def save(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        return FORMAT.save(folder, self.state_dict(), {**(extra or {}), **asdict(self.cfg), "kind": KIND})

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> "ValueFunction":
        folder, meta = FORMAT.read(folder)
        vf = cls(ValueConfig.from_dict(meta))
        vf.load_state_dict(FORMAT.weights_of(folder))
        return vf.to(device).eval()


def resolve_value_folder(path: str | Path) -> Path:
    """The folder holding value.safetensors: `path`, or `path/train-value` (a pipeline run directory)."""
    return FORMAT.resolve(path)
