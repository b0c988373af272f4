"""`hf-rm:PATH`: any Hugging Face sequence-classification reward model from a local folder.

The score is the classifier's output at the last real (non-pad) token of each text, found from
the attention mask, not by searching for the pad id: a text that itself ends in the pad token
(pad = eos is common) is still scored at its true end, with left or right padding.
Safetensors weights only, and never `trust_remote_code`.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.models.positions import positions_from_mask
from interp.rewards.base import batched_scores, join_text


def last_real_index(mask: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch"]:
    """Index of each row's last position with mask 1 (left or right padding)."""
    if bool((mask.sum(1) == 0).any()):
        raise ValueError("a row has no tokens at all; every text must tokenize to at least one token")
    return (mask.long() * torch.arange(mask.shape[1], device=mask.device)).argmax(1)


class HFReward:
    """Score (prompt, response) with a local AutoModelForSequenceClassification (num_labels 1, or `label`).

    Text: the tokenizer's chat template (user = prompt, assistant = response) when it has one
    and `chat` is not False; otherwise `join_text(prompt, response)`.
    """

    def __init__(
        self,
        path: str | Path,
        device: str | None = None,
        max_length: int | None = None,
        batch_size: int = 8,
        padding_side: str = "right",
        chat: bool | None = None,
        label: int | None = None,
        progress: bool | None = None,
    ):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(path).expanduser()
        if not (folder / "config.json").exists():
            raise FileNotFoundError(f"{folder} holds no config.json: not a Hugging Face model folder")
        if not any(folder.glob("*.safetensors")):
            raise ValueError(
                f"{folder} has no *.safetensors weights; this project loads safetensors only "
                "(convert with `model.save_pretrained(dir, safe_serialization=True)`)"
            )
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
        self.name = f"hf-rm:{folder}"
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model = AutoModelForSequenceClassification.from_pretrained(
            folder, use_safetensors=True, trust_remote_code=False, dtype=torch.float32
        ).to(self.device).eval()
        n = int(self.model.config.num_labels)
        if label is None and n != 1:
            raise ValueError(f"{folder} has {n} labels; a reward needs one, or pass label=<index> to score one of them")
        self.label = 0 if label is None else int(label)
        self.max_length = max_length or getattr(self.tokenizer, "model_max_length", None)
        if not self.max_length or self.max_length > 1_000_000:
            self.max_length = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self.batch_size, self.padding_side, self.progress = batch_size, padding_side, progress
        self.chat = bool(getattr(self.tokenizer, "chat_template", None)) if chat is None else chat
        self._takes_positions = "position_ids" in inspect.signature(self.model.forward).parameters

    def text(self, prompt: str, response: str) -> str:
        if self.chat:
            msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
            return self.tokenizer.apply_chat_template(msgs, tokenize=False)
        return join_text(prompt, response)

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> Float[Tensor, "batch"]:
        return batched_scores(self._batch, prompts, responses, self.batch_size, "hf-rm", self.progress)

    @torch.inference_mode()
    def _batch(self, prompts: list[str], responses: list[str]) -> Float[Tensor, "batch"]:
        texts = [self.text(p, r) for p, r in zip(prompts, responses)]
        self.tokenizer.padding_side = self.padding_side
        self.tokenizer.truncation_side = "left"  # keep the response end
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt",
            add_special_tokens=not self.chat,
        ).to(self.device)
        return self.score_ids(enc["input_ids"], enc["attention_mask"])

    @torch.inference_mode()
    def score_ids(self, ids: Int[Tensor, "batch pos"], mask: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch"]:
        """Per-token classifier outputs read at each row's last real token."""
        kwargs = {}
        if self._takes_positions:  # left padding must not shift positions
            kwargs["position_ids"] = positions_from_mask(mask)
        per_token = self._per_token_logits(ids, mask, kwargs)
        if per_token is None:  # a classifier whose head does not see every position (e.g. BERT's [CLS])
            return self.model(input_ids=ids, attention_mask=mask, **kwargs).logits[:, self.label].float()
        rows = torch.arange(ids.shape[0], device=ids.device)
        return per_token[rows, last_real_index(mask), self.label].float()

    def _per_token_logits(self, ids: Tensor, mask: Tensor, kwargs: dict) -> Tensor | None:
        head = getattr(self.model, "score", None)
        if not isinstance(head, torch.nn.Module):
            return None
        seen: list[Tensor] = []
        handle = head.register_forward_hook(lambda _m, _i, out: seen.append(out))
        try:
            self.model(input_ids=ids, attention_mask=mask, **kwargs)
        finally:
            handle.remove()
        out = seen[-1] if seen else None
        return out if out is not None and out.dim() == 3 else None
