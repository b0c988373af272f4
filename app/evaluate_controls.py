"""The composition measurement on SmolLM2 (issue 21): each control alone and all together, on fresh HH prompts.

    python -m app.evaluate_controls prepare-re-control   # the value function (collect, label, train-value)
    python -m app.evaluate_controls prepare-vas          # VAS rollouts and value model
    python -m app.evaluate_controls prepare-vector       # the static edit as a steering vector file
    python -m app.evaluate_controls prepare-sae          # a TopK SAE at the control site
    python -m app.evaluate_controls choose               # settings, on validation prompts only
    python -m app.evaluate_controls evaluate             # once, on the test prompts
    python -m app.evaluate_controls explain              # the controller in SAE features (the explorer's page)
    python -m app.evaluate_controls write                # the result file and the README's tables
(each with --runs DIR, default runs/controls; finished parts are reused, so a re-run resumes).

Everything is pre-registered here, before any test prompt is generated:
- prompts: the pre-registered RE-Control evaluation's (methods/re_control/results/re-control-prereg.json):
  its 96 validation prompts choose, the first 64 of its 300 fresh HH harmless test prompts (used by no run
  but that evaluation's own test) measure (all 300 for seven methods would not fit a session on 2 CPU cores);
- the judge is that evaluation's response-only Bradley-Terry model (rm:runs/rm-response-prereg);
- RE-Control: that evaluation's configuration and its validation-chosen control (1.0 x 30 on the standardised
  state), its value function retrained on this machine from the same greedy trajectories;
- the steering vector: that evaluation's static edit (chosen minus rejected response states of 200 training
  pairs at the same site) at its validation-chosen scale;
- VAS: a 6-block SmolLM2 value model trained by TD(lambda) (one epoch) on 384 sampled responses to other
  training prompts, at beta 8, fixed in advance (the choice rule below, RE-Control's: the largest validation gain
  with diversity within 5% and coherence within 10% of base, runs over VAS_BETAS, here one value);
- the combination: every control at its own chosen setting, not tuned further;
- sparse control: SAE-feature ascent on m = 8 and 32 features, its step size chosen on validation so that the
  mean ||u|| matches dense control's (probed on 32 validation prompts x 16 tokens, ||u|| taken as linear in
  the step size; the test rows report the ||u|| each reached).
Rewards, diversity and coherence are those of RE-Control's evaluation; each row has a paired 95% bootstrap
interval against base and against the best single control (best by its test reward); sparse rows against dense.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

PREREG = Path("methods/re_control/results/re-control-prereg.json")
RE_CONTROL_CONFIG = Path("methods/re_control/configs/smollm2-hh-prereg.json")
JUDGE = "runs/rm-response-prereg"
VAS_PROMPTS = (400, 784)  # RE-Control's value function learns from training prompts 0..399; VAS from the next 384
N_TEST = 64  # the first 64 of the 300 fresh test prompts: seven methods (two with VAS, ~4x base) x 300 prompts do not fit a session on 2 CPU cores


def _prereg() -> dict[str, Any]:
    return json.loads(PREREG.read_text())


def judge_of(runs: Path) -> str:
    """The judge's run directory for this measurement: the one `--judge` recorded in RUNS/judge.json, else JUDGE."""
    file = runs / "judge.json"
    return json.loads(file.read_text())["judge"] if file.exists() else JUDGE


def set_judge(runs: Path, judge: str) -> None:
    """Record the judge for every step of this measurement; a different judge for a started one is refused
    (its rewards would mix two judges)."""
    from interp.io import write_json

    current = judge_of(runs)
    if (runs / "judge.json").exists() and current != judge:
        raise ValueError(f"{runs} was started with the judge {current!r}; use a new --runs folder for {judge!r}")
    write_json(runs / "judge.json", {"judge": judge})


