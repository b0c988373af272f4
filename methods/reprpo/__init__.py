"""Representation Preference Optimisation (ReprPO): preference training on hidden states.

Hypothesis (wassname/repr-preference-optimization): aligning hidden states generalises further
out of distribution than aligning outputs (DPO). This package trains LoRA adapters on an
`interp` model with output losses (DPO, IPO), hidden-state losses (MSE, rank, PrefVec, with an
optional learned transform) or gradient-projected DPO (ProjGrad, ProjBP), and measures
preference accuracy of base and adapter in and out of distribution on GENIES.

    from methods.reprpo import ReprPOConfig, run_experiment
    run_experiment(ReprPOConfig(model="stories260k", method="mse", transform="ortho"), "runs/demo")
"""
from methods.reprpo.config import HIDDEN_METHODS, METHODS, TRANSFORMS, ReprPOConfig

__all__ = ["ReprPOConfig", "METHODS", "HIDDEN_METHODS", "TRANSFORMS", "run_train", "run_eval", "run_experiment",
           "ReprPOTrainer"]


def __getattr__(name: str):
    # the pipeline pulls in torch, peft and accelerate: import on first use (keeps `interp --help` fast)
    if name in ("run_train", "run_eval", "run_experiment"):
        from methods.reprpo import pipeline

        return getattr(pipeline, name)
    if name == "ReprPOTrainer":
        from methods.reprpo.trainer import ReprPOTrainer

        return ReprPOTrainer
    raise AttributeError(f"module 'methods.reprpo' has no attribute {name!r}")
