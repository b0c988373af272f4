"""Several controls in one generation: RE-Control's controller, VAS value models and steering vectors.

Each method already plugs into `interp.generate` its own way: RE-Control's gradient-ascent controller is
an intervention at its value function's site, VAS is a logits processor (several value models compose
inside one processor, each with its own beta), a steering vector is an `AddVector`. This module turns
the command line's (and the playground's) control specs into those objects, so one `generate` call
runs them all: the controller edits the hidden state, the edited state gives the logits, and VAS
re-weighs those logits' top-k.

    RUN[:STEPS:SIZE]   an RE-Control run (or its train-value folder); steps and step size default to the run's
    RUN:BETA           a VAS run (or its train folder) and the weight of its value estimates
    FILE[:SITE]:SCALE  a steering vector file (`interp generate --save-vector`); SITE defaults to the file's
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from interp.models.model import Model


@dataclass(frozen=True)
class ReControlSpec:
    run: str
    n_steps: int | None = None
    step_size: float | None = None

    @classmethod
    def parse(cls, text: str) -> "ReControlSpec":
        parts = text.rsplit(":", 2)
        if len(parts) == 3 and _is_number(parts[1]) and _is_number(parts[2]):
            steps, size = int(float(parts[1])), float(parts[2])
            if steps < 0 or not size >= 0:
                raise ValueError(f"--re-control {text!r}: steps and size must be >= 0")
            return cls(parts[0], steps, size)
        if len(parts) > 1 and all(_is_number(p) for p in parts[1:]):
            raise ValueError(f"--re-control {text!r}: write RUN or RUN:STEPS:SIZE (e.g. runs/rc:30:0.5)")
        return cls(text)


@dataclass(frozen=True)
class VASSpec:
    run: str
    beta: float

    @classmethod
    def parse(cls, text: str) -> "VASSpec":
        run, _, beta = text.rpartition(":")
        if not run or not _is_number(beta):
            raise ValueError(f"--vas {text!r}: write RUN:BETA (e.g. runs/vas:8)")
        value = float(beta)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"--vas {text!r}: beta must be a finite number")
        return cls(run, value)


@dataclass(frozen=True)
class VectorSpec:
    path: str
    scale: float
    site: str | None = None

    @classmethod
    def parse(cls, text: str) -> "VectorSpec":
        head, _, scale = text.rpartition(":")
        if not head or not _is_number(scale) or not float(scale) == float(scale) or abs(float(scale)) == float("inf"):
            raise ValueError(f"--vector {text!r}: write FILE:SITE:SCALE or FILE:SCALE (e.g. v.safetensors:resid_post:10:4)")
        path, _, site = head.partition(":")
        return cls(path, float(scale), site or None)


@dataclass
class Controls:
    """What `interp.generate` takes, and what each control is, for the report."""

    interventions: list[Any] = field(default_factory=list)
    processors: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    controller: Any = None  # the RE-Control GradientAscentControl, whose `norms` say how far it pushed
    _restore: list[tuple[Any, bool]] = field(default_factory=list)

    def generate(self, model: "Model", prompts: Sequence[str], **kwargs: Any):
        """`interp.generate` with every control at once."""
        from interp.generation import generate

        return generate(model, prompts, interventions=[*kwargs.pop("interventions", ()), *self.interventions],
                        processors=[*kwargs.pop("processors", ()), *self.processors], **kwargs)

    def use_sparse(self, sae: Any, m: int) -> None:
        """Replace RE-Control's dense ascent by its ascent in `sae`'s feature space on the m features of largest
        value gradient at each step (`methods.re_control.interpret.SparseFeatureControl`, same steps and step size)."""
        from methods.re_control.interpret import SparseFeatureControl

        dense = self.controller
        if dense is None:
            raise ValueError("sparse control steers RE-Control's controller: add an RE-Control run")
        sparse = SparseFeatureControl(dense.value, sae, m, dense.cfg.step_size, dense.cfg.n_steps)
        at = next(i for i, iv in enumerate(self.interventions) if getattr(iv, "fn", None) is dense)
        self.interventions[at] = sparse.intervention()
        self.controller = sparse
        self.names.append(f"sparse: {m} SAE features per step")

    def close(self) -> None:
        """Give the value function's parameters back their requires_grad flags."""
        for p, flag in self._restore:
            p.requires_grad_(flag)
        self._restore.clear()


