"""The baselines RE-Control is compared with: static representation editing and Best-of-N.

(Prompting is `data.render_prompts(..., instruction=...)`; base is plain greedy decoding.)

Static editing adds one fixed vector at the value function's site at every step:
  - with preference pairs: mean over pairs of [mean state over the chosen response's tokens
    minus the same for the rejected response] (prompt + response run through the model);
  - without pairs: mean state of the top-quartile-reward trajectories minus the mean state of
    the bottom quartile (all states of each trajectory).
The vector is used as a unit direction times `scale` x (mean state norm), scale tuned on
validation prompts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.activations import capture
from interp.generation import Generation, generate
from interp.interventions import AddVector
from interp.sites import Site, parse_site
from methods.re_control.bellman import valid_mask

if TYPE_CHECKING:
    from interp.models.model import Model

RewardFn = Callable[[Sequence[str], Sequence[str]], Tensor]


@torch.no_grad()
def response_mean_states(
    model: "Model", prompts: Sequence[str], responses: Sequence[str], site: Site | str, batch_size: int = 16,
    max_tokens: int = 512, progress: bool = True,
) -> Float[Tensor, "n d_model"]:
    """Mean state at `site` over each response's tokens, with its (rendered) prompt in front."""
    site = parse_site(site).resolve(model)
    tok = model.tokenizer
    out = []
    starts = range(0, len(prompts), batch_size)
    for s in tqdm(starts, desc="pair states", unit="batch", disable=not progress, leave=False):
        seqs, n_resp = [], []
        for p, r in zip(prompts[s:s + batch_size], responses[s:s + batch_size]):
            p_ids = tok(p, add_special_tokens=not (tok.bos_token and p.startswith(tok.bos_token)))["input_ids"]
            r_ids = tok(r, add_special_tokens=False)["input_ids"][: max_tokens // 2] or [model.pad_token_id]
            ids = (p_ids + r_ids)[-max_tokens:]
            seqs.append(ids)
            n_resp.append(min(len(r_ids), len(ids)))
        ids, mask = model.pad(seqs)
        acts = capture(model, ids, mask, [site])[site].float()
        width = ids.shape[1]
        n = torch.tensor(n_resp, device=acts.device)
        resp = torch.arange(width, device=acts.device)[None, :] >= (width - n)[:, None]  # left padding: response at the end
        out.append(((acts * resp[..., None]).sum(1) / n[:, None]).cpu())
    return torch.cat(out)


def pair_vector(
    model: "Model", prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str], site: Site | str,
    batch_size: int = 16, progress: bool = True,
) -> Float[Tensor, "d_model"]:
    """mean(state | chosen response) - mean(state | rejected response) over pairs."""
    c = response_mean_states(model, prompts, chosen, site, batch_size, progress=progress)
    r = response_mean_states(model, prompts, rejected, site, batch_size, progress=progress)
    return (c - r).mean(0)


def reward_contrast_vector(
    states: Float[Tensor, "n pos d"], lengths: Int[Tensor, "n"], rewards: Float[Tensor, "n"], quantile: float = 0.25
) -> Float[Tensor, "d"]:
    """Mean state of the top-`quantile` trajectories by reward minus that of the bottom `quantile`."""
    if not 0 < quantile <= 0.5:
        raise ValueError(f"quantile must be in (0, 0.5], got {quantile}")
    k = max(1, int(len(rewards) * quantile))
    order = rewards.argsort()
    mask = valid_mask(lengths, states.shape[1])[..., None].float()

    def mean_of(idx: Tensor) -> Tensor:
        return (states[idx] * mask[idx]).sum((0, 1)) / mask[idx].sum()

    return mean_of(order[-k:]) - mean_of(order[:k])


@dataclass
class StaticEdit:
    site: Site
    direction: Float[Tensor, "d_model"]  # unit
    state_norm: float  # mean ||state|| at the site: scales are fractions of it

    def intervention(self, scale: float) -> AddVector:
        return AddVector(self.site, self.direction, scale=scale * self.state_norm)


def make_static_edit(vector: Tensor, site: Site | str, state_norm: float) -> StaticEdit:
    norm = float(vector.norm())
    if norm == 0:
        raise ValueError("the static editing vector is zero: chosen and rejected states do not differ")
    return StaticEdit(parse_site(site), vector / norm, state_norm)


def best_of_n(
    model: "Model", prompts: Sequence[str], raw_prompts: Sequence[str], reward: RewardFn, n: int, seed: int = 0,
    **generation,
) -> tuple[list[str], Float[Tensor, "prompts"], float]:
    """Sample `n` responses per prompt (temperature 1) and keep the one the reward likes best.

    Returns (chosen responses, their rewards, seconds for sampling and scoring together).
    """
    if n < 1:
        raise ValueError(f"Best-of-N needs n >= 1, got {n}")
    t0 = time.perf_counter()
    rep = [p for p in prompts for _ in range(n)]
    gen: Generation = generate(model, rep, do_sample=True, seed=seed, chat=False, **generation)
    scores = reward([p for p in raw_prompts for _ in range(n)], gen.texts).reshape(len(prompts), n)
    best = scores.argmax(1)
    texts = [gen.texts[i * n + int(b)] for i, b in enumerate(best)]
    return texts, scores.max(1).values, time.perf_counter() - t0
