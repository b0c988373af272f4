"""RE-Control's decoding cost against plain generation, measured in one process.

Prints one JSON object:
  re_control_over_plain   greedy generation with gradient-ascent control (step size x steps on an
                          MLP value function at final()) / plain greedy generation
  best_of_4_over_plain    Best-of-4 (4 samples per prompt, scored by the reward) / plain greedy generation
Both at batch 16 on HH-RLHF harmless prompts, every row generating exactly --new-tokens tokens
(EOS ignored) so the compared runs do the same number of steps. The value function has the
pipeline's default shape (depth 2, width d_model); its weights do not change the cost, so a
seeded random one is used unless --value names a trained one.

The methods are timed alternately (plain, control, Best-of-4, plain, ...; medians of --repeat),
after a short warm-up of each, so load that comes and goes on a shared machine does not land on
one side of a ratio; the *_cpu ratios use this process's CPU seconds, which other jobs on a shared
CPU machine hardly change (wall ratios there can be off by 2x either way). --best-of 0 leaves Best-of-N out (it costs N plain runs per repeat).
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from benchmarks.common import device_name, dtype_arg, emit


def timeit_alternating(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each function, run in turn once per repeat (a, b, c, a, b, c, ...).

    CPU seconds (this process, all its threads) hardly move with other jobs on a shared machine, where
    wall seconds swing with their load; on a GPU only the wall time means anything."""
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t, c = time.perf_counter(), time.process_time()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name]["wall"].append(time.perf_counter() - t)
            times[name]["cpu"].append(time.process_time() - c)
    return {k: {kind: statistics.median(v) for kind, v in d.items()} for k, d in times.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--step-size", type=float, default=0.5)
    ap.add_argument("--n-steps", type=int, default=30)
    ap.add_argument("--best-of", type=int, default=4, help="N of the Best-of-N comparison (0: leave it out)")
    ap.add_argument("--reward", default="vader-sentiment", help="reward that picks the Best-of-N response")
    ap.add_argument("--value", help="a trained value function folder (default: a seeded random one)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", type=dtype_arg, default="float32", help="float32, bfloat16 or float16")
    args = ap.parse_args(argv)

    from interp import generate, load_model
    from interp.rewards import get_reward
    from methods.re_control import ControlConfig, ValueConfig, ValueFunction, controlled_generate
    from methods.re_control.baselines import best_of_n
    from methods.re_control.data import load_task, raw_prompts, render_prompts

    model = load_model(args.model, device=args.device, dtype=args.dtype)
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

    fns = {
        "plain": lambda kw=gen_kw: generate(model, prompts, chat=False, **kw),
        "re_control": lambda kw=gen_kw: controlled_generate(model, prompts, value, ctl_cfg, chat=False, **kw),
    }
    if args.best_of:
        fns["best_of"] = lambda kw=gen_kw: best_of_n(model, prompts, raw, reward, args.best_of, seed=0, **kw)
    with torch.no_grad():
        short = {**gen_kw, "max_new_tokens": 2}
        for fn in fns.values():  # warm-up: kernels, caches, the reward's first call
            fn(short)
        t = timeit_alternating(fns, args.repeat)
    result = {
        "model": args.model, "device": device_name(model.device), "dtype": str(args.dtype).replace("torch.", ""), "batch": args.batch, "new_tokens": args.new_tokens,
        "step_size": args.step_size, "n_steps": args.n_steps, "value_width": value.cfg.width, "value_depth": value.cfg.depth,
        "value": args.value or "random", "repeat": args.repeat, "torch_threads": torch.get_num_threads(),
        "plain_seconds": t["plain"]["wall"], "re_control_seconds": t["re_control"]["wall"],
        "re_control_over_plain": t["re_control"]["wall"] / t["plain"]["wall"],
        "plain_cpu_seconds": t["plain"]["cpu"], "re_control_cpu_seconds": t["re_control"]["cpu"],
        "re_control_over_plain_cpu": t["re_control"]["cpu"] / t["plain"]["cpu"],
    }
    if args.best_of:
        n = args.best_of
        result.update({f"best_of_{n}_seconds": t["best_of"]["wall"], f"best_of_{n}_over_plain": t["best_of"]["wall"] / t["plain"]["wall"],
                       f"best_of_{n}_over_plain_cpu": t["best_of"]["cpu"] / t["plain"]["cpu"]})
    emit(result)
    return result


if __name__ == "__main__":
    main()
