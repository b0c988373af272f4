"""What the "What the controller does" page reads and computes: SAE folders and `interp steer --explain-out`
files found in the runs directory, and, with a model, RE-Control's steps on a few prompts split into SAE
features (`methods.re_control.interpret`, which owns every number: this module only gathers its inputs
and lays its outputs out per token).

An explanation is `summarize`'s dict (steps, mean_norm_u, error_share, features_moved_per_step, up, down)
plus, where known, the texts it was measured on (`rows`: prompt, steered, base), the model spec, the site
and the SAE folder. Made here (`explain`) it also keeps each controlled token's dz (`delta_z`, steps x
prompts x features) and the steered tokens, for the per-token view.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from app.explorer.rundata import MissingArtifact, read_json
from interp.sae.train import SAE_CONFIG, SAE_WEIGHTS

EXPLAIN_COMMAND = "interp steer --re-control RUN --sae FOLDER --explain-out FILE --prompts FILE"
SAE_COMMAND = "interp.sae.save_sae (an SAE at the RE-Control run's site, sae-lens format)"
SAE_FILES = (SAE_CONFIG, SAE_WEIGHTS)  # named by interp.sae.train, which writes them
MAX_WALK = 20_000  # directories looked at when searching the runs directory


@dataclass
class SaeInfo:
    path: Path
    d_in: int
    d_sae: int
    site: str | None
    architecture: str

    @property
    def label(self) -> str:
        return f"{self.path.name} ({self.architecture}, {self.d_sae} features{', ' + self.site if self.site else ''})"


def _walk(root: Path):
    """(folder, dirs, files) under root, links not followed, at most MAX_WALK folders."""
    if not root.is_dir():
        return
    for n, (folder, dirs, files) in enumerate(os.walk(root, followlinks=False, onerror=lambda e: None)):
        if n >= MAX_WALK:
            return
        dirs.sort()
        yield Path(folder), dirs, files


def read_sae_info(folder: Path) -> SaeInfo:
    """An SAE folder's shape and site from its cfg.json (MissingArtifact when it is not one)."""
    cfg = read_json(folder / SAE_CONFIG, SAE_COMMAND, dict)
    meta = cfg.get("metadata") if isinstance(cfg.get("metadata"), dict) else {}
    try:
        d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
    except (KeyError, TypeError, ValueError) as e:
        raise MissingArtifact(folder / SAE_CONFIG, SAE_COMMAND, "names no d_in and d_sae: not a sae-lens SAE") from e
    site = meta.get("interp_site") or meta.get("hook_name") or cfg.get("hook_name")
    return SaeInfo(folder, d_in, d_sae, str(site) if site else None, str(cfg.get("architecture", "?")))


def find_saes(root: Path) -> tuple[list[SaeInfo], list[MissingArtifact]]:
    """Every folder under `root` holding a sae-lens SAE (cfg.json + sae_weights.safetensors)."""
    found, problems = [], []
    for folder, dirs, files in _walk(root):
        if all(f in files for f in SAE_FILES):
            dirs.clear()  # an SAE folder holds no other
            try:
                found.append(read_sae_info(folder))
            except MissingArtifact as e:
                problems.append(e)
    return found, problems


def find_explanations(root: Path) -> list[Path]:
    """JSON files under `root` whose name says they hold an explanation (*explain*.json)."""
    return [folder / f for folder, _, files in _walk(root) for f in sorted(files)
            if f.endswith(".json") and "explain" in f.lower()]


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


FEATURE_KEYS = ("mean_delta_z", "consistency", "mean_value_attribution")


def read_explanation(path: Path) -> dict[str, Any]:
    """An `interp steer --explain-out` file, checked field by field (MissingArtifact names the first bad one)."""
    data = read_json(path, EXPLAIN_COMMAND, dict)

    def bad(why: str) -> MissingArtifact:
        return MissingArtifact(path, EXPLAIN_COMMAND, f"is not a controller explanation ({why})")

    for key in ("steps", "d_sae", "mean_norm_u", "error_share", "features_moved_per_step"):
        if not _number(data.get(key)):
            raise bad(f"{key!r} is not a number")
    for label in ("up", "down"):
        rows = data.get(label)
        if not isinstance(rows, list):
            raise bad(f"{label!r} is not a list")
        for r in rows:
            if not isinstance(r, dict) or not isinstance(r.get("feature"), int) or isinstance(r.get("feature"), bool) \
                    or not 0 <= r["feature"] < data["d_sae"] or not all(_number(r.get(k)) for k in FEATURE_KEYS):
                raise bad(f"a row of {label!r} lacks feature, {', '.join(FEATURE_KEYS)}")
            if not isinstance(r.get("promotes", []), list):
                raise bad(f"a row of {label!r} has 'promotes' that is not a list")
    rows = data.get("rows", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("prompt"), str) for r in rows):
        raise bad("'rows' is not a list of {prompt, steered, base}")
    for key in ("model", "site", "sae"):
        if key in data and not isinstance(data[key], str):
            raise bad(f"{key!r} is not a string")
    return data


