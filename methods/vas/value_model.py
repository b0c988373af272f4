"""The value estimator V(s): a causal transformer backbone plus a scalar head on its last hidden state.

VAS needs V at every prefix of a response, so the head reads every position: `values[:, t]` is
the value of the state that ends with token t. Q(s, a) is V(s + a), the value at the position
of the candidate token.

Two shapes (`ValueConfig`):
  adapter="lora", head="linear"   the VAS default: the base model's own architecture with a LoRA
                                  adapter (peft) and a linear head, trained end to end
  adapter="none", head="mlp"      a frozen backbone with a small MLP head (cheaper to train)

The backbone is any interp model spec (registered name or local HF folder), loaded as a plain
Hugging Face decoder without its LM head: the value model is never inspected, and without the
bridge's hooks it runs at Hugging Face speed inside the decoding loop. A smaller backbone than
the base model is allowed when the tokenizers are identical (`check_tokenizer`).

Saved as `value.safetensors` (adapter + head tensors only) and `value.json` (backbone spec,
tokenizer size and fingerprint, every shape setting), so loading rebuilds the exact module.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from interp.fingerprint import json_digest
from interp.tagged import TaggedWeights
from interp.validate import check

KIND = "vas-value-model"
WEIGHTS = "value.safetensors"
CONFIG = "value.json"
FORMAT = TaggedWeights(KIND, WEIGHTS, CONFIG, "VAS value model", "train", "interp vas train --out {path}")


@dataclass
class ValueConfig:
    backbone: str = ""  # interp model spec of the backbone ("": the base model, where a pipeline knows it)
    adapter: str = "lora"  # "lora" (train a LoRA adapter) or "none" (frozen backbone)
    head: str = "linear"  # "linear" or "mlp"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: list[str] | None = None  # None: peft's default modules for the architecture
    mlp_hidden: int = 256
    n_layers: int | None = None  # keep only the backbone's first n blocks: a cheaper value model, same tokenizer
    attn_implementation: str = "eager"

    def __post_init__(self) -> None:
        check(self, counts=("lora_r", "lora_alpha", "mlp_hidden", "n_layers"), probabilities=("lora_dropout",))
        if self.adapter not in ("lora", "none"):
            raise ValueError(f"adapter must be 'lora' or 'none', not {self.adapter!r}")
        if self.head not in ("linear", "mlp"):
            raise ValueError(f"head must be 'linear' or 'mlp', not {self.head!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ValueConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ValueOutput:
    values: Float[Tensor, "batch pos"]
    past_key_values: Any = None


def vocab_fingerprint(tokenizer: Any) -> str:
    """sha256 of the token -> id table: equal fingerprints mean the same ids for the same text pieces."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return json_digest(items, ensure_ascii=False)


def truncate_layers(backbone: nn.Module, n: int) -> None:
    """Keep the first `n` transformer blocks (the final norm stays): V reads a middle layer's state."""
    total = int(backbone.config.num_hidden_layers)
    if not 1 <= n <= total:
        raise ValueError(f"n_layers must be between 1 and the backbone's {total} layers, got {n}")
    name = next((a for a in ("layers", "h") if isinstance(getattr(backbone, a, None), nn.ModuleList)), None)
    if name is None or len(getattr(backbone, name)) != total:
        raise ValueError(f"cannot find the block list of {type(backbone).__name__} to keep {n} layers; use n_layers=None")
    setattr(backbone, name, nn.ModuleList(list(getattr(backbone, name))[:n]))
    backbone.config.num_hidden_layers = n
    if getattr(backbone.config, "layer_types", None):
        backbone.config.layer_types = list(backbone.config.layer_types)[:n]


def _head(kind: str, d_model: int, hidden: int) -> nn.Module:
    if kind == "linear":
        head = nn.Linear(d_model, 1)
        nn.init.zeros_(head.weight)  # start at a constant value; the bias is set to the mean reward
        nn.init.zeros_(head.bias)
        return head
    return nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, 1))


