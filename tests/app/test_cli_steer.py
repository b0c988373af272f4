"""`interp steer`: RE-Control, a VAS value model and a steering vector in one generation (stories260k).

The composition must equal calling `interp.generate` with the three controls by hand, and each control
must act inside it (dropping any one changes the tokens), so a control silently left out would fail."""
import json

import pytest
import torch

from app.controls import ReControlSpec, VASSpec, VectorSpec, build_controls
from interp import AddVector, generate, resid_post
from interp.steering import load_vector, save_vector
from tests.conftest import cached_model
from tests.methods.vas.conftest import random_value_model

PROMPTS = ["Once upon a time, there was a big", "The cat", "Tom and Lily went to the park. They saw a"]
GEN = dict(max_new_tokens=10, stop_at_eos=False, progress=False, chat=False)


@pytest.fixture(scope="module")
def model():
    return cached_model("stories260k")


@pytest.fixture(scope="module")
def runs(model, tmp_path_factory):
    """An RE-Control value function, a VAS value model and a vector file, each where its command writes it."""
    from methods.re_control.value import ValueConfig, ValueFunction

    root = tmp_path_factory.mktemp("steer")
    torch.manual_seed(0)
    vf = ValueFunction(ValueConfig(d_model=model.d_model, site="resid_post:3", model=model.spec,
                                   tokenizer_size=len(model.tokenizer)))
    vf.save(root / "rc" / "train-value")
    random_value_model("stories260k", seed=3).save(root / "vas" / "train")
    vector = torch.randn(model.d_model, generator=torch.Generator().manual_seed(4))
    save_vector(root / "v.safetensors", vector, resid_post(1), model)
    return root


# sizes at which each control moves greedy tokens without choosing them alone: ||u|| ~ 0.7 x ||h|| at
# resid_post(3) (states' norm ~10; 4 steps of 30 push ||u|| to ~8), vector norm ~16, VAS beta 10
RC, BETA, SCALE = "4:30", 10, 2


def specs(runs, drop=None):
    rc = None if drop == "rc" else ReControlSpec.parse(f"{runs / 'rc'}:{RC}")
    vas = [] if drop == "vas" else [VASSpec.parse(f"{runs / 'vas'}:{BETA}")]
    vectors = [] if drop == "vector" else [VectorSpec.parse(f"{runs / 'v.safetensors'}:resid_post:1:{SCALE}")]
    return rc, vas, vectors


def composed(model, runs, drop=None):
    controls = build_controls(model, *specs(runs, drop))
    try:
        return controls.generate(model, PROMPTS, **GEN).tokens, controls
    finally:
        controls.close()


@pytest.fixture(scope="module")
def all_three(model, runs):
    return composed(model, runs)


def test_composition_equals_the_controls_by_hand(model, runs, all_three):
    from methods.re_control.control import ControlConfig, GradientAscentControl
    from methods.re_control.value import ValueFunction
    from methods.vas.decoding import Guide, VASProcessor
    from methods.vas.value_model import ValueModel

    tokens, controls = all_three
    assert len(controls.names) == 3 and controls.controller.norms
    vector, meta = load_vector(runs / "v.safetensors")
    assert meta["site"] == "resid_post(1)"
    vf = ValueFunction.load(runs / "rc")
    for p in vf.parameters():
        p.requires_grad_(False)
    by_hand = generate(model, PROMPTS, interventions=[AddVector(resid_post(1), vector, SCALE),
                                                      GradientAscentControl(vf, ControlConfig(30.0, 4)).intervention()],
                       processors=[VASProcessor(model, [Guide(ValueModel.load(runs / "vas"), BETA)])], **GEN)
    assert tokens == by_hand.tokens


@pytest.mark.parametrize("drop", ["rc", "vas", "vector"])
def test_every_control_acts_inside_the_composition(model, runs, all_three, drop):
    assert all_three[0] != composed(model, runs, drop)[0], f"dropping {drop} changed nothing"


def test_cli_prints_base_and_steered_and_the_cost(model, runs, capsys):
    from app.cli import main

    rc = main(["steer", "--model", "stories260k", "--prompt", PROMPTS[0], "--prompt", PROMPTS[1], "--chat", "no",
               "--re-control", f"{runs / 'rc'}:{RC}", "--vas", f"{runs / 'vas'}:{BETA}",
               "--vector", f"{runs / 'v.safetensors'}:{SCALE}", "--max-new-tokens", "8"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["prompt"] for r in rows] == PROMPTS[:2] and all(r["base"] != r["steered"] for r in rows)
    report = json.loads(err.strip().splitlines()[-1])
    assert len(report["controls"]) == 3 and report["steered_over_base"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--vas", "runs/x"], "RUN:BETA"),
    (["--vas", "runs/x:nan"], "finite"),
    (["--vector", "v.safetensors"], "FILE:SITE:SCALE"),
    ([], "at least one control"),
])
def test_bad_control_specs_are_refused_in_one_line(argv, message, capsys):
    from app.cli import main

    rc = main(["steer", "--model", "stories260k", "--prompt", "hi", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_a_file_that_is_not_a_vector_is_refused(model, tmp_path):
    from interp.io import save_tensors

    save_tensors(tmp_path / "w.safetensors", {"weight": torch.zeros(3, 3)})
    with pytest.raises(ValueError, match="not a steering vector file"):
        build_controls(model, vectors=[VectorSpec.parse(f"{tmp_path / 'w.safetensors'}:resid_post:1:2")])


def test_cli_explains_the_controller_in_sae_features(model, runs, tmp_path, capsys):
    from app.cli import main
    from interp.sae.train import SAETrainConfig, build_training_sae, save_sae

    sae = build_training_sae(SAETrainConfig(architecture="topk", expansion=4, k=8), model.d_model)
    save_sae(sae, tmp_path / "sae")
    rc = main(["steer", "--model", "stories260k", "--prompt", PROMPTS[0], "--chat", "no", "--no-base",
               "--re-control", f"{runs / 'rc'}:{RC}", "--sae", str(tmp_path / "sae"),
               "--explain-out", str(tmp_path / "explain.json"), "--max-new-tokens", "4"])
    err = capsys.readouterr().err
    assert rc == 0, err
    report = json.loads((tmp_path / "explain.json").read_text())
    assert report["steps"] == 4 and report["up"] + report["down"]
    rc = main(["steer", "--model", "stories260k", "--prompt", "hi", "--vas", f"{runs / 'vas'}:1", "--sae", str(tmp_path / "sae")])
    assert rc == 2 and "add --re-control" in capsys.readouterr().err


def test_cli_sparse_control_lists_features_per_token(model, runs, tmp_path, capsys):
    from app.cli import main
    from interp.sae.train import SAETrainConfig, build_training_sae, save_sae

    save_sae(build_training_sae(SAETrainConfig(architecture="topk", expansion=4, k=8), model.d_model), tmp_path / "sae")
    rc = main(["steer", "--model", "stories260k", "--prompt", PROMPTS[1], "--chat", "no", "--no-base",
               "--re-control", f"{runs / 'rc'}:{RC}", "--sae", str(tmp_path / "sae"), "--sparse", "3", "--max-new-tokens", "3"])
    err = capsys.readouterr().err
    assert rc == 0, err
    steps = json.loads(err.strip().splitlines()[-1])["sparse_features_per_step"]
    assert len(steps) == 3 and all(len(s) == 3 for s in steps)