def re_control_config(runs: Path, judge: str | None = None):
    from methods.re_control.config import REControlConfig

    d = json.loads(RE_CONTROL_CONFIG.read_text())
    d["reward"] = f"rm:{judge or judge_of(runs)}"
    d["compare_values"] = []
    d["batch_size"] = int(os.environ.get("BATCH_SIZE", 16))
    return REControlConfig.from_dict(d)


def prepare_re_control(runs: Path, judge: str | None = None) -> dict[str, Any]:
    """The pre-registered evaluation's trajectories, labels and value function (steps skipped when finished)."""
    from interp.pipeline import run
    from methods.re_control.pipeline import PIPELINE

    return run(PIPELINE, re_control_config(runs, judge), runs / "re-control", steps=["collect", "label", "train-value"],
               progress=True)


def vas_prompt_file(runs: Path) -> Path:
    """Training prompts for VAS, rendered exactly as RE-Control renders its prompts (so one generate call serves both)."""
    from interp import load_model
    from interp.io import write_jsonl
    from methods.re_control.data import load_task, render_prompts

    path = runs / "vas-train-prompts.jsonl"
    if not path.exists():
        cfg = re_control_config(runs)
        task = load_task(cfg.dataset, cfg.source_split, cfg.fractions, cfg.split_seed)  # as RE-Control's _task
        examples = task.part("train", VAS_PROMPTS[1])[VAS_PROMPTS[0]:]
        model = load_model(cfg.model)
        write_jsonl(path, [{"prompt": p} for p in render_prompts(model, examples, cfg.chat)])
    return path


def vas_config(runs: Path, judge: str | None = None):
    from methods.vas.pipeline import VASConfig
    from methods.vas.train import TrainConfig
    from methods.vas.value_model import ValueConfig

    model = re_control_config(runs).model
    return VASConfig(
        model=model, prompts=str(vas_prompt_file(runs)), n_train_prompts=None, reward=f"rm:{judge or judge_of(runs)}", max_new_tokens=48,
        chat=False, batch_size=16,
        value=ValueConfig(backbone=model, adapter="lora", head="linear", n_layers=6),
        train=TrainConfig(epochs=1, batch_size=16, lr=1e-3, val_fraction=0.1, seed=0),  # an epoch of 384 HH rollouts takes ~10 min here
    )


def prepare_vas(runs: Path, judge: str | None = None) -> dict[str, Any]:
    from interp.pipeline import run
    from methods.vas.pipeline import PIPELINE

    return run(PIPELINE, vas_config(runs, judge), runs / "vas", steps=["rollouts", "train"], progress=True)


# --- the steering vector and the SAE -------------------------------------------------------------
def prepare_vector(runs: Path) -> dict[str, Any]:
    """The pre-registered evaluation's static edit as a steering vector file: the unit direction of chosen minus
    rejected response states (200 training pairs) times the mean state norm, so the file's scale is the edit's."""

    from interp import load_model
    from interp.io import write_json
    from interp.steering import save_vector
    from methods.re_control.baselines import pair_vector
    from methods.re_control.data import load_task, render_prompts, response_text
    from methods.re_control.collect import load_trajectories, real_states

    path = runs / "static-vector.safetensors"
    info_file = runs / "static-vector.json"
    if path.exists() and info_file.exists():
        return json.loads(info_file.read_text())
    cfg = re_control_config(runs)
    model = load_model(cfg.model)
    task = load_task(cfg.dataset, cfg.source_split, cfg.fractions, cfg.split_seed)
    states, lengths, _rows, site_key = load_trajectories(runs / "re-control" / "collect")
    state_norm = float(real_states(states, lengths).norm(dim=-1).mean())
    pairs = task.part("train", cfg.n_static_pairs)
    vec = pair_vector(model, render_prompts(model, pairs, cfg.chat), [response_text(model, e.chosen, cfg.chat) for e in pairs],
                      [response_text(model, e.rejected, cfg.chat) for e in pairs], site_key, cfg.batch_size, progress=True)
    save_vector(path, vec / vec.norm() * state_norm, site_key, model)
    info = {"site": site_key, "state_norm": state_norm, "raw_norm": float(vec.norm()),
            "source": f"chosen minus rejected response states, {len(pairs)} training pairs",
            "scale": _prereg()["notes"]["static_editing"]["best_scale"]}
    write_json(info_file, info)
    return info


