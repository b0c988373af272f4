"""Steering playground: the value models of the fixture's RE-Control and VAS runs and a steering vector steer a
live stories260k, each toggled and sized; each column shows what the methods' own generation functions produce
(alone, and all together in one generation), with its reward; with an SAE and sparse control, each controlled
token's features."""
import pytest

from tests.app.explorer_util import copy_run, messages, open_page
from tests.app.fixture_runs import RE_CONTROL, VAS

pytestmark = pytest.mark.slow
PROMPT = "The movie was"


def test_widgets_and_generations_match_the_methods(runs_env):
    from interp import generate, load_model
    from interp.rewards import get_reward
    from methods.re_control import ControlConfig, controlled_generate
    from methods.re_control.control import GradientAscentControl
    from methods.re_control.value import ValueFunction
    from methods.vas.decoding import Guide, VASProcessor
    from methods.vas.value_model import ValueModel

    at = open_page("playground")
    assert not at.exception
    assert at.selectbox(key="spec").value == "stories260k"
    assert at.selectbox(key="rc").value.startswith(RE_CONTROL)
    assert [v.split(" ")[0] for v in at.multiselect(key="vas").value] == [VAS]
    assert at.selectbox(key="reward").value == "vader-sentiment"
    for key in ("step_size", "n_steps", "beta_0", "scale", "max_new_tokens", "top_k"):
        assert at.slider(key=key) is not None
    assert not at.metric  # nothing runs before the button

    at.text_area(key="prompt").input(PROMPT)
    at.slider(key="step_size").set_value(1.5)
    at.slider(key="n_steps").set_value(20)
    at.slider(key="beta_0").set_value(8.0)
    at.slider(key="max_new_tokens").set_value(16)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = {m.label.removesuffix(" reward"): m.value for m in at.metric}
    texts = dict(zip(shown, (t.value for t in at.text)))
    assert list(shown) == ["base", "RE-Control", "VAS", "all together"]

    model = load_model("stories260k", device="cpu")
    common = dict(max_new_tokens=16, do_sample=False, seed=0, chat=None, progress=False)
    base = generate(model, [PROMPT], **common).texts[0]
    value = ValueFunction.load(runs_env / RE_CONTROL / "train-value")
    rc = controlled_generate(model, [PROMPT], value, ControlConfig(1.5, 20), **common).texts[0]
    vas_value = ValueModel.load(runs_env / VAS / "train", device="cpu")
    vas_proc = VASProcessor(model, Guide(vas_value, 8.0), top_k=10)
    vas = generate(model, [PROMPT], processors=[vas_proc], **common).texts[0]
    both = generate(model, [PROMPT], interventions=[GradientAscentControl(value, ControlConfig(1.5, 20)).intervention()],
                    processors=[vas_proc], **common).texts[0]
    assert texts == {"base": base, "RE-Control": rc, "VAS": vas, "all together": both}
    assert base not in (rc, vas, both)  # each control, and their composition, moved the text
    reward = get_reward("vader-sentiment")
    for name, text in texts.items():
        assert shown[name] == f"{float(reward([PROMPT], [text])[0]):+.4f}"


def test_broken_value_files_are_messages(explorer_runs, tmp_path, monkeypatch):
    rc = copy_run(explorer_runs, RE_CONTROL, tmp_path)
    vas = copy_run(explorer_runs, VAS, tmp_path)
    (rc / "train-value" / "value.safetensors").unlink()
    (vas / "train" / "value.json").write_text('{"kind": "vas-val')
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("playground")
    assert not at.exception
    msgs = messages(at)
    assert any("value.safetensors" in m and "does not exist" in m and f"interp re-control train-value --run {RE_CONTROL}" in m
               for m in msgs), msgs
    assert any("value.json" in m and "half-written" in m and "interp vas train --out" in m for m in msgs), msgs
    assert any("interp re-control run" in i.value for i in at.info)  # nothing usable left: the command to make one


def test_no_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("playground")
    assert not at.exception
    assert "interp re-control run" in at.info[0].value and "interp vas train" in at.info[0].value


def test_toggles_vector_and_sparse_features(control_root, monkeypatch):
    """Each control toggled and sized: a steering vector alone and with RE-Control; RE-Control's sparse ascent in
    the SAE's features lists each controlled token's features, and equals SparseFeatureControl by hand."""
    from interp import AddVector, generate, resid_post
    from interp.sae import load_sae
    from interp.steering import load_vector
    from methods.re_control.interpret import SparseFeatureControl
    from methods.re_control.value import ValueFunction
    from tests.conftest import cached_model

    monkeypatch.setenv("INTERP_RUNS", str(control_root))
    at = open_page("playground")
    assert at.selectbox(key="vector").value == str(control_root / "vectors" / "v.safetensors")
    at.checkbox(key="use_vas").uncheck()
    at.checkbox(key="use_vector").check()
    at.selectbox(key="sae").select(next(o for o in at.selectbox(key="sae").options if "final-x4" in o))
    at.text_area(key="prompt").input(PROMPT)
    at.slider(key="scale").set_value(0.5)
    at.slider(key="step_size").set_value(2.0)
    at.slider(key="n_steps").set_value(20)
    at.slider(key="max_new_tokens").set_value(8)
    at.number_input(key="sparse").set_value(3)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    texts = dict(zip((m.label.removesuffix(" reward") for m in at.metric), (t.value for t in at.text)))
    assert list(texts) == ["base", "RE-Control", "vector", "all together"]

    model = cached_model("stories260k")
    common = dict(max_new_tokens=8, do_sample=False, seed=0, chat=None, progress=False)
    vector, _ = load_vector(control_root / "vectors" / "v.safetensors")
    add = AddVector(resid_post(1), vector, 0.5)
    value = ValueFunction.load(control_root / RE_CONTROL / "train-value")
    for p in value.parameters():
        p.requires_grad_(False)
    sae = load_sae(control_root / "saes" / "final-x4")
    sparse = SparseFeatureControl(value, sae, 3, 2.0, 20)
    rc = generate(model, [PROMPT], interventions=[sparse.intervention()], **common)
    assert texts["vector"] == generate(model, [PROMPT], interventions=[add], **common).texts[0]
    assert texts["RE-Control"] == rc.texts[0]
    both = generate(model, [PROMPT], interventions=[add, SparseFeatureControl(value, sae, 3, 2.0, 20).intervention()], **common)
    assert texts["all together"] == both.texts[0]
    assert texts["base"] not in (texts["vector"], texts["RE-Control"], texts["all together"])
    assert len(at.dataframe) == 2  # the columns with sparse control: RE-Control alone, then all together
    rows = at.dataframe[0].value  # the RE-Control column's tokens, each with its features
    assert rows["token"].tolist() == [repr(model.tokenizer.decode([t]))[1:-1] for t in rc.tokens[0]]
    assert rows["features"].tolist() == [", ".join(f"{f}: {z:+.3g}" for f, z in step[0]) for step in sparse.steps]
