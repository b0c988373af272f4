"""Control trade-off: how RE-Control's reward gain, diversity and coherence move with step size x steps.

Read from each RE-Control run's evaluate/tradeoff.json (validation prompts only), where the
setting used on the test prompts was chosen.
"""
import pandas as pd
import streamlit as st

from app.explorer import charts
from app.explorer.rundata import find_steps, read_json, runs_root
from app.explorer.shapes import ANY, NUM, Opt, OrNull, Rows
from app.explorer.ui import artifact_section, md, no_run, pick
from methods.re_control.pipeline import TRADEOFF_FILE

_POINT = {k: NUM for k in ("step_size", "n_steps", "reward", "reward_gain", "reward_gain_low", "reward_gain_high",
                           "diversity", "coherence")}
CURVE = {"points": Rows(_POINT), "base": {"reward": NUM, "diversity": NUM, "coherence": NUM},
         "selection": Opt(OrNull({"step_size": NUM, "n_steps": ANY})),
         "n_prompts": Opt(ANY), "reward": Opt(ANY)}

st.title("Control trade-off")
st.caption("RE-Control on validation prompts: reward gain over base greedy decoding against the strength of "
           "control (step size x gradient steps), with diversity and coherence relative to base. Stronger "
           "control buys reward at the cost of diversity and coherence; dashed lines are the acceptance limits.")
root = runs_root()
runs = [s for s in find_steps(root, "evaluate") if (s.path / TRADEOFF_FILE).exists()]
if not runs:
    no_run("RE-Control trade-off", root,
           "interp re-control run --run NAME --model stories260k --dataset rt-polarity-prompts  (the evaluate "
           "step writes the curve unless --no-tradeoff)")
run = runs[[s.run for s in runs].index(pick("Run", [s.run for s in runs], key="run"))]
command = f"interp re-control evaluate --run {run.run}"
with artifact_section(stop=True):
    curve = read_json(run.path / TRADEOFF_FILE, command, dict, CURVE)

st.plotly_chart(charts.control_tradeoff(curve), key="tradeoff")
sel = curve.get("selection")
if sel:
    st.success(f"Selected for the test prompts: step size {sel['step_size']:g} x {md(sel['n_steps'])} steps. "
               f"{md(sel.get('reason', ''))}")
base = curve["base"]
st.dataframe(pd.DataFrame([{
    "step size": p["step_size"], "steps": p["n_steps"], "reward": p["reward"], "reward gain": p["reward_gain"],
    "gain low": p["reward_gain_low"], "gain high": p["reward_gain_high"], "diversity": p["diversity"],
    "coherence": p["coherence"], "s / prompt": p.get("seconds_per_prompt"),
} for p in curve["points"]]), hide_index=True, width="stretch", key="points")
st.caption(f"Base on the same prompts: reward {base['reward']:.4f}, diversity {base['diversity']:.4f}, "
           f"coherence {base['coherence']:.4f}.")