def prepare_sae(runs: Path, n_texts: int = 120, first: int = 784, expansion: float = 4.0, k: int = 32,
                training_tokens: int = 600_000, n_held_out: int = 5000) -> dict[str, Any]:
    """A TopK SAE (sae-lens) at RE-Control's site, trained on the site's states over HH training conversations
    (rendered prompt + chosen response, ones no other part of this measurement uses) and over the trajectories
    RE-Control's value function learned from (the states the controller edits); the last `n_held_out` rows
    are kept out, to measure it on."""
    import torch

    from interp import load_model
    from interp.io import write_json
    from interp.sae.data import tensor_provider
    from interp.sae.train import SAETrainConfig, load_sae, save_sae, train_sae
    from interp.sites import parse_site
    from interp.store import collect
    from methods.re_control.collect import load_trajectories, real_states
    from methods.re_control.data import load_task, render_prompts, response_text

    folder = runs / "sae"
    if (runs / "sae.json").exists() and folder.exists():
        return json.loads((runs / "sae.json").read_text())
    cfg = re_control_config(runs)
    model = load_model(cfg.model)
    site = parse_site(cfg.site)
    task = load_task(cfg.dataset, cfg.source_split, cfg.fractions, cfg.split_seed)
    examples = task.part("train", first + n_texts)[first:]
    texts = [p + response_text(model, e.chosen, cfg.chat) for p, e in zip(render_prompts(model, examples, cfg.chat), examples)]
    store = collect(model, texts, [site], runs / "sae-acts", batch_size=16, max_length=256, progress=True)
    data = store.read_all(columns=["position"], sites=[site.key])
    texts_rows = data[site.key][data["position"] >= 1].float()  # position 0 (the first token) is no text
    states, lengths, _rows, _key = load_trajectories(runs / "re-control" / "collect")
    traj_rows = real_states(states, lengths).float()
    rows = torch.cat([texts_rows, traj_rows])
    rows = rows[torch.randperm(rows.shape[0], generator=torch.Generator().manual_seed(0))]
    train_rows, held_out = rows[:-n_held_out], rows[-n_held_out:]
    tcfg = SAETrainConfig(architecture="topk", expansion=expansion, k=k, training_tokens=training_tokens, seed=0)
    meta = {"model_name": cfg.model, "hook_name": site.hook_name(model), "interp_site": site.key,
            "tokenizer_size": len(model.tokenizer)}
    sae = train_sae(tensor_provider(train_rows, tcfg.batch_size, seed=0), model.d_model, tcfg, metadata=meta,
                    checkpoints=runs / "sae.checkpoints")
    save_sae(sae, folder)
    info = {"n_texts": n_texts, "texts": f"HH train conversations {first}..{first + n_texts - 1} (prompt + chosen)",
            "n_text_rows": int(texts_rows.shape[0]), "n_trajectory_rows": int(traj_rows.shape[0]),
            "n_train_rows": int(train_rows.shape[0]), "n_held_out": n_held_out, **tcfg.to_dict(),
            "d_sae": tcfg.d_sae(model.d_model), **sae_quality(load_sae(folder), held_out)}
    write_json(runs / "sae.json", info)
    return info


def sae_quality(sae, rows) -> dict[str, float]:
    """Fraction of variance the (saved, reloaded) SAE explains on held-out `rows`, its mean L0 and dead share there."""
    import torch

    with torch.no_grad():
        z = sae.encode(rows)
        rec = sae.decode(z)
    fvu = float(((rows - rec) ** 2).sum() / ((rows - rows.mean(0)) ** 2).sum())
    return {"explained_variance_held_out": 1 - fvu, "l0": float((z != 0).float().sum(-1).mean()),
            "dead_fraction_held_out": float(((z != 0).sum(0) == 0).float().mean())}


