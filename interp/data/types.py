"""Plain value objects every loader returns and every method consumes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Prompt:
    """A prompt to complete. `messages` keeps a multi-turn history as [{role, content}] when known."""

    text: str
    id: str = ""
    messages: tuple[dict[str, str], ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with a preferred (`chosen`) and a dispreferred (`rejected`) response."""

    prompt: str
    chosen: str
    rejected: str
    id: str = ""
    messages: tuple[dict[str, str], ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class LabelledText:
    """A text with a class label (e.g. a movie-review sentence with polarity 1/0)."""

    text: str
    label: int
    id: str = ""


class Loaded(list):
    """A loader's items as a plain list, plus where they came from and what was left out and why.

    `dropped` holds one line per skipped record ("line 1255: ...") so a count is `len(dropped)`.
    """

    def __init__(self, items: Any = (), source: str = "", dropped: list[str] | None = None):
        super().__init__(items)
        self.source = source
        self.dropped: list[str] = list(dropped or [])

    def __repr__(self) -> str:
        return f"Loaded({len(self)} items from {self.source!r}, {len(self.dropped)} dropped)"
