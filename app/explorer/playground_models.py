"""The steering playground's live side: find trained value models in run directories, load them, generate.

The only explorer module that imports methods/ (the playground is the one page that runs a model):
RE-Control's `ValueFunction.load` + `controlled_generate`, VAS's `ValueModel.load` + `VASProcessor`.
It never trains: a value model is whatever a `train-value` (RE-Control) or `train` (VAS) step saved.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.explorer.rundata import MissingArtifact, check_shape, discover, read_json
from app.explorer.shapes import STR, Opt, OrNull, Then, problem

RE_CONTROL_KIND = "re-control-value"
VAS_KIND = "vas-value-model"
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
        meta_file = step.path / "value.json"
        if not meta_file.exists():
            continue
        kind_guess = RE_CONTROL_KIND if step.step == "train-value" else VAS_KIND
        try:
            meta = read_json(meta_file, command(kind_guess, step.run, root), dict)
            kind = meta.get("kind")
            if kind not in KINDS:
                continue
            check_shape(meta_file, command(kind, step.run, root), meta, VALUE_META[kind])
            for f in ("value.safetensors", "metrics.json"):
                if not (step.path / f).exists():
                    raise MissingArtifact(step.path / f, command(kind, step.run, root))
        except MissingArtifact as e:
            problems.append(e)
            continue
        model = meta.get("model") if kind == RE_CONTROL_KIND else meta.get("base_model") or meta["config"]["backbone"]
        found.append(ValueInfo(kind, step.run, step.path, str(model), str(meta.get("reward", "?")),
                               meta.get("site") if kind == RE_CONTROL_KIND else None))
    return found, problems


def load_value(info: ValueInfo, model: Any) -> Any:
    """The saved value model, checked against the base model (width, tokenizer)."""
    if info.kind == RE_CONTROL_KIND:
        from methods.re_control.value import ValueFunction

        value = ValueFunction.load(info.path, device=model.device)
        value.check(model)
        for p in value.parameters():
            p.requires_grad_(False)
        return value
    from methods.vas.value_model import ValueModel

    value = ValueModel.load(info.path, device=model.device)
    value.check_tokenizer(model, what=f"VAS value model {info.path}")
    return value


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


def generate_re_control(model: Any, value: Any, prompt: str, step_size: float, n_steps: int, s: Settings) -> str:
    from methods.re_control.control import ControlConfig, controlled_generate

    return controlled_generate(model, [prompt], value, ControlConfig(step_size, n_steps), **_common(s)).texts[0]


def generate_vas(model: Any, value: Any, prompt: str, beta: float, top_k: int, s: Settings) -> str:
    from interp.generation import generate
    from methods.vas.decoding import Guide, VASProcessor

    proc = VASProcessor(model, [Guide(value, beta, name="playground")], top_k=top_k)
    return generate(model, [prompt], processors=[proc], **_common(s)).texts[0]


def reward_fn(name: str) -> Any:
    """A reward by name (`neg:NAME` negates one), as the VAS pipeline names them."""
    from interp.rewards import get_reward

    return get_reward(name)


def score(reward: Any, prompt: str, response: str) -> float:
    return float(reward([prompt], [response])[0])
