"""What the controller does: RE-Control's steps split into SAE features at its site.

For an RE-Control value function and an SAE at its control site, on a few prompts run here (or the prompts of
an `interp steer --explain-out` file): the features the controller turns up and down (mean dz, how consistently,
value attribution dz_i * grad V . d_i), each feature's top contexts in these texts and its logit effects, and
the controlled text beside base. Every number comes from `methods.re_control.interpret`.
"""
from pathlib import Path

import pandas as pd
import streamlit as st

from app.explorer import charts, live
from app.explorer import controller_data as cd
from app.explorer import playground_models as pm
from app.explorer.rundata import MissingArtifact, runs_root
from app.explorer.tokens_html import context_html, contexts_html
from app.explorer.ui import artifact_section, code, md, show_missing
from app.explorer.unembed import load_unembedding, logit_effects

HERE, FILE = "prompts run here", "an explain file (interp steer --explain-out)"
NONE = "(none)"
DEFAULT_PROMPTS = "Once upon a time\nThe movie was\nTom and Lily went to the park"
MAX_PROMPTS = 8


@st.cache_resource(show_spinner="Reading the unembedding...", max_entries=4)
def _unembedding(spec: str):
    return load_unembedding(spec)


@st.cache_resource(show_spinner="Encoding the texts with the SAE...", max_entries=8)
def _codes(spec: str, sae_folder: str, site: str, texts: tuple[str, ...]):
    sae = live.sae(Path(sae_folder), cd.SAE_COMMAND)
    with live.lock():
        return cd.codes(live.model(spec), sae, site, texts)


st.title("What the controller does")
st.caption("RE-Control's control u at each decoding step, split into the features of an SAE at its site: "
           "Δz = encode(h + u) − encode(h). Which features it turns up and down, how consistently (the share of "
           "controlled steps where Δz has the feature's majority sign), and each feature's share of the value "
           "gained (Δz_i · ∇V · d_i, d_i its decoder direction).")
root = runs_root()
source = st.radio("Source", [HERE, FILE], horizontal=True, key="source")
explained: cd.Explained | None = None

if source == HERE:
    values, problems = pm.find_values(root)
    for p in problems:
        show_missing(p)
    rcs = [v for v in values if v.kind == pm.RE_CONTROL_KIND]
    if not rcs:
        st.info(f"No RE-Control value function in {md(root)}: run "
                f"{code('interp re-control run --run NAME --model stories260k --dataset rt-polarity-prompts')}.")
        st.stop()
    saes, sae_problems = cd.find_saes(root)
    for p in sae_problems:
        show_missing(p)
    c1, c2 = st.columns(2)
    rc = next(v for v in rcs if v.label == c1.selectbox("RE-Control value function", [v.label for v in rcs], key="rc"))
    same_site = sorted(saes, key=lambda s: (s.site != rc.site, str(s.path)))
    sae_label = c2.selectbox("SAE at its site", [s.label for s in same_site] or [NONE], key="sae")
    sae_path = c2.text_input("or an SAE folder", "", key="sae_path").strip()
    sae_folder = Path(sae_path) if sae_path else next((s.path for s in same_site if s.label == sae_label), None)
    if sae_folder is None:
        st.info(f"No SAE in {md(root)}: train one at {code(rc.site or 'the site')} with {code('interp.sae')} "
                f"(train_sae, then save_sae into the runs directory), or name its folder above.")
        st.stop()
    with st.form("explain"):
        text = st.text_area(f"Prompts (one per line, at most {MAX_PROMPTS})", DEFAULT_PROMPTS, key="prompts")
        own = st.checkbox("the run's own steps and step size", value=True, key="own")
        s1, s2, s3 = st.columns(3)
        n_steps = s1.slider("steps", 0, 100, 30, 1, key="n_steps")
        step_size = s2.slider("step size", 0.0, 50.0, 0.5, 0.05, key="step_size")
        max_new = s3.slider("new tokens", 2, 64, 16, 2, key="max_new_tokens")
        go = st.form_submit_button("Run the controller", type="primary")
    if go:
        prompts = [p for p in text.splitlines() if p.strip()][:MAX_PROMPTS]
        if not prompts:
            st.error("Write at least one prompt.")
        else:
            try:
                sae = live.sae(sae_folder, cd.SAE_COMMAND)
                with live.lock(), st.spinner("Generating with and without the controller..."):
                    st.session_state["explained"] = (str(rc.path), str(sae_folder), cd.explain(
                        live.model(rc.model), rc.path, sae, str(sae_folder), prompts,
                        None if own else n_steps, None if own else step_size, max_new))
            except MissingArtifact as e:
                show_missing(e)
            except (ValueError, FileNotFoundError, RuntimeError) as e:  # mismatched SAE, model or value function
                st.error(f"Could not run the controller: {md(e)}")
    made = st.session_state.get("explained")  # shown while the run and the SAE it was made with are selected
    explained = made[2] if made and made[:2] == (str(rc.path), str(sae_folder)) else None
    if explained is None:
        st.info("Write a few prompts and press **Run the controller**.")
        st.stop()
