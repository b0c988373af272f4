"""Per-token VADER lexicon valence, aligned with the model's tokenization of a text.

Two modes:
- "token": the valence of the token's own string (`interp.rewards.lexicon_valence`); a word
  split into pieces ("lo" + "ve") then scores 0.
- "word": each word's valence is put on the word's last token (where the model has read the
  whole word), other tokens score 0; this is the same for whole-word tokenizers and still
  meaningful for small sub-word vocabularies.
Every token also gets the word it ends (or "" for none), so the probe can split by word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from interp.rewards import lexicon_valence, vader_lexicon

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
MODES = ("word", "token")


@dataclass
class TokenLabels:
    ids: list[int]
    valence: list[float]
    word: list[str]  # the lexicon-normalised word this token ends ("" if none)


def _normalise(text: str) -> str:
    # same length as the input, so character offsets stay valid
    return text.lower().replace("\u2019", "'")


def label_tokens(tokenizer: Any, text: str, mode: str = "word", max_length: int | None = None) -> TokenLabels:
    """Token ids of `text` (as `Model.tokenize` makes them, special tokens included) with valence and word.

    Like `Model.tokenize`, a text longer than `max_length` keeps its last `max_length` tokens.
    """
    if mode not in MODES:
        raise ValueError(f"unknown valence mode {mode!r}: choose one of {', '.join(MODES)}")
    enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    valence = [0.0] * len(ids)
    word = [""] * len(ids)
    lex = vader_lexicon()
    norm = _normalise(text)
    ends: dict[int, str] = {m.end(): m.group(0) for m in _WORD.finditer(norm)}
    for i, (s, e) in enumerate(offsets):
        if e <= s:
            continue  # special token
        # the word ending inside this token's span, if any (the token covers its last character)
        w = next((ends[k] for k in range(e, s, -1) if k in ends), "")
        word[i] = w
        if mode == "word":
            valence[i] = lex.get(w, 0.0) if w else 0.0
    if mode == "token":
        pieces = tokenizer.convert_ids_to_tokens(ids)
        valence = [lexicon_valence(p) if offsets[i][1] > offsets[i][0] else 0.0 for i, p in enumerate(pieces)]
    if max_length is not None and len(ids) > max_length:
        ids, valence, word = ids[-max_length:], valence[-max_length:], word[-max_length:]
    return TokenLabels(ids=ids, valence=valence, word=word)


def label_texts(tokenizer: Any, texts: Sequence[str], mode: str = "word", max_length: int | None = None) -> list[TokenLabels]:
    return [label_tokens(tokenizer, t, mode, max_length) for t in texts]