def trained_for(re_control: ReControlSpec | None, vas: Sequence[VASSpec]) -> str | None:
    """The model spec the first control was trained on (the default model for `interp steer`)."""
    if re_control is not None:
        from methods.re_control.value import FORMAT

        return FORMAT.read(re_control.run)[1].get("model") or None
    if vas:
        from methods.vas.value_model import FORMAT

        meta = FORMAT.read(vas[0].run)[1]
        return (meta.get("config") or {}).get("backbone") or None
    return None


def build_controls(
    model: "Model", re_control: ReControlSpec | None = None, vas: Sequence[VASSpec] = (), vectors: Sequence[VectorSpec] = (),
    top_k: int | None = None,
) -> Controls:
    """Load every control and check each against `model` (width, tokenizer) before anything generates."""
    from interp.interventions import AddVector
    from interp.sites import parse_site
    from interp.steering import load_vector

    controls = Controls()
    for spec in vectors:
        vector, meta = load_vector(spec.path)
        site = spec.site or meta.get("site")
        if not site:
            raise ValueError(f"--vector {spec.path}: the file names no site; write FILE:SITE:SCALE")
        model.check_compatible(d_model=vector.shape[0], what=f"steering vector {spec.path}")
        iv = AddVector(parse_site(site), vector.to(model.device, model.dtype), scale=spec.scale)
        iv.check(model)
        controls.interventions.append(iv)
        controls.names.append(f"vector {Path(spec.path).name} at {parse_site(site)} x {spec.scale:g}")
    if re_control is not None:
        from methods.re_control.control import ControlConfig, GradientAscentControl
        from methods.re_control.value import ValueFunction, resolve_value_folder

        value = ValueFunction.load(re_control.run, device=model.device)
        value.check(model)
        run_cfg = _run_control_settings(resolve_value_folder(re_control.run))
        cfg = ControlConfig(step_size=re_control.step_size if re_control.step_size is not None else run_cfg.get("step_size", 0.5),
                            n_steps=re_control.n_steps if re_control.n_steps is not None else run_cfg.get("n_steps", 30))
        for p in value.parameters():
            controls._restore.append((p, p.requires_grad))
            p.requires_grad_(False)  # gradients flow to the control u only
        controls.controller = GradientAscentControl(value, cfg)
        controls.interventions.append(controls.controller.intervention())
        controls.names.append(f"RE-Control {re_control.run} at {value.cfg.site}: {cfg.n_steps} steps x {cfg.step_size:g}")
    if vas:
        from methods.vas.decoding import Guide, VASProcessor
        from methods.vas.defaults import DEFAULT_TOP_K
        from methods.vas.value_model import ValueModel

        guides = [Guide(ValueModel.load(s.run, device=model.device), s.beta, name=s.run) for s in vas]
        controls.processors.append(VASProcessor(model, guides, top_k=top_k or DEFAULT_TOP_K))
        controls.names.extend(f"VAS {s.run} beta {s.beta:g}" for s in vas)
    return controls


def _run_control_settings(value_folder: Path) -> dict[str, Any]:
    """n_steps / step_size of the RE-Control run the value function belongs to, where it recorded them."""
    for cfg_path in (value_folder.parent / "evaluate" / "config.json", value_folder / "config.json",
                     value_folder.parent / "config.json"):
        try:
            cfg = json.loads(cfg_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(cfg, dict) and ("n_steps" in cfg or "step_size" in cfg):
            return {k: cfg[k] for k in ("n_steps", "step_size") if k in cfg}
    return {}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
