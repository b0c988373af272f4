"""Weights load only through safetensors or weights_only torch.load; custom code needs the user's flag."""
import json
import os
import pickle
import shutil

import pytest
import torch

from interp.models import load_model


class _Payload:
    """Unpickling this runs os.system: the classic malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _folder_with_pickle(tmp_path, marker):
    src = load_model("tiny-random-llama", device="cpu").path
    dst = tmp_path / "evil-model"
    shutil.copytree(src, dst)
    for f in dst.glob("*.safetensors"):
        f.unlink()
    with open(dst / "pytorch_model.bin", "wb") as f:
        pickle.dump({"model.embed_tokens.weight": _Payload(marker)}, f)
    return dst


def test_pickle_that_executes_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    folder = _folder_with_pickle(tmp_path, marker)
    with pytest.raises(Exception) as info:
        load_model(str(folder), device="cpu")
    assert not marker.exists(), "the pickle's payload ran"
    assert "weights_only" in str(info.value) or "Unpickl" in type(info.value).__name__ + str(info.value)


def test_torch_load_weights_only_refuses_the_same_payload(tmp_path):
    marker = tmp_path / "pwned2"
    path = tmp_path / "x.pt"
    with open(path, "wb") as f:
        pickle.dump(_Payload(marker), f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_remote_code_needs_the_flag(tmp_path):
    src = load_model("tiny-random-llama", device="cpu").path
    dst = tmp_path / "custom"
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.CustomModel", "AutoConfig": "modeling_custom.CustomConfig"}
    (dst / "config.json").write_text(json.dumps(cfg))
    (dst / "modeling_custom.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    try:
        load_model(str(dst), device="cpu")
    except Exception:
        pass  # refusing outright is fine; what matters is that the code never ran
    assert not (tmp_path / "ran").exists(), "custom code ran without trust_remote_code"
