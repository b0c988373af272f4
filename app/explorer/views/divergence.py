"""Layer divergence: how far RLHF moved each layer's parameters and activations (reward-divergence runs)."""
import pandas as pd
import streamlit as st

from app.explorer import charts
from app.explorer.rd_data import rd_runs
from app.explorer.rundata import runs_root
from app.explorer.ui import artifact_section, code, md, no_run, pick

st.title("Layer divergence")
st.caption("Base vs RL-tuned policy, per layer: parameter distance and activation distance on held-out "
           "sentences. The layers the pipeline chose for SAEs are highlighted.")
root = runs_root()
runs = rd_runs(root, "divergence")
if not runs:
    no_run("reward-divergence", root, "interp divergence run --name NAME --small  (stories260k, a few minutes; "
           "without --small: SmolLM2-135M)")
run = runs[[r.name for r in runs].index(pick("Run", [r.name for r in runs], key="run"))]

with artifact_section(stop=True):
    div = run.divergence()
chosen = [int(x) for x in div["layers"]]
st.markdown(f"Chosen layers (top {len(chosen)} by {code(div.get('rank_by', 'param'))}): "
            + ", ".join(f"**{layer}**" for layer in chosen) + f" · {md(div.get('n_tokens', '?'))} held-out tokens")

with artifact_section():
    rl = run.rlhf_metrics()
    if rl and all(k in rl for k in ("base_reward", "tuned_reward", "tuned_minus_base")):
        c1, c2, c3 = st.columns(3)
        c1.metric("base reward", f"{rl['base_reward']['mean']:.4f}",
                  help=f"95% interval [{rl['base_reward']['low']:.4f}, {rl['base_reward']['high']:.4f}]")
        c2.metric("tuned reward", f"{rl['tuned_reward']['mean']:.4f}",
                  help=f"95% interval [{rl['tuned_reward']['low']:.4f}, {rl['tuned_reward']['high']:.4f}]")
        d = rl["tuned_minus_base"]
        c3.metric("tuned − base", f"{d['mean']:+.4f}", help=f"paired 95% interval [{d['low']:+.4f}, {d['high']:+.4f}]")

left, right = st.columns(2)
with left:
    st.plotly_chart(charts.parameter_divergence(div["param"], chosen), key="param_chart")
    st.caption(f"Embeddings, final norm and head (not in a layer): {div.get('param_other', float('nan')):.5g}")
with right:
    metric = st.selectbox("Activation metric", list(charts.METRIC_NAMES), index=1,
                          format_func=lambda m: charts.METRIC_NAMES[m], key="metric")
    st.plotly_chart(charts.activation_divergence(div, metric, chosen), key="act_chart")

table = pd.DataFrame({"layer": range(len(div["param"])), "chosen": [i in chosen for i in range(len(div["param"]))],
                      "param": div["param"]})
for kind in charts.KIND_COLORS:
    if kind in div:
        for m in charts.METRIC_NAMES:
            table[f"{kind}.{m}"] = div[kind][m]
st.dataframe(table, hide_index=True, width="stretch", key="div_table")
