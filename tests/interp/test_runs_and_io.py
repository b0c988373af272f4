"""Run directories and atomic writes: the contract every pipeline relies on."""
import json

import pytest
import torch

from interp.io import atomic_path, load_tensors, read_json, save_tensors, write_json
from interp.runs import RunConfigMismatch, open_step, safe_name


def test_atomic_write_leaves_old_file_when_body_fails(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("{half")
            raise RuntimeError("crash mid-write")
    assert read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_tensors_round_trip(tmp_path):
    t = {"w": torch.randn(3, 4), "b": torch.arange(5)}
    save_tensors(tmp_path / "x.safetensors", t)
    back = load_tensors(tmp_path / "x.safetensors")
    assert all(torch.equal(t[k], back[k]) for k in t)


def test_step_skips_when_done_and_refuses_other_config(tmp_path):
    step = open_step(tmp_path, "train", {"lr": 0.1, "seed": 0})
    assert not step.done
    step.finish({"loss": 0.5})
    again = open_step(tmp_path, "train", {"lr": 0.1, "seed": 0})
    assert again.done and again.metrics() == {"loss": 0.5}
    with pytest.raises(RunConfigMismatch, match="differs in: lr.*--force"):
        open_step(tmp_path, "train", {"lr": 0.2, "seed": 0})
    assert again.metrics() == {"loss": 0.5}, "a refused config must not touch the finished step"
    forced = open_step(tmp_path, "train", {"lr": 0.2, "seed": 0}, force=True)
    assert not forced.done and read_json(forced.path / "config.json")["lr"] == 0.2


def test_config_records_versions_and_drops_secrets(tmp_path):
    step = open_step(tmp_path, "s", {"api_key": "sk-123", "max_new_tokens": 8, "nested": {"token": "abc"}})
    cfg = json.loads((step.path / "config.json").read_text())
    assert "sk-123" not in json.dumps(cfg) and "abc" not in json.dumps(cfg)
    assert cfg["max_new_tokens"] == 8 and "torch" in cfg["versions"]


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/../../b", "..", "a b"])
def test_run_names_cannot_escape(bad):
    with pytest.raises(ValueError, match="invalid"):
        safe_name(bad)


def test_good_names():
    assert safe_name("demo/re_control-1.2") == "demo/re_control-1.2"
