"""Result files: grouping by variant, mean/sd over seeds, and the paired sign test against DPO, by hand."""
import pytest

from interp.results import check_readme, write_result
from methods.reprpo.results import build, markdown, paired_vs


def test_paired_sign_test_counts_pairs_by_mean_correctness_over_seeds():
    # pair 0: both right; 1: a better (1 vs 0); 2: a better (1/2 vs 0); 3: b better; 4: tie at 1/2
    t = paired_vs(["11101", "11100"], ["10010", "10011"])
    assert (t["n_better"], t["n_worse"]) == (2, 1) and t["p_two_sided"] == pytest.approx(1.0)
    t = paired_vs(["1" * 10], ["0" * 10])
    assert t["n_better"] == 10 and t["p_two_sided"] == pytest.approx(2 * 0.5**10)
    with pytest.raises(ValueError, match="different numbers of pairs"):
        paired_vs(["101"], ["10"])


def _run(method, seed, acc, correct, variant="ours", transform="none"):
    split = {"base_accuracy_mean": 0.5, "adapter_accuracy_mean": acc, "ratio_mean": acc / 0.5, "p_sign_test_mean": 0.1,
             "n_scored": len(correct), "n_too_long": 0, "n_identical": 0, "adapter_correct_mean": correct,
             "base_correct_mean": "0" * len(correct)}
    cfg = {"method": method, "transform": transform, "seed": seed, "model": "m", "versions": {"torch": "x"}}
    if variant != "ours":
        cfg["variant"] = variant
    return {"config": cfg, "train": {}, "splits": {"target_test": split}, "eval_config": {"n_eval": 4}}


def test_build_groups_by_variant_and_tests_each_group_against_dpo(tmp_path):
    runs = {"dpo-s0": _run("dpo", 0, 0.5, "1100"), "dpo-s1": _run("dpo", 1, 0.75, "1110"),
            "side-s0": _run("prefvec", 0, 1.0, "1111", "reference", "ether")}
    r = build(runs, "t")
    rows = {row["label"]: row for row in r["table"]}
    assert list(rows) == ["dpo", "prefvec-ether-ref"]
    assert rows["dpo"]["target_test"]["acc"] == pytest.approx(0.625)
    assert rows["dpo"]["target_test"]["acc_sd"] == pytest.approx(0.1767767, abs=1e-6)
    assert rows["prefvec-ether-ref"]["target_test"]["vs_dpo"]["n_better"] == 2  # pairs 2 (1 vs 1/2) and 3
    r["data"] = {"n_train": 1}
    write_result(tmp_path / "results" / "t.json", r)  # an interp result file: labelled rows, no weights
    text = "## Results\n\nResult file: [`results/t.json`](results/t.json)\n\n" + markdown(r)
    assert "prefvec-ether-ref | 1 |" in text
    (tmp_path / "README.md").write_text(text)
    assert check_readme(tmp_path / "README.md") == []  # every number the README table prints is in its row
