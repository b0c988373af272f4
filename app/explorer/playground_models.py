"""The steering playground's live side: find trained value models and steering vectors in run directories,
and generate with the chosen controls composed in one call (`app.controls.build_controls`: RE-Control's
controller, VAS value models, steering vectors; optionally RE-Control's sparse ascent in an SAE's features).
It never trains: a value model is whatever a `train-value` (RE-Control) or `train` (VAS) step saved.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from app.explorer.rundata import MissingArtifact, check_shape, discover, read_json
from app.explorer.shapes import STR, Opt, OrNull, Then, problem
from methods.re_control.value import FORMAT as RE_CONTROL_VALUE
from methods.vas.value_model import FORMAT as VAS_VALUE

# the value models' own formats (file names and kind tags) name what the page looks for
FORMATS = {RE_CONTROL_VALUE.kind: RE_CONTROL_VALUE, VAS_VALUE.kind: VAS_VALUE}
RE_CONTROL_KIND, VAS_KIND = RE_CONTROL_VALUE.kind, VAS_VALUE.kind
KINDS = {RE_CONTROL_KIND: "RE-Control", VAS_KIND: "VAS"}
# what a value.json must hold for the page to offer it: its base model (VAS: base_model, else config.backbone)
VALUE_META = {RE_CONTROL_KIND: {"model": STR, "site": Opt(OrNull(STR))},
              VAS_KIND: Then({}, lambda m: problem(m["base_model"], STR, "base_model") if m.get("base_model")
                             else problem(m.get("config"), {"backbone": STR}, "config"))}


@dataclass
class ValueInfo:
    kind: str  # RE_CONTROL_KIND or VAS_KIND
    run: str
    path: Path  # the step folder holding value.json + value.safetensors
    model: str  # the base model spec it was trained for
    reward: str
    site: str | None = None

    @property
    def label(self) -> str:
        return f"{self.run} ({self.reward}{', ' + self.site if self.site else ''})"


def command(kind: str, run: str, root: Path) -> str:
    if kind == RE_CONTROL_KIND:
        return f"interp re-control train-value --run {run} --runs {root} --model MODEL (with the run's options)"
    return f"interp vas train --out {root / run} --model MODEL (with the run's options)"


def find_values(root: Path) -> tuple[list[ValueInfo], list[MissingArtifact]]:
    """Every finished step that saved a value model, and the problems of those that are broken."""
    found, problems = [], []
    for step in discover(root):
        kind_guess = RE_CONTROL_KIND if step.step == RE_CONTROL_VALUE.step else VAS_KIND
        meta_file = step.path / FORMATS[kind_guess].meta
        if not meta_file.exists():
            continue
        try:
            meta = read_json(meta_file, command(kind_guess, step.run, root), dict)
            kind = meta.get("kind")
            if kind not in KINDS:
                continue
            check_shape(meta_file, command(kind, step.run, root), meta, VALUE_META[kind])
            for f in (FORMATS[kind].weights, "metrics.json"):
                if not (step.path / f).exists():
                    raise MissingArtifact(step.path / f, command(kind, step.run, root))
        except MissingArtifact as e:
            problems.append(e)
            continue
        model = meta.get("model") if kind == RE_CONTROL_KIND else meta.get("base_model") or meta["config"]["backbone"]
        found.append(ValueInfo(kind, step.run, step.path, str(model), str(meta.get("reward", "?")),
                               meta.get("site") if kind == RE_CONTROL_KIND else None))
    return found, problems


@dataclass
class Settings:
    max_new_tokens: int = 32
    do_sample: bool = False
    seed: int = 0
    temperature: float = 1.0


def _common(s: Settings) -> dict[str, Any]:
    return dict(max_new_tokens=s.max_new_tokens, do_sample=s.do_sample, seed=s.seed, temperature=s.temperature,
                chat=None, progress=False)


def generate_base(model: Any, prompt: str, s: Settings) -> str:
    from interp.generation import generate

    return generate(model, [prompt], **_common(s)).texts[0]


@dataclass
class Steered:
    text: str
    tokens: list[int]  # the response's token ids
    features: list[list[tuple[int, float]]] | None = None  # sparse control: each controlled token's (feature, dz)


def generate_controls(model: Any, prompt: str, s: Settings, re_control: Any = None, vas: Sequence[Any] = (),
                      vectors: Sequence[Any] = (), top_k: int = 10, sae: Any = None, sparse: int = 0) -> Steered:
    """One generation with every chosen control (`app.controls` specs), built by `app.controls.build_controls`;
    with an SAE and `sparse` = m > 0, RE-Control ascends in the SAE's feature space on m features per step."""
    from app.controls import build_controls

    controls = build_controls(model, re_control, vas, vectors, top_k=top_k)
    try:
        if sae is not None and sparse and controls.controller is not None:
            controls.use_sparse(sae, sparse)
        out = controls.generate(model, [prompt], **_common(s))
    finally:
        controls.close()
    steps = getattr(controls.controller, "steps", None)
    features = [rows[0] for rows in steps][: len(out.tokens[0])] if steps is not None else None
    return Steered(out.texts[0], out.tokens[0], features)


def find_vectors(root: Path, max_bytes: int = 4 << 20) -> list[Path]:
    """Steering vector files (`interp generate --save-vector`) under `root`: small .safetensors files whose
    header names the steering-vector kind (only headers are read; a file that cannot be read is passed over)."""
    import os

    from safetensors import safe_open

    from interp.steering import VECTOR_KIND

    found = []
    if not root.is_dir():
        return found
    for folder, dirs, files in os.walk(root, followlinks=False, onerror=lambda e: None):
        dirs.sort()
        for f in sorted(files):
            path = Path(folder) / f
            if not f.endswith(".safetensors") or path.is_symlink():
                continue
            try:
                if not path.is_file() or path.stat().st_size > max_bytes:
                    continue
                with safe_open(str(path), framework="pt") as h:
                    if (h.metadata() or {}).get("kind") == VECTOR_KIND:
                        found.append(path)
            except Exception:  # noqa: BLE001 - not a safetensors file, or a damaged one: not a vector to offer
                continue
    return found


def reward_fn(name: str) -> Any:
    """A reward by name (`neg:NAME` negates one), as the VAS pipeline names them."""
    from interp.rewards import get_reward

    return get_reward(name)


def score(reward: Any, prompt: str, response: str) -> float:
    return float(reward([prompt], [response])[0])
