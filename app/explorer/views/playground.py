"""Steering playground: one prompt, base beside each control and their composition, each scored by a reward.

A page that runs a model: it loads the base model, and each control it toggles (RE-Control value functions
and VAS value models saved by finished `re-control train-value` and `vas train` steps, steering vector files
from `interp generate --save-vector`) is built by `app.controls.build_controls`, as `interp steer` builds it.
With an SAE chosen and sparse control on, RE-Control ascends in the SAE's features and each controlled token
shows its feature list. It never trains.
"""
from pathlib import Path

import pandas as pd
import streamlit as st

from app.controls import ReControlSpec, VASSpec, VectorSpec
from app.explorer import live
from app.explorer import playground_models as pm
from app.explorer.controller_data import SAE_COMMAND, find_saes
from app.explorer.rundata import MissingArtifact, runs_root
from app.explorer.ui import code, md, no_run, show_missing

DEFAULT_PROMPT = "The movie was"
NONE = "(none)"
COMBINED = "all together"


@st.cache_resource(show_spinner=False, max_entries=8)
def _reward(name: str):
    return pm.reward_fn(name)


st.title("Steering playground")
st.caption("Base decoding beside each control you toggle, alone and all together in one generation: RE-Control "
           "(gradient ascent on a value function of the hidden state), VAS (value-augmented sampling of the top-k "
           "tokens; several value models compose, each with its beta) and a steering vector, from the runs directory.")
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
use_rc = c1.checkbox("RE-Control", value=bool(rc), key="use_rc", disabled=not rc)
rc_label = c1.selectbox("RE-Control value function", [v.label for v in rc] or [NONE], key="rc")
use_vas = c2.checkbox("VAS", value=bool(vas), key="use_vas", disabled=not vas)
vas_labels = c2.multiselect("VAS value models (composed, each with its beta)", [v.label for v in vas],
                            default=[v.label for v in vas][:1], key="vas")
rc_info = next((v for v in rc if v.label == rc_label), None)
vas_infos = [v for v in vas if v.label in vas_labels]
if rc_info is None:
    st.info(f"No RE-Control value function for {md(spec)}: run {code(f'interp re-control run --run NAME --model {spec}')}.")
if not vas:
    st.info(f"No VAS value model for {md(spec)}: run {code(f'interp vas train --out runs/NAME --model {spec}')}.")
v1, v2 = st.columns(2)
vectors = pm.find_vectors(root)
use_vector = v1.checkbox("Steering vector", value=False, key="use_vector")
vector_label = v1.selectbox("Vector file (interp generate --save-vector)", [str(v) for v in vectors] or [NONE],
                            key="vector")
vector_typed = v1.text_input("or a vector file", "", key="vector_path").strip()
vector_file = Path(vector_typed) if vector_typed else (Path(vector_label) if vector_label != NONE else None)
saes, sae_problems = find_saes(root)
for p in sae_problems:
    show_missing(p)
same_site = sorted(saes, key=lambda x: (rc_info is None or x.site != rc_info.site, str(x.path)))
sae_label = v2.selectbox("SAE at RE-Control's site (for sparse control)", [NONE] + [x.label for x in same_site], key="sae")
sae_folder = next((x.path for x in same_site if x.label == sae_label), None)
rewards = sorted({v.reward for v in (rc_info, *vas_infos) if v is not None} | {"vader-sentiment"})
reward_name = st.selectbox("Reward", rewards, key="reward")

with st.form("generate"):
    prompt = st.text_area("Prompt", DEFAULT_PROMPT, key="prompt")
    s1, s2, s3, s4 = st.columns(4)
    step_size = s1.slider("RE-Control step size", 0.0, 2.0, 0.5, 0.05, key="step_size")
    n_steps = s2.slider("RE-Control steps", 0, 100, 30, 1, key="n_steps")
    betas = [s3.slider(f"VAS beta: {v.run}", 0.0, 32.0, 4.0, 0.5, key=f"beta_{i}") for i, v in enumerate(vas_infos)]
    scale = s3.slider("Vector scale", -16.0, 16.0, 4.0, 0.5, key="scale")
    max_new = s4.slider("New tokens", 4, 128, 32, 4, key="max_new_tokens")
    o1, o2, o3, o4 = st.columns(4)
    top_k = o1.slider("VAS top-k", 1, 50, 10, key="top_k")
    sparse = int(o2.number_input("Sparse control: SAE features per step (0: dense)", 0, 4096, 0, key="sparse"))
    sample = o3.checkbox("Sample (else greedy)", value=False, key="sample")
    seed = int(o4.number_input("Seed", 0, 2**31 - 1, 0, key="seed"))
    go = st.form_submit_button("Generate", type="primary")

if go:
    settings = pm.Settings(max_new_tokens=max_new, do_sample=sample, seed=seed)
    chosen = {}  # each toggled control alone, as build_controls' arguments
    if use_rc and rc_info is not None:
        chosen["RE-Control"] = dict(re_control=ReControlSpec(str(rc_info.path), n_steps, step_size))
    if use_vas and vas_infos:
        chosen["VAS"] = dict(vas=[VASSpec(str(v.path), b) for v, b in zip(vas_infos, betas)])
    if use_vector and vector_file is not None:
        chosen["vector"] = dict(vectors=[VectorSpec(str(vector_file), scale)])
    if sparse and (sae_folder is None or "RE-Control" not in chosen):
        st.warning("Sparse control needs RE-Control on and an SAE chosen: RE-Control runs dense.")
    if len(chosen) > 1:
        chosen[COMBINED] = {k: v for c in chosen.values() for k, v in c.items()}
    try:
        with live.lock(), st.spinner("Generating..."):
            model = live.model(spec)
            reward = _reward(reward_name)
            sae = live.sae(sae_folder, SAE_COMMAND) if sae_folder is not None and sparse else None
            out = {"base": pm.Steered(pm.generate_base(model, prompt, settings), [])}
            for name, kw in chosen.items():
                out[name] = pm.generate_controls(model, prompt, settings, top_k=top_k, sae=sae, sparse=sparse, **kw)
            st.session_state["results"] = {
                "prompt": prompt, "reward": reward_name, "model": spec,
                "rows": {k: (o, pm.score(reward, prompt, o.text)) for k, o in out.items()},
            }
    except MissingArtifact as e:
        show_missing(e)
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # mismatched or unreadable models: say so
        st.error(f"Could not generate: {md(e)}")

res = st.session_state.get("results")
if res:
    st.markdown(f"Prompt: {code(res['prompt'])} · reward: {code(res['reward'])}")
    cols = st.columns(len(res["rows"]))
    for col, (name, (steered, r)) in zip(cols, res["rows"].items()):
        with col:
            st.metric(f"{name} reward", f"{r:+.4f}")
            st.text(steered.text)
    sparse_rows = [(name, o) for name, (o, _) in res["rows"].items() if o.features]
    for name, steered in sparse_rows:
        st.markdown(f"**{md(name)}**: the SAE features each controlled token carries (feature: Δz)")
        tokenizer = live.model(res["model"]).tokenizer
        st.dataframe(pd.DataFrame([{"token": repr(tokenizer.decode([t]))[1:-1],
                                    "features": ", ".join(f"{f}: {z:+.3g}" for f, z in feats)}
                                   for t, feats in zip(steered.tokens, steered.features)]),
                     hide_index=True, width="stretch", key=f"sparse_{name}")
