"""Batched, left-padded, KV-cached generation with interventions, logits processors and per-step capture.

The loop calls the HF model inside the bridge directly, so the bridge's HookPoints (and every
intervention attached to them) run at every step while the KV cache is Hugging Face's own.

Per-step capture follows RE-Control's convention: state t at a site is the one that predicts
response token t+1 (state 0 is the prompt's last position), and the state after the last
generated token is kept, so a row with n response tokens has n + 1 states. Any site can be captured
(`interp.sites`); its state per step is the newest position's slice of what the site delivers (for an
attention pattern, the newest query row over the row's keys, see `_row_states`).
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.activations import recording
from interp.interventions import Intervention, intervene
from interp.models.cache_keyword import returned_cache
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model

LogitsProcessor = Callable[[Int[Tensor, "batch pos"], Float[Tensor, "batch vocab"]], Float[Tensor, "batch vocab"]]


@dataclass
class GenerationConfig:
    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop_at_eos: bool = True
    use_cache: bool = True  # False recomputes the whole sequence each step (reference for tests)


@dataclass
class StepContext:
    """What a logits processor may need beyond (input_ids, scores): the mask, the step, finished rows."""

    attention_mask: Int[Tensor, "batch pos"]
    prompt_width: int
    step: int
    finished: Tensor


@dataclass
class Generation:
    prompts: list[str]
    prompt_ids: list[list[int]]
    tokens: list[list[int]]  # response tokens per row (EOS included when generated)
    texts: list[str]
    states: dict[Site, list[Float[Tensor, "steps ..."]]] = field(default_factory=dict)  # [steps d_model] at residual sites
    seconds: float = 0.0


def _sample(scores: Tensor, cfg: GenerationConfig, gen: torch.Generator | None) -> Tensor:
    if not cfg.do_sample:
        return scores.argmax(-1)
    scores = scores / max(cfg.temperature, 1e-6)
    if cfg.top_k:
        kth = scores.topk(min(cfg.top_k, scores.shape[-1]), dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if cfg.top_p is not None and cfg.top_p < 1.0:
        sorted_scores, idx = scores.sort(-1, descending=True)
        cum = sorted_scores.softmax(-1).cumsum(-1)
        drop = cum - sorted_scores.softmax(-1) > cfg.top_p
        scores = scores.scatter(-1, idx, sorted_scores.masked_fill(drop, float("-inf")))
    probs = scores.float().softmax(-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def _call_processor(proc: Any, ids: Tensor, scores: Tensor, ctx: StepContext) -> Tensor:
    if hasattr(proc, "set_context"):
        proc.set_context(ctx)
    return proc(ids, scores)


@torch.no_grad()
def generate_batch(
    model: "Model",
    prompt_ids: Sequence[Sequence[int]],
    config: GenerationConfig,
    processors: Sequence[LogitsProcessor] = (),
    capture_sites: Sequence[Site | str] = (),
) -> tuple[list[list[int]], dict[Site, list[Tensor]]]:
    """Generate for one batch of token-id prompts. Returns response tokens and per-step states."""
    ids, mask = model.pad(prompt_ids)
    b, width = ids.shape
    eos = torch.tensor(model.eos_token_ids or [-1], device=ids.device)
    finished = torch.zeros(b, dtype=torch.bool, device=ids.device)
    lengths = torch.zeros(b, dtype=torch.long, device=ids.device)
    gen = None
    if config.do_sample:
        gen = torch.Generator(device=ids.device)
        gen.manual_seed(config.seed if config.seed is not None else torch.seed() % 2**63)
    sites = [parse_site(s).resolve(model) for s in capture_sites]
    steps: dict[Site, list[Tensor]] = {s: [] for s in sites}
    past = None
    new_ids = ids
    with recording(model, sites) as rec:
        for step in range(config.max_new_tokens + 1):
            if config.use_cache:
                out = model.forward(new_ids, mask, past_key_values=past, use_cache=True, last_logits_only=True)
                past = returned_cache(out)
            else:
                out = model.forward(ids, mask, last_logits_only=True)
            for s in sites:  # keep only the newest position's state
                steps[s].append(rec[s][-1].select(s.pos_axis, -1).clone())
                rec[s].clear()
            if step == config.max_new_tokens or bool(finished.all()):
                break
            scores = out.logits[:, -1].float()
            ctx = StepContext(attention_mask=mask, prompt_width=width, step=step, finished=finished)
            for proc in processors:
                scores = _call_processor(proc, ids, scores, ctx)
            nxt = _sample(scores, config, gen)
            nxt = torch.where(finished, torch.full_like(nxt, model.pad_token_id), nxt)
            lengths += (~finished).long()
            if config.stop_at_eos:
                finished = finished | torch.isin(nxt, eos)
            ids = torch.cat([ids, nxt[:, None]], 1)
            mask = torch.cat([mask, torch.ones_like(nxt)[:, None]], 1)
            new_ids = nxt[:, None]
            if not sites and (step + 1 == config.max_new_tokens or bool(finished.all())):
                break  # the state after the last token is only needed when capturing
    tokens = [ids[i, width: width + int(lengths[i])].tolist() for i in range(b)]
    states = {s: [_row_states(s, [v[i] for v in vals[: len(tokens[i]) + 1]], width - len(prompt_ids[i]))
                  for i in range(b)] for s, vals in steps.items()}
    return tokens, states


def _row_states(site: Site, rows: list[Tensor], pad: int) -> Float[Tensor, "steps ..."]:
    """One row's per-step states, stacked. An attention pattern's newest query row covers the keys seen so
    far, one more each step: the row's left padding is cut and the keys a step could not see (later tokens)
    are filled as the causal mask fills them (probability 0; score -inf), so step t is row t of the pattern
    over the row's own tokens."""
    if not site.keyed:
        return torch.stack(rows)
    total = rows[-1].shape[-1]
    fill = float("-inf") if site.kind == "attn_scores" or str(site.name).endswith("hook_attn_scores") else 0.0
    return torch.stack([torch.nn.functional.pad(r, (0, total - r.shape[-1]), value=fill)[..., pad:] for r in rows])


