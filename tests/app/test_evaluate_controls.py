"""The composition measurement measures where it was registered to: the pre-registered evaluation's prompts
(refused otherwise), and training data for VAS and the SAE that no other part of it uses."""
import inspect
from pathlib import Path

import pytest

import app.evaluate_controls as ec


@pytest.fixture(scope="module")
def cfg():
    return ec.re_control_config(Path("runs/controls"))


def test_prompts_are_the_preregistered_ones(cfg):
    test, val = ec.registered_prompts(cfg)
    ids = ec._prereg()["data"]
    assert [e.prompt.id for e in test] == ids["test_ids"] and len(test) == 300
    assert [e.prompt.id for e in val] == ids["validation_ids"]


@pytest.mark.parametrize("which", ["test_ids", "validation_ids"])
def test_other_prompts_are_refused(cfg, monkeypatch, which):
    record = ec._prereg()
    record["data"][which] = list(reversed(record["data"][which]))  # same prompts, another order: still refused
    monkeypatch.setattr(ec, "_prereg", lambda: record)
    with pytest.raises(RuntimeError, match=which.split("_")[0]):
        ec.registered_prompts(cfg)


def test_training_data_do_not_overlap(cfg):
    """RE-Control learns from training prompts [0, n_train), VAS from the next 384, the SAE from those after."""
    sae_first = inspect.signature(ec.prepare_sae).parameters["first"].default
    assert cfg.n_train <= ec.VAS_PROMPTS[0] < ec.VAS_PROMPTS[1] <= sae_first
    assert cfg.n_static_pairs <= cfg.n_train  # the steering vector's pairs are among RE-Control's training prompts


RESULT = Path(__file__).resolve().parents[2] / "methods" / "re_control" / "results" / "controls-smollm2.json"


def _block(text: str, name: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    assert start in text and end in text, f"README lacks the {name} block"
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_readme_tables_are_the_result_files():
    """The main README's composition table and RE-Control's two tables are the committed result file's rows,
    as `python -m app.evaluate_controls write` prints them (a changed number fails)."""
    from interp.results import read_result

    tables = ec.markdown(read_result(RESULT)["table"]).strip().split("\n\n")
    root = RESULT.parents[3]
    assert _block((root / "README.md").read_text(), "controls-table") == tables[0]
    method_readme = (root / "methods" / "re_control" / "README.md").read_text()
    assert _block(method_readme, "controls-table") == tables[0]
    assert _block(method_readme, "sparse-table") == tables[1]


def test_the_judge_is_recorded_per_runs_folder_and_cannot_change(tmp_path):
    assert ec.re_control_config(tmp_path).reward == f"rm:{ec.JUDGE}"  # the pre-registered evaluation's by default
    ec.set_judge(tmp_path, "elsewhere/rm")
    assert ec.re_control_config(tmp_path).reward == "rm:elsewhere/rm"
    ec.set_judge(tmp_path, "elsewhere/rm")  # the same judge again is fine
    with pytest.raises(ValueError, match="started with the judge"):
        ec.set_judge(tmp_path, "another/rm")
