"""Spec resolution errors: what was wrong and what would work instead."""
from __future__ import annotations

import pytest

from interp.models import load_model


def test_unknown_hub_name_offline_names_alternatives(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError) as err:
        load_model("no-such-org/no-such-model-xyz", device="cpu")
    msg = str(err.value)
    assert "no-such-org/no-such-model-xyz" in msg and "HF_HUB_OFFLINE=1" in msg
    assert "Offline alternatives" in msg and "stories260k" in msg and "smollm2-135m-instruct" in msg
    assert "local" in msg


@pytest.mark.parametrize("spec", ["/nonexistent/model/folder", "./missing-model-folder", "~/missing/model/dir"])
def test_missing_path_is_a_clear_error(spec):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(spec, device="cpu")


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="config.json"):
        load_model(str(tmp_path), device="cpu")
