"""Seeded random-weight models from small configs: architecture coverage in unit tests, in milliseconds."""
from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    GPT2Config,
    GPTJConfig,
    GPTNeoXConfig,
    LlamaConfig,
    MistralConfig,
    Phi3Config,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen3Config,
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


# architectures with a tiny config here; each is a transformer-lens 3.9 bridge-supported HF class
ARCHS = ("llama", "gpt2", "neox", "qwen2", "qwen3", "mistral", "phi3", "gemma", "gptj")
EXTRA_ARCHS = ARCHS[3:]  # beyond the three registered as tiny-random-<arch>


def tiny_config(arch: str, vocab_size: int = 259) -> PretrainedConfig:
    """A small random config of `arch` sized for the byte tokenizer (ids 256/257/258 = bos/eos/pad).

    The extra architectures each exercise something the bridge must map differently: biased
    qkv (qwen2), q/k norms (qwen3), sliding-window attention (mistral), fused qkv and gate/up
    projections (phi3), GeGLU with scaled embeddings and (1 + w) norms (gemma), parallel
    attention/MLP with interleaved partial rotary and a biased unembedding (gptj). OPT is left out
    on purpose: its MLP is inline in the decoder layer (on flattened tokens), so the bridge's
    `blocks.{l}.mlp.hook_out` never fires and the `mlp_out` site would be silently empty.
    """
    common = dict(vocab_size=vocab_size, bos_token_id=256, eos_token_id=257, pad_token_id=258)
    decoder = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                   max_position_embeddings=512, **common)
    if arch == "llama":
        return LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                           num_key_value_heads=2, max_position_embeddings=512, **common)
    if arch == "gpt2":
        return GPT2Config(n_embd=64, n_layer=4, n_head=4, n_positions=512, **common)
    if arch == "neox":
        return GPTNeoXConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                             max_position_embeddings=512, rotary_pct=0.25, **common)
    if arch == "qwen2":
        return Qwen2Config(num_key_value_heads=2, tie_word_embeddings=True, **decoder)
    if arch == "qwen3":
        return Qwen3Config(num_key_value_heads=2, head_dim=16, tie_word_embeddings=True, **decoder)
    if arch == "mistral":
        return MistralConfig(num_key_value_heads=1, sliding_window=8, **decoder)
    if arch == "phi3":
        return Phi3Config(num_key_value_heads=2, original_max_position_embeddings=512, **decoder)
    if arch == "gemma":
        return GemmaConfig(num_key_value_heads=1, head_dim=16, hidden_activation="gelu_pytorch_tanh", **decoder)
    if arch == "gptj":
        return GPTJConfig(n_embd=64, n_layer=4, n_head=4, n_positions=512, rotary_dim=8, **common)
    raise ValueError(f"unknown tiny architecture {arch!r}: choose one of {', '.join(ARCHS)}")


def build_tiny_random(arch: str, out: Path) -> Path:
    """Write a seeded random model of `arch` with the byte tokenizer into `out` (safetensors)."""
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(tiny_config(arch))
    model.save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return out
