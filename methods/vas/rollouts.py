"""Training data for the value model: responses sampled from the FROZEN base model, scored once.

VAS learns the value of the base policy, so the data come from the base model only (temperature
1 sampling, seeded), never from a guided decoder. Each prompt may be sampled several times;
sample j of every prompt uses seed `seed + j`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from interp.io import read_jsonl, write_jsonl


@dataclass
class Rollout:
    prompt: str
    prompt_ids: list[int]  # exactly the ids the base model saw (after rendering)
    response: str
    response_ids: list[int]  # EOS included when generated
    reward: float
    sample: int = 0


def sample_rollouts(
    model: Any,
    prompts: Sequence[str],
    reward: Any,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 32,
    chat: bool | None = False,
    progress: bool = True,
) -> list[Rollout]:
    """Sample `samples_per_prompt` responses per prompt from the base model and score each with `reward`."""
    from interp.generation import generate

    if samples_per_prompt < 1:
        raise ValueError(f"samples_per_prompt must be >= 1, got {samples_per_prompt}")
    out: list[Rollout] = []
    for j in range(samples_per_prompt):
        gen = generate(model, list(prompts), do_sample=True, temperature=temperature, seed=seed + j,
                       max_new_tokens=max_new_tokens, batch_size=batch_size, chat=chat, progress=progress)
        scores = reward(list(prompts), gen.texts)
        for p, pid, text, toks, r in zip(prompts, gen.prompt_ids, gen.texts, gen.tokens, scores.tolist()):
            if toks:  # a response of no tokens has no state to value
                out.append(Rollout(p, list(pid), text, list(toks), float(r), j))
    if not out:
        raise ValueError("the base model produced no response tokens; raise max_new_tokens")
    return out


def save_rollouts(path: str | Path, rollouts: Sequence[Rollout]) -> None:
    write_jsonl(path, [asdict(r) for r in rollouts])


def load_rollouts(path: str | Path) -> list[Rollout]:
    return [Rollout(**row) for row in read_jsonl(path)]


def reward_summary(rollouts: Sequence[Rollout]) -> dict[str, float]:
    r = torch.tensor([x.reward for x in rollouts], dtype=torch.float64)
    lengths = torch.tensor([len(x.response_ids) for x in rollouts], dtype=torch.float64)
    return {"n": len(rollouts), "reward_mean": float(r.mean()), "reward_std": float(r.std()) if len(r) > 1 else 0.0,
            "reward_min": float(r.min()), "reward_max": float(r.max()), "response_tokens_mean": float(lengths.mean())}
