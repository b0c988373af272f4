"""`Model`: the one wrapper every method uses, around a transformer-lens `TransformerBridge`.

The bridge installs HookPoints inside the Hugging Face modules, so calling the HF model
(`model.hf`) runs those hooks too; that is how KV-cached generation keeps interventions
active at every step. `Model.forward` goes further when only sites are hooked: it takes the
bridge's wrappers out for the call and runs HF's own modules (`interp.models.lean_path`).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from interp.models.positions import positions_from_mask  # noqa: F401 - re-exported
from interp.models.cache_keyword import cache_keyword
from interp.models.lean_path import LeanPath, default_mode


@dataclass
class Model:
    bridge: TransformerBridge
    tokenizer: Any
    spec: str
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # "auto": the lean path (HF modules, site hooks only) when nothing finer is hooked; see lean_path.py
    execution: str = field(default_factory=default_mode)

    @cached_property
    def lean(self) -> LeanPath:
        return LeanPath(self)

    # --- shape and placement -------------------------------------------------------
    @property
    def hf(self) -> torch.nn.Module:
        """The Hugging Face model inside the bridge (hooks installed)."""
        return self.bridge.original_model

    @property
    def n_layers(self) -> int:
        return int(self.bridge.cfg.n_layers)

    @property
    def d_model(self) -> int:
        return int(self.bridge.cfg.d_model)

    @property
    def vocab_size(self) -> int:
        return int(self.hf.get_output_embeddings().weight.shape[0])

    @property
    def device(self) -> torch.device:
        return next(self.hf.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.hf.parameters()).dtype

    @property
    def n_ctx(self) -> int:
        cfg = self.hf.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            if getattr(cfg, name, None):
                return int(getattr(cfg, name))
        return int(self.bridge.cfg.n_ctx)

    @property
    def eos_token_ids(self) -> list[int]:
        ids = self.hf.generation_config.eos_token_id if self.hf.generation_config is not None else None
        if ids is None:
            ids = self.tokenizer.eos_token_id
        if ids is None:
            return []
        return list(ids) if isinstance(ids, (list, tuple)) else [int(ids)]

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.eos_token_ids[0] if self.eos_token_ids else 0
        return int(pad)

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "path": str(self.path) if self.path else None,
            "architecture": type(self.hf).__name__,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "vocab_size": self.vocab_size,
            "n_ctx": self.n_ctx,
            "n_params": sum(p.numel() for p in self.hf.parameters()),
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "chat_template": bool(getattr(self.tokenizer, "chat_template", None)),
            "execution": f"{self.execution}; latest forward: {self.lean.last}",
            **self.info,
        }

    # --- text ----------------------------------------------------------------------
    def render(self, prompt: str | list[dict[str, str]], chat: bool | None = None, system: str | None = None) -> str:
        """Prompt text as the model should see it: through the chat template when the model has one.

        `chat=None` uses the template when there is one; a list of {role, content} messages
        is a multi-turn conversation.
        """
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        use_chat = has_template if chat is None else chat
        if use_chat and not has_template:
            raise ValueError(f"model {self.spec!r} has no chat template; pass chat=False")
        if not use_chat:
            if isinstance(prompt, list):
                return "".join(f"\n\n{m['role'].capitalize()}: {m['content']}" for m in prompt)
            return prompt
        messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        if system is not None:
            messages = [{"role": "system", "content": system}, *messages]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def tokenize(
        self, texts: Sequence[str], max_length: int | None = None, add_special_tokens: bool = True
    ) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
        """Left-padded token ids and attention mask on the model's device.

        Prompts longer than `max_length` (default: the context) keep their last tokens,
        with a warning naming how many were cut.
        """
        limit = max_length or self.n_ctx
        enc = [self.tokenizer(t, add_special_tokens=add_special_tokens)["input_ids"] for t in texts]
        cut = sum(len(e) > limit for e in enc)
        if cut:
            import warnings

            warnings.warn(f"{cut} of {len(enc)} prompts exceed {limit} tokens; keeping their last {limit} tokens")
            enc = [e[-limit:] for e in enc]
        return self.pad(enc)

    def pad(self, seqs: Sequence[Sequence[int]]) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
        """Left-pad token id lists into (ids, mask)."""
        if not seqs:
            raise ValueError("no sequences to pad")
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            if len(s):
                ids[i, width - len(s):] = torch.as_tensor(list(s), dtype=torch.long)
                mask[i, width - len(s):] = 1
        return ids.to(self.device), mask.to(self.device)

    def decode(self, ids: Sequence[int] | Tensor, skip_special_tokens: bool = True) -> str:
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    # --- forward -------------------------------------------------------------------
    def forward(
        self,
        input_ids: Int[Tensor, "batch pos"],
        attention_mask: Int[Tensor, "batch pos"] | None = None,
        past_key_values: Any = None,
        position_ids: Int[Tensor, "batch pos"] | None = None,
        use_cache: bool = False,
        last_logits_only: bool = False,
    ) -> Any:
        """One HF forward with the site hooks attached; position ids follow the mask (left padding).

        It runs on the lean path (the HF modules themselves) unless something finer than a site is
        hooked or `self.execution == "bridge"`; `describe()["execution"]` says which path ran last.

        The returned cache is read with `interp.models.cache_keyword.returned_cache(out)`, which
        works across transformers' renaming of `past_key_values` to `cache`.

        `last_logits_only`: unembed only the last position (generation needs no more; at a prompt
        of 8 x 128 tokens the full unembedding is ~30 GFLOP of the forward), as HF generate does
        through `logits_to_keep`, when the model's forward accepts it."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if position_ids is None:
            position_ids = positions_from_mask(attention_mask)[:, -input_ids.shape[1]:]
        extra = {"logits_to_keep": 1} if last_logits_only and self._accepts_logits_to_keep else {}
        extra[cache_keyword(self.hf)] = past_key_values  # `cache` on transformers 5.24+
        with self.lean.running(self.execution):
            return self.hf(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                use_cache=use_cache,
                **extra,
            )

    @cached_property
    def _accepts_logits_to_keep(self) -> bool:
        return "logits_to_keep" in inspect.signature(self.hf.forward).parameters

    def logits(
        self, input_ids: Int[Tensor, "batch pos"], attention_mask: Int[Tensor, "batch pos"] | None = None
    ) -> Float[Tensor, "batch pos vocab"]:
        return self.forward(input_ids, attention_mask).logits

    def unembed_matrix(self) -> Float[Tensor, "vocab d_model"]:
        return self.hf.get_output_embeddings().weight

    def check_compatible(self, d_model: int | None = None, vocab: dict[str, int] | None = None, what: str = "this artifact") -> None:
        """Refuse an artifact (value model, SAE, probe) trained for a model of another width or tokenizer."""
        if d_model is not None and int(d_model) != self.d_model:
            raise ValueError(
                f"{what} was trained for d_model={d_model}, but model {self.spec!r} has d_model={self.d_model}; "
                "use it with the model it was trained on, or retrain it for this model"
            )
        if vocab is not None:
            if vocab.get("size") is not None and int(vocab["size"]) != len(self.tokenizer):
                raise ValueError(
                    f"{what} was trained with a tokenizer of {vocab['size']} tokens, but model {self.spec!r} "
                    f"has {len(self.tokenizer)}; tokenizers must match"
                )


