"""Step 5, evaluate: RE-Control against base greedy, prompting, static editing and Best-of-N.

Every method answers the same held-out prompts; one row per method:
  reward        mean reward (with a bootstrap 95% interval over prompts)
  diversity     RE-Control's prod_{n=2..4} distinct-n-gram ratio (interp.metrics.diversity)
  coherence     MiniLM cosine of prompt and response (interp.metrics.coherence)
  win_rate      share of prompts where the method's response beats the data set's chosen
                response under the same reward (ties half), when the data set has one
  seconds/prompt  generation (and for Best-of-N scoring) wall time per prompt
plus the paired bootstrap interval of RE-Control minus base on reward.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from torch import Tensor

from interp.best_of import best_of_first_n
from interp.generation import Generation, generate
from interp.metrics import bootstrap_mean, coherence_scores, diversity, paired_bootstrap_diff, win_rate
from interp.responses import Responses
from methods.re_control.baselines import StaticEdit
from methods.re_control.control import ControlConfig, controlled_generate
from methods.re_control.value import ValueFunction

if TYPE_CHECKING:
    from interp.models.model import Model

RewardFn = Callable[[Sequence[str], Sequence[str]], Tensor]


class CachedEmbed:
    """Sentence embeddings (default MiniLM), each distinct text embedded once (every method shares the prompts)."""

    def __init__(self, embed: Callable[[list[str]], Tensor] | None = None) -> None:
        from interp.metrics.coherence import minilm_embed

        self._embed = embed or minilm_embed
        self._cache: dict[str, Tensor] = {}

    def __call__(self, texts: list[str]) -> Tensor:
        new = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if new:
            for t, e in zip(new, self._embed(new)):
                self._cache[t] = e
        return torch.stack([self._cache[t] for t in texts])


# one method's responses, rewards and seconds: the same record VAS tabulates (to_dict/from_dict: outputs/<method>.json)
Outputs = Responses


@dataclass
class Evaluator:
    """Runs each method on one prompt set with one reward and generation setting."""

    model: "Model"
    prompts: list[str]  # rendered, what the model sees
    raw_prompts: list[str]  # as the data set writes them: what the reward and coherence see
    reward: RewardFn
    max_new_tokens: int = 48
    batch_size: int = 16
    max_prompt_tokens: int | None = None

    sort_by_length: bool = True  # batch prompts of similar length together (less left padding); outputs keep prompt order

    def _sorted(self, fn: Callable[..., Generation], prompts: Sequence[str], **kw: Any) -> Generation:
        """`fn(model, prompts, ...)` on the prompts ordered by token length, answers put back in prompt order.

        Batches of similar lengths pad far less (HH-RLHF prompts run from a few to hundreds of tokens), and
        greedy answers do not depend on the order: only on each prompt and the padding numerics."""
        prompts = list(prompts)
        kw = dict(max_new_tokens=self.max_new_tokens, chat=False, batch_size=self.batch_size,
                  max_prompt_tokens=self.max_prompt_tokens, progress=False, **kw)
        if not self.sort_by_length or len(prompts) <= self.batch_size:
            return fn(self.model, prompts, **kw)
        lengths = [len(self.model.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
        gen = fn(self.model, [prompts[i] for i in order], **kw)
        back = [0] * len(order)
        for j, i in enumerate(order):
            back[i] = j
        return Generation(prompts=prompts, prompt_ids=[gen.prompt_ids[j] for j in back],
                          tokens=[gen.tokens[j] for j in back], texts=[gen.texts[j] for j in back],
                          seconds=gen.seconds)

    def _gen(self, prompts: Sequence[str] | None = None, **kw: Any) -> Generation:
        return self._sorted(generate, prompts or self.prompts, **kw)

    def _outputs(self, method: str, gen, **info: Any) -> Outputs:
        return Outputs(method, gen.texts, self.reward(self.raw_prompts, gen.texts), gen.seconds, info)

    def base(self) -> Outputs:
        return self._outputs("base (greedy)", self._gen())

    def prompting(self, instructed: Sequence[str], instruction: str) -> Outputs:
        return self._outputs("prompting", self._gen(instructed), instruction=instruction)

    def controlled(self, method: str, interventions: Sequence[Any] = (), processors: Sequence[Any] = (), **info: Any) -> Outputs:
        """Greedy answers under any interventions and logits processors (composed controls), scored."""
        return self._outputs(method, self._gen(interventions=list(interventions), processors=list(processors)), **info)

    def static(self, edit: StaticEdit, scale: float) -> Outputs:
        return self.controlled("static editing", [edit.intervention(scale)], scale=scale)

    def sample(self, seed: int) -> Outputs:
        """One sampled response per prompt (temperature 1, `seed`), scored; seconds include the scoring,
        since Best-of-N pays for both."""
        gen = self._gen(do_sample=True, seed=seed)
        t0 = time.perf_counter()
        rewards = self.reward(self.raw_prompts, gen.texts)
        return Outputs("sample", gen.texts, rewards, gen.seconds + time.perf_counter() - t0, {"seed": seed})

    def re_control(self, value: ValueFunction, cfg: ControlConfig) -> Outputs:
        gen = self._sorted(lambda model, prompts, **kw: controlled_generate(model, prompts, value, cfg, **kw), self.prompts)
        return self._outputs("RE-Control", gen, step_size=cfg.step_size, n_steps=cfg.n_steps, penalty=cfg.penalty)


def best_of_samples(samples: Sequence[Outputs], ns: Sequence[int]) -> list[Outputs]:
    """Best-of-N for each N in `ns` from one set of sampled passes: Best-of-N keeps, per prompt, the highest-reward
    response among the first N samples, and costs the first N passes' seconds. Sharing the passes makes
    Best-of-4 and Best-of-8 cost 8 generations instead of 12, and Best-of-8 contains Best-of-4's candidates."""
    picked = best_of_first_n([s.texts for s in samples], [s.rewards for s in samples], ns)
    return [Outputs(f"best-of-{n}", texts, rewards, sum(s.seconds for s in samples[:n]), {"n": n})
            for n, texts, rewards in picked]


