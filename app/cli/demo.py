"""`interp demo`: the main job on the embedded default model.

For now (the backbone): load the model, capture the residual stream, build a steering vector
from contrasting prompts, generate with and without it, and print a short report of measured
effects. Each method pipeline adds its compact run here as it lands.
"""
from __future__ import annotations

import time


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded default model and print a report")
    p.add_argument("--model", default=None, help="model spec (default: smollm2-135m-instruct)")
    p.add_argument("--runs", default="runs", help="runs directory (the demo writes runs/demo/)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--force", action="store_true", help="redo finished steps")
    p.set_defaults(func=run)


POSITIVE = ["I love this, it is wonderful and makes me happy.", "What a delightful, beautiful day!",
            "This is the best thing ever, fantastic!"]
NEGATIVE = ["I hate this, it is awful and makes me sad.", "What a miserable, horrible day!",
            "This is the worst thing ever, terrible!"]
PROMPTS = ["Tell me about your weekend.", "Write one sentence about the weather.", "Describe the city you live in.",
           "What do you think of Mondays?"]


def run(args) -> int:
    from pathlib import Path

    from app.cli.common import table
    from interp import DEFAULT_MODEL, AddVector, capture_texts, generate, load_model, resid_post
    from interp.io import write_json, write_jsonl
    from interp.runs import open_step
    from interp.steering import contrast_vector

    spec = args.model or DEFAULT_MODEL
    t0 = time.perf_counter()
    print(f"[1/4] loading {spec} (converted once into the cache, then loaded from safetensors)")
    model = load_model(spec)
    load_s = time.perf_counter() - t0
    layer = model.n_layers // 2
    site = resid_post(layer)
    config = {"model": spec, "site": str(site), "max_new_tokens": args.max_new_tokens, "strength": 0.5,
              "prompts": PROMPTS, "positive": POSITIVE, "negative": NEGATIVE}
    step = open_step(Path(args.runs) / "demo", "backbone", config, force=args.force)
    if step.done:
        print(f"reusing finished step {step.path}")
        metrics = step.metrics()
    else:
        print(f"[2/4] capturing {site} on {len(POSITIVE) + len(NEGATIVE)} contrasting prompts")
        acts = capture_texts(model, POSITIVE + NEGATIVE, [site], pool="last")[site]
        vec = contrast_vector(model, site, POSITIVE, NEGATIVE)
        # the unit direction, scaled to a fraction of the typical residual norm at this site
        strength = config["strength"] * acts.norm(dim=-1).mean().item()
        print("[3/4] generating without and with the steering vector")
        base = generate(model, PROMPTS, max_new_tokens=args.max_new_tokens, chat=None, progress=False)
        steered = generate(model, PROMPTS, max_new_tokens=args.max_new_tokens, chat=None, progress=False,
                           interventions=[AddVector(site, vec / vec.norm(), scale=strength)])
        print("[4/4] scoring sentiment with VADER")
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = SentimentIntensityAnalyzer()
        score = lambda texts: [vader.polarity_scores(t)["compound"] for t in texts]  # noqa: E731
        b, s = score(base.texts), score(steered.texts)
        write_jsonl(step.file("generations.jsonl"), [
            {"prompt": p, "base": bt, "steered": st, "base_sentiment": bs, "steered_sentiment": ss}
            for p, bt, st, bs, ss in zip(PROMPTS, base.texts, steered.texts, b, s)])
        write_json(step.file("vector.json"), {"site": str(site), "norm": vec.norm().item()})
        metrics = {
            "model": spec, "n_layers": model.n_layers, "d_model": model.d_model, "site": str(site),
            "steering_vector_norm": vec.norm().item(),
            "positive_negative_cosine": float(_cos(acts[: len(POSITIVE)].mean(0), acts[len(POSITIVE):].mean(0))),
            "base_sentiment": sum(b) / len(b), "steered_sentiment": sum(s) / len(s),
            "base_seconds": base.seconds, "steered_seconds": steered.seconds,
            "examples": [{"prompt": PROMPTS[0], "base": base.texts[0], "steered": steered.texts[0]}],
        }
        step.finish(metrics)
    print()
    print(table([
        {"measure": "model", "value": f"{metrics['model']} ({metrics['n_layers']} layers, d_model {metrics['d_model']})"},
        {"measure": "load seconds", "value": f"{load_s:.1f}"},
        {"measure": "steering site", "value": metrics["site"]},
        {"measure": "mean VADER sentiment, base", "value": f"{metrics['base_sentiment']:+.3f}"},
        {"measure": "mean VADER sentiment, steered", "value": f"{metrics['steered_sentiment']:+.3f}"},
        {"measure": "generation seconds base / steered", "value": f"{metrics['base_seconds']:.1f} / {metrics['steered_seconds']:.1f}"},
    ]))
    ex = metrics["examples"][0]
    print(f"\nprompt:  {ex['prompt']}\nbase:    {ex['base']!r}\nsteered: {ex['steered']!r}")
    print(f"\nrun directory: {step.path}")
    return 0


def _cos(a, b) -> float:
    return float((a @ b) / (a.norm() * b.norm()).clamp(min=1e-12))
