"""Reading a reward-divergence run (`interp divergence run`) for the explorer's pages.

Layout written by methods/reward_divergence (pipeline.py, analysis.py):
  divergence/divergence.json          per-layer parameter and activation divergence, chosen layers
  rlhf/metrics.json                   held-out reward of base and tuned, with intervals
  saes/<model>/<site>/x<e>/           SAEs in sae-lens' format; saes/mmcs.json
  features/summary.json               one row per (model, site, size)
  features/<model>/<site>/x<e>.jsonl  one row per feature: corr, p, density, top contexts
  collect/<model>/eval/               the held-out activation store the features were measured on
  probe/results.json, words.jsonl     the reward probe
Every reader raises MissingArtifact naming the file and the command that makes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.explorer.rundata import MissingArtifact, check_shape, discover, read_json, read_jsonl
from app.explorer.shapes import (ANY, BOOL, FINITE, INT, NUM, NUM_OR_NULL, SITE, STR, Each, Opt, Rows, Then,
                                 same_lengths)
from interp.sae.train import SAE_CONFIG, SAE_WEIGHTS
from methods.reward_divergence.artifacts import (
    DIVERGENCE_FILE, FEATURE_SUMMARY_FILE, MMCS_FILE, PROBE_FILE, PROBE_WORDS_FILE, features_file, sae_dir,
    sae_metrics_file, size_name,
)

__all__ = ["RDRun", "rd_runs", "size_name"]

# what each file must hold for the pages that read it (app.explorer.shapes): the keys they use, typed
_PER_LAYER = {"l2": [NUM], "rel_l2": [NUM], "cos": [NUM]}
DIVERGENCE = Then({"param": [NUM], "layers": [INT], "mlp_out": _PER_LAYER, "resid_post": _PER_LAYER,
                   "param_other": Opt(NUM)},
                  same_lengths("param", *(f"{k}.{m}" for k in ("mlp_out", "resid_post") for m in _PER_LAYER)))
_INTERVAL = {"mean": NUM, "low": NUM, "high": NUM}
RLHF_METRICS = {"base_reward": Opt(_INTERVAL), "tuned_reward": Opt(_INTERVAL), "tuned_minus_base": Opt(_INTERVAL)}
FEATURE_INDEX = Rows({"model": STR, "site": SITE, "expansion": FINITE, "n_features": INT, "n_reward_related": NUM,
                      "n_positive": ANY, "n_negative": ANY, "dead_on_eval": NUM, "max_abs_corr": NUM})
FEATURES_CONFIG = {"max_tokens": Opt(INT)}
SAE_QUALITY = {k: Opt(NUM) for k in ("l0", "explained_variance", "dead_fraction", "ce_recovered")}
_CONTEXT = Then({"tokens": [STR], "acts": [NUM]}, same_lengths("tokens", "acts"))
FEATURE_ROWS = Rows({"feature": INT, "corr": NUM, "density": NUM, "max_act": NUM, "reward_related": BOOL,
                     "p": Opt(NUM_OR_NULL), "top": [_CONTEXT]})
PROBE_RESULTS = Then(Each({"r2_test": NUM, "r2_train": NUM, "kendall_tau": NUM, "kendall_p": NUM, "alpha": NUM,
                           "n_recovered": ANY, "n_test_words": ANY, "n_features": ANY, "recovered": [ANY],
                           "missed": [ANY], "sites": Opt([ANY]), "expansion": Opt(NUM)}),
                     lambda d: None if d else "it names no model")
PROBE_WORDS = Rows({"model": STR, "word": ANY, "lexicon": NUM, "predicted": NUM, "recovered": BOOL, "n_tokens": ANY})


@dataclass
class RDRun:
    """One reward-divergence run directory under the runs root."""

    root: Path
    name: str

    @property
    def path(self) -> Path:
        return self.root / self.name

    def command(self, step: str) -> str:
        """The command that (re)makes `step` of this run; --force when the step claims to be finished."""
        force = " --force" if (self.path / step / "metrics.json").exists() else ""
        return (f"interp divergence run --name {self.name} --runs-dir {self.root} --steps {step}{force} "
                "(with the options the run was made with, e.g. --small)")

    def _json(self, step: str, name: str, expect: type = dict, shape: Any = None) -> Any:
        return read_json(self.path / step / name, self.command(step), expect, shape)

    def _jsonl(self, step: str, name: str, shape: Any = None) -> list[dict]:
        return read_jsonl(self.path / step / name, self.command(step), shape)

    # --- divergence ---------------------------------------------------------------------
    def divergence(self) -> dict[str, Any]:
        return self._json("divergence", DIVERGENCE_FILE, shape=DIVERGENCE)

    def rlhf_metrics(self) -> dict[str, Any] | None:
        """The RL step's reward of base vs tuned, or None when the tuned model came from elsewhere (--tuned)."""
        if not (self.path / "rlhf").exists():
            return None
        return self._json("rlhf", "metrics.json", shape=RLHF_METRICS)

    # --- SAEs and features ---------------------------------------------------------------
    def feature_index(self) -> list[dict[str, Any]]:
        """(model, site, layer, expansion, counts) of every classified SAE, from features/summary.json."""
        return self._json("features", FEATURE_SUMMARY_FILE, list, FEATURE_INDEX)

    def features_config(self) -> dict[str, Any]:
        return self._json("features", "config.json", shape=FEATURES_CONFIG)

    def feature_rows(self, model: str, site: str, expansion: float) -> list[dict[str, Any]]:
        return read_jsonl(features_file(self.path, model, site, expansion), self.command("features"), FEATURE_ROWS)

    def sae_folder(self, model: str, site: str, expansion: float) -> Path:
        folder = sae_dir(self.path, model, site, expansion)
        for f in (SAE_CONFIG, SAE_WEIGHTS):
            if not (folder / f).exists():
                raise MissingArtifact(folder / f, self.command("saes"))
        return folder

    def store_dir(self, model: str, part: str = "eval") -> Path:
        store = self.path / "collect" / model / part
        if not any(store.glob("manifest-r*.json")):
            raise MissingArtifact(store / "manifest-r000.json", self.command("collect"))
        return store

    def model_spec(self, model: str) -> str:
        """The model spec (registered name or HF folder) behind 'base' or 'tuned', from the features config."""
        cfg = self.features_config()
        key = "policy" if model == "base" else "tuned"
        if key not in cfg:
            raise MissingArtifact(self.path / "features" / "config.json", self.command("features"), f"has no {key!r}")
        check_shape(self.path / "features" / "config.json", self.command("features"), cfg, {key: STR})
        spec = cfg[key]
        own = self.path / "rlhf" / "model"
        if model == "tuned" and not Path(spec).exists() and (own / "config.json").exists():
            return str(own)  # the run directory was moved: its own rlhf model
        return spec

    def model_command(self, model: str) -> str:
        """What makes the model folder behind 'base' or 'tuned' when it is missing."""
        return self.command("rlhf") if model == "tuned" else f"interp model info {self.model_spec(model)}"

    def sae_quality(self, model: str, site: str, expansion: float) -> dict[str, Any]:
        """L0, explained variance, dead fraction, CE loss recovered of one SAE (saes/<model>/<site>/x<e>.metrics.json)."""
        return read_json(sae_metrics_file(self.path, model, site, expansion), self.command("saes"), dict, SAE_QUALITY)

    def mmcs_rows(self) -> list[dict[str, Any]]:
        return self._json("saes", MMCS_FILE, list)

    # --- probe -------------------------------------------------------------------------------
    def probe_results(self) -> dict[str, Any]:
        return self._json("probe", PROBE_FILE, shape=PROBE_RESULTS)

    def probe_words(self) -> list[dict[str, Any]]:
        return self._jsonl("probe", PROBE_WORDS_FILE, PROBE_WORDS)


def rd_runs(root: Path, step: str) -> list[RDRun]:
    """Reward-divergence runs having `step` (divergence, saes, features and probe are its own step names)."""
    return [RDRun(root, s.run) for s in discover(root) if s.step == step]
