"""One decoding method's responses to a prompt set, with their rewards and the wall time they took.

What RE-Control's evaluation writes per method (`evaluate/outputs/<method>.json`, via `to_dict`) and what
VAS's evaluation tabulates; both methods compare such sets against base decoding on the same prompts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor


@dataclass
class Responses:
    method: str
    texts: list[str]
    rewards: Float[Tensor, " n"]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)  # what else the method reports (its settings, counters)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "texts": self.texts, "rewards": self.rewards.tolist(), "seconds": self.seconds,
                "info": self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Responses":
        return cls(d["method"], list(d["texts"]), torch.tensor(d["rewards"], dtype=torch.float32), float(d["seconds"]),
                   dict(d.get("info", {})))
