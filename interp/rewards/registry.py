"""`get_reward(name)`: the one place a reward's name becomes a reward.

Names (used by every CLI flag, config and pipeline that names a reward):
  vader-utility      the divergence paper's lexicon utility of the response
  vader-sentiment    VADER's compound sentiment of the response
  rm:PATH            a Bradley-Terry head folder (from `interp reward train`)
  hf-rm:PATH         a local Hugging Face sequence-classification reward model
  neg:NAME           minus the reward NAME (also written -NAME)
"""
from __future__ import annotations

from typing import Any

from interp.rewards.base import Reward

REWARD_NAMES = {
    "vader-utility": "sum of VADER lexicon valences of the response's words / 5, clipped to [-10, 10]",
    "vader-sentiment": "VADER compound sentiment of the response, in [-1, 1]",
    "rm:PATH": "Bradley-Terry reward head trained by `interp reward train` (folder with head.safetensors)",
    "hf-rm:PATH": "local Hugging Face sequence-classification reward model (safetensors)",
    "neg:NAME": "minus the reward NAME, e.g. neg:vader-sentiment (also -NAME)",
}


def get_reward(name: str, device: str | None = None, **kwargs: Any) -> Reward:
    """Build the reward named `name` (see REWARD_NAMES); `kwargs` go to its constructor."""
    for prefix in ("neg:", "-"):
        if name.startswith(prefix):
            from interp.rewards.negated import Negated

            inner = name[len(prefix):]
            if not inner:
                raise ValueError(f"reward {name!r} negates nothing; write neg:NAME, e.g. neg:vader-sentiment")
            return Negated(get_reward(inner, device=device, **kwargs), name)
    if name == "vader-utility":
        from interp.rewards.vader import VaderUtility

        return VaderUtility(**kwargs)
    if name == "vader-sentiment":
        from interp.rewards.vader import VaderSentiment

        return VaderSentiment(**kwargs)
    kind, sep, path = name.partition(":")
    if sep and path and kind == "rm":
        from interp.rewards.bradley_terry import BradleyTerryReward

        return BradleyTerryReward.load(path, device=device, **kwargs)
    if sep and path and kind == "hf-rm":
        from interp.rewards.hf_rm import HFReward

        return HFReward(path, device=device, **kwargs)
    known = "\n  ".join(f"{k}: {v}" for k, v in REWARD_NAMES.items())
    raise ValueError(f"unknown reward {name!r}; known rewards:\n  {known}")
