"""One file pair for "weights + JSON tagged with a kind": a trained head or small model saved beside its settings.

    VALUE = TaggedWeights(kind="vas-value-model", weights="value.safetensors", meta="value.json",
                          what="VAS value model", step="train", make="interp vas train --out {path}")
    VALUE.save(folder, module.state_dict(), {"config": ...})
    folder, meta = VALUE.read(path)          # path: the folder, or a run directory holding it in its step
    state = VALUE.weights_of(folder, device)

The kind goes into the JSON (`"kind"`) and the safetensors metadata, so a folder of one kind is never
loaded as another; `read` accepts the folder itself or a run directory whose `step` folder holds it
(`interp reward train --out RUN` writes RUN/train/). Both files are written atomically, weights
first, so a folder whose JSON exists holds its weights. Used by the Bradley-Terry reward head
(`interp.rewards.bradley_terry`), RE-Control's value function and VAS's value model; folders written
before this module load unchanged (same names, same keys).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from interp.io import load_tensors, read_json, save_tensors, write_json


@dataclass(frozen=True)
class TaggedWeights:
    kind: str  # the tag: the JSON's "kind" and the safetensors metadata's
    weights: str  # the safetensors file's name
    meta: str  # the JSON file's name
    what: str  # how an error names it ("VAS value model")
    step: str  # the step folder of a run directory that holds one ("train")
    make: str  # the command that makes one, for the error; `{path}` is the path asked for
    article: str = "a"  # "not a VAS value model", "not an RE-Control value function"

    def save_weights(self, folder: str | Path, tensors: dict[str, Tensor]) -> None:
        save_tensors(Path(folder) / self.weights, tensors, metadata={"kind": self.kind})

    def save(self, folder: str | Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> Path:
        """Write the weights, then the JSON (`meta` with the kind; a "kind" key already in it keeps its place)."""
        folder = Path(folder)
        self.save_weights(folder, tensors)
        write_json(folder / self.meta, {**meta, "kind": self.kind})
        return folder

    def resolve(self, path: str | Path) -> Path:
        """The folder holding both files: `path` itself or `path/<step>`; refuses a folder of another kind."""
        path = Path(path).expanduser()
        for folder in (path, path / self.step):
            if (folder / self.weights).exists() and (folder / self.meta).exists():
                kind = read_json(folder / self.meta).get("kind")
                if kind != self.kind:
                    raise ValueError(f"{folder}/{self.meta} has kind {kind!r}, not {self.kind!r}: not {self.article} {self.what}")
                return folder
        raise FileNotFoundError(
            f"no {self.what} at {path} (expected {self.weights} and {self.meta} there or in {path / self.step}); "
            f"train one with `{self.make.format(path=path)}`"
        )

    def read(self, path: str | Path) -> tuple[Path, dict[str, Any]]:
        """(the resolved folder, its JSON)."""
        folder = self.resolve(path)
        return folder, read_json(folder / self.meta)

    def weights_of(self, folder: str | Path, device: str = "cpu") -> dict[str, Tensor]:
        return load_tensors(Path(folder) / self.weights, device=device)