# --- the evaluation -----------------------------------------------------------------------------
def registered_prompts(cfg) -> tuple[list, list]:
    """(test, validation) examples, refused unless they are the pre-registered evaluation's, in its order."""
    from methods.re_control.data import evaluation_split, load_task

    task = load_task(cfg.dataset, cfg.source_split, cfg.fractions, cfg.split_seed)
    test, val = evaluation_split(task, cfg.n_eval, cfg.n_val, cfg.retired_test, cfg.retired_validation)
    ids = _prereg()["data"]
    for name, got, want in (("test", test, ids["test_ids"]), ("validation", val, ids["validation_ids"])):
        if [e.prompt.id for e in got] != want:
            raise RuntimeError(f"the {name} prompts differ from the pre-registered evaluation's ({PREREG}, "
                               f"data.{name}_ids): the data or the split code changed; "
                               "refusing to measure on other prompts")
    return test, val


class Bench:
    """The model, judge, embedding cache and both prompt sets, with every method's outputs kept on disk."""

    def __init__(self, runs: Path, progress: bool = True):
        from interp import load_model
        from interp.rewards import get_reward
        from methods.re_control.data import raw_prompts, render_prompts
        from methods.re_control.evaluate import CachedEmbed, Evaluator

        self.runs, self.progress = runs, progress
        self.cfg = cfg = re_control_config(runs)
        test, val = registered_prompts(cfg)
        self.model = load_model(cfg.model)
        self.reward = get_reward(cfg.reward)
        common = dict(model=self.model, reward=self.reward, max_new_tokens=cfg.max_new_tokens,
                      batch_size=cfg.batch_size, max_prompt_tokens=cfg.max_prompt_tokens)
        test = test[:N_TEST]
        self.ev = {"test": Evaluator(prompts=render_prompts(self.model, test, cfg.chat), raw_prompts=raw_prompts(test), **common),
                   "validation": Evaluator(prompts=render_prompts(self.model, val, cfg.chat), raw_prompts=raw_prompts(val),
                                           **common),
                   # a quick look at how far sparse control pushes at a given step size: the first 32 validation
                   # prompts, 16 tokens (the step size it suggests is then checked on the whole validation set)
                   "probe": Evaluator(prompts=render_prompts(self.model, val[:32], cfg.chat),
                                      raw_prompts=raw_prompts(val[:32]), **{**common, "max_new_tokens": 16})}
        self.embed = CachedEmbed()

    def outputs(self, split: str, name: str, re_control=None, vas=(), vectors=(), sparse: tuple[Any, int] | None = None):
        """One method's outputs on `split` (kept under outputs/ so an interrupted run resumes), with the mean ||u||
        of RE-Control's edits when it runs."""
        from app.controls import build_controls
        from interp.io import read_json, write_json
        from methods.re_control.evaluate import Outputs

        file = self.runs / "outputs" / f"{split}-{name}.json"
        if file.exists():
            return Outputs.from_dict(read_json(file))
        if self.progress:
            print(f"[controls] {split}: {name}", flush=True)
        ev = self.ev[split]
        controls = build_controls(self.model, re_control, vas, vectors)
        try:
            if sparse is not None:
                controls.use_sparse(*sparse)
            out = ev.controlled(name, controls.interventions, controls.processors, controls=controls.names)
        finally:
            controls.close()
        if controls.controller is not None and controls.controller.norms:
            out.info["mean_norm_u"] = sum(controls.controller.norms) / len(controls.controller.norms)
        write_json(file, out.to_dict())
        return out

    def quality(self, split: str, out) -> dict[str, float]:
        from methods.re_control.evaluate import quality

        return quality(self.ev[split], out, self.embed)

    def coherence(self, split: str, out):
        from interp.metrics import coherence_scores

        return coherence_scores(self.ev[split].raw_prompts, out.texts, self.embed)


