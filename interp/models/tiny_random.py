"""Seeded random-weight models from small configs: architecture coverage in unit tests, in milliseconds."""
from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
)

SEED = 0


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer with no merges (vocab 256 + bos/eos/pad): no hub, any text."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    for special in ("<bos>", "<eos>", "<pad>"):
        vocab[special] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", vocab["<bos>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", padding_side="left"
    )


def tiny_config(arch: str, vocab_size: int = 259) -> PretrainedConfig:
    common = dict(vocab_size=vocab_size, bos_token_id=256, eos_token_id=257, pad_token_id=258)
    if arch == "llama":
        return LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                           num_key_value_heads=2, max_position_embeddings=512, **common)
    if arch == "gpt2":
        return GPT2Config(n_embd=64, n_layer=4, n_head=4, n_positions=512, **common)
    if arch == "neox":
        return GPTNeoXConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                             max_position_embeddings=512, rotary_pct=0.25, **common)
    raise ValueError(f"unknown tiny architecture {arch!r}: choose llama, gpt2 or neox")


def build_tiny_random(arch: str, out: Path) -> Path:
    """Write a seeded random model of `arch` with the byte tokenizer into `out` (safetensors)."""
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(tiny_config(arch))
    model.save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return out
