"""Preference accuracy of base and adapter on each evaluation split, and their ratio.

Per split: pairs whose responses cannot fit `max_length` are set aside and counted (`n_too_long`:
evaluation cuts prompts from the left, never responses); the rest are scored with `interp.logprobs.pair_logprobs` (prompt masked; pairs whose
chosen and rejected tokens are identical after truncation dropped and counted), once with the
adapter disabled (base) and once enabled. Accuracy uses `interp.metrics` in both variants:
mean per-token log-probability (primary) and summed. Reported per split:
  base / adapter accuracy, ratio = adapter / base,
  a one-sided sign test on the pairs where exactly one of them is right
  (H1: the adapter is right more often; p = P[Binomial(n_discordant, 1/2) >= n_adapter_only]),
  and a paired bootstrap 95% interval of adapter - base accuracy;
  and, as strings of 0/1 in pair order, which scored pairs base and adapter got right (mean
  variant), so two runs on the same split can be sign-tested against each other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch
from scipy.stats import binomtest

from interp.logprobs import pair_logprobs, split_tokens
from interp.metrics import accuracy_from_logprobs, paired_bootstrap_diff

if TYPE_CHECKING:
    from interp.data.types import PreferencePair
    from interp.models.model import Model


def sign_test(base_correct: torch.Tensor, new_correct: torch.Tensor) -> dict[str, float]:
    """One-sided exact sign test that `new` is right more often than `base` on the same pairs."""
    up = int((new_correct & ~base_correct).sum())
    down = int((base_correct & ~new_correct).sum())
    n = up + down
    p = float(binomtest(up, n, 0.5, alternative="greater").pvalue) if n else 1.0
    return {"n_adapter_only": up, "n_base_only": down, "p_sign_test": p}


def fits(tokenizer, pair: "PreferencePair", max_length: int) -> bool:
    """Whether both responses, with at least one prompt token, fit `max_length` (evaluation never cuts a response)."""
    return all(len(split_tokens(tokenizer, pair.prompt, r)[1]) < max_length for r in (pair.chosen, pair.rejected))


def score_split(model: "Model", peft_model, pairs: Sequence["PreferencePair"], max_length: int,
                batch_size: int = 8, progress: bool = False) -> dict[str, Any]:
    """Base and adapter preference accuracy on one split (pairs already rendered for the model)."""
    if not pairs:
        raise ValueError("no pairs to evaluate")
    fitting = [p for p in pairs if fits(model.tokenizer, p, max_length)]
    if not fitting:
        raise ValueError(f"no pair's responses fit max_length={max_length}; raise --eval-max-length")
    args = ([p.prompt for p in fitting], [p.chosen for p in fitting], [p.rejected for p in fitting],
            max_length, batch_size, progress)
    with peft_model.disable_adapter():
        base = pair_logprobs(model, *args)
    new = pair_logprobs(model, *args)
    if not torch.equal(base.kept, new.kept):
        raise RuntimeError("base and adapter scored different pairs; tokenization must not depend on the adapter")
    out: dict[str, Any] = {"n_pairs": len(pairs), "n_too_long": len(pairs) - len(fitting)}
    for tag, lp in (("base", base), ("adapter", new)):
        acc = accuracy_from_logprobs(lp)
        out.update({f"{tag}_{k}": v for k, v in acc.to_dict().items()})
    for variant in ("mean", "sum"):
        b = getattr(base.chosen, variant) > getattr(base.rejected, variant)
        a = getattr(new.chosen, variant) > getattr(new.rejected, variant)
        base_acc, new_acc = out[f"base_accuracy_{variant}"], out[f"adapter_accuracy_{variant}"]
        out[f"ratio_{variant}"] = new_acc / base_acc if base_acc > 0 else float("nan")
        st = sign_test(b, a)
        out.update({f"{k}_{variant}": v for k, v in st.items()})
        if variant == "mean":  # per scored pair, so runs on the same split can be compared pair by pair
            out["base_correct_mean"] = "".join("1" if v else "0" for v in b.tolist())
            out["adapter_correct_mean"] = "".join("1" if v else "0" for v in a.tolist())
        if len(b):
            iv = paired_bootstrap_diff(a.double(), b.double(), n_boot=2000, seed=0)
            out[f"diff_{variant}"] = {"value": iv.value, "low": iv.low, "high": iv.high}
    out["n_scored"] = out.pop("base_n_scored")
    out["n_identical"] = out.pop("base_n_identical")
    out.pop("adapter_n_scored", None)
    out.pop("adapter_n_identical", None)
    return out


def evaluate(model: "Model", peft_model, splits: dict[str, Sequence["PreferencePair"]], max_length: int,
             batch_size: int = 8, progress: bool = True) -> dict[str, dict[str, Any]]:
    """`score_split` on every named split."""
    peft_model.eval()
    with torch.inference_mode():
        return {name: score_split(model, peft_model, pairs, max_length, batch_size, progress)
                for name, pairs in splits.items()}