def summarize(
    out: Outputs, raw_prompts: Sequence[str], reward: RewardFn, references: Sequence[str] | None,
    n_boot: int = 2000, seed: int = 0, embed: Callable | None = None,
) -> dict[str, Any]:
    """One table row for a method's outputs (`embed`: the sentence embedding for coherence, default MiniLM)."""
    iv = bootstrap_mean(out.rewards, n_boot=n_boot, seed=seed)
    coh = coherence_scores(raw_prompts, out.texts, embed)
    row: dict[str, Any] = {
        "method": out.method, "reward": iv.value, "reward_low": iv.low, "reward_high": iv.high,
        "diversity": diversity(out.texts), "coherence": float(coh.mean()),
        "seconds_per_prompt": out.seconds / len(out.texts), **{k: v for k, v in out.info.items() if k != "instruction"},
    }
    if references is not None:
        wr = win_rate(list(raw_prompts), out.texts, list(references), reward=reward, n_boot=n_boot, seed=seed)
        row.update(win_rate=wr.rate, win_rate_low=wr.low, win_rate_high=wr.high)
    return row


def control_vs_base(control: Outputs, base: Outputs, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Paired bootstrap interval of mean reward, RE-Control minus base, over the same prompts."""
    iv = paired_bootstrap_diff(control.rewards, base.rewards, n_boot=n_boot, seed=seed)
    return {"difference": iv.value, "low": iv.low, "high": iv.high, "n": iv.n, "ci": iv.ci}


def quality(ev: Evaluator, out: Outputs, embed: Callable) -> dict[str, float]:
    """Mean reward, diversity and mean coherence of one method's outputs on `ev`'s prompts."""
    return {"reward": float(out.rewards.mean()), "diversity": diversity(out.texts),
            "coherence": float(coherence_scores(ev.raw_prompts, out.texts, embed).mean())}


def tradeoff_curve(
    ev: Evaluator, value: ValueFunction, base: Outputs, step_sizes: Sequence[float], n_steps: Sequence[int],
    penalty: float = 0.0, n_boot: int = 1000, seed: int = 0, progress: bool = True, embed: Callable | None = None,
    run: Callable[[str, Callable[[], Outputs]], Outputs] | None = None,
) -> dict[str, Any]:
    """Reward gain (with a paired interval), diversity and coherence over step size x steps.

    `run(name, fn)` may wrap each setting's generation (the pipeline uses it to keep finished
    settings across an interruption); seconds per prompt are those of the generation.
    """
    from tqdm.auto import tqdm

    embed = embed or CachedEmbed()
    points = []
    grid = [(a, k) for a in step_sizes for k in n_steps]
    for a, k in tqdm(grid, desc="trade-off curve", unit="setting", disable=not progress, leave=False):
        cfg = ControlConfig(a, k, penalty)
        out = run(f"tradeoff-{a}x{k}", lambda: ev.re_control(value, cfg)) if run else ev.re_control(value, cfg)
        iv = paired_bootstrap_diff(out.rewards, base.rewards, n_boot=n_boot, seed=seed)
        points.append({
            "step_size": a, "n_steps": k, **quality(ev, out, embed), "reward_gain": iv.value,
            "reward_gain_low": iv.low, "reward_gain_high": iv.high, "seconds_per_prompt": out.seconds / len(out.texts),
        })
    return {"n_prompts": len(ev.prompts), "base": quality(ev, base, embed), "points": points}
