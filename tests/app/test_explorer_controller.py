"""What the controller does: the fixture's RE-Control run (a real `re-control run` on stories260k) and a small
random SAE at its site. The page's features, numbers, texts and logit effects must be those of
methods.re_control.interpret.summarize, generate and the model's unembedding on the same inputs, whether the
page runs the controller itself or reads an `interp steer --explain-out` file; bad files are one-line messages."""
import json

import pytest

from tests.app.explorer_util import copy_run, figures, messages, open_page, values
from tests.app.fixture_runs import RE_CONTROL
from tests.conftest import cached_model

pytestmark = pytest.mark.slow
PROMPTS = ["Once upon a time", "The movie was"]
N_STEPS, STEP_SIZE, NEW = 10, 2.0, 8


def by_hand(root, prompts, n_steps, step_size, new):
    """What the page must show: the controller's recorded steps summarized, and the texts with and without it."""
    from interp import generate
    from interp.sae import load_sae
    from methods.re_control.control import ControlConfig, GradientAscentControl
    from methods.re_control.interpret import summarize
    from methods.re_control.value import ValueFunction

    model = cached_model("stories260k")
    value = ValueFunction.load(root / RE_CONTROL / "train-value")
    for p in value.parameters():
        p.requires_grad_(False)
    ctl = GradientAscentControl(value, ControlConfig(step_size, n_steps), record=True)
    kw = dict(max_new_tokens=new, do_sample=False, chat=None, progress=False, batch_size=len(prompts))
    steered = generate(model, prompts, interventions=[ctl.intervention()], **kw)
    base = generate(model, prompts, **kw)
    sae = load_sae(root / "saes" / "final-x4")
    return summarize(model, sae, value, ctl.records), steered, base, sae


def assert_table_is(at, summary):
    rows = [(label, r) for label in ("up", "down") for r in summary[label]]
    assert rows, "the controller moved no feature: nothing would be checked"
    table = at.dataframe[0].value
    assert table["direction"].tolist() == [label for label, _ in rows]
    assert table["feature"].tolist() == [r["feature"] for _, r in rows]
    for key in ("mean_delta_z", "consistency", "mean_value_attribution"):
        assert table[key].tolist() == pytest.approx([r[key] for _, r in rows], rel=1e-4, abs=1e-6), key
    shown = {m.label: m.value for m in at.metric}
    assert shown["controlled steps"] == str(summary["steps"])
    assert shown["SAE error share"] == f"{summary['error_share']:.1%}"
    assert shown["mean ‖u‖"] == f"{summary['mean_norm_u']:.4g}"
    bars = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Features the controller"))
    assert values(bars["data"][0], "x").tolist() == pytest.approx([r["mean_delta_z"] for _, r in rows], rel=1e-4)
    assert values(bars["data"][1], "x").tolist() == pytest.approx([r["mean_value_attribution"] for _, r in rows],
                                                                  rel=1e-4, abs=1e-6)
    assert bars["data"][0]["marker"]["color"] == ["#d62728" if label == "up" else "#7fa7d1" for label, _ in rows]


def assert_texts_are(at, prompts, steered, base):
    texts = [t.value for t in at.text]
    assert texts[-2 * len(prompts):] == [x for i in range(len(prompts)) for x in (base[i], steered[i])]
    assert steered != base  # the controller changed the text: the side by side shows something


