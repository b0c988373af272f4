"""`load_model(spec)`: registered names, local Hugging Face folders, and hub names when a hub is reachable.

Every spec resolves to a local folder of safetensors + tokenizer first; the bridge is then
booted around the HF model loaded from that folder, so nothing is fetched at run time.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from interp.models.paths import cache_dir

if TYPE_CHECKING:
    from interp.models.model import Model

# converters are versioned: a cached folder built by an older converter is rebuilt
CONVERTER_VERSION = {"smollm2-135m-instruct": 1, "stories260k": 2}
TINY_ARCHS = {f"tiny-random-{a}": a for a in ("llama", "gpt2", "neox", "qwen2", "qwen3", "mistral", "phi3", "gemma", "gptj")}


def is_tiny(spec: str) -> bool:
    """A test model (stories260k, tiny-random-*): what a pipeline's demo config sizes to seconds, not minutes."""
    return spec == "stories260k" or spec.startswith("tiny-random-")


def _tiny(name: str) -> Callable[[Path], Path]:
    def build(out: Path) -> Path:
        from interp.models.tiny_random import build_tiny_random

        return build_tiny_random(TINY_ARCHS[name], out)

    return build


def _stories(out: Path) -> Path:
    from interp.models.stories260k import build_stories260k

    return build_stories260k(out)


def _smollm2(out: Path) -> Path:
    from interp.models.smollm2 import build_smollm2

    return build_smollm2(out)


# name -> builder that writes a HF folder (safetensors + tokenizer) into the given path
REGISTERED: dict[str, Callable[[Path], Path]] = {
    "smollm2-135m-instruct": _smollm2,
    "stories260k": _stories,
    **{name: _tiny(name) for name in TINY_ARCHS},
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def registered_folder(name: str) -> Path:
    """The cached HF folder of a registered model, built on first use.

    Built aside and renamed into place under a file lock (several processes may ask at once);
    a folder stamped by an older converter version is rebuilt.
    """
    from filelock import FileLock

    out = cache_dir() / "models" / name
    stamp = f"{name} converter {CONVERTER_VERSION.get(name, 1)}\n"
    if _is_current(out, stamp):
        return out
    _mk(out.parent)
    with FileLock(str(out.parent / f".{name}.lock")):
        if not _is_current(out, stamp):
            _build(name, out, stamp)
    return out


def _is_current(out: Path, stamp: str) -> bool:
    marker = out / ".interp-converter"
    return marker.exists() and marker.read_text() == stamp and any(out.glob("*.safetensors"))


def _build(name: str, out: Path, stamp: str) -> None:
    from interp.io import atomic_dir

    with atomic_dir(out) as tmp:
        REGISTERED[name](tmp)
        (tmp / ".interp-converter").write_text(stamp)


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def resolve_spec(spec: str) -> Path:
    """Map a spec to a local HF folder, or raise an error that names what would work offline."""
    if spec in REGISTERED:
        return registered_folder(spec)
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ValueError(f"{path} is a folder but holds no config.json: not a Hugging Face model folder")
        return path
    if spec.startswith((".", "/", "~")) or os.sep in spec and spec.count("/") != 1:
        raise FileNotFoundError(f"model folder {spec!r} does not exist")
    return _from_hub(spec)


def _from_hub(name: str) -> Path:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    known = ", ".join(sorted(REGISTERED))
    if not offline:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
        except Exception as e:  # noqa: BLE001 - any hub failure becomes one clear message
            reason = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    else:
        reason = "HF_HUB_OFFLINE=1"
    raise ValueError(
        f"model spec {name!r} is not a registered name nor a local folder, and the hub is not reachable "
        f"({reason}). Offline alternatives: a registered name ({known}) or the path of a local "
        "Hugging Face model folder."
    )


def load_model(
    spec: str = DEFAULT_MODEL,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    trust_remote_code: bool = False,
    device_map: str | dict | None = None,
) -> Model:
    """Load `spec` as a hooked `Model` (a TransformerBridge around the HF model).

    `device_map` spreads a big model over devices (Accelerate); otherwise the model goes to
    `device` (default: CUDA when available). Raises `CacheMismatch` when the installed
    transformers / transformer-lens would make KV-cached generation differ from recomputation.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    folder = resolve_spec(spec)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformer_lens.model_bridge import TransformerBridge

    from interp.models.bridge_speed import speed_up
    from interp.models.cache_guard import check_cached_decoding
    from interp.models.cache_keyword import accept_both_cache_keywords

    if device is None and device_map is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    kwargs = dict(dtype=dtype, trust_remote_code=trust_remote_code, attn_implementation="eager")
    if device_map is not None:
        kwargs["device_map"] = device_map
    hf = hf_from_pretrained(AutoModelForCausalLM, folder, **kwargs)
    if device_map is None:
        hf = hf.to(device)
    hf.eval()
    bridge = TransformerBridge.boot_transformers(
        str(folder), hf_model=hf, tokenizer=tokenizer, dtype=dtype, trust_remote_code=trust_remote_code
    )
    speed_up(bridge)  # bit-identical outputs; see interp.models.bridge_speed
    accept_both_cache_keywords(bridge)  # transformers 5.24+ passes the cache as `cache=`
    # transformer-lens reloads its own copy with add_bos_token=True; models trained without a
    # BOS (SmolLM2) must see the stock tokenizer, so the wrapper keeps ours.
    from interp.models.model import Model  # here, not at the top: listing specs must not import transformer-lens

    model = Model(bridge=bridge, tokenizer=tokenizer, spec=spec, path=folder)
    check_cached_decoding(model)  # refuse, naming versions, rather than generate wrong text
    return model


def _has_safetensors(folder: Path) -> bool:
    return any(Path(folder).glob("*.safetensors"))


def hf_from_pretrained(auto_class, folder: Path, **kwargs):
    """`auto_class.from_pretrained` reading safetensors, else pytorch_model.bin through transformers'
    torch.load(weights_only=True); a pickle holding anything but tensors is refused with a clear error."""
    import pickle

    from safetensors import SafetensorError

    from interp.io import WeightsRefused, check_safetensors

    try:
        return auto_class.from_pretrained(folder, use_safetensors=_has_safetensors(folder), **kwargs)
    except SafetensorError as e:  # a truncated or damaged weights file: name it (its header check says which)
        for f in sorted(Path(folder).glob("*.safetensors")):
            check_safetensors(f)
        raise WeightsRefused(f"the weights in {folder} could not be read ({e}); fetch or convert the model again") from None
    except pickle.UnpicklingError:
        raise WeightsRefused(
            f"refused to load the weights in {folder}: they are a pickle (.bin/.pt) holding objects other than "
            "tensors, and unpickling them could run arbitrary code. interp reads model weights only from "
            "safetensors or torch.load(weights_only=True); get a safetensors copy of this model from a source you trust"
        ) from None