else:
    files = cd.find_explanations(root)
    c1, c2 = st.columns(2)
    chosen = c1.selectbox("Explain file in the runs directory (*explain*.json)", [str(f) for f in files] or [NONE],
                          key="explain")
    typed = c2.text_input("or a file", "", key="explain_path").strip()
    path = Path(typed) if typed else (Path(chosen) if chosen != NONE else None)
    if path is None:
        st.info(f"No explain file in {md(root)}: run {code(cd.EXPLAIN_COMMAND)} with FILE named *explain*.json "
                "in the runs directory, or name a file above.")
        st.stop()
    with artifact_section(stop=True):
        data = cd.read_explanation(path)
    explained = cd.Explained(data, [r for r in data.get("rows", [])], str(data.get("model", "")),
                             str(data.get("site", "")), str(data.get("sae", "")))
    st.caption(f"Made with: {md(' · '.join(str(c) for c in data.get('controls', [])) or '?')}")

summary = explained.summary
m1, m2, m3, m4 = st.columns(4)
m1.metric("controlled steps", summary["steps"])
m2.metric("mean ‖u‖", f"{summary['mean_norm_u']:.4g}")
m3.metric("SAE error share", f"{summary['error_share']:.1%}",
          help="mean ‖SAE error part of u‖ / mean ‖u‖: what the dictionary cannot say about the control")
m4.metric("features moved per step", f"{summary['features_moved_per_step']:.1f}")

table = cd.feature_table(summary)
if not table:
    st.info("The controller moved no feature of this SAE.")
else:
    st.plotly_chart(charts.controller_features(table), key="features_chart")
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="features_table",
                 column_config={"mean_delta_z": st.column_config.NumberColumn("mean Δz", format="%+.4g"),
                                "consistency": st.column_config.NumberColumn("consistency", format="%.2f"),
                                "mean_value_attribution": st.column_config.NumberColumn("value attribution", format="%+.4g"),
                                "promotes": st.column_config.TextColumn("promotes (W_U · d)")})
    by_id = {r["feature"]: r for r in table}
    feature = st.selectbox("Feature", list(by_id), key="feature",
                           format_func=lambda f: f"{f}  ({by_id[f]['direction']}, mean Δz {by_id[f]['mean_delta_z']:+.3g})")
    row = by_id[feature]
    st.subheader(f"Feature {feature} · turned {row['direction']}")
    sae_folder = Path(explained.sae) if explained.sae else None
    left, right = st.columns(2)
    with left:
        st.markdown("**Top contexts** in these texts, base and controlled (shade = activation / the largest here; "
                    "the underlined token is the peak)")
        names = [f"{kind} {i + 1}" for i in range(len(explained.rows)) for kind in ("base", "controlled")]
        texts = [r["prompt"] + str(r.get(key, "")) for r in explained.rows for key in ("base", "steered")]
        if not texts or not explained.model or not explained.site or sae_folder is None:
            st.info("The explanation names no texts, model, site or SAE: no contexts to show.")
        else:
            try:
                coded = _codes(explained.model, str(sae_folder), explained.site, tuple(texts))
                contexts, scale = cd.top_contexts(coded, names, feature)
                if contexts:
                    st.markdown(contexts_html(contexts, scale), unsafe_allow_html=True)
                    st.caption(" · ".join(md(c["name"]) for c in contexts))
                else:
                    st.info(f"Feature {feature} does not fire on these texts.")
            except MissingArtifact as e:
                show_missing(e)
            except (ValueError, FileNotFoundError, RuntimeError, IndexError) as e:
                st.error(f"Could not encode the texts: {md(e)}")
    with right:
        st.markdown("**Tokens it promotes and suppresses** through the unembedding (d_i · W_U, final-norm gain included)")
        if not explained.model or sae_folder is None:
            st.info("The explanation names no model or SAE.")
        else:
            try:
                from methods.re_control.interpret import decoder_directions

                d = decoder_directions(live.sae(sae_folder, cd.SAE_COMMAND))[feature].float()
                effects = logit_effects(d, _unembedding(explained.model), k=10)
                st.plotly_chart(charts.logit_effects(effects["promoted"], "promotes", charts.CHOSEN), key="promoted")
                st.plotly_chart(charts.logit_effects(effects["suppressed"], "suppresses", charts.OTHER), key="suppressed")
            except MissingArtifact as e:
                show_missing(e)
            except (ValueError, RuntimeError, IndexError) as e:
                st.error(f"Could not read the logit effects: {md(e)}")
    if explained.delta_z is not None:
        st.markdown(f"**Where the controller moved it**: each controlled token shaded by feature {feature}'s "
                    f"{'Δz' if row['direction'] == 'up' else '−Δz'} at the step that chose it")
        sign = 1.0 if row["direction"] == "up" else -1.0
        steps = cd.per_token(live.model(explained.model), explained, feature)
        top = max((sign * a for s in steps for a in s["acts"]), default=0.0)
        st.markdown("\n".join(context_html(s["tokens"], [sign * a for a in s["acts"]], top or 1.0) for s in steps),
                    unsafe_allow_html=True)

st.subheader("Controlled and base text")
if not explained.rows:
    st.info("The explanation holds no texts (written before `interp steer` saved them).")
for i, r in enumerate(explained.rows):
    st.markdown(f"Prompt {i + 1}: {code(r['prompt'])}")
    b, s = st.columns(2)
    b.caption("base")
    b.text(str(r.get("base", "(not generated)")))
    s.caption("controlled")
    s.text(str(r.get("steered", "")))
