"""Safety: weights load only through safetensors or torch.load(weights_only=True); custom code needs the
user's flag; run names stay inside the runs directory; the explorer binds 127.0.0.1; no secret is
logged or written into a run directory.

The pickle test is table-driven over every loader the project has for weights: a crafted file whose
unpickling would create a marker file is put where each loader looks; each must refuse it with a
clear error, and the marker must never appear.
"""
import contextlib
import io
import json
import logging
import os
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch

from interp.io import WeightsRefused, load_tensors, load_torch
from interp.models import load_model
from interp.models.registry import registered_folder

ROOT = Path(__file__).resolve().parents[2]


class _Payload:
    """Unpickling this runs os.system: the classic malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil(path: Path, marker: Path, torch_save: bool = False) -> Path:
    """Write a pickle at `path` whose loading would create `marker` (raw pickle, or torch.save's zip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"weight": _Payload(marker)}
    if torch_save:
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    return path


def _model_folder_with_bin(tmp_path: Path, marker: Path) -> Path:
    dst = tmp_path / "evil-model"
    shutil.copytree(registered_folder("tiny-random-llama"), dst)
    for f in dst.glob("*.safetensors"):
        f.unlink()
    _evil(dst / "pytorch_model.bin", marker, torch_save=True)
    return dst


# ---- one setup per loader: (tmp, marker) -> a zero-argument call that loads the crafted file -------------
def _cli_model_info(tmp, marker):
    from app.cli import main

    folder = _model_folder_with_bin(tmp, marker)
    err = io.StringIO()

    def call():
        with contextlib.redirect_stderr(err):
            rc = main(["model", "info", str(folder)])
        assert rc == 2
        raise WeightsRefused(err.getvalue())  # what the user read

    return call


def _load_model_bin(tmp, marker):
    folder = _model_folder_with_bin(tmp, marker)
    return lambda: load_model(str(folder), device="cpu")


def _vas_backbone_bin(tmp, marker):
    from methods.vas.value_model import ValueConfig, ValueModel

    folder = _model_folder_with_bin(tmp, marker)
    return lambda: ValueModel(ValueConfig(backbone=str(folder), adapter="none", head="mlp"), device="cpu")


def _re_control_value(tmp, marker):
    from methods.re_control.value import ValueConfig, ValueFunction

    folder = ValueFunction(ValueConfig(d_model=8)).save(tmp / "value")
    _evil(folder / "value.safetensors", marker)
    return lambda: ValueFunction.load(folder)


def _re_control_value_pt_only(tmp, marker):
    """A value.pt beside value.json, no value.safetensors: never looked at."""
    from methods.re_control.value import ValueConfig, ValueFunction

    folder = ValueFunction(ValueConfig(d_model=8)).save(tmp / "value")
    (folder / "value.safetensors").unlink()
    _evil(folder / "value.pt", marker, torch_save=True)
    return lambda: ValueFunction.load(folder)


def _vas_value(tmp, marker):
    from methods.vas.value_model import ValueConfig, ValueModel

    folder = ValueModel(ValueConfig(backbone="tiny-random-llama", adapter="none", head="mlp"), device="cpu").save(tmp / "vas")
    _evil(folder / "value.safetensors", marker, torch_save=True)
    return lambda: ValueModel.load(folder, device="cpu")


def _sae(tmp, marker):
    from interp.sae import SAETrainConfig, build_training_sae, load_sae, save_sae

    folder = save_sae(build_training_sae(SAETrainConfig(expansion=2, k=4, training_tokens=64, batch_size=64), 8), tmp / "sae")
    _evil(folder / "sae_weights.safetensors", marker)
    return lambda: load_sae(folder)


def _checkpoint(tmp, marker):
    from interp.checkpoint import Checkpoints

    ckpt = Checkpoints(tmp / "checkpoints")
    saved = ckpt.save(3, {"model": {"w": torch.ones(2)}, "epoch": 3})
    _evil(saved / "state.safetensors", marker, torch_save=True)
    return lambda: Checkpoints(tmp / "checkpoints").load()


def _reprpo_adapter(tmp, marker):
    from methods.reprpo.adapter import ADAPTER_WEIGHTS, load_adapter_weights

    _evil(tmp / "adapter" / ADAPTER_WEIGHTS, marker)
    return lambda: load_adapter_weights(torch.nn.Linear(2, 2), tmp / "adapter")


def _bradley_terry(tmp, marker):
    from interp.rewards.bradley_terry import BTConfig, BTHead, BradleyTerryReward, save_bt

    folder = save_bt(tmp / "rm", BTHead(8), BTConfig(encoder="model:tiny-random-llama"))
    _evil(folder / "head.safetensors", marker)
    return lambda: BradleyTerryReward.load(folder, device="cpu")


def _pickled_torch_file(tmp, marker):
    path = _evil(tmp / "optimizer.pt", marker, torch_save=True)
    return lambda: load_torch(path)


def _safetensors_name(tmp, marker):
    path = _evil(tmp / "x.safetensors", marker)
    return lambda: load_tensors(path)


def _peft_adapter_bin(tmp, marker):
    """An RLHF LoRA checkpoint (methods.reward_divergence.rlhf.checkpoint_model) with a pickled adapter."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from methods.reward_divergence.config import RLHFConfig
    from methods.reward_divergence.rlhf import checkpoint_model

    base = AutoModelForCausalLM.from_pretrained(registered_folder("tiny-random-llama"))
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(tmp / "ckpt")
    for f in (tmp / "ckpt").glob("adapter_model.*"):
        f.unlink()
    _evil(tmp / "ckpt" / "adapter_model.bin", marker, torch_save=True)
    fresh = AutoModelForCausalLM.from_pretrained(registered_folder("tiny-random-llama"))
    return lambda: checkpoint_model(fresh, tmp / "ckpt", RLHFConfig(lora_r=2))


LOADERS = {
    "cli model info (pytorch_model.bin)": (_cli_model_info, WeightsRefused, "refused to load the weights"),
    "load_model (pytorch_model.bin)": (_load_model_bin, WeightsRefused, "refused to load the weights"),
    "VAS value backbone (pytorch_model.bin)": (_vas_backbone_bin, WeightsRefused, "refused to load the weights"),
    "RE-Control value function": (_re_control_value, WeightsRefused, "not a valid safetensors file"),
    "RE-Control value.pt only": (_re_control_value_pt_only, FileNotFoundError, "expected value.safetensors"),
    "VAS value model": (_vas_value, WeightsRefused, "not a valid safetensors file"),
    "SAE (sae-lens folder)": (_sae, WeightsRefused, "not a valid safetensors file"),
    "training checkpoint": (_checkpoint, WeightsRefused, "not a valid safetensors file"),
    "ReprPO adapter": (_reprpo_adapter, WeightsRefused, "not a valid safetensors file"),
    "Bradley-Terry reward head": (_bradley_terry, WeightsRefused, "not a valid safetensors file"),
    "a pickled optimizer state": (_pickled_torch_file, WeightsRefused, "could run arbitrary code"),
    "pickle named .safetensors": (_safetensors_name, WeightsRefused, "looks like a pickle"),
    "RLHF LoRA checkpoint (adapter_model.bin)": (_peft_adapter_bin, pickle.UnpicklingError, "weights_only"),
}


@pytest.mark.parametrize("loader", list(LOADERS))
def test_code_running_pickle_is_refused_by_every_weight_loader(loader, tmp_path):
    setup, error, message = LOADERS[loader]
    marker = tmp_path / "pwned"
    call = setup(tmp_path, marker)
    with pytest.raises(error) as info:
        call()
    assert not marker.exists(), f"{loader}: the pickle's payload ran"
    assert message in str(info.value), str(info.value)
    if error is WeightsRefused:  # says why, and what to do instead
        assert re.search(r"arbitrary code|safetensors", str(info.value))


def test_payload_really_runs_when_unpickled_unsafely(tmp_path):
    """The crafted file is a real threat: plain pickle.load runs it (so the refusals above mean something)."""
    marker = tmp_path / "pwned"
    with open(_evil(tmp_path / "x.pkl", marker), "rb") as f:
        with contextlib.suppress(Exception):
            pickle.load(f)  # noqa: S301 - deliberately unsafe, to prove the payload works
    assert marker.exists()


def test_no_unsafe_loading_in_the_source():
    """No pickle, no torch.load without weights_only=True, no hard-coded trust_remote_code=True."""
    bad = []
    for sub in ("interp", "methods", "app", "benchmarks"):
        for f in (ROOT / sub).rglob("*.py"):
            text = f.read_text(encoding="utf-8")
            for i, line in enumerate(text.splitlines(), 1):
                code = line.split("#")[0]
                if re.search(r"\bpickle\.loads?\(|\bjoblib\.load\(|allow_pickle\s*=\s*True|weights_only\s*=\s*False"
                             r"|trust_remote_code\s*=\s*True|load_custom_state|\.load_state\(", code):
                    bad.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
                if re.search(r"\btorch\.load\(", code) and "weights_only=True" not in code:
                    bad.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "unsafe loading:\n" + "\n".join(bad)


def test_remote_code_needs_the_flag(tmp_path):
    dst = tmp_path / "custom"
    shutil.copytree(registered_folder("tiny-random-llama"), dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.CustomModel", "AutoConfig": "modeling_custom.CustomConfig"}
    (dst / "config.json").write_text(json.dumps(cfg))
    (dst / "modeling_custom.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    with contextlib.suppress(Exception):  # refusing outright is fine; what matters is that the code never ran
        load_model(str(dst), device="cpu")
    assert not (tmp_path / "ran").exists(), "custom code ran without trust_remote_code"


def test_trust_remote_code_is_an_explicit_opt_in():
    import inspect

    from app.cli import build_parser

    assert inspect.signature(load_model).parameters["trust_remote_code"].default is False
    args = build_parser().parse_args(["model", "info", "stories260k"])
    assert args.trust_remote_code is False
    assert build_parser().parse_args(["model", "info", "x", "--trust-remote-code"]).trust_remote_code is True


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/../../b", "..", "a b", "~root", ".hidden", "", "."])
def test_run_names_cannot_escape(bad, tmp_path):
    from app.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["re-control", "collect", "--runs", str(tmp_path / "runs"), "--run", bad, "--model", "stories260k"])
    assert rc == 2 and "invalid run name" in err.getvalue()
    assert not (tmp_path / "runs").exists() and not list(tmp_path.parent.glob("x"))


def test_explorer_binds_localhost_by_default():
    from app.cli import build_parser
    from app.cli.app_cmd import command

    args = build_parser().parse_args(["app"])
    assert args.host == "127.0.0.1"
    cmd, _ = command(args.runs, args.port, args.host)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    cmd, _ = command("runs", 8501, "0.0.0.0")  # only when told
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"


SECRETS = {"HF_TOKEN": "hf_SeCrEt123456", "OPENAI_API_KEY": "sk-SeCrEt654321", "INTERP_JUDGE_API_KEY": "jk-SeCrEt999"}


def test_secrets_never_reach_a_run_directory(tmp_path, monkeypatch):
    from interp.runs import open_step

    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    step = open_step(tmp_path, "s", {
        "api_key": "sk-typed-in", "max_new_tokens": 8, "tokenizer_size": 512, "nested": {"token": "abc", "n_tokens": 3},
        "judge_url": f"https://judge.example/v1?key={SECRETS['OPENAI_API_KEY']}", "headers": [f"Bearer {SECRETS['HF_TOKEN']}"],
    })
    step.finish({"log": f"called with {SECRETS['INTERP_JUDGE_API_KEY']}", "loss": 0.5})
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    for s in [*SECRETS.values(), "sk-typed-in", "abc"]:
        assert s not in written
    cfg = json.loads((step.path / "config.json").read_text())
    assert cfg["max_new_tokens"] == 8 and cfg["tokenizer_size"] == 512 and cfg["nested"]["n_tokens"] == 3
    assert cfg["judge_url"] == "https://judge.example/v1?key=***" and "torch" in cfg["versions"]
    # the same config again is recognised as the same (no spurious mismatch from the masking)
    assert open_step(tmp_path, "s", {**step.config}).done


def test_secrets_never_reach_the_log_or_the_error_line(tmp_path, monkeypatch, caplog):
    from app.cli import main
    from interp.redact import RedactingFilter

    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    # an error whose text carries a secret (e.g. a URL the user typed) is printed masked
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["model", "info", f"/nonexistent/{SECRETS['HF_TOKEN']}/model"])
    assert rc == 2 and SECRETS["HF_TOKEN"] not in err.getvalue() and "***" in err.getvalue()
    # log records are masked by the filter the CLI installs on the root handlers
    assert any(isinstance(f, RedactingFilter) for h in logging.getLogger().handlers for f in h.filters)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("interp.test_secret")
    log.addHandler(handler)
    try:
        log.warning("endpoint says %s", f"bad key {SECRETS['OPENAI_API_KEY']}")
    finally:
        log.removeHandler(handler)
    assert SECRETS["OPENAI_API_KEY"] not in stream.getvalue() and "bad key ***" in stream.getvalue()
