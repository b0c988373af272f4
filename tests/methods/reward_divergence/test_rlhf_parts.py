"""The RLHF step's pieces that need no training: prompts, the TRL reward adapter, the curve, settings."""
import pytest

from interp.rewards import vader_utility_text
from methods.reward_divergence.config import PipelineConfig, RLHFConfig, update
from methods.reward_divergence.rlhf import RewardForTRL, curve_summary, prompt_splits, reward_curve


def test_prompts_are_short_prefixes(stories):
    cfg = RLHFConfig(n_train_prompts=300, n_eval_prompts=50)
    train, held_out = prompt_splits(stories.tokenizer, cfg)
    assert len(held_out) == 50 and len(train) == 300
    for p in held_out[:50] + train[:50]:
        n = len(stories.tokenizer(p, add_special_tokens=False)["input_ids"])
        assert 1 <= n <= 10  # 2-9 tokens (re-tokenising a decoded prefix may merge or split one piece)
    again = prompt_splits(stories.tokenizer, cfg)
    assert again == (train, held_out)  # seeded


def test_reward_adapter_matches_the_interp_reward():
    fn = RewardForTRL("vader-utility")
    comps = ["I love this wonderful film", "terrible, awful, bad", "a movie"]
    assert fn(["p"] * 3, comps, extra_column=[1, 2, 3]) == pytest.approx([vader_utility_text(c) for c in comps])
    assert fn.__name__ == "vader-utility"
    with pytest.raises(ValueError, match="unknown reward"):
        RewardForTRL("no-such-reward")


def test_reward_curve_from_trainer_log():
    log = [{"loss": 0.1, "reward": 0.1, "reward_std": 0.2, "kl": 0.0, "step": 1},
           {"eval_loss": 3.0, "step": 1},
           {"loss": 0.2, "reward": 0.5, "kl": 0.1, "completions/mean_length": 8.0, "step": 2},
           {"train_runtime": 10.0, "step": 2}]
    curve = reward_curve(log)
    assert [r["step"] for r in curve] == [1, 2]
    assert curve[1]["mean_length"] == 8.0
    assert curve_summary(curve) == {"reward_first": 0.1, "reward_last": 0.5, "steps_logged": 2}


def test_settings_are_checked():
    with pytest.raises(ValueError, match="beta"):
        RLHFConfig(beta=0.0)
    with pytest.raises(ValueError, match="PPO"):
        RLHFConfig(algorithm="ppo")
    with pytest.raises(ValueError, match="unknown setting"):
        update(RLHFConfig(), learning_rate=1.0)
    cfg = PipelineConfig.small()
    assert update(cfg.rlhf, lr=None, steps=7).steps == 7 and update(cfg.rlhf, lr=None).lr == cfg.rlhf.lr


def test_cpu_preset_and_sae_settings():
    from methods.reward_divergence.config import SAEStepConfig, cpu_smollm2

    cfg = cpu_smollm2()
    assert cfg.rlhf.policy == "smollm2-135m-instruct" and cfg.rlhf.lora_r > 0 and not cfg.rlhf.gradient_checkpointing
    assert cfg.saes.skip_first == 1 and cfg.saes.max_norm_ratio > 0 and cfg.divergence.top_k == 3
    with pytest.raises(ValueError, match="skip_first"):
        SAEStepConfig(skip_first=-1)
    with pytest.raises(ValueError, match="max_norm_ratio"):
        SAEStepConfig(max_norm_ratio=-1.0)


def test_training_shows_a_reward_bar_not_a_dict_per_step(stories, tmp_path, capsys):
    """TRL's Trainer prints every step's log dict; the RL step shows the reward on its progress bar instead."""
    from transformers import AutoModelForCausalLM, TrainerControl, TrainerState
    from transformers.trainer_callback import ProgressCallback

    from methods.reward_divergence.rlhf import _trainer

    cfg = RLHFConfig(policy="stories260k", steps=2, prompts_per_step=2, num_generations=2, max_new_tokens=4, lora_r=4,
                     lora_targets=("q_proj",))
    model = AutoModelForCausalLM.from_pretrained(stories.path)
    trainer = _trainer(cfg, model, stories.tokenizer, ["Once upon", "The cat"], tmp_path, "cpu")
    bars = [c for c in trainer.callback_handler.callbacks if isinstance(c, ProgressCallback)]
    assert len(bars) == 1 and type(bars[0]) is not ProgressCallback
    state = TrainerState(max_steps=2)
    bars[0].on_train_begin(trainer.args, state, TrainerControl())
    capsys.readouterr()
    bars[0].on_log(trainer.args, state, TrainerControl(), logs={"loss": 0.1, "reward": 0.25, "kl": 0.0})
    out, err = capsys.readouterr()
    assert "'loss'" not in out + err and "reward=0.250" in str(bars[0].training_bar.postfix)