def generate(
    model: "Model",
    prompts: Sequence[str],
    config: GenerationConfig | None = None,
    *,
    processors: Sequence[LogitsProcessor] = (),
    interventions: Sequence[Intervention] = (),
    capture_sites: Sequence[Site | str] = (),
    batch_size: int = 16,
    chat: bool | None = False,
    max_prompt_tokens: int | None = None,
    progress: bool = True,
    **overrides: Any,
) -> Generation:
    """Generate a response for each prompt (batched by `batch_size`).

    `chat=None` renders prompts through the model's chat template when it has one; `False`
    (default) tokenizes them as given. Extra keyword arguments override `config` fields.
    """
    import time

    options = inspect.signature(GenerationConfig).parameters
    unknown = [k for k in overrides if k not in options]
    if unknown:
        raise TypeError(f"unknown generation option {unknown[0]!r}; options: {', '.join(options)}")
    config = dataclasses.replace(config or GenerationConfig(), **overrides)  # the caller's config stays as it was
    rendered = [model.render(p, chat=chat) if chat is not False else p for p in prompts]
    limit = max_prompt_tokens or max(model.n_ctx - config.max_new_tokens - 1, 1)
    prompt_ids = []
    n_cut = 0
    for text in rendered:
        enc = model.tokenizer(text, add_special_tokens=not _has_bos(model, text))["input_ids"]
        if len(enc) > limit:
            n_cut += 1
            enc = enc[-limit:]
        prompt_ids.append(enc)
    if n_cut:
        import warnings

        warnings.warn(f"{n_cut} prompts were longer than {limit} tokens and were truncated (their last {limit} tokens kept)")
    tokens: list[list[int]] = []
    states: dict[Site, list[Tensor]] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=len(prompts), desc="generate", unit="prompt", disable=not progress or len(prompts) <= batch_size)
    with intervene(model, *interventions):
        for start in range(0, len(prompt_ids), batch_size):
            batch = prompt_ids[start: start + batch_size]
            toks, st = generate_batch(model, batch, config, processors, capture_sites)
            tokens.extend(toks)
            for s, v in st.items():
                states.setdefault(s, []).extend(v)
            bar.update(len(batch))
    bar.close()
    texts = [model.decode(t) for t in tokens]
    return Generation(list(prompts), prompt_ids, tokens, texts, states, time.perf_counter() - t0)


def _has_bos(model: "Model", text: str) -> bool:
    bos = model.tokenizer.bos_token
    return bool(bos) and text.startswith(bos)