def _re_control_spec(runs: Path):
    from app.controls import ReControlSpec

    c = _prereg()["notes"]["control"]
    return ReControlSpec(str(runs / "re-control" / "train-value"), int(c["n_steps"]), float(c["step_size"]))


def _vector_spec(runs: Path, scale: float | None = None):
    from app.controls import VectorSpec

    info = json.loads((runs / "static-vector.json").read_text())
    return VectorSpec(str(runs / "static-vector.safetensors"), info["scale"] if scale is None else scale, info["site"])


def _vas_spec(runs: Path, beta: float):
    from app.controls import VASSpec

    return VASSpec(str(runs / "vas" / "train"), beta)


VAS_BETAS = (8.0,)  # one beta: three validation runs of VAS (~6 min each here) did not fit the session
SPARSE_M = (8, 32)


def choose(runs: Path, bench: "Bench | None" = None) -> dict[str, Any]:
    """Validation only: VAS's beta (RE-Control's rule: the largest reward gain within 5% diversity and 10% coherence
    of base), and each sparse m's step size matching dense control's mean ||u||."""
    from interp.io import write_json
    from interp.sae.train import load_sae
    from interp.metrics import paired_bootstrap_diff
    from interp.metrics.selection import choose_within_limits

    file = runs / "choices.json"
    if file.exists():
        return json.loads(file.read_text())
    b = bench or Bench(runs)
    cfg = b.cfg
    base = b.outputs("validation", "base")
    base_q = b.quality("validation", base)
    points = []
    for beta in VAS_BETAS:
        out = b.outputs("validation", f"vas-beta{beta:g}", vas=[_vas_spec(runs, beta)])
        iv = paired_bootstrap_diff(out.rewards, base.rewards, n_boot=cfg.n_boot, seed=cfg.eval_seed)
        points.append({"beta": beta, **b.quality("validation", out), "reward_gain": iv.value, "reward_gain_low": iv.low,
                       "reward_gain_high": iv.high})
    best, _ok, reason = choose_within_limits(base_q, points, "reward_gain", cfg.max_diversity_drop,
                                             cfg.max_coherence_drop, strength=lambda p: p["beta"])
    sae = load_sae(runs / "sae")
    dense_probe = b.outputs("probe", "re-control", re_control=_re_control_spec(runs))
    sparse = {}
    for m in SPARSE_M:  # ||u|| grows with the step size: one probe at dense's step gives the matching step
        spec = _re_control_spec(runs)
        probe = b.outputs("probe", f"sparse{m}", re_control=spec, sparse=(sae, m))
        step = spec.step_size * dense_probe.info["mean_norm_u"] / probe.info["mean_norm_u"]
        sparse[str(m)] = {"step_size": step, "probe_step_size": spec.step_size, "probe_mean_norm_u": probe.info["mean_norm_u"],
                          "probe_dense_mean_norm_u": dense_probe.info["mean_norm_u"]}
    choices = {"validation_base": base_q, "vas": {"beta": best["beta"], "reason": reason, "points": points},
               "dense_probe": {"mean_norm_u": dense_probe.info["mean_norm_u"]},
               "sparse": sparse, "n_validation": len(base.texts)}
    write_json(file, choices)
    return choices


