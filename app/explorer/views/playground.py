"""Steering playground: one prompt, three decoders side by side (base, RE-Control, VAS), each scored by a reward.

The only page that runs a model: it loads the base model and the value models saved by finished
`re-control train-value` and `vas train` steps (lazily, once per process), and never trains.
"""
import threading

import streamlit as st

from app.explorer import playground_models as pm
from app.explorer.rundata import runs_root
from app.explorer.ui import code, md, no_run, show_missing

DEFAULT_PROMPT = "The movie was"
NONE = "(none)"


@st.cache_resource(show_spinner="Loading the base model...", max_entries=2)
def _model(spec: str):
    from interp import load_model

    return load_model(spec)


@st.cache_resource(show_spinner="Loading the value model...", max_entries=8)
def _value(info: pm.ValueInfo, mtime: float):
    return pm.load_value(info, _model(info.model))


@st.cache_resource(show_spinner=False, max_entries=8)
def _reward(name: str):
    return pm.reward_fn(name)


@st.cache_resource
def _lock():
    return threading.Lock()  # one generation at a time: sessions share the model and its hooks


def value_of(info: pm.ValueInfo):
    return _value(info, (info.path / "value.safetensors").stat().st_mtime)


st.title("Steering playground")
st.caption("Base greedy decoding, RE-Control (gradient ascent on a value function of the hidden state) and VAS "
           "(value-augmented sampling of the top-k tokens), from the value models in the runs directory.")
root = runs_root()
values, problems = pm.find_values(root)
for p in problems:
    show_missing(p)
if not values:
    no_run("value-model", root, "interp re-control run --run NAME --model stories260k --dataset rt-polarity-prompts  "
           "and/or  interp vas train --out runs/NAME --model stories260k")

specs = sorted({v.model for v in values})
spec = st.selectbox("Base model", specs, key="spec")
rc = [v for v in values if v.model == spec and v.kind == pm.RE_CONTROL_KIND]
vas = [v for v in values if v.model == spec and v.kind == pm.VAS_KIND]
c1, c2 = st.columns(2)
rc_label = c1.selectbox("RE-Control value function", [v.label for v in rc] or [NONE], key="rc")
vas_label = c2.selectbox("VAS value model", [v.label for v in vas] or [NONE], key="vas")
rc_info = next((v for v in rc if v.label == rc_label), None)
vas_info = next((v for v in vas if v.label == vas_label), None)
if rc_info is None:
    st.info(f"No RE-Control value function for {md(spec)}: run {code(f'interp re-control run --run NAME --model {spec}')}.")
if vas_info is None:
    st.info(f"No VAS value model for {md(spec)}: run {code(f'interp vas train --out runs/NAME --model {spec}')}.")
rewards = sorted({v.reward for v in (rc_info, vas_info) if v is not None} | {"vader-sentiment"})
reward_name = st.selectbox("Reward", rewards, key="reward")

with st.form("generate"):
    prompt = st.text_area("Prompt", DEFAULT_PROMPT, key="prompt")
    s1, s2, s3, s4 = st.columns(4)
    step_size = s1.slider("RE-Control step size", 0.0, 2.0, 0.5, 0.05, key="step_size")
    n_steps = s2.slider("RE-Control steps", 0, 100, 30, 1, key="n_steps")
    beta = s3.slider("VAS beta", 0.0, 32.0, 4.0, 0.5, key="beta")
    max_new = s4.slider("New tokens", 4, 128, 32, 4, key="max_new_tokens")
    o1, o2, o3 = st.columns(3)
    top_k = o1.slider("VAS top-k", 1, 50, 10, key="top_k")
    sample = o2.checkbox("Sample (else greedy)", value=False, key="sample")
    seed = int(o3.number_input("Seed", 0, 2**31 - 1, 0, key="seed"))
    go = st.form_submit_button("Generate", type="primary")

if go:
    settings = pm.Settings(max_new_tokens=max_new, do_sample=sample, seed=seed)
    out = {}
    try:
        with _lock(), st.spinner("Generating..."):
            model = _model(spec)
            reward = _reward(reward_name)
            out["base"] = pm.generate_base(model, prompt, settings)
            if rc_info is not None:
                out["RE-Control"] = pm.generate_re_control(model, value_of(rc_info), prompt, step_size, n_steps, settings)
            if vas_info is not None:
                out["VAS"] = pm.generate_vas(model, value_of(vas_info), prompt, beta, top_k, settings)
            st.session_state["results"] = {
                "prompt": prompt, "reward": reward_name,
                "rows": {k: (t, pm.score(reward, prompt, t)) for k, t in out.items()},
            }
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # mismatched or unreadable models: say so
        st.error(f"Could not generate: {md(e)}")

res = st.session_state.get("results")
if res:
    st.markdown(f"Prompt: {code(res['prompt'])} · reward: {code(res['reward'])}")
    cols = st.columns(len(res["rows"]))
    for col, (name, (text, r)) in zip(cols, res["rows"].items()):
        with col:
            st.metric(f"{name} reward", f"{r:+.4f}")
            st.text(text)