@pytest.fixture(scope="module")
def ran(control_root):
    """The page after running the controller on PROMPTS (steps and size set on the page)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERP_RUNS", str(control_root))
        at = open_page("controller")
        assert not at.exception and "Run the controller" in at.info[-1].value
        assert at.selectbox(key="rc").value.startswith(RE_CONTROL) and "final-x4" in at.selectbox(key="sae").value
        at.text_area(key="prompts").input("\n".join(PROMPTS))
        at.checkbox(key="own").uncheck()
        at.slider(key="n_steps").set_value(N_STEPS)
        at.slider(key="step_size").set_value(STEP_SIZE)
        at.slider(key="max_new_tokens").set_value(NEW)
        at.button[0].click().run()
        yield at


def test_features_match_summarize_on_the_same_steps(ran, control_root):
    at = ran
    assert not at.exception and not at.error, [e.value for e in at.error]
    summary, steered, base, _ = by_hand(control_root, PROMPTS, N_STEPS, STEP_SIZE, NEW)
    assert_table_is(at, summary)
    assert_texts_are(at, PROMPTS, steered.texts, base.texts)


def test_feature_detail_contexts_logit_effects_and_tokens(ran, control_root):
    from interp.activations import capture
    from methods.re_control.interpret import decompose, decoder_directions

    at = ran
    summary, steered, base, sae = by_hand(control_root, PROMPTS, N_STEPS, STEP_SIZE, NEW)
    feature = at.selectbox(key="feature").value
    assert feature == (summary["up"] or summary["down"])[0]["feature"]
    model = cached_model("stories260k")
    # logit effects: the feature's decoder direction through the final norm's gain and the unembedding
    d = decoder_directions(sae)[feature].detach()
    logits = model.unembed_matrix().detach() @ (d * model.hf.model.norm.weight.detach())
    figs = {f["layout"]["title"]["text"]: f for f in figures(at) if f["layout"]["title"]["text"] in ("promotes", "suppresses")}
    assert values(figs["promotes"]["data"][0], "x").tolist() == pytest.approx(logits.topk(10).values.tolist(), rel=1e-4, abs=1e-5)
    assert [int(y.rsplit("#", 1)[1]) for y in figs["promotes"]["data"][0]["y"]] == logits.topk(10).indices.tolist()
    # top contexts: the largest activation of the feature over the base and controlled texts, at its peak token
    texts = [p + t for i, p in enumerate(PROMPTS) for t in (base.texts[i], steered.texts[i])]
    peaks = []
    for text in texts:
        ids, mask = model.tokenize([text])
        x = next(iter(capture(model, ids, mask, ["final"]).values()))[0]
        peaks.append(float(sae.encode(x).detach()[:, feature].max()))
    contexts, tokens_html = [m.value for m in at.markdown if 'class="ctx"' in m.value]
    assert max(peaks) > 0, "the feature fires nowhere: the contexts would not be checked"
    assert contexts.count('class="ctx"') == min(sum(p > 0 for p in peaks), 5)
    assert f"activation {max(peaks):.4g}" in contexts.split("</div>")[0]  # the strongest context first
    # per token: each controlled token's span carries its dz for this feature
    from methods.re_control.control import ControlConfig, GradientAscentControl
    from methods.re_control.value import ValueFunction

    value = ValueFunction.load(control_root / RE_CONTROL / "train-value")
    ctl = GradientAscentControl(value, ControlConfig(STEP_SIZE, N_STEPS), record=True)
    from interp import generate

    generate(model, PROMPTS, interventions=[ctl.intervention()], max_new_tokens=NEW, chat=None, progress=False, batch_size=2)
    dz = decompose(sae, ctl.records[0][0], ctl.records[0][1]).delta_z[:, feature]  # the first controlled token
    sign = 1.0 if feature in [r["feature"] for r in summary["up"]] else -1.0
    first_spans = [line.split('title="activation ')[1].split('"')[0] for line in tokens_html.split("\n")]
    assert [float(v) for v in first_spans] == pytest.approx((sign * dz).tolist(), rel=1e-3, abs=1e-4)


def test_explain_file_from_interp_steer(control_root, monkeypatch, capsys):
    from app.cli import main

    out = control_root / "steer-explain.json"
    rc = main(["steer", "--model", "stories260k", "--chat", "no", "--prompt", PROMPTS[0], "--prompt", PROMPTS[1],
               "--re-control", f"{control_root / RE_CONTROL}:{N_STEPS}:{STEP_SIZE}", "--sae", str(control_root / "saes" / "final-x4"),
               "--explain-out", str(out), "--max-new-tokens", str(NEW)])
    assert rc == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    monkeypatch.setenv("INTERP_RUNS", str(control_root))
    at = open_page("controller")
    at.radio(key="source").set_value(at.radio(key="source").options[1]).run()
    assert not at.exception and at.selectbox(key="explain").value == str(out)
    assert not at.error, [e.value for e in at.error]
    assert_table_is(at, data)
    summary, steered, base, _ = by_hand(control_root, PROMPTS, N_STEPS, STEP_SIZE, NEW)
    assert [r["feature"] for r in data["up"] + data["down"]] == [r["feature"] for r in summary["up"] + summary["down"]]
    assert_texts_are(at, PROMPTS, steered.texts, base.texts)


@pytest.mark.parametrize("broken", ["half-written", "wrong-fields", "sae-cfg"])
def test_bad_files_are_one_line_messages(control_root, tmp_path, monkeypatch, broken):
    import shutil

    copy_run(control_root, RE_CONTROL, tmp_path)
    shutil.copytree(control_root / "saes", tmp_path / "saes")
    explain = tmp_path / "bad-explain.json"
    if broken == "half-written":
        explain.write_text('{"steps": 4, "up": [{"feature": 1')
    elif broken == "wrong-fields":
        explain.write_text(json.dumps({"steps": 4, "d_sae": 256, "mean_norm_u": 1.0, "error_share": 0.5,
                                       "features_moved_per_step": 2.0, "up": [{"feature": 3, "mean_delta_z": 1.0}],
                                       "down": []}))
    else:
        (tmp_path / "saes" / "final-x4" / "cfg.json").write_text('{"d_in": 64, "d_')
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("controller")
    if broken == "sae-cfg":
        assert not at.exception
        assert any("cfg.json" in m and "half-written" in m for m in messages(at)), messages(at)
        assert any("No SAE" in m for m in messages(at))  # the broken one is not offered; the page says what to do
        return
    at.radio(key="source").set_value(at.radio(key="source").options[1]).run()
    assert not at.exception
    want = "half-written" if broken == "half-written" else "not a controller explanation"
    msgs = [m for m in messages(at) if "bad-explain.json" in m]
    assert len(msgs) == 1 and want in msgs[0] and "interp steer" in msgs[0] and "\n" not in msgs[0], messages(at)


def test_no_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("controller")
    assert not at.exception and "interp re-control run" in at.info[0].value
