"""Reward probe: does a linear read-out of SAE features recover the lexicon valence of words it never saw?"""
import pandas as pd
import streamlit as st

from app.explorer import charts
from app.explorer.rd_data import rd_runs
from app.explorer.rundata import MissingArtifact, runs_root
from app.explorer.ui import artifact_section, md, no_run, pick
from methods.reward_divergence.artifacts import PROBE_WORDS_FILE

st.title("Reward probe")
st.caption("Ridge regression from the chosen layers' SAE codes to each token's lexicon valence, tokens split by "
           "word: every point is a held-out word, its lexicon valence against the probe's mean prediction.")
root = runs_root()
runs = rd_runs(root, "probe")
if not runs:
    no_run("reward-probe", root, "interp divergence run --name NAME --small  (stories260k; the probe is its last step)")
run = runs[[r.name for r in runs].index(pick("Run", [r.name for r in runs], key="run"))]
with artifact_section(stop=True):
    results = run.probe_results()
    words = pd.DataFrame(run.probe_words())
    if words.empty or not {"model", "word", "lexicon", "predicted", "recovered"} <= set(words.columns):
        raise MissingArtifact(run.path / "probe" / PROBE_WORDS_FILE, run.command("probe"), "has no word rows")

models = [m for m in ("tuned", "base") if m in results] + sorted(set(results) - {"tuned", "base"})
model = st.radio("Model", models, horizontal=True, key="model", format_func=md)  # option labels render Markdown
r = results[model]
c1, c2, c3, c4 = st.columns(4)
c1.metric("R² on held-out tokens", f"{r['r2_test']:.4f}", help=f"train R² {r['r2_train']:.4f}")
c2.metric("Kendall τ (held-out words)", f"{r['kendall_tau']:.4f}", help=f"p = {r['kendall_p']:.4g}")
c3.metric("words recovered", f"{r['n_recovered']} / {r['n_test_words']}")
c4.metric("ridge α", f"{r['alpha']:g}", help=f"{md(r['n_features'])} features, {len(r.get('sites', []))} sites, "
          f"dictionary x{r.get('expansion', 0):g}")

mine = words[words["model"] == model]
st.plotly_chart(charts.probe_scatter(mine, model), key="scatter")
left, right = st.columns(2)
cols = ["word", "lexicon", "predicted", "n_tokens"]
with left:
    st.markdown(f"**Recovered** ({len(r['recovered'])}): sign right and |prediction| large enough")
    st.dataframe(mine[mine["recovered"]][cols].sort_values("lexicon"), hide_index=True, width="stretch", key="recovered")
with right:
    st.markdown(f"**Missed** ({len(r['missed'])})")
    st.dataframe(mine[~mine["recovered"]][cols].sort_values("lexicon"), hide_index=True, width="stretch", key="missed")
