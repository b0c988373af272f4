"""Runs: every run with its pipeline, steps and status; a step's config and metrics; two runs side by side."""
import pandas as pd
import streamlit as st

from app.explorer.rundata import by_run, discover, flatten, run_kind, runs_root
from app.explorer.ui import code, md

st.title("Runs")
root = runs_root()
steps = discover(root)
if not steps:
    st.info(f"No run yet in {md(root)}: run `interp demo` (or any `interp ... run`) to make one.")
    st.stop()
runs = by_run(steps)


def _status(run_steps) -> str:
    if any(s.status == "broken" for s in run_steps):
        return "broken"
    return "finished" if all(s.status == "finished" for s in run_steps) else "unfinished"


st.caption(f"Runs directory: {md(root)}")
st.dataframe(pd.DataFrame([{"run": name, "pipeline": run_kind(ss), "status": _status(ss),
                            "steps": ", ".join(s.step for s in ss),
                            "finished": f"{sum(s.status == 'finished' for s in ss)} / {len(ss)}"}
                           for name, ss in runs.items()]), hide_index=True, width="stretch", key="runs_table")
for s in steps:
    if s.problem:
        st.warning(md(s.problem))

st.header("Steps")
st.dataframe(pd.DataFrame([{"run": s.run, "step": s.step, "status": s.status, "path": str(s.path),
                            "metrics": len(flatten(s.metrics or {}))} for s in steps]),
             hide_index=True, width="stretch", key="steps_table")
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
        st.info(f"{code(chosen.path / 'metrics.json')} does not exist yet: the step has not finished.")
    else:
        st.json(chosen.metrics, expanded=1)

st.header("Compare two runs")
names = list(runs)
c1, c2 = st.columns(2)
a = c1.selectbox("A", names, index=0, key="cmp_a")
b = c2.selectbox("B", names, index=min(1, len(names) - 1), key="cmp_b")
only_diff = st.checkbox("only rows that differ", value=False, key="only_diff")


def _side_by_side(part: str) -> pd.DataFrame:
    """`step.key` rows with run A's and run B's value (config without package versions)."""
    def flat(run: str) -> dict:
        out = {}
        for s in runs[run]:
            d = s.metrics if part == "metrics" else {k: v for k, v in (s.config or {}).items() if k != "versions"}
            out.update(flatten(d or {}, f"{s.step}."))
        return out

    fa, fb = flat(a), flat(b)
    keys = sorted(set(fa) | set(fb))
    table = pd.DataFrame({part[:-1] if part == "metrics" else "setting": keys,
                          "A": [fa.get(k) for k in keys], "B": [fb.get(k) for k in keys]}).astype(str)
    return table[table["A"] != table["B"]] if only_diff else table


m, c = st.tabs(["metrics", "config"])
with m:
    st.dataframe(_side_by_side("metrics"), hide_index=True, width="stretch", key="cmp_metrics")
with c:
    st.dataframe(_side_by_side("config"), hide_index=True, width="stretch", key="cmp_config")
