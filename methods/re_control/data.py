"""The prompts RE-Control trains and evaluates on, split once into train / validation / test.

A data set is named as in `interp.data.load_dataset_by_name`:
  hh-rlhf[:SUBSET]        HH-RLHF pairs: the distinct prompts (multi-turn history kept, rendered
                          through the chat template for chat models), each with its first
                          pair's chosen / rejected responses (win rates, static editing)
  rt-polarity-prompts     2-9-word prefixes of movie-review sentences (no reference responses)
  jsonl:PATH              your own prompts or pairs
HH-RLHF's train file is not in the offline data folder, so by default the pairs come from the
`source_split` file (harmless-base test) and ALL three parts are carved from it, seeded and
with no prompt in two parts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from interp.data import LabelledText, PreferencePair, Prompt, load_dataset_by_name, render, split

if TYPE_CHECKING:
    from interp.models.model import Model

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Example:
    """One prompt and, when the data set has them, a preferred and a dispreferred response."""

    prompt: Prompt
    chosen: str | None = None
    rejected: str | None = None


@dataclass
class TaskData:
    name: str
    source: str
    train: list[Example] = field(default_factory=list)
    validation: list[Example] = field(default_factory=list)
    test: list[Example] = field(default_factory=list)

    @property
    def has_pairs(self) -> bool:
        return bool(self.train) and all(e.chosen is not None and e.rejected is not None for e in self.train)

    @property
    def has_references(self) -> bool:
        return bool(self.test) and all(e.chosen is not None for e in self.test)

    def part(self, name: str, n: int | None = None) -> list[Example]:
        if name not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, not {name!r}")
        items = getattr(self, name)
        if n is not None and n > len(items):
            raise ValueError(
                f"asked for {n} {name} prompts but data set {self.name!r} has {len(items)} in that part; "
                "ask for fewer or change the split fractions"
            )
        return items if n is None else items[:n]


def _example(item: object) -> Example:
    if isinstance(item, PreferencePair):
        return Example(Prompt(text=item.prompt, id=item.id, messages=item.messages), item.chosen, item.rejected)
    if isinstance(item, Prompt):
        return Example(item)
    if isinstance(item, LabelledText):
        return Example(Prompt(text=item.text, id=item.id))
    raise TypeError(f"cannot use a {type(item).__name__} as an RE-Control prompt")


def load_task(
    dataset: str, source_split: str | None = None, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0
) -> TaskData:
    """Load `dataset`, keep one example per distinct prompt, and split it (seeded)."""
    kind = dataset.partition(":")[0]
    if source_split is None:
        source_split = "test" if kind.startswith("hh-rlhf") or kind.startswith("genies") else "all"
    items = load_dataset_by_name(dataset, split=source_split)
    seen: set[str] = set()
    examples = []
    for item in items:
        ex = _example(item)
        key = ex.prompt.text + "\x00" + repr(ex.prompt.messages)
        if ex.prompt.text.strip() and key not in seen:
            seen.add(key)
            examples.append(ex)
    if len(examples) < 3:
        raise ValueError(f"data set {dataset!r} has {len(examples)} distinct prompts; RE-Control needs at least 3")
    parts = split(examples, fractions, seed)
    return TaskData(dataset, getattr(items, "source", dataset), list(parts.train), list(parts.validation), list(parts.test))


def render_prompts(model: "Model", examples: Sequence[Example], chat: bool | None, instruction: str | None = None) -> list[str]:
    """The prompt texts the model generates from: chat template (with `instruction` as the system
    message) when used, else the raw text (with `instruction` and a blank line in front)."""
    out = []
    use_chat = uses_chat(model, chat)
    for ex in examples:
        if use_chat:
            out.append(render(model, ex.prompt, chat=True, system=instruction))
        else:
            text = render(model, ex.prompt, chat=False)
            out.append(f"{instruction}\n\n{text}" if instruction else text)
    return out


def uses_chat(model: "Model", chat: bool | None) -> bool:
    """`chat` as given, or (None) whether the model's tokenizer has a chat template."""
    return bool(getattr(model.tokenizer, "chat_template", None)) if chat is None else chat


def response_text(model: "Model", text: str | None, chat: bool | None) -> str:
    """A data set's response as it follows a prompt from `render_prompts`: a chat template ends the prompt
    with the assistant header, so there the response loses its leading whitespace; raw text keeps it."""
    return (text or "").lstrip() if uses_chat(model, chat) else (text or "")


def raw_prompts(examples: Sequence[Example]) -> list[str]:
    """The prompts as the data set writes them: what rewards and coherence score responses against."""
    return [ex.prompt.text for ex in examples]


def evaluation_split(task: TaskData, n_eval: int, n_val: int, retired_test: int = 0,
                     retired_validation: int = 0) -> tuple[list[Example], list[Example]]:
    """(test, validation) examples for an evaluation.

    Validation is the first `n_val` validation prompts. With nothing retired, test is the first `n_eval`
    test prompts (as before). Otherwise test skips the first `retired_test` test prompts (earlier
    evaluations used them) and, when it needs more, continues with the validation prompts after
    max(n_val, retired_validation), which no run tuned on; no prompt is in both parts.
    """
    validation = task.part("validation", n_val)
    if not retired_test and not retired_validation:
        return task.part("test", n_eval), validation
    pool = task.test[retired_test:] + task.validation[max(n_val, retired_validation):]
    if n_eval > len(pool):
        raise ValueError(
            f"asked for {n_eval} fresh test prompts but {task.name!r} has {len(pool)} after retiring the first "
            f"{retired_test} test and {max(n_val, retired_validation)} validation prompts; ask for fewer"
        )
    return pool[:n_eval], validation
