"""Steering playground: the value models of the fixture's RE-Control and VAS runs steer a live stories260k,
and each column shows what the methods' own generation functions produce, with its reward."""
import pytest

from tests.app.explorer_util import copy_run, messages, open_page
from tests.app.fixture_runs import RE_CONTROL, VAS

pytestmark = pytest.mark.slow
PROMPT = "The movie was"


def test_widgets_and_generations_match_the_methods(runs_env):
    from interp import generate, load_model
    from interp.rewards import get_reward
    from methods.re_control import ControlConfig, controlled_generate
    from methods.re_control.value import ValueFunction
    from methods.vas.decoding import Guide, VASProcessor
    from methods.vas.value_model import ValueModel

    at = open_page("playground")
    assert not at.exception
    assert at.selectbox(key="spec").value == "stories260k"
    assert at.selectbox(key="rc").value.startswith(RE_CONTROL)
    assert at.selectbox(key="vas").value.startswith(VAS)
    assert at.selectbox(key="reward").value == "vader-sentiment"
    for key in ("step_size", "n_steps", "beta", "max_new_tokens", "top_k"):
        assert at.slider(key=key) is not None
    assert not at.metric  # nothing runs before the button

    at.text_area(key="prompt").input(PROMPT)
    at.slider(key="step_size").set_value(1.5)
    at.slider(key="n_steps").set_value(20)
    at.slider(key="beta").set_value(8.0)
    at.slider(key="max_new_tokens").set_value(16)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = {m.label.removesuffix(" reward"): m.value for m in at.metric}
    texts = dict(zip(shown, (t.value for t in at.text)))
    assert set(shown) == {"base", "RE-Control", "VAS"}

    model = load_model("stories260k", device="cpu")
    common = dict(max_new_tokens=16, do_sample=False, seed=0, chat=None, progress=False)
    base = generate(model, [PROMPT], **common).texts[0]
    value = ValueFunction.load(runs_env / RE_CONTROL / "train-value")
    rc = controlled_generate(model, [PROMPT], value, ControlConfig(1.5, 20), **common).texts[0]
    vas_value = ValueModel.load(runs_env / VAS / "train", device="cpu")
    vas = generate(model, [PROMPT], processors=[VASProcessor(model, Guide(vas_value, 8.0), top_k=10)], **common).texts[0]
    assert texts == {"base": base, "RE-Control": rc, "VAS": vas}
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
