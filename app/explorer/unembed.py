"""The tokens a residual-stream direction promotes and suppresses, read straight from a model folder.

Cheap on purpose: only the unembedding (or the tied embedding) and the final norm's gain are read
from the model's safetensors, and the tokenizer from its folder; the model itself is never built.
The effect of a direction d on the logits is W_U (g * d), with g the final norm's gain (its
data-dependent 1/rms scale is positive and ignored, so the ranking of tokens is exact for RMSNorm
up to that scale; LayerNorm's mean subtraction is ignored too).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jaxtyping import Float
from torch import Tensor

from app.explorer.rundata import MissingArtifact

HEAD_KEYS = ("lm_head.weight", "embed_out.weight")
EMBED_KEYS = ("embed_tokens.weight", "wte.weight", "embed_in.weight")
NORM_KEYS = ("model.norm.weight", "ln_f.weight", "final_layer_norm.weight", "norm_f.weight")
MAX_ELEMENTS = 300_000_000  # above this (e.g. a 7B model's head), reading it is not "cheap"


@dataclass
class Unembedding:
    weight: Float[Tensor, "vocab d_model"]
    gain: Float[Tensor, "d_model"] | None
    tokens: list[str]  # each id as it reads in running text


def model_folder(spec: str, command: str | None = None) -> Path:
    """The local HF folder of a spec: a folder path, or a registered name's converted cache folder."""
    path = Path(spec).expanduser()
    if (path / "config.json").exists():
        return path
    if "/" in spec or path.is_absolute():
        raise MissingArtifact(path / "config.json", command or f"interp model info {spec}")
    from interp.models.paths import cache_dir

    cached = cache_dir() / "models" / spec
    if any(cached.glob("*.safetensors")):
        return cached
    raise MissingArtifact(cached, command or f"interp model info {spec}",
                          "does not exist yet (a registered model is converted on first load)")


def _find(names: list[str], suffixes: tuple[str, ...]) -> str | None:
    for suffix in suffixes:
        hits = [n for n in names if n == suffix or n.endswith("." + suffix)]
        if hits:
            return sorted(hits, key=len)[0]
    return None


def token_text(tokenizer, token_id: int) -> str:
    """A token as it reads in running text, keeping the leading space its piece marks (Ġ, ▁)."""
    text = tokenizer.decode([token_id])
    piece = tokenizer.convert_ids_to_tokens(token_id) or ""
    if "\ufffd" in text and piece:
        return piece  # a byte token (e.g. <0xE2>): its piece says more than a replacement character
    if piece[:1] in ("\u0120", "\u2581") and not text.startswith(" "):
        text = " " + text
    return text


def load_unembedding(spec: str, command: str | None = None) -> Unembedding:
    """The unembedding, final-norm gain and token strings of a model spec (see module docstring).

    `command` is what makes a missing model folder (default: `interp model info SPEC`, which converts
    a registered model).
    """
    from safetensors import safe_open
    from transformers import AutoTokenizer

    folder = model_folder(spec, command)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise MissingArtifact(folder / "model.safetensors", f"interp model info {spec}")
    where: dict[str, Path] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as h:
            where.update({k: f for k in h.keys()})
    names = list(where)
    key = _find(names, HEAD_KEYS) or _find(names, EMBED_KEYS)
    if key is None:
        raise MissingArtifact(folder, f"interp model info {spec}", "has no unembedding or embedding tensor")
    norm = _find(names, NORM_KEYS)

    def get(name: str) -> Tensor:
        with safe_open(str(where[name]), framework="pt") as h:
            shape = h.get_slice(name).get_shape()
            if len(shape) == 2 and shape[0] * shape[1] > MAX_ELEMENTS:
                raise MissingArtifact(folder, f"interp model info {spec}",
                                      f"has an unembedding of {shape[0]}x{shape[1]}: too large to read here")
            return h.get_tensor(name).float()

    weight = get(key)
    gain = get(norm) if norm else None
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("model_type") == "gemma" and gain is not None:
        gain = gain + 1.0  # Gemma's RMSNorm scales by (1 + weight)
    tok = AutoTokenizer.from_pretrained(str(folder))
    tokens = [token_text(tok, i) for i in range(weight.shape[0])]
    return Unembedding(weight, gain, tokens)


def logit_effects(direction: Float[Tensor, "d_model"], unembed: Unembedding, k: int = 10) -> dict[str, list]:
    """Top-k promoted and suppressed tokens of a direction: {'promoted': [(token, id, value)], 'suppressed': [...]}."""
    d = direction.float()
    if d.shape[-1] != unembed.weight.shape[1]:
        raise ValueError(f"direction has width {d.shape[-1]} but the unembedding {unembed.weight.shape[1]}: "
                         "the SAE was trained on another model")
    if unembed.gain is not None:
        d = d * unembed.gain
    logits = unembed.weight @ d
    k = min(k, logits.shape[0])
    up, down = logits.topk(k), (-logits).topk(k)
    return {"promoted": [(unembed.tokens[i], i, float(v)) for v, i in zip(up.values.tolist(), up.indices.tolist())],
            "suppressed": [(unembed.tokens[i], i, -float(v)) for v, i in zip(down.values.tolist(), down.indices.tolist())]}