class ValueModel(nn.Module):
    """V(s) for every prefix of a token sequence; see the module docstring."""

    def __init__(self, cfg: ValueConfig, device: str | torch.device | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        from interp.models.registry import hf_from_pretrained, resolve_spec

        if not cfg.backbone:
            raise ValueError("the value model's config names no backbone: set ValueConfig.backbone to a model spec "
                             "(usually the base model's own)")
        self.cfg = cfg
        self.folder = resolve_spec(cfg.backbone)
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        # safetensors, else transformers' weights_only load; a code-running pickle is refused
        backbone = hf_from_pretrained(AutoModel, self.folder, dtype=dtype, attn_implementation=cfg.attn_implementation)
        if cfg.n_layers is not None:
            truncate_layers(backbone, cfg.n_layers)
        self.d_model = int(backbone.config.hidden_size)
        self.n_embeddings = int(backbone.get_input_embeddings().weight.shape[0])
        for p in backbone.parameters():
            p.requires_grad_(False)
        if cfg.adapter == "lora":
            from peft import LoraConfig, get_peft_model

            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=cfg.lora_targets, bias="none",
                              fan_in_fan_out=backbone.config.model_type == "gpt2")  # GPT-2's Conv1D stores W transposed
            try:
                with warnings.catch_warnings():  # peft asks transformers a deprecated question; not ours to fix
                    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
                    backbone = get_peft_model(backbone, lora)
            except ValueError as e:
                raise ValueError(
                    f"peft cannot place a LoRA adapter on {type(backbone).__name__} ({e}); pass lora_targets "
                    "naming its linear layers, or use adapter='none' with head='mlp'"
                ) from e
        self.backbone = backbone
        self.head = _head(cfg.head, self.d_model, cfg.mlp_hidden)
        self.merged = False
        self.to(device or ("cuda" if torch.cuda.is_available() else "cpu"), dtype)
        self.backbone.eval()  # dropout only while training (`train()` turns it back on)

    # --- shape and placement -------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.head.parameters()).device

    @property
    def tokenizer_size(self) -> int:
        return len(self.tokenizer)

    def trainable_state(self) -> dict[str, Tensor]:
        """The tensors training changes: the adapter (peft's own state dict) and the head."""
        out = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        if self.cfg.adapter == "lora":
            from peft import get_peft_model_state_dict

            out.update({f"adapter.{k}": v for k, v in get_peft_model_state_dict(self.backbone).items()})
        return out

    def load_trainable(self, state: dict[str, Tensor], source: str = "state") -> None:
        """Put adapter and head tensors (as `trainable_state` returns them) back into the module."""
        head = {k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")}
        self.head.load_state_dict(head)
        if self.cfg.adapter == "lora":
            from peft import set_peft_model_state_dict

            adapter = {k.removeprefix("adapter."): v for k, v in state.items() if k.startswith("adapter.")}
            if not adapter:
                raise ValueError(f"{source} holds no adapter tensors but the config names a LoRA adapter")
            result = set_peft_model_state_dict(self.backbone, adapter)
            missing = [k for k in result.missing_keys if "lora_" in k]
            if missing:
                raise ValueError(f"{source} lacks adapter tensors {missing[:3]}; the file is incomplete")

    # --- forward -------------------------------------------------------------------
    def forward(
        self,
        input_ids: Int[Tensor, "batch pos"],
        attention_mask: Int[Tensor, "batch past_and_pos"],
        position_ids: Int[Tensor, "batch pos"] | None = None,
        past_key_values: Any = None,
        use_cache: bool = False,
    ) -> ValueOutput:
        """Values at every input position; position ids follow the mask (left padding) unless given."""
        from interp.models.cache_keyword import cache_keyword, returned_cache
        from interp.models.positions import positions_from_mask

        if position_ids is None:
            position_ids = positions_from_mask(attention_mask)[:, -input_ids.shape[1]:]
        out = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            use_cache=use_cache, **{cache_keyword(self.backbone): past_key_values},
        )
        hidden = out.last_hidden_state
        values = self.head(hidden.to(next(self.head.parameters()).dtype)).squeeze(-1)
        return ValueOutput(values=values.float(), past_key_values=returned_cache(out) if use_cache else None)

    # --- compatibility -------------------------------------------------------------
    def check_tokenizer(self, base: Any, what: str = "value model") -> None:
        """Refuse a base model whose tokenizer differs: Q would score other tokens than the base proposes.

        `base` is an interp Model (or anything with `.tokenizer`, `.spec`, `.vocab_size`).
        """
        spec = getattr(base, "spec", "the base model")
        if hasattr(base, "check_compatible"):
            base.check_compatible(vocab={"size": self.tokenizer_size}, what=f"{what} (backbone {self.cfg.backbone!r})")
        elif len(base.tokenizer) != self.tokenizer_size:
            raise ValueError(f"{what} has a tokenizer of {self.tokenizer_size} tokens, {spec!r} has {len(base.tokenizer)}")
        if vocab_fingerprint(base.tokenizer) != vocab_fingerprint(self.tokenizer):
            theirs, ours = base.tokenizer.get_vocab(), self.tokenizer.get_vocab()
            diff = next((t for t, i in theirs.items() if ours.get(t) != i), None)
            raise ValueError(
                f"{what} (backbone {self.cfg.backbone!r}) and base model {spec!r} have tokenizers of the same size "
                f"whose token ids differ (e.g. {diff!r}: {theirs.get(diff)} vs {ours.get(diff)}); a value model must "
                "share the base model's tokenizer exactly"
            )
        base_vocab = int(getattr(base, "vocab_size", self.tokenizer_size))
        if base_vocab > self.n_embeddings:
            raise ValueError(
                f"base model {spec!r} can emit {base_vocab} token ids but the {what}'s backbone embeds only "
                f"{self.n_embeddings}; use a backbone with the same vocabulary"
            )

    # --- persistence ---------------------------------------------------------------
    def save(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write value.safetensors (adapter + head) and value.json, atomically."""
        if self.merged:
            raise RuntimeError("this value model's adapter was merged for decoding; save it before merge_adapter()")
        return FORMAT.save(folder, self.trainable_state(), {
            **(extra or {}), "kind": KIND, "config": asdict(self.cfg), "d_model": self.d_model,
            "tokenizer_size": self.tokenizer_size, "vocab_fingerprint": vocab_fingerprint(self.tokenizer),
        })

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None, merge: bool = True) -> "ValueModel":
        """Rebuild a saved value model; `merge` folds the LoRA adapter into the weights (faster decoding)."""
        folder, meta = FORMAT.read(path)
        model = cls(ValueConfig.from_dict(meta["config"]), device=device)
        if model.tokenizer_size != int(meta["tokenizer_size"]) or vocab_fingerprint(model.tokenizer) != meta["vocab_fingerprint"]:
            raise ValueError(
                f"{folder} was trained with another tokenizer than backbone {model.cfg.backbone!r} has now "
                f"({meta['tokenizer_size']} vs {model.tokenizer_size} tokens, or different ids); retrain it"
            )
        model.load_trainable(FORMAT.weights_of(folder, device=str(model.device)), source=f"{folder}/{WEIGHTS}")
        if merge:
            model.merge_adapter()
        model.info = meta
        model.eval()
        return model

    def merge_adapter(self) -> None:
        """Fold LoRA into the backbone's weights: same values, no adapter overhead while decoding."""
        if self.cfg.adapter == "lora" and not self.merged:
            self.backbone = self.backbone.merge_and_unload()
            self.merged = True


def resolve_value_folder(path: str | Path) -> Path:
    """The folder holding value.json: `path` itself or `path/train` (a `interp vas train` run)."""
    return FORMAT.resolve(path)
