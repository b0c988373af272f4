"""One save/load pair for "weights + JSON tagged with a kind" (interp.tagged), behind the Bradley-Terry reward
head, RE-Control's value function and VAS's value model (issue 17). Folders written before it load unchanged."""
import pytest
import torch

from interp.io import load_tensors, save_tensors, write_json
from interp.tagged import TaggedWeights

FMT = TaggedWeights("toy-head", "head.safetensors", "head.json", "toy head", "train", "interp toy train --out {path}")


def test_save_then_read_in_the_folder_or_its_run_step(tmp_path):
    folder = FMT.save(tmp_path / "run" / "train", {"w": torch.arange(3.0)}, {"d": 3})
    for asked in (folder, tmp_path / "run"):
        found, meta = FMT.read(asked)
        assert found == folder and meta == {"d": 3, "kind": "toy-head"}
    assert torch.equal(FMT.weights_of(folder)["w"], torch.arange(3.0))
    from safetensors import safe_open

    with safe_open(str(folder / "head.safetensors"), framework="pt") as f:
        assert f.metadata() == {"kind": "toy-head"}


def test_a_kind_already_in_the_json_keeps_its_place(tmp_path):
    FMT.save(tmp_path, {"w": torch.zeros(1)}, {"a": 1, "kind": "toy-head", "z": 2})
    assert list(FMT.read(tmp_path)[1]) == ["a", "kind", "z"]


def test_another_kind_or_nothing_is_refused_by_name(tmp_path):
    other = TaggedWeights("other", "head.safetensors", "head.json", "other head", "train", "x", article="an")
    other.save(tmp_path, {"w": torch.zeros(1)}, {})
    with pytest.raises(ValueError, match="has kind 'other', not 'toy-head': not a toy head"):
        FMT.read(tmp_path)
    with pytest.raises(ValueError, match="not an other head"):
        other.resolve(FMT.save(tmp_path / "t", {"w": torch.zeros(1)}, {}))
    with pytest.raises(FileNotFoundError, match=r"no toy head at .*empty.*interp toy train --out .*empty"):
        FMT.read(tmp_path / "empty")


def test_a_value_function_folder_written_by_the_earlier_code_loads(tmp_path):
    """RE-Control's value.safetensors + value.json exactly as its own save() wrote them before interp.tagged."""
    from methods.re_control.value import ValueConfig, ValueFunction

    vf = ValueFunction(ValueConfig(d_model=4, depth=1, width=3))
    folder = tmp_path / "run" / "train-value"
    save_tensors(folder / "value.safetensors", vf.state_dict(), metadata={"kind": "re-control-value"})
    write_json(folder / "value.json", {"model": "m", **vars(vf.cfg), "kind": "re-control-value"})
    loaded = ValueFunction.load(tmp_path / "run")
    x = torch.randn(2, 4)
    assert torch.equal(loaded(x), vf(x))
    # and what it saves now is the same pair of files
    again = loaded.save(tmp_path / "again")
    assert load_tensors(again / "value.safetensors").keys() == vf.state_dict().keys()
