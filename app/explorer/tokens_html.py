"""Token contexts as HTML: each token a <span> shaded by its activation (the feature's maximum = full colour)."""
from __future__ import annotations

import html
from typing import Sequence

COLOR = (230, 85, 13)  # orange


def token_span(token: str, act: float, scale: float, focus: bool = False) -> str:
    """One token: background alpha = act / scale; the activation in the tooltip; the focus token underlined."""
    alpha = 0.0 if scale <= 0 else max(0.0, min(1.0, act / scale))
    text = html.escape(token.replace("\n", "↵"))
    style = f"background-color: rgba({COLOR[0]},{COLOR[1]},{COLOR[2]},{alpha:.3f}); white-space: pre; border-radius: 2px;"
    if focus:
        style += " border-bottom: 2px solid #333;"
    return f'<span class="tok" style="{style}" title="activation {act:.4g}">{text}</span>'


def context_html(tokens: Sequence[str], acts: Sequence[float], scale: float, focus: int | None = None) -> str:
    """A whole context as one line of shaded tokens."""
    if len(tokens) != len(acts):
        raise ValueError(f"{len(tokens)} tokens but {len(acts)} activations")
    spans = "".join(token_span(t, float(a), scale, i == focus) for i, (t, a) in enumerate(zip(tokens, acts)))
    return f'<div class="ctx" style="font-family: monospace; line-height: 1.9; margin: 2px 0;">{spans}</div>'


def contexts_html(contexts: Sequence[dict], scale: float) -> str:
    """The feature's top contexts (rows of features/<model>/<site>/x<e>.jsonl 'top'), one per line."""
    return "\n".join(context_html(c["tokens"], c["acts"], scale, c.get("focus")) for c in contexts)
