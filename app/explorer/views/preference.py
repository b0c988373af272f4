"""Preference generalisation: ReprPO and DPO adapters' preference accuracy relative to the base model, per split."""
import pandas as pd
import streamlit as st

from app.explorer import charts
from app.explorer.reprpo_table import aggregate, reprpo_evals, run_rows
from app.explorer.rundata import MissingArtifact, runs_root
from app.explorer.ui import no_run, show_missing

st.title("Preference generalisation")
st.caption("Accuracy ratio = the adapter's preference accuracy / the base model's, on the training set's own "
           "splits (source), the shifted target set, and an unrelated set (random). A ratio above 1 on target_test "
           "means the preference learnt on the source generalises.")
root = runs_root()
evals = reprpo_evals(root)
if not evals:
    no_run("ReprPO", root, "interp reprpo train --method dpo --model stories260k --n-train 8 --n-eval 6  "
           "(and other --method / --transform / --seed values to compare)")

rows = []
for step in evals:
    try:
        rows.extend(run_rows(root, step))
    except MissingArtifact as e:
        show_missing(e)
if not rows:
    st.stop()
table = pd.DataFrame(rows)
shifts = sorted(table["shift"].unique())
shift = st.selectbox("Distribution shift (source → target)", shifts, key="shift")
table = table[table["shift"] == shift]

agg = aggregate(table)
st.plotly_chart(charts.preference_bars(agg), key="bars")

st.subheader("Accuracy ratio by split, method and seed")
wide = table.pivot_table(index=["method", "transform", "seed"], columns="split", values="ratio", sort=False)
wide = wide[[s for s in agg["split"].unique() if s in wide.columns]].reset_index()
st.dataframe(wide, hide_index=True, width="stretch", key="ratio_table")

st.subheader("Mean over seeds")
st.dataframe(agg.drop(columns=["label", "shift"]), hide_index=True, width="stretch", key="agg_table",
             column_config={"ratio_std": st.column_config.NumberColumn("ratio std (seeds)", format="%.4f")})

with st.expander("Every run and split"):
    st.dataframe(table, hide_index=True, width="stretch", key="all_rows")
