"""The VAS defaults the README states are the code's: top_k 20 (the reference's) and the kept epoch."""
import inspect
from pathlib import Path

from methods.vas.decoding import VASProcessor
from methods.vas.defaults import DEFAULT_TOP_K
from methods.vas.evaluate import EvalConfig
from methods.vas.pipeline import generate
from methods.vas.train import TrainConfig

README = Path(__file__).resolve().parents[3] / "methods" / "vas" / "README.md"


def _cli_default(argv, dest):
    from app.cli import build_parser

    return vars(build_parser().parse_args(argv))[dest]


def test_top_k_is_the_reference_s_20_everywhere():
    assert DEFAULT_TOP_K == 20
    assert inspect.signature(VASProcessor.__init__).parameters["top_k"].default == DEFAULT_TOP_K
    assert inspect.signature(generate).parameters["top_k"].default == DEFAULT_TOP_K
    assert EvalConfig().top_k == DEFAULT_TOP_K
    assert _cli_default(["vas", "generate", "--value", "runs/v:1"], "top_k") == DEFAULT_TOP_K
    assert _cli_default(["vas", "evaluate", "--value", "runs/v", "--out", "runs/x"], "top_k") == DEFAULT_TOP_K
    assert _cli_default(["vas", "grid", "--value", "a", "--value", "b", "--rewards", "r,s", "--out", "runs/x"],
                        "top_k") == DEFAULT_TOP_K
    assert f"default {DEFAULT_TOP_K}" in README.read_text()


def test_the_kept_epoch_is_what_the_readme_says():
    text = README.read_text()
    assert TrainConfig().keep == "last"
    assert _cli_default(["vas", "train", "--out", "runs/x"], "keep") == TrainConfig().keep
    assert "keeps the last epoch (`--keep last`, the default)" in text
    assert "keeps the epoch with the lowest validation MSE to the reward |" not in text
