"""Which prompts a VAS run samples and evaluates on: given ones, a prompt file, or a data set by name."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def load_prompts(source: str, split: str, n_prompts: int | None = None, seed: int = 0,
                 given: Sequence[str] | None = None) -> tuple[list[str], str]:
    """The prompts, and a description of where they came from for the step's config.

    `given` (the CLI's repeated --prompt) wins; else `source` is a prompt file (.txt, .jsonl) or a
    data set name (`interp.data.by_name`) read at `split`. `n_prompts` keeps the first N."""
    if given:
        prompts, where = list(given), "--prompt"
    elif Path(source).is_file():
        from interp.data.prompt_files import read_prompts

        prompts, where = read_prompts(source), str(source)
    else:
        from interp.data.by_name import load_dataset_by_name

        items = load_dataset_by_name(source, split=split, seed=seed)
        prompts = [getattr(x, "text", None) or getattr(x, "prompt") for x in items]
        where = f"{source}[{split}]"
    if n_prompts is not None:
        if n_prompts < 1:
            raise ValueError(f"--n-prompts must be >= 1, got {n_prompts}")
        prompts = prompts[:n_prompts]
        where += f"[:{n_prompts}]"
    if not prompts:
        raise ValueError(f"no prompts from {where}")
    return prompts, where
