"""RE-Control (Kong et al. 2024, arXiv 2406.05954): aligning an LLM by editing its hidden states at
decoding time with a value function trained by a Bellman objective (an optimal-control view).

    from methods.re_control import REControlConfig, run_all
    run_all(REControlConfig(model="stories260k", dataset="rt-polarity-prompts"), "runs/rc")

Pieces: `collect` (trajectories of states into an ActivationStore), `bellman` (the loss),
`value` (the MLP and its files), `train` (fitting), `control` (gradient ascent during
generation), `baselines` and `evaluate` (the comparison table), `pipeline` (run directories).
"""
from methods.re_control.bellman import bellman_loss, bellman_terms, last_valid, pad_trajectories
from methods.re_control.config import REControlConfig
from methods.re_control.control import ControlConfig, GradientAscentControl, controlled_generate, optimise_control
from methods.re_control.pipeline import run_all, run_collect, run_evaluate, run_label, run_train_value
from methods.re_control.train import TrainConfig, train_value
from methods.re_control.value import ValueConfig, ValueFunction

__all__ = [
    "REControlConfig", "run_all", "run_collect", "run_label", "run_train_value", "run_evaluate",
    "ValueConfig", "ValueFunction", "TrainConfig", "train_value",
    "bellman_loss", "bellman_terms", "last_valid", "pad_trajectories",
    "ControlConfig", "GradientAscentControl", "controlled_generate", "optimise_control",
]