def feature_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The features turned up then down, one row each, as `summarize` gave them."""
    return [{"direction": label, "feature": int(r["feature"]), **{k: float(r[k]) for k in FEATURE_KEYS},
             "promotes": " ".join(repr(str(t))[1:-1] for t in r.get("promotes", []))}
            for label in ("up", "down") for r in summary[label]]


@dataclass
class Explained:
    summary: dict[str, Any]
    rows: list[dict[str, str]]  # prompt, steered, base
    model: str
    site: str
    sae: str
    tokens: list[list[int]] = field(default_factory=list)  # steered response tokens per prompt
    delta_z: torch.Tensor | None = None  # [steps prompts d_sae]: dz of each controlled token


def explain(model: Any, value_folder: Path, sae: Any, sae_folder: str, prompts: Sequence[str], n_steps: int | None,
            step_size: float | None, max_new_tokens: int) -> Explained:
    """RE-Control on `prompts` (greedy, one batch, beside base), its recorded steps summarized in `sae`'s features."""
    from app.controls import ReControlSpec, build_controls
    from interp.generation import generate
    from interp.sae.train import check_sae_for
    from methods.re_control.interpret import decompose, summarize

    check_sae_for(sae, model, what=f"SAE {sae_folder}")
    prompts = list(prompts)
    controls = build_controls(model, ReControlSpec(str(value_folder), n_steps, step_size))
    controls.controller.records = []
    kw = dict(max_new_tokens=max_new_tokens, do_sample=False, chat=None, progress=False, batch_size=len(prompts))
    try:
        steered = controls.generate(model, prompts, **kw)
        base = generate(model, prompts, **kw)
    finally:
        controls.close()
    value, records = controls.controller.value, controls.controller.records
    summary = summarize(model, sae, value, records)
    h, u = torch.stack([r[0] for r in records]), torch.stack([r[1] for r in records])  # [steps prompts d]
    dz = decompose(sae, h.flatten(0, 1), u.flatten(0, 1)).delta_z.float().cpu().reshape(*h.shape[:2], -1)
    rows = [{"prompt": p, "steered": s, "base": b} for p, s, b in zip(prompts, steered.texts, base.texts)]
    return Explained(summary, rows, model.spec, value.cfg.site, sae_folder, steered.tokens, dz)


def token_texts(model: Any, ids: Sequence[int]) -> list[str]:
    from app.explorer.unembed import token_text

    return [token_text(model.tokenizer, int(i)) for i in ids]


def per_token(model: Any, ex: Explained, feature: int) -> list[dict[str, Any]]:
    """Each prompt's steered response as a context: its tokens and feature `feature`'s dz at each one."""
    if ex.delta_z is None:
        return []
    out = []
    for j, ids in enumerate(ex.tokens):
        n = min(len(ids), ex.delta_z.shape[0])
        out.append({"tokens": token_texts(model, ids[:n]), "acts": ex.delta_z[:n, j, feature].tolist()})
    return out


@torch.no_grad()
def codes(model: Any, sae: Any, site: str, texts: Sequence[str]) -> list[tuple[list[str], torch.Tensor]]:
    """Each text's tokens and its SAE codes at `site` (the model without control): [(tokens, [pos d_sae])]."""
    from interp.activations import capture
    from interp.sites import parse_site

    out = []
    for text in texts:
        ids, mask = model.tokenize([text])
        acts = capture(model, ids, mask, [parse_site(site)])
        x = next(iter(acts.values()))[0][mask[0].bool()]
        z = sae.encode(x.to(sae.W_dec.device, sae.W_dec.dtype)).float().cpu()
        out.append((token_texts(model, ids[0][mask[0].bool()].tolist()), z))
    return out


def top_contexts(coded: Sequence[tuple[list[str], torch.Tensor]], names: Sequence[str], feature: int, k: int = 5,
                 window: int = 12) -> tuple[list[dict[str, Any]], float]:
    """The k texts where `feature` fires most, each cut to `window` tokens around its peak (the Features page's
    context rows: tokens, acts, focus, plus `name`), and the largest activation."""
    peaks = []
    for (tokens, z), name in zip(coded, names):
        if z.shape[0] == 0:
            continue
        col = z[:, feature]
        at = int(col.argmax())
        if float(col[at]) > 0:
            peaks.append((float(col[at]), at, tokens, col, name))
    peaks.sort(key=lambda p: -p[0])
    rows = []
    for peak, at, tokens, col, name in peaks[:k]:
        lo, hi = max(0, at - window), min(len(tokens), at + window + 1)
        rows.append({"tokens": tokens[lo:hi], "acts": col[lo:hi].tolist(), "focus": at - lo, "name": name})
    return rows, (peaks[0][0] if peaks else 0.0)
