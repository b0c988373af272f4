"""RE-Control's decoding cost against plain generation, measured in one process.

Prints one JSON object:
  re_control_over_plain   greedy generation with gradient-ascent control (step size x steps on an
                          MLP value function at final()) / plain greedy generation
  best_of_4_over_plain    Best-of-4 (4 samples per prompt, scored by the reward) / plain greedy generation
Both at batch 16 on HH-RLHF harmless prompts, every row generating exactly --new-tokens tokens
(EOS ignored) so the compared runs do the same number of steps. The value function has the
pipeline's default shape (depth 2, width d_model); its weights do not change the cost, so a
seeded random one is used unless --value names a trained one.
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.common import emit, timeit


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--step-size", type=float, default=0.5)
    ap.add_argument("--n-steps", type=int, default=30)
    ap.add_argument("--reward", default="vader-sentiment", help="reward that picks the Best-of-4 response")
    ap.add_argument("--value", help="a trained value function folder (default: a seeded random one)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)

    from interp import generate, load_model
    from interp.rewards import get_reward
    from methods.re_control import ControlConfig, ValueConfig, ValueFunction, controlled_generate
    from methods.re_control.baselines import best_of_n
    from methods.re_control.data import load_task, raw_prompts, render_prompts

    model = load_model(args.model, device=args.device)
    task = load_task("hh-rlhf")
    examples = task.test[: args.batch]
    prompts, raw = render_prompts(model, examples, chat=None), raw_prompts(examples)
    if args.value:
        value = ValueFunction.load(args.value)
    else:
        torch.manual_seed(0)
        value = ValueFunction(ValueConfig(d_model=model.d_model, model=model.spec, tokenizer_size=len(model.tokenizer)))
    reward = get_reward(args.reward)
    gen_kw = dict(max_new_tokens=args.new_tokens, stop_at_eos=False, batch_size=args.batch, progress=False)
    ctl_cfg = ControlConfig(args.step_size, args.n_steps)

    with torch.no_grad():
        t_plain = timeit(lambda: generate(model, prompts, chat=False, **gen_kw), args.repeat)
        t_ctl = timeit(lambda: controlled_generate(model, prompts, value, ctl_cfg, chat=False, **gen_kw), args.repeat)
        t_bo4 = timeit(lambda: best_of_n(model, prompts, raw, reward, 4, seed=0, **gen_kw), args.repeat)
    result = {
        "model": args.model, "device": str(model.device), "batch": args.batch, "new_tokens": args.new_tokens,
        "step_size": args.step_size, "n_steps": args.n_steps, "value_width": value.cfg.width, "value_depth": value.cfg.depth,
        "plain_seconds": t_plain, "re_control_seconds": t_ctl, "best_of_4_seconds": t_bo4,
        "re_control_over_plain": t_ctl / t_plain, "best_of_4_over_plain": t_bo4 / t_plain,
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
