"""Value Augmented Sampling (Han, Shenfeld et al. 2024): steer a frozen model with learned values.

    from methods.vas import ValueModel, ValueConfig, Guide, VASProcessor
    value = ValueModel.load("runs/vas")                  # trained by `interp vas train --out runs/vas`
    proc = VASProcessor(model, [Guide(value, beta=8.0)], top_k=20)
    out = interp.generate(model, prompts, processors=[proc], do_sample=True, seed=0)

Pieces: a value model (backbone + scalar head, `value_model`), base-model rollouts scored by a
reward (`rollouts`), TD(lambda) training (`td`, `train`), the batched KV-cached decoding
processor with composition of several estimators (`decoding`), the evaluation table against
Best-of-N (`evaluate`), the composition grid (`grid`) and run-directory steps (`pipeline`).
"""
from methods.vas.decoding import Guide, VASProcessor, candidate_values, prefill, q_values_loop
from methods.vas.rollouts import Rollout, load_rollouts, sample_rollouts, save_rollouts
from methods.vas.td import td_lambda_returns, value_loss
from methods.vas.train import TrainConfig, train_value_model
from methods.vas.value_model import ValueConfig, ValueModel

__all__ = [
    "ValueModel", "ValueConfig",
    "Rollout", "sample_rollouts", "save_rollouts", "load_rollouts",
    "td_lambda_returns", "value_loss", "TrainConfig", "train_value_model",
    "Guide", "VASProcessor", "candidate_values", "prefill", "q_values_loop",
]
