"""RLHF step: fine-tune a policy against a known reward on movie-review prefixes with TRL (GRPO or RLOO).

The policy is a plain Hugging Face model loaded from the spec's local folder (TRL needs a
`PreTrainedModel`, not the bridge); full weights or LoRA (merged before saving), KL to the
frozen reference (beta > 0). The tuned model is saved as a HF folder (safetensors + tokenizer)
so `load_model(<folder>)` analyses it through the bridge. TRL checkpoints make it resumable.
"""
from __future__ import annotations

import logging
import random
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from interp.io import atomic_dir, read_json, write_json
from methods.reward_divergence.config import RLHFConfig

log = logging.getLogger(__name__)


def prompt_splits(tokenizer: Any, cfg: RLHFConfig) -> tuple[list[str], list[str]]:
    """Training and held-out prompts: 2-9 token prefixes of rt-polarity sentences, split by sentence.

    The split is the one every step shares (`texts.sentence_split`, a fixed seed), so no held-out
    analysis text is ever an RL training sentence, whatever the seeds. Sentences are shuffled (by
    `cfg.seed`) before prefixes are cut, so asking for n prompts tokenizes only about n sentences.
    """
    from interp.data import prefix_prompts

    from methods.reward_divergence.texts import sentence_split

    train_s, test_s = sentence_split()
    rng = random.Random(cfg.seed)
    rng.shuffle(train_s)
    rng.shuffle(test_s)
    if cfg.n_eval_prompts > len(test_s):
        raise ValueError(f"n_eval_prompts={cfg.n_eval_prompts} but only {len(test_s)} held-out sentences exist")

    def prefixes(items, n: int, seed: int) -> list[str]:
        # a few spare sentences cover the rare one too short for a prefix
        pool = items if not n else items[: n + n // 10 + 10]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = [p.text for p in prefix_prompts(pool, tokenizer, cfg.min_prefix_tokens, cfg.max_prefix_tokens, seed)]
        return out[:n] if n else out

    return prefixes(train_s, cfg.n_train_prompts, cfg.seed), prefixes(test_s, cfg.n_eval_prompts, cfg.seed + 1)


class RewardForTRL:
    """TRL's reward-function protocol `(prompts, completions, **columns) -> list[float]` around an interp reward."""

    def __init__(self, name: str):
        from interp.rewards import get_reward

        self.reward = get_reward(name)
        self.__name__ = name.replace(":", "_").replace("/", "_")

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
        return [float(x) for x in self.reward(list(prompts), list(completions))]


def _trainer(cfg: RLHFConfig, model, tokenizer, prompts: list[str], out: Path, device: str):
    from datasets import Dataset

    common = dict(
        output_dir=str(out), use_cpu=device == "cpu", bf16=False, fp16=False,
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
        gradient_accumulation_steps=1, num_generations=cfg.num_generations,
        max_completion_length=cfg.max_new_tokens, temperature=cfg.temperature, beta=cfg.beta,
        learning_rate=cfg.lr, max_steps=cfg.steps, logging_steps=1, report_to=[],
        save_strategy="steps", save_steps=cfg.save_steps, save_only_model=False, seed=cfg.seed,
        disable_tqdm=False, gradient_checkpointing=cfg.gradient_checkpointing,
    )
    peft_config = None
    if cfg.lora_r > 0:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules=list(cfg.lora_targets), lora_dropout=0.0,
            task_type="CAUSAL_LM",
        )
    data = Dataset.from_dict({"prompt": prompts})
    if cfg.algorithm == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        trainer = GRPOTrainer(model=model, reward_funcs=RewardForTRL(cfg.reward), args=GRPOConfig(**common),
                              train_dataset=data, processing_class=tokenizer, peft_config=peft_config,
                              callbacks=[_drop_pickled_args()])
    else:
        from trl import RLOOConfig, RLOOTrainer

        trainer = RLOOTrainer(model=model, reward_funcs=RewardForTRL(cfg.reward), args=RLOOConfig(**common),
                              train_dataset=data, processing_class=tokenizer, peft_config=peft_config,
                              callbacks=[_drop_pickled_args()])
    return _with_reward_bar(trainer)


