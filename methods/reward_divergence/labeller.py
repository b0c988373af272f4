"""Optional LLM labels for features, from any OpenAI-compatible chat endpoint. Off by default.

Used only when the pipeline is asked for it (`--llm-labels`) and the judge endpoint is
configured by the same environment variables as interp's judge (INTERP_JUDGE_URL,
INTERP_JUDGE_MODEL, optional INTERP_JUDGE_API_KEY, never written to a run directory).
The label is a short description plus a sentiment verdict; classification itself never
depends on it (that is the lexicon correlation test).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from interp.chat_endpoint import ENV_KEY, ENV_MODEL, ENV_URL, ChatEndpoint

SYSTEM = (
    "You interpret features of a sparse autoencoder trained on a language model. Given the contexts where a "
    "feature fires most (the token in [[double brackets]] is where it fires), answer in one line: "
    "'<short description> | <POSITIVE, NEGATIVE or NEUTRAL>' saying whether the feature tracks positive "
    "sentiment, negative sentiment, or neither."
)
_VERDICT = re.compile(r"\b(POSITIVE|NEGATIVE|NEUTRAL)\b")


def render_contexts(top: list[dict[str, Any]]) -> str:
    lines = []
    for i, c in enumerate(top, 1):
        toks = [f"[[{t}]]" if j == c["focus"] else t for j, t in enumerate(c["tokens"])]
        lines.append(f"{i}. {''.join(toks)!r} (activation {c['acts'][c['focus']]:.2f})")
    return "\n".join(lines)


@dataclass
class FeatureLabeller(ChatEndpoint):
    purpose: str = "label"

    @classmethod
    def from_env(cls) -> "FeatureLabeller":
        url, model = os.environ.get(ENV_URL, "").strip(), os.environ.get(ENV_MODEL, "").strip()
        if not url or not model:
            raise ValueError(
                f"LLM feature labels need {ENV_URL} and {ENV_MODEL} set (an OpenAI-compatible endpoint); "
                "unset --llm-labels to classify by the lexicon test only"
            )
        return cls(url=url, model=model, api_key=os.environ.get(ENV_KEY, ""))

    def label(self, top: list[dict[str, Any]]) -> dict[str, str | None]:
        """{"description": ..., "verdict": POSITIVE|NEGATIVE|NEUTRAL|None} for one feature's top contexts."""
        text = self.complete(SYSTEM, render_contexts(top), max_tokens=60)
        m = _VERDICT.search(text.upper())
        return {"description": text.split("|")[0].strip(), "verdict": m.group(1) if m else None}
