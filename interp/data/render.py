"""Prompts and pairs as a given model should see them: through its chat template, using the
kept multi-turn `messages`, or in the data set's own raw format (e.g. HH's Human/Assistant).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from interp.data.types import PreferencePair, Prompt


def render(
    model_or_tokenizer: Any, item: Prompt | PreferencePair | str, chat: bool | None = None, system: str | None = None
) -> str:
    """The prompt text of `item` for this model.

    chat=None uses the chat template when the tokenizer has one; chat=False returns the item's
    raw prompt text unchanged (HH keeps "\\n\\nHuman: ...\\n\\nAssistant:"). With a template, the
    item's `messages` are used when present, else its text as one user message, and the
    generation prompt for the assistant is appended.
    """
    tok = _tokenizer(model_or_tokenizer)
    text = item if isinstance(item, str) else item.text if isinstance(item, Prompt) else item.prompt
    messages = None if isinstance(item, str) else item.messages
    if not uses_chat(tok, chat):
        return text
    msgs = [dict(m) for m in messages] if messages else [{"role": "user", "content": text}]
    if system is not None:
        msgs = [{"role": "system", "content": system}, *msgs]
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def render_pairs(
    model_or_tokenizer: Any, pairs: Iterable[PreferencePair], chat: bool | None = None, system: str | None = None
) -> list[PreferencePair]:
    """Pairs with `prompt` rendered for the model; in chat form the responses lose the leading
    whitespace the raw format puts after "Assistant:", so prompt + response reads naturally."""
    use_chat = uses_chat(_tokenizer(model_or_tokenizer), chat)
    out = []
    for p in pairs:
        out.append(replace(
            p, prompt=render(model_or_tokenizer, p, use_chat, system),
            chosen=p.chosen.lstrip() if use_chat else p.chosen,
            rejected=p.rejected.lstrip() if use_chat else p.rejected,
            meta={**p.meta, "raw_prompt": p.prompt},
        ))
    return out


def render_prompts(
    model_or_tokenizer: Any, prompts: Iterable[Prompt], chat: bool | None = None, system: str | None = None
) -> list[Prompt]:
    return [replace(p, text=render(model_or_tokenizer, p, chat, system), meta={**p.meta, "raw_prompt": p.text}) for p in prompts]


def as_prompts(pairs: Iterable[PreferencePair]) -> list[Prompt]:
    """The distinct prompts of preference pairs (e.g. HH prompts to generate from), in first-seen order."""
    seen: set[tuple[str, Any]] = set()
    out = []
    for p in pairs:
        key = (p.prompt, tuple((m["role"], m["content"]) for m in p.messages or ()))
        if key not in seen:
            seen.add(key)
            out.append(Prompt(text=p.prompt, id=p.id, messages=p.messages, meta=dict(p.meta)))
    return out


def uses_chat(tokenizer: Any, chat: bool | None) -> bool:
    """Whether to apply the chat template: `chat`, or when None whether the tokenizer has one."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if chat and not has_template:
        raise ValueError("this tokenizer has no chat template; pass chat=False for the raw prompt text")
    return has_template if chat is None else bool(chat)


def _tokenizer(x: Any) -> Any:
    if hasattr(x, "apply_chat_template"):
        return x
    tok = getattr(x, "tokenizer", None)
    if tok is None or not hasattr(tok, "apply_chat_template"):
        raise TypeError(f"expected a Model or a Hugging Face tokenizer, got {type(x).__name__}")
    return tok