def _with_reward_bar(trainer):
    """Swap the Trainer's progress callback, which prints every step's log dict (a dozen keys each), for
    the same bar showing the latest reward. The log history (reward_curve.json) keeps every key."""
    from transformers.trainer_callback import ProgressCallback

    class RewardBar(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and self.training_bar is not None and logs and "reward" in logs:
                self.training_bar.set_postfix(reward=f"{float(logs['reward']):.3f}", refresh=False)

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(RewardBar())
    return trainer


PICKLED_ARGS = "training_args.bin"  # the Trainer's TrainingArguments, a full pickle in every checkpoint


def _drop_pickled_args():
    """A callback that deletes each checkpoint's training_args.bin once the checkpoint is written.

    A TRL checkpoint holds the weights as safetensors and the optimizer, scheduler and RNG states as
    torch.save files of tensors and plain containers, which the resume reads back only with
    torch.load(weights_only=True). training_args.bin is a full pickle that neither TRL's resume nor interp
    ever reads, so it is not kept."""
    from transformers import TrainerCallback

    class DropPickledArgs(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            for f in Path(args.output_dir).glob(f"checkpoint-*/{PICKLED_ARGS}"):
                f.unlink(missing_ok=True)

    return DropPickledArgs()


def reward_curve(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The per-step training log rows that carry a reward: step, reward, reward_std, kl, loss, entropy, length."""
    keep = {"reward": "reward", "reward_std": "reward_std", "kl": "kl", "loss": "loss", "entropy": "entropy",
            "completions/mean_length": "mean_length"}
    rows = []
    for h in log_history:
        if "reward" in h and "step" in h:
            rows.append({"step": int(h["step"]), **{v: float(h[k]) for k, v in keep.items() if k in h}})
    return rows


def train_policy(cfg: RLHFConfig, step_dir: Path, device: str = "cpu") -> dict[str, Any]:
    """Run RL fine-tuning; write `model/` (merged HF folder), `reward_curve.json`, `prompts.json`; resume from checkpoints."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from interp.models.registry import resolve_spec

    folder = resolve_spec(cfg.policy)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train, held_out = prompt_splits(tokenizer, cfg)
    write_json(step_dir / "prompts.json", {"train": train, "eval": held_out})
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
    trl_dir = step_dir / "trl"
    last = latest_checkpoint(trl_dir)
    state = read_json(last / "trainer_state.json") if last else None
    start = time.time()
    if state and state["global_step"] >= cfg.steps:
        # training had finished; only the final save was lost (the Trainer would run one step more)
        log.info("RL fine-tuning already reached step %d in %s; loading it", state["global_step"], last)
        history, tuned = state["log_history"], checkpoint_model(model, last, cfg)
    else:
        if last:
            log.info("resuming RL fine-tuning from %s", last)
        trainer = _trainer(cfg, model, tokenizer, train, trl_dir, device)
        trainer.train(resume_from_checkpoint=str(last) if last else None)
        history, tuned = trainer.state.log_history, trainer.model
    seconds = time.time() - start
    curve = reward_curve(history)
    write_json(step_dir / "reward_curve.json", curve)
    if hasattr(tuned, "merge_and_unload"):
        tuned = tuned.merge_and_unload()
    save_hf_folder(tuned, tokenizer, step_dir / "model")
    return {"train_seconds": seconds, "n_train_prompts": len(train), "curve": curve}


def latest_checkpoint(trl_dir: Path) -> Path | None:
    """The TRL checkpoint with the highest step that holds a whole trainer state, or None.

    The Trainer writes a checkpoint's files in place, trainer_state.json last; a run killed while
    saving leaves a folder without it, or with a cut one: that checkpoint is passed over.
    """
    found = sorted(((int(p.name.split("-")[-1]), p) for p in trl_dir.glob("checkpoint-*")
                    if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()), reverse=True)
    for _, path in found:
        try:
            read_json(path / "trainer_state.json")
            return path
        except ValueError:
            log.warning("passing over %s: its trainer_state.json is incomplete (a save was interrupted)", path)
    return None


def checkpoint_model(base_model, checkpoint: Path, cfg: RLHFConfig):
    """The policy saved in a TRL checkpoint: full weights, or the base with its LoRA adapter (safetensors)."""
    if cfg.lora_r > 0:
        from peft import PeftModel

        return PeftModel.from_pretrained(base_model, checkpoint)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, use_safetensors=True)


def save_hf_folder(model, tokenizer, folder: Path) -> Path:
    """Save a HF model + tokenizer as safetensors, atomically (written aside, then renamed)."""
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return folder


def curve_summary(curve: list[dict[str, float]]) -> dict[str, float]:
    """Mean reward over the first and the last tenth of the steps (at least one step each)."""
    if not curve:
        return {}
    w = max(1, len(curve) // 10)
    mean = lambda rows: sum(r["reward"] for r in rows) / len(rows)  # noqa: E731
    return {"reward_first": mean(curve[:w]), "reward_last": mean(curve[-w:]), "steps_logged": len(curve)}


def evaluate_policies(
    base_spec: str, tuned_folder: str | Path, prompts: list[str], cfg: RLHFConfig, step_dir: Path, device: str = "cpu",
) -> dict[str, Any]:
    """Mean reward of base and tuned on held-out prompts, same sampling seeds, with a paired bootstrap interval."""
    from interp import generate, load_model
    from interp.io import write_jsonl
    from interp.metrics import bootstrap_mean, paired_bootstrap_diff
    from interp.rewards import get_reward

    reward = get_reward(cfg.reward)
    rows: list[dict[str, Any]] = [{"prompt": p, "sample": s} for s in range(cfg.eval_samples) for p in prompts]
    scores = {}
    for name, spec in (("base", base_spec), ("tuned", str(tuned_folder))):
        model = load_model(spec, device=device)
        texts = []
        for s in range(cfg.eval_samples):
            out = generate(model, prompts, max_new_tokens=cfg.max_new_tokens, do_sample=True,
                           temperature=cfg.temperature, seed=cfg.seed + 1000 + s, chat=False, progress=False)
            texts.extend(out.texts)
        r = reward(prompts * cfg.eval_samples, texts)
        scores[name] = r
        for row, t, v in zip(rows, texts, r.tolist()):
            row[f"{name}_response"], row[f"{name}_reward"] = t, v
        del model
    write_jsonl(step_dir / "eval.jsonl", rows)
    # pairs: the same prompt and sample index; average samples per prompt first so prompts are the unit
    n = len(prompts)
    per_prompt = {k: v.reshape(cfg.eval_samples, n).mean(0) for k, v in scores.items()}
    diff = paired_bootstrap_diff(per_prompt["tuned"], per_prompt["base"], n_boot=cfg.n_boot, seed=cfg.seed)
    out = {"n_prompts": n, "eval_samples": cfg.eval_samples}
    for k in ("base", "tuned"):
        iv = bootstrap_mean(per_prompt[k], n_boot=cfg.n_boot, seed=cfg.seed)
        out[f"{k}_reward"] = {"mean": iv.value, "low": iv.low, "high": iv.high}
    out["tuned_minus_base"] = {"mean": diff.value, "low": diff.low, "high": diff.high, "ci": diff.ci}
    return out
