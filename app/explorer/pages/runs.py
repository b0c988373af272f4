"""Runs: every run step with its status, config and metrics; two runs' metrics side by side."""
import pandas as pd
import streamlit as st

from app.explorer.rundata import discover, flatten, runs_root

st.title("Runs")
root = runs_root()
steps = discover(root)
if not steps:
    st.info(f"No run yet in {root}: run `interp demo` (or any `interp ... run`) to make one.")
    st.stop()

table = pd.DataFrame([{"run": s.run, "step": s.step, "status": s.status, "path": str(s.path),
                       "metrics": len(flatten(s.metrics or {}))} for s in steps])
st.dataframe(table, hide_index=True, width="stretch")
for s in steps:
    if s.problem:
        st.warning(s.problem)

labels = [f"{s.run} / {s.step}" for s in steps]
choice = st.selectbox("Inspect a step", labels, key="inspect")
chosen = steps[labels.index(choice)]
left, right = st.columns(2)
with left:
    st.subheader("config")
    st.json(chosen.config or {}, expanded=False)
with right:
    st.subheader("metrics")
    if chosen.metrics is None:
        st.info(f"{chosen.path / 'metrics.json'} does not exist yet: the step has not finished.")
    else:
        st.json(chosen.metrics, expanded=False)

st.header("Compare two steps")
c1, c2 = st.columns(2)
a = c1.selectbox("A", labels, index=0, key="cmp_a")
b = c2.selectbox("B", labels, index=min(1, len(labels) - 1), key="cmp_b")
fa, fb = flatten(steps[labels.index(a)].metrics or {}), flatten(steps[labels.index(b)].metrics or {})
keys = sorted(set(fa) | set(fb))
cmp = pd.DataFrame({"metric": keys, "A": [fa.get(k) for k in keys], "B": [fb.get(k) for k in keys]})
st.dataframe(cmp.astype(str), hide_index=True, width="stretch")