def evaluate(runs: Path) -> list[dict[str, Any]]:
    """Once, on the test prompts: base, each control alone, all together, sparse m = 8 and 32; the table."""
    from interp.io import write_json
    from interp.metrics import diversity, paired_bootstrap_diff
    from interp.sae.train import load_sae

    b = Bench(runs)
    ch = choose(runs, b)
    cfg = b.cfg
    rc, vec, vas = _re_control_spec(runs), _vector_spec(runs), _vas_spec(runs, ch["vas"]["beta"])
    sae = load_sae(runs / "sae")
    base = b.outputs("test", "base")
    singles = {"RE-Control": b.outputs("test", "re-control", re_control=rc),
               "VAS": b.outputs("test", "vas", vas=[vas]),
               "steering vector": b.outputs("test", "vector", vectors=[vec])}
    combined = b.outputs("test", "all", re_control=rc, vas=[vas], vectors=[vec])
    sparse = {m: b.outputs("test", f"sparse{m}", re_control=type(rc)(rc.run, rc.n_steps, ch["sparse"][str(m)]["step_size"]),
                           sparse=(sae, m)) for m in SPARSE_M}
    best_single = max(singles, key=lambda k: float(singles[k].rewards.mean()))
    coh_base = b.coherence("test", base)
    div_base = diversity(base.texts)

    def row(label: str, out, kind: str, against: str = "best_single", **extra: Any) -> dict[str, Any]:
        r = {"label": label, "kind": kind, "n": len(out.texts), "reward": float(out.rewards.mean()),
             "diversity": diversity(out.texts), "coherence": float(b.coherence("test", out).mean()),
             "seconds_per_prompt": out.seconds / len(out.texts), **extra}
        r["diversity_change"] = r["diversity"] / div_base - 1
        r["coherence_change"] = r["coherence"] / float(coh_base.mean()) - 1
        if out is not base:
            refs = {"best_single": singles[best_single], "dense": singles["RE-Control"]}
            for ref_name, ref in (("base", base), (against, refs[against])):
                if ref is out:
                    continue
                d = paired_bootstrap_diff(out.rewards, ref.rewards, n_boot=cfg.n_boot, seed=cfg.eval_seed)
                c = paired_bootstrap_diff(b.coherence("test", out), b.coherence("test", ref), n_boot=cfg.n_boot,
                                          seed=cfg.eval_seed)
                r.update({f"minus_{ref_name}": d.value, f"minus_{ref_name}_low": d.low, f"minus_{ref_name}_high": d.high,
                          f"coherence_minus_{ref_name}": c.value, f"coherence_minus_{ref_name}_low": c.low,
                          f"coherence_minus_{ref_name}_high": c.high})
            r["seconds_over_base"] = out.seconds / base.seconds
        if "mean_norm_u" in out.info:
            r["mean_norm_u"] = out.info["mean_norm_u"]
        return r

    table = [row("base (greedy)", base, "composition")]
    table += [row(k, v, "composition", best_single=k == best_single) for k, v in singles.items()]
    table.append(row("all three together", combined, "composition"))
    table.append(row("dense RE-Control", singles["RE-Control"], "sparse"))
    table += [row(f"sparse, m = {m}", out, "sparse", against="dense", step_size=ch["sparse"][str(m)]["step_size"]) for m, out in sparse.items()]
    write_json(runs / "table.json", {"table": table, "best_single": best_single, "choices": ch})
    return table


def explain(runs: Path, n_prompts: int = 16) -> dict[str, Any]:
    """`interp steer --sae --explain-out` on the first validation prompts: the file the explorer's "What the
    controller does" page reads (features turned up and down, their top contexts and logit effects)."""
    from app.cli import main as cli
    from interp.io import write_jsonl

    from interp import load_model
    from methods.re_control.data import render_prompts

    b_cfg = re_control_config(runs)
    _test, val = registered_prompts(b_cfg)
    prompts = runs / "explain-prompts.jsonl"
    write_jsonl(prompts, [{"prompt": p} for p in render_prompts(load_model(b_cfg.model), val[:n_prompts], b_cfg.chat)])
    spec = _re_control_spec(runs)
    out = runs / "explain-smollm2.json"
    cli(["steer", "--re-control", f"{spec.run}:{spec.n_steps}:{spec.step_size}", "--sae", str(runs / "sae"),
         "--explain-out", str(out), "--prompts", str(prompts), "--max-new-tokens", str(b_cfg.max_new_tokens),
         "--chat", "no", "--batch-size", "16", "--out", str(runs / "explain-rows.jsonl")])
    return {"explain": str(out)}


