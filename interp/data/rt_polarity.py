"""Movie-review sentences (Pang & Lee sentence polarity v1.0, "rt-polarity") and the short
prefixes used as RLHF / controlled-generation prompts (the sentiment-steering setup).

Files: `<folder>/rt-polarity.pos` (label 1) and `.neg` (label 0), one sentence per line.
The original release is latin-1; the shared copy is UTF-8, so `encoding=None` reads UTF-8
when the file is valid UTF-8 and latin-1 otherwise (latin-1 never fails, UTF-8 read as latin-1
would garble accents).
"""
from __future__ import annotations

import os
import random
import re
import warnings
from pathlib import Path
from typing import Any, Sequence

from interp.data._files import DataError, default_path, hub_rows
from interp.data.types import LabelledText, Loaded, Prompt

FILES = (("pos", 1), ("neg", 0))
HUB_NAME = "cornell-movie-review-data/rotten_tomatoes"
_WORD = re.compile(r"\S+")


def rt_polarity(path: str | os.PathLike | None = None, encoding: str | None = None) -> Loaded:
    """All sentences as LabelledText (positives first, then negatives; ids "pos/<line-1>").

    `path` is the folder holding rt-polarity.{pos,neg} (default `data_dir()/rt-polarity`).
    Without `path` and with no local files, the hub's rotten_tomatoes (all splits) is used when
    reachable.
    """
    explicit = path is not None
    folder = Path(path) if explicit else default_path("rt-polarity")
    files = [(folder / f"rt-polarity.{ext}", ext, label) for ext, label in FILES]
    if all(f.is_file() for f, _, _ in files):
        out = Loaded(source=str(folder))
        for file, ext, label in files:
            lines = _read_lines(file, encoding)
            out.extend(LabelledText(text=t.strip(), label=label, id=f"{ext}/{i}") for i, t in lines)
        return out
    missing = [str(f) for f, _, _ in files if not f.is_file()]
    if explicit:
        raise FileNotFoundError(f"rt-polarity: missing {', '.join(missing)}; expected rt-polarity.pos and .neg in {folder}")
    rows = hub_rows(HUB_NAME, "rt-polarity", Path(missing[0]), split="train+validation+test")
    return Loaded(
        (LabelledText(text=r["text"].strip(), label=int(r["label"]), id=f"hub/{i}") for i, r in enumerate(rows)),
        source=f"hub:{HUB_NAME}",
    )


def prefix_prompts(
    texts: Sequence[LabelledText | str],
    tokenizer: Any = None,
    min_tokens: int = 2,
    max_tokens: int = 9,
    seed: int = 0,
) -> Loaded:
    """A Prompt of each text's first k tokens, k drawn uniformly from [min_tokens, max_tokens]
    per text from `seed` (the draw for text i does not depend on other texts being dropped).

    Tokens come from `tokenizer` (a Hugging Face tokenizer or a Model; no special tokens) or,
    when None, are whitespace-separated words (the prefix keeps the text's own spacing).
    A text shorter than k keeps all its tokens; one shorter than `min_tokens` is dropped and
    listed in `.dropped`. meta: label, n_tokens, sentence id, and token_ids with a tokenizer.
    """
    if not 1 <= min_tokens <= max_tokens:
        raise ValueError(f"need 1 <= min_tokens <= max_tokens, got {min_tokens}, {max_tokens}")
    tok = _as_tokenizer(tokenizer)
    rng = random.Random(seed)
    out = Loaded(source=f"prefixes({min_tokens}-{max_tokens} {'tokens' if tok else 'words'}, seed={seed})")
    for i, item in enumerate(texts):
        text, label, sid = (item.text, item.label, item.id or str(i)) if isinstance(item, LabelledText) else (item, None, str(i))
        k = rng.randint(min_tokens, max_tokens)
        meta: dict[str, Any] = {"sentence_id": sid, "label": label}
        if tok is not None:
            ids = list(tok.encode(text, add_special_tokens=False))
            n = min(k, len(ids))
            prefix = tok.decode(ids[:n])
            meta["token_ids"] = ids[:n]
        else:
            words = list(_WORD.finditer(text))
            n = min(k, len(words))
            prefix = text[: words[n - 1].end()] if n else ""
        if n < min_tokens:
            out.dropped.append(f"{sid}: {n} token(s) < min_tokens={min_tokens}: {text!r}")
            continue
        meta["n_tokens"] = n
        out.append(Prompt(text=prefix, id=f"{sid}/prefix", meta=meta))
    if out.dropped:
        warnings.warn(f"dropped {len(out.dropped)} texts shorter than {min_tokens} tokens (see .dropped)", stacklevel=2)
    return out


def rt_polarity_prompts(
    path: str | os.PathLike | None = None,
    tokenizer: Any = None,
    min_tokens: int = 2,
    max_tokens: int = 9,
    seed: int = 0,
) -> Loaded:
    """Prompts of 2-9 leading tokens of every rt-polarity sentence (see `prefix_prompts`)."""
    out = prefix_prompts(rt_polarity(path), tokenizer, min_tokens, max_tokens, seed)
    out.source = f"{out.source} of rt-polarity"
    return out


def _read_lines(file: Path, encoding: str | None) -> list[tuple[int, str]]:
    raw = file.read_bytes()
    if encoding is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise DataError(file, f"line {line}", f"not valid {encoding}; try encoding=None") from e
    lines = [(i, t) for i, t in enumerate(text.splitlines()) if t.strip()]
    if not lines:
        raise DataError(file, None, "file is empty: expected one sentence per line")
    return lines


def _as_tokenizer(x: Any) -> Any:
    """A tokenizer with encode/decode, from a tokenizer or a Model (its `.tokenizer`)."""
    if x is None:
        return None
    if not hasattr(x, "encode") and hasattr(x, "tokenizer"):
        x = x.tokenizer
    if not (hasattr(x, "encode") and hasattr(x, "decode")):
        raise TypeError(f"expected a tokenizer (with encode/decode) or a Model, got {type(x).__name__}")
    return x
