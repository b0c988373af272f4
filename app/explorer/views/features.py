"""Features: the SAE features of a reward-divergence run, their reward correlation, and one feature in detail."""
import pandas as pd
import streamlit as st

from app.explorer import charts
from app.explorer.rd_data import RDRun, rd_runs, size_name
from interp.sae.train import SAE_WEIGHTS
from app.explorer.rundata import runs_root
from app.explorer.sae_views import best_matches, decoder_direction, eval_rows, feature_values, load_sae
from app.explorer.tokens_html import contexts_html
from app.explorer.ui import artifact_section, md, no_run, pick
from app.explorer.unembed import load_unembedding, logit_effects

SORTS = {"|corr|": ("abs_corr", False), "corr": ("corr", False), "activation frequency": ("density", False),
         "max activation": ("max_act", False), "MMCS match": ("mmcs_match", False), "feature": ("feature", True)}


@st.cache_resource(show_spinner=False, max_entries=16)
def _sae(folder: str, mtime: float, command: str):
    return load_sae(folder, command)


@st.cache_resource(show_spinner="Reading the held-out activations...", max_entries=8)
def _rows(store: str, site: str, max_tokens: int, command: str):
    return eval_rows(store, site, max_tokens, command)


@st.cache_data(show_spinner=False, max_entries=32)
def _matches(a: str, b: str, mtimes: tuple, command_a: str, command_b: str):
    return best_matches(_sae(a, mtimes[0], command_a), _sae(b, mtimes[1], command_b))


@st.cache_resource(show_spinner="Reading the unembedding...", max_entries=4)
def _unembedding(spec: str, command: str):
    return load_unembedding(spec, command)


def sae_of(run: RDRun, model: str, site: str, expansion: float):
    folder = run.sae_folder(model, site, expansion)
    return _sae(str(folder), (folder / SAE_WEIGHTS).stat().st_mtime, run.command("saes"))


st.title("Features")
st.caption("SAE features of the layers the reward-divergence pipeline chose: correlation with the lexicon "
           "valence of the current token, activation frequency, and the closest feature of another dictionary.")
root = runs_root()
runs = rd_runs(root, "features")
if not runs:
    no_run("reward-divergence features", root, "interp divergence run --name NAME --small  (stories260k; the features "
           "step comes after rlhf, divergence, collect and saes)")
run = runs[[r.name for r in runs].index(pick("Run", [r.name for r in runs], key="run"))]
with artifact_section(stop=True):
    index = run.feature_index()
    max_tokens = int(run.features_config().get("max_tokens", 20000))

c1, c2, c3 = st.columns(3)
models = sorted({r["model"] for r in index}, key=lambda m: (m != "tuned", m))
model = c1.selectbox("Model", models, key="model")
sites = sorted({r["site"] for r in index if r["model"] == model}, key=lambda s: int(s.split(".")[-1]))
site = c2.selectbox("Layer", sites, key="site")
here = [r for r in index if r["model"] == model and r["site"] == site]
sizes = sorted({float(r["expansion"]) for r in here})
expansion = c3.selectbox("Dictionary size", sizes, index=len(sizes) - 1, key="size",
                         format_func=lambda e: f"{size_name(e)} ({next(r['n_features'] for r in here if float(r['expansion']) == e)} features)")
summary = next(r for r in here if float(r["expansion"]) == expansion)
m1, m2, m3, m4 = st.columns(4)
m1.metric("reward-related", summary["n_reward_related"],
          help=f"{md(summary['n_positive'])} positive, {md(summary['n_negative'])} negative")
m2.metric("features", summary["n_features"])
m3.metric("dead on held-out tokens", summary["dead_on_eval"])
m4.metric("max |corr|", f"{summary['max_abs_corr']:.4f}")
with artifact_section():
    q = run.sae_quality(model, site, expansion)
    st.caption(f"SAE ({md(q.get('architecture', '?'))}): L0 {q.get('l0', float('nan')):.2f} · explained variance "
               f"{q.get('explained_variance', float('nan')):.3f} · dead {q.get('dead_fraction', float('nan')):.1%} · "
               f"CE loss recovered {q.get('ce_recovered', float('nan')):.3f} (held-out tokens)")

