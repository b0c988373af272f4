"""Capture two prompts' residual streams at every layer and print how far apart they are per layer."""
import argparse

import torch

import interp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=interp.DEFAULT_MODEL)
    ap.add_argument("--a", default="I loved this film, it was wonderful.")
    ap.add_argument("--b", default="I hated this film, it was awful.")
    args = ap.parse_args()

    model = interp.load_model(args.model)
    sites = [interp.resid_post(l) for l in range(model.n_layers)]
    acts = interp.capture_texts(model, [args.a, args.b], sites, pool="last")
    print(f"{'layer':>5}  {'cosine':>7}  {'L2 distance':>11}")
    for site in sites:
        a, b = acts[site]
        cos = torch.nn.functional.cosine_similarity(a, b, dim=0).item()
        print(f"{site.layer:>5}  {cos:7.3f}  {(a - b).norm().item():11.3f}")


if __name__ == "__main__":
    main()
