"""The CLI end to end on stories260k: train, evaluate, skip when finished, compare; clear GENIES errors."""
import json

import pytest

from app.cli import main
from interp.io import read_json
from methods.reprpo.data import check_names

TINY = ["--model", "stories260k", "--source", "alpaca_easy", "--target", "alpaca_low_quality", "--random", "ranking_logic",
        "--n-train", "8", "--n-eval", "6", "--batch-size", "4", "--max-length", "160", "--max-prompt-length", "128",
        "--eval-batch-size", "6", "--lora-r", "4", "--warmup-steps", "0"]


def test_missing_or_mismatched_genies_splits_list_the_available_names():
    with pytest.raises(ValueError, match=r"source 'alpaca_hard' has no train split \(sets with one: .*alpaca_easy"):
        check_names("alpaca_hard", "alpaca_easy", None)
    with pytest.raises(ValueError, match=r"target 'no_such_set' has no test split.*Sets with a test split: .*alpaca_hard"):
        check_names("alpaca_easy", "no_such_set", "ranking_logic")


def test_cli_refuses_a_bad_genies_name_before_loading_a_model(tmp_path, capsys):
    rc = main(["reprpo", "train", "--source", "alpaca_hard", "--runs-dir", str(tmp_path)])
    assert rc == 2 and "has no train split" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_train_eval_and_compare_from_the_cli(tmp_path, capsys):
    runs = tmp_path / "runs"
    for method, transform, seed in (("dpo", "none", 0), ("dpo", "none", 1), ("prefvec", "ortho", 0)):
        rc = main(["reprpo", "train", *TINY, "--method", method, "--transform", transform, "--seed", str(seed),
                   "--runs-dir", str(runs)])
        assert rc == 0
    run = runs / "reprpo" / "alpaca_easy-dpo-none-s0"
    hist = (run / "train" / "history.jsonl").read_text().splitlines()
    assert len(hist) == 2 and (run / "train" / "adapter" / "adapter.safetensors").exists()
    m = read_json(run / "eval" / "metrics.json")
    for split in ("source_train", "source_test", "target_test", "random_test"):
        assert 0.0 <= m[f"{split}.adapter_accuracy_mean"] <= 1.0 and m[f"{split}.n_scored"] > 0
        assert m[f"{split}.n_scored"] + m[f"{split}.n_identical"] + m[f"{split}.n_too_long"] == 6
    splits = read_json(run / "eval" / "splits.json")
    assert splits["source_test"]["ratio_mean"] == pytest.approx(
        splits["source_test"]["adapter_accuracy_mean"] / splits["source_test"]["base_accuracy_mean"])
    s = splits["source_test"]  # which pairs each got right, so runs can be paired against each other
    assert len(s["adapter_correct_mean"]) == len(s["base_correct_mean"]) == s["n_scored"]
    assert s["adapter_correct_mean"].count("1") / s["n_scored"] == pytest.approx(s["adapter_accuracy_mean"])

    capsys.readouterr()
    assert main(["reprpo", "train", *TINY, "--method", "dpo", "--runs-dir", str(runs)]) == 0  # finished: skipped
    assert json.loads(capsys.readouterr().out)["train"]["steps"] == 2

    out = tmp_path / "cmp"
    assert main(["reprpo", "compare", str(runs), "--out", str(out)]) == 0
    rows = read_json(out / "compare.json")["rows"]
    assert [(r["method"], r["transform"], r["n_seeds"]) for r in rows] == [("dpo", "none", 2), ("prefvec", "ortho", 1)]
    accs = [read_json(runs / "reprpo" / f"alpaca_easy-dpo-none-s{s}" / "eval" / "metrics.json")["source_test.adapter_accuracy_mean"]
            for s in (0, 1)]
    assert rows[0]["source_test.acc"] == pytest.approx(sum(accs) / 2)
    assert (out / "compare.md").read_text().startswith("| method | transform | variant | seeds")
    assert (out / "compare.csv").exists()