with artifact_section(stop=True):
    rows = run.feature_rows(model, site, expansion)
by_id = {int(r["feature"]): r for r in rows}
table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("top", "llm_label")} for r in rows])
table["abs_corr"] = table["corr"].abs()

others = [(r["model"], float(r["expansion"])) for r in index
          if r["site"] == site and (r["model"], float(r["expansion"])) != (model, expansion)]
if others:
    default = next((i for i, o in enumerate(others) if o[1] == expansion), 0)
    other = st.selectbox("MMCS match against (same layer)", others, index=default, key="match",
                         format_func=lambda o: f"{o[0]} {size_name(o[1])}")
    with artifact_section():
        a, b = run.sae_folder(model, site, expansion), run.sae_folder(other[0], site, other[1])
        mt = ((a / SAE_WEIGHTS).stat().st_mtime, (b / SAE_WEIGHTS).stat().st_mtime)
        cos, partner = _matches(str(a), str(b), mt, run.command("saes"), run.command("saes"))
        table["mmcs_match"], table["match_feature"] = cos, partner

f1, f2 = st.columns([1, 2])
only = f1.checkbox("reward-related only", value=False, key="only")
sort = f2.selectbox("Sort by", [s for s in SORTS if SORTS[s][0] in table], key="sort")
view = table[table["reward_related"]] if only else table
col, ascending = SORTS[sort]
view = view.sort_values(col, ascending=ascending, kind="stable")
st.dataframe(view.drop(columns=["abs_corr"]), hide_index=True, width="stretch", height=280, key="features_table",
             column_config={"density": st.column_config.NumberColumn("activation frequency", format="%.4f"),
                            "corr": st.column_config.NumberColumn("reward corr", format="%+.4f"),
                            "p": st.column_config.NumberColumn("perm. p", format="%.4f"),
                            "mmcs_match": st.column_config.NumberColumn("MMCS match (cos)", format="%.3f")})
if view.empty:
    st.info("No feature passes the filter.")
    st.stop()

feature = st.selectbox("Feature", view["feature"].tolist(), key="feature",
                       format_func=lambda j: f"{j}  (corr {by_id[j]['corr']:+.3f}, frequency {by_id[j]['density']:.2%})")
row = by_id[int(feature)]
st.subheader(f"Feature {md(feature)}" + (" · reward-related" if row["reward_related"] else ""))
if row.get("llm_label"):
    st.markdown(f"LLM label: *{md(row['llm_label'])}*")  # text an external LLM wrote: shown, never rendered
left, right = st.columns(2)
with left:
    st.markdown("**Top contexts** (shade = activation / the feature's maximum; the underlined token is the peak)")
    if row["top"]:
        st.markdown(contexts_html(row["top"], float(row["max_act"]) or 1.0), unsafe_allow_html=True)
    else:
        st.info(f"Feature {md(feature)} never fires on the held-out tokens.")
with right:
    with artifact_section():
        x = _rows(str(run.store_dir(model)), site, max_tokens, run.command("collect"))
        values = feature_values(sae_of(run, model, site, expansion), x, int(feature))
        nonzero = values[values > 0]
        st.plotly_chart(charts.activation_histogram(nonzero, int(feature)), key="hist")
        st.caption(f"fires on {len(nonzero)} of {len(values)} held-out tokens ({len(nonzero) / max(len(values), 1):.2%}; "
                   f"the features step measured {row['density']:.2%})")

st.markdown("**Tokens it promotes and suppresses** through the unembedding (decoder direction · W_U)")
with artifact_section():
    unembed = _unembedding(run.model_spec(model), run.model_command(model))
    effects = logit_effects(decoder_direction(sae_of(run, model, site, expansion), int(feature)), unembed, k=10)
    p1, p2 = st.columns(2)
    p1.plotly_chart(charts.logit_effects(effects["promoted"], "promotes", charts.CHOSEN), key="promoted")
    p2.plotly_chart(charts.logit_effects(effects["suppressed"], "suppresses", charts.OTHER), key="suppressed")
