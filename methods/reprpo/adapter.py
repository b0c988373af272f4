"""LoRA adapters (peft) on the HF model inside the transformer-lens bridge.

The bridge replaces each HF `nn.Linear` by a `LinearBridge` that holds the original layer as
`<name>._original_component` and calls it between its hook points. peft cannot wrap a
`LinearBridge` (not a layer type it knows), so we target the inner `nn.Linear`s by a regex on
their full names. peft swaps each for a LoRA layer *inside* the bridge component, so every bridge
hook still fires on the adapted computation, and `recording`/`capture(grad=True)` see states
that carry gradients to the adapter. The reference model is the same weights with the adapter
disabled (`peft_model.disable_adapter()`): no second copy of the model.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

from interp.io import load_tensors, read_json, save_tensors, write_json

if TYPE_CHECKING:
    from interp.models.model import Model

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def target_regex(names: Sequence[str]) -> str:
    """peft `target_modules` regex matching the bridge-held `nn.Linear` of each named projection."""
    if not names:
        raise ValueError("no LoRA target modules named; e.g. q_proj,v_proj")
    alt = "|".join(re.escape(n) for n in names)
    return rf".*\.({alt})\._original_component"


def lora_targets(model: "Model", names: Sequence[str]) -> list[str]:
    """Full module names peft will adapt; a clear error naming the model's projections when none match."""
    pattern = re.compile(target_regex(names))
    found = [n for n, m in model.hf.named_modules() if pattern.fullmatch(n) and isinstance(m, torch.nn.Linear)]
    if not found:
        leaves = sorted({n.split(".")[-2] for n, m in model.hf.named_modules()
                         if n.endswith("._original_component") and isinstance(m, torch.nn.Linear)})
        raise ValueError(
            f"no linear layer of model {model.spec!r} is named {', '.join(names)}; its projections are: "
            f"{', '.join(leaves) or 'none'} (pass them with --lora-targets)"
        )
    return found


def add_lora(
    model: "Model", r: int = 16, alpha: float = 32.0, dropout: float = 0.0,
    targets: Sequence[str] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
) -> PeftModel:
    """Wrap `model.hf` in place with fresh LoRA adapters (B = 0, so the policy starts equal to the reference)."""
    _refuse_second(model)
    lora_targets(model, targets)
    cfg = LoraConfig(r=int(r), lora_alpha=float(alpha), lora_dropout=float(dropout),
                     target_modules=target_regex(targets), bias="none")
    frozen_before = {n: p.requires_grad for n, p in model.hf.named_parameters()}
    peft_model = get_peft_model(model.hf, cfg)
    peft_model._interp_requires_grad = frozen_before  # restored by remove_lora
    return peft_model


def has_lora(model: "Model") -> bool:
    return any(isinstance(m, LoraLayer) for m in model.hf.modules())


def _refuse_second(model: "Model") -> None:
    if has_lora(model):
        raise RuntimeError(f"model {model.spec!r} already carries a LoRA adapter; remove_lora(peft_model) first")


def remove_lora(peft_model: PeftModel) -> None:
    """Put the original layers back into the bridge (the model runs on its plain weights again).

    peft's own `unload()` follows one name per layer and, with the bridge's aliased paths
    (`attn.q` and `self_attn.q_proj` are one `LinearBridge`), swaps the wrong modules; here every
    parent that holds a LoRA layer gets its base layer back.
    """
    root = peft_model.get_base_model()
    swaps = []
    for name, module in root.named_modules(remove_duplicate=False):
        for child_name, child in module._modules.items():
            if isinstance(child, LoraLayer):
                swaps.append((module, child_name, child.get_base_layer()))
    for parent, child_name, base in swaps:
        parent._modules[child_name] = base
    if "peft_config" in vars(root):
        del root.peft_config  # set by peft on the wrapped model; a later adapter would see a stale one
    flags = getattr(peft_model, "_interp_requires_grad", {})
    for n, p in root.named_parameters():
        if n in flags:
            p.requires_grad_(flags[n])


def lora_layers(peft_model: torch.nn.Module) -> dict[str, LoraLayer]:
    """The adapted layers by name (each `base(x) + B A x * scale`)."""
    return {n: m for n, m in peft_model.named_modules() if isinstance(m, LoraLayer) and "default" in m.lora_A}


def adapter_state(peft_model: PeftModel) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in get_peft_model_state_dict(peft_model).items()}


def save_adapter(peft_model: PeftModel, folder: str | Path, extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Adapter weights (safetensors) and LoRA config (JSON), each written atomically."""
    folder = Path(folder)
    cfg = peft_model.peft_config["default"]
    config = {"r": cfg.r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
              "target_modules": cfg.target_modules if isinstance(cfg.target_modules, str) else sorted(cfg.target_modules)}
    save_tensors(folder / ADAPTER_WEIGHTS, {**adapter_state(peft_model), **(extra or {})})
    write_json(folder / ADAPTER_CONFIG, config)
    return folder


def load_adapter_weights(peft_model: PeftModel, folder: str | Path) -> dict[str, torch.Tensor]:
    """Load saved LoRA weights into `peft_model`; returns the file's other tensors (e.g. transforms)."""
    tensors = load_tensors(Path(folder) / ADAPTER_WEIGHTS, device=str(next(peft_model.parameters()).device))
    lora = {k: v for k, v in tensors.items() if "lora_" in k}
    result = set_peft_model_state_dict(peft_model, lora)
    unexpected = getattr(result, "unexpected_keys", None) or []
    if unexpected:
        raise ValueError(f"adapter in {folder} does not fit this model: unexpected weights {unexpected[:3]}...")
    return {k: v for k, v in tensors.items() if "lora_" not in k}


def load_adapter(model: "Model", folder: str | Path) -> PeftModel:
    """Rebuild the LoRA layers recorded in `folder` on `model` and load their weights."""
    folder = Path(folder)
    if not (folder / ADAPTER_WEIGHTS).exists():
        raise FileNotFoundError(f"no adapter in {folder} (expected {ADAPTER_WEIGHTS}); train one first")
    cfg = read_json(folder / ADAPTER_CONFIG)
    _refuse_second(model)
    lcfg = LoraConfig(r=cfg["r"], lora_alpha=cfg["lora_alpha"], lora_dropout=cfg["lora_dropout"],
                      target_modules=cfg["target_modules"], bias="none")
    frozen_before = {n: p.requires_grad for n, p in model.hf.named_parameters()}
    peft_model = get_peft_model(model.hf, lcfg)
    peft_model._interp_requires_grad = frozen_before
    load_adapter_weights(peft_model, folder)
    return peft_model