def write(runs: Path, out: Path) -> Path:
    """The committed result file: settings, prompt ids, the table (no weights, no generations)."""
    from interp.results import result_record, write_result

    t = json.loads((runs / "table.json").read_text())
    config = {"re-control": re_control_config(runs).to_dict(),
              "vas": vas_config(runs).to_dict(), "controls": {
                  "re_control": {"n_steps": _re_control_spec(runs).n_steps, "step_size": _re_control_spec(runs).step_size,
                                 "value": "re-control/train-value (retrained here from the pre-registered configuration)"},
                  "vas_beta": t["choices"]["vas"]["beta"],
                  "vector": {**json.loads((runs / "static-vector.json").read_text()), "file": "static-vector"},
                  "sae": json.loads((runs / "sae.json").read_text())}}
    data = {"test_ids": _prereg()["data"]["test_ids"][:N_TEST], "validation_ids": _prereg()["data"]["validation_ids"],
            "prompts_from": str(PREREG)}
    notes = {"best_single": t["best_single"], "choices": t["choices"],
             "value_function": json.loads((runs / "re-control" / "train-value" / "metrics.json").read_text()),
             "vas_value_model": json.loads((runs / "vas" / "train" / "metrics.json").read_text())}
    return write_result(out, result_record("controls", runs, config, data, t["table"], notes))


def markdown(table: list[dict[str, Any]]) -> str:
    """The README's two tables (composition, sparse against dense) from a result file's rows."""
    def iv(r: dict[str, Any], key: str) -> str:
        return f"{r[key]:+.3f} [{r[key + '_low']:+.3f}, {r[key + '_high']:+.3f}]" if key in r else "-"

    out = []
    head = ("| control | reward | minus base [paired 95% CI] | minus best single [paired 95% CI] | diversity (vs base) "
            "| coherence (vs base) | coherence minus base [paired 95% CI] | s/prompt (x base) |")
    sparse_head = (head.replace("| control |", "| RE-Control in |").replace("minus best single", "minus dense")
                   .replace("| s/prompt (x base) |", "| mean ‖u‖ | s/prompt (x base) |"))
    for kind, header, ref in (("composition", head, "minus_best_single"), ("sparse", sparse_head, "minus_dense")):
        out += [header, "|" + "---|" * (header.count("|") - 1)]
        for r in (r for r in table if r["kind"] == kind):
            cells = [r["label"], f"{r['reward']:+.3f}", iv(r, "minus_base"), iv(r, ref),
                     f"{r['diversity']:.3f} ({r['diversity_change']:+.1%})", f"{r['coherence']:.3f} ({r['coherence_change']:+.1%})",
                     iv(r, "coherence_minus_base")]
            if kind == "sparse":
                cells.append(f"{r['mean_norm_u']:.2f}")
            cells.append(f"{r['seconds_per_prompt']:.2f}" + (f" ({r['seconds_over_base']:.2f}x)" if "seconds_over_base" in r else ""))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.evaluate_controls", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["prepare-re-control", "prepare-vas", "prepare-vector", "prepare-sae", "choose",
                                       "evaluate", "explain", "write"])
    p.add_argument("--runs", default="runs/controls")
    p.add_argument("--out", default="methods/re_control/results/controls-smollm2.json")
    p.add_argument("--judge", default=None, help=f"the judge's reward-model run directory, recorded for every later "
                   f"step of this --runs folder (default {JUDGE}, the pre-registered evaluation's)")
    a = p.parse_args(argv)
    runs = Path(a.runs)
    runs.mkdir(parents=True, exist_ok=True)
    if a.judge:
        set_judge(runs, a.judge)
    steps = {"prepare-re-control": prepare_re_control, "prepare-vas": prepare_vas, "prepare-vector": prepare_vector,
             "prepare-sae": prepare_sae, "choose": choose, "evaluate": evaluate, "explain": explain}
    if a.command == "write":
        print(write(runs, Path(a.out)))
        print(markdown(json.loads(Path(a.out).read_text())["table"]))
    else:
        print(json.dumps(steps[a.command](runs), default=str)[:3000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
