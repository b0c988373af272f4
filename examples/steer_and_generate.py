"""Build a steering vector from two contrasting prompts and generate with and without it."""
import argparse

import interp
from interp.steering import contrast_vector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=interp.DEFAULT_MODEL)
    ap.add_argument("--layer", type=int, default=None, help="resid_post layer (default: middle)")
    ap.add_argument("--strength", type=float, default=0.5, help="fraction of the mean residual norm")
    ap.add_argument("--prompt", default="Tell me about your day.")
    ap.add_argument("--max-new-tokens", type=int, default=30)
    args = ap.parse_args()

    model = interp.load_model(args.model)
    site = interp.resid_post(args.layer if args.layer is not None else model.n_layers // 2)
    pos, neg = ["I love it, wonderful, happy."], ["I hate it, awful, sad."]
    vec = contrast_vector(model, site, pos, neg)
    norm = interp.capture_texts(model, pos + neg, [site], pool="last")[site.resolve(model)].norm(dim=-1).mean()
    steer = interp.AddVector(site, vec / vec.norm(), scale=args.strength * norm.item())
    chat = None if getattr(model.tokenizer, "chat_template", None) else False
    base = interp.generate(model, [args.prompt], max_new_tokens=args.max_new_tokens, chat=chat, progress=False)
    steered = interp.generate(model, [args.prompt], max_new_tokens=args.max_new_tokens, chat=chat,
                              interventions=[steer], progress=False)
    print(f"site:    {site}\nbase:    {base.texts[0]!r}\nsteered: {steered.texts[0]!r}")


if __name__ == "__main__":
    main()
