"""stories260K: karpathy's 260K-parameter TinyStories Llama (llama2.c legacy format) as a HF folder.

Real trained weights that run in milliseconds: the integration-test model. The checkpoint and
its 512-piece sentencepiece vocabulary live in the shared data folder; we convert them once into
a `LlamaForCausalLM` + fast tokenizer that transformers and the bridge load like any other model.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from interp.models.paths import data_dir

ROPE_THETA = 10000.0  # llama2.c's precompute_freqs_cis default; checked against the stored table
SPECIALS = ("<unk>", "<s>", "</s>")  # ids 0, 1, 2 in llama2.c's tokenizer
SPACE = "\u2581"  # sentencepiece's visible space; llama2.c stores real spaces instead


@dataclass(frozen=True)
class Llama2cHeader:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    shared_classifier: bool

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


def source_files(folder: Path | None = None) -> tuple[Path, Path]:
    """The checkpoint and tokenizer paths, or an error naming where they were expected and how to point elsewhere."""
    folder = folder or data_dir() / "models" / "stories260K"
    ckpt, tok = folder / "stories260K.bin", folder / "tok512.bin"
    missing = [str(p) for p in (ckpt, tok) if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"stories260k needs {', '.join(missing)}, which does not exist. Set INTERP_DATA to the shared data "
            "folder that holds models/stories260K/{stories260K.bin,tok512.bin} (the llama2.c files from "
            "karpathy/tinyllamas)."
        )
    return ckpt, tok


def read_checkpoint(path: Path) -> tuple[Llama2cHeader, dict[str, Tensor]]:
    """Parse a llama2.c legacy checkpoint into its header and HF-named tensors (q/k still in llama2.c layout)."""
    raw = path.read_bytes()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("7i", raw[:28])
    h = Llama2cHeader(dim, hidden, n_layers, n_heads, n_kv, abs(vocab), seq_len, vocab > 0)
    floats = np.frombuffer(raw, dtype="<f4", offset=28)
    kv_dim = h.n_kv_heads * h.head_dim
    pos = 0

    def take(*shape: int) -> Tensor:
        nonlocal pos
        n = int(np.prod(shape))
        if pos + n > floats.size:
            raise ValueError(f"{path} ends early: the header promises more weights than the file holds")
        t = torch.from_numpy(floats[pos:pos + n].copy()).reshape(shape)
        pos += n
        return t

    L = h.n_layers
    sd: dict[str, Tensor] = {"model.embed_tokens.weight": take(h.vocab_size, dim)}
    # llama2.c writes each weight kind for all layers in turn
    order = [
        ("input_layernorm.weight", (dim,)),
        ("self_attn.q_proj.weight", (dim, dim)),
        ("self_attn.k_proj.weight", (kv_dim, dim)),
        ("self_attn.v_proj.weight", (kv_dim, dim)),
        ("self_attn.o_proj.weight", (dim, dim)),
        ("post_attention_layernorm.weight", (dim,)),
        ("mlp.gate_proj.weight", (hidden, dim)),
        ("mlp.down_proj.weight", (dim, hidden)),
        ("mlp.up_proj.weight", (hidden, dim)),
    ]
    for name, shape in order:
        for layer in range(L):
            sd[f"model.layers.{layer}.{name}"] = take(*shape)
    sd["model.norm.weight"] = take(dim)
    freq_cos, freq_sin = take(h.seq_len, h.head_dim // 2), take(h.seq_len, h.head_dim // 2)
    _check_rope(freq_cos, freq_sin, h.head_dim)
    if not h.shared_classifier:
        sd["lm_head.weight"] = take(h.vocab_size, dim)
    if pos != floats.size:
        raise ValueError(f"{path} has {floats.size - pos} floats beyond the weights its header describes")
    return h, sd


def _check_rope(cos: Float[Tensor, "seq half"], sin: Float[Tensor, "seq half"], head_dim: int) -> None:
    """Refuse a checkpoint whose stored RoPE table was not made with theta=10000 (HF would rotate differently)."""
    inv = ROPE_THETA ** -(torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(cos.shape[0], dtype=torch.float64)[:, None] * inv[None, :]
    if not (torch.allclose(cos.double(), angles.cos(), atol=1e-4) and torch.allclose(sin.double(), angles.sin(), atol=1e-4)):
        raise ValueError(f"the checkpoint's RoPE table does not match theta={ROPE_THETA}; conversion would be wrong")


def permute_rotary(w: Float[Tensor, "out d_model"], n_heads: int) -> Float[Tensor, "out d_model"]:
    """Reorder q/k rows from interleaved (re, im) pairs, as llama2.c rotates, to HF's rotate-half halves."""
    out, d_in = w.shape
    return w.view(n_heads, out // n_heads // 2, 2, d_in).transpose(1, 2).reshape(out, d_in)


def read_vocab(path: Path) -> list[tuple[str, float]]:
    """llama2.c tokenizer file: int32 max_token_length, then (float32 score, int32 len, utf-8 bytes) per piece."""
    raw = path.read_bytes()
    pos, pieces = 4, []
    while pos < len(raw):
        score, n = struct.unpack_from("<fi", raw, pos)
        pieces.append((raw[pos + 8:pos + 8 + n].decode("utf-8"), score))
        pos += 8 + n
    return pieces


def build_tokenizer(tok_path: Path, max_length: int = 512):
    """A byte-fallback BPE that merges like llama2.c: the pair whose merged piece scores highest goes first."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces = read_vocab(tok_path)
    names = [SPECIALS[i] if i < len(SPECIALS) else p.replace(" ", SPACE) for i, (p, _) in enumerate(pieces)]
    vocab = {name: i for i, name in enumerate(names)}
    if len(vocab) != len(names):
        raise ValueError(f"{tok_path} holds duplicate pieces; cannot build a vocabulary from it")
    is_byte = {n for n in names if len(n) == 6 and n.startswith("<0x") and n.endswith(">")}
    ranked: list[tuple[float, int, str, str]] = []
    for i, name in enumerate(names):
        if i < len(SPECIALS) or name in is_byte or len(name) < 2:
            continue
        for cut in range(1, len(name)):
            left, right = name[:cut], name[cut:]
            if left in vocab and right in vocab:
                ranked.append((-pieces[i][1], i, left, right))
    merges = [(left, right) for _, _, left, right in sorted(ranked)]

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    # sentencepiece's dummy prefix and visible spaces, done as a normalizer (not a Metaspace pre-tokenizer,
    # which would swallow a leading space) so that decode(encode(text)) == text exactly
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPACE), normalizers.Replace(" ", SPACE)])
    tok.decoder = decoders.Sequence(
        [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        clean_up_tokenization_spaces=False, model_max_length=max_length,
    )


def build_stories260k(out: Path, source: Path | None = None) -> Path:
    """Convert the llama2.c checkpoint + tokenizer into a HF Llama folder at `out` (safetensors)."""
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    ckpt, tok_path = source_files(source)
    h, sd = read_checkpoint(ckpt)
    for layer in range(h.n_layers):
        q, k = f"model.layers.{layer}.self_attn.q_proj.weight", f"model.layers.{layer}.self_attn.k_proj.weight"
        sd[q] = permute_rotary(sd[q], h.n_heads)
        sd[k] = permute_rotary(sd[k], h.n_kv_heads)
    config = LlamaConfig(
        vocab_size=h.vocab_size, hidden_size=h.dim, intermediate_size=h.hidden_dim, num_hidden_layers=h.n_layers,
        num_attention_heads=h.n_heads, num_key_value_heads=h.n_kv_heads, max_position_embeddings=h.seq_len,
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
        tie_word_embeddings=h.shared_classifier, bos_token_id=1, eos_token_id=2, hidden_act="silu",
        architectures=["LlamaForCausalLM"], dtype="float32",
    )
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not (h.shared_classifier and m == "lm_head.weight")]
    if missing or unexpected:
        raise ValueError(f"stories260k conversion mismatch: missing {missing}, unexpected {unexpected}")
    if h.shared_classifier:
        model.tie_weights()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2)
    out = Path(out)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer = build_tokenizer(tok_path, max_length=h.seq_len)
    if len(tokenizer) != h.vocab_size:
        raise ValueError(f"{tok_path} has {len(tokenizer)} pieces but the checkpoint expects {h.vocab_size}")
    tokenizer.save_pretrained(out)
    return out
