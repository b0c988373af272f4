"""Plotly figures for the explorer's pages: each takes plain data read from a run and returns a Figure.

Plotly renders a subset of HTML in titles, legends, hover labels and axis ticks (<b>, <a href>, <span style>),
so every string read from a run file (a method's name, a word, a token, a reward's name) goes through `text`,
which HTML-escapes it; Plotly shows the entities as the characters they stand for. Hover templates name such
strings through the trace (%{fullData.name}) or customdata, never by pasting them into the template.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

import pandas as pd
import plotly.graph_objects as go

CHOSEN = "#d62728"  # chosen layers, recovered words, the adapter
OTHER = "#7fa7d1"
KIND_COLORS = {"mlp_out": "#1f77b4", "resid_post": "#2ca02c"}
METRIC_NAMES = {"l2": "mean L2 distance", "rel_l2": "relative L2 (distance / base norm)", "cos": "mean cosine"}


def text(value: object) -> str:
    """A run-file string as literal text in a Plotly label (its <, > and & as entities)."""
    return html.escape(str(value), quote=False)


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=height, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    return fig


def parameter_divergence(param: Sequence[float], chosen: Sequence[int]) -> go.Figure:
    """Bars of sum_tensors ||W_tuned - W_base||_F per layer; the chosen layers in red."""
    layers = list(range(len(param)))
    colors = [CHOSEN if layer in chosen else OTHER for layer in layers]
    fig = go.Figure(go.Bar(
        x=layers, y=list(param), marker_color=colors, name="parameters",
        customdata=["chosen" if layer in chosen else "not chosen" for layer in layers],
        hovertemplate="layer %{x} (%{customdata})<br>sum of Frobenius norms %{y:.5g}<extra></extra>",
    ))
    fig.update_xaxes(tickmode="array", tickvals=layers)
    return _layout(fig, "Parameter divergence per layer (chosen layers in red)", "layer", "sum ||ΔW||_F")


def activation_divergence(div: dict[str, Any], metric: str, chosen: Sequence[int]) -> go.Figure:
    """One line per activation kind (mlp_out, resid_post) of `metric` per layer; chosen layers shaded."""
    fig = go.Figure()
    n = 0
    for kind, color in KIND_COLORS.items():
        if kind not in div:
            continue
        ys = list(div[kind][metric])
        n = len(ys)
        fig.add_trace(go.Scatter(
            x=list(range(n)), y=ys, mode="lines+markers", name=kind, line=dict(color=color),
            marker=dict(size=[14 if i in chosen else 7 for i in range(n)],
                        symbol=["star" if i in chosen else "circle" for i in range(n)]),
            hovertemplate=f"{kind}<br>layer %{{x}}<br>{METRIC_NAMES.get(metric, metric)} %{{y:.5g}}<extra></extra>",
        ))
    for layer in chosen:
        fig.add_vrect(x0=layer - 0.4, x1=layer + 0.4, fillcolor=CHOSEN, opacity=0.12, line_width=0)
    fig.update_xaxes(tickmode="array", tickvals=list(range(n)))
    return _layout(fig, f"Activation divergence per layer: {METRIC_NAMES.get(metric, metric)}", "layer", metric)


def activation_histogram(values: Sequence[float], feature: int, bins: int = 40) -> go.Figure:
    """Histogram of a feature's non-zero activations on the held-out tokens."""
    fig = go.Figure(go.Histogram(x=list(values), nbinsx=bins, marker_color=OTHER, name=f"feature {feature}",
                                 hovertemplate="activation %{x}<br>%{y} tokens<extra></extra>"))
    return _layout(fig, f"Feature {feature}: non-zero activations on held-out tokens", "activation", "tokens", 320)


def token_label(token: str, token_id: int) -> str:
    """A token readable on an axis: quoted, spaces as '␣', escapes visible, and its id (labels stay unique)."""
    return f"'{repr(token)[1:-1].replace(' ', '␣')}' #{token_id}"


def logit_effects(effects: Sequence[tuple[str, int, float]], title: str, color: str) -> go.Figure:
    """Horizontal bars of the logit effect of a decoder direction on its top tokens ((token, id, value) rows)."""
    labels = [text(token_label(t, i)) for t, i, _ in effects]
    fig = go.Figure(go.Bar(x=[v for _, _, v in effects], y=labels, orientation="h", marker_color=color,
                           hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", tickfont=dict(family="monospace"))
    return _layout(fig, title, "logit effect (direction · W_U)", "", 60 + 28 * max(len(labels), 1))


def preference_bars(agg: pd.DataFrame) -> go.Figure:
    """Grouped bars: adapter/base accuracy ratio per split (x) and method (colour), mean over seeds with std."""
    fig = go.Figure()
    for label, part in agg.groupby("label", sort=False):
        fig.add_trace(go.Bar(
            x=[text(s) for s in part["split"]], y=part["ratio_mean"], name=text(label),
            error_y=dict(type="data", array=part["ratio_std"].fillna(0).tolist(), visible=True),
            customdata=part[["n_seeds"]].to_numpy(),
            hovertemplate="%{fullData.name}<br>%{x}<br>ratio %{y:.4f}<br>seeds %{customdata[0]}<extra></extra>",
        ))
    fig.add_hline(y=1.0, line_dash="dot", line_color="gray", annotation_text="base", annotation_position="top left")
    fig.update_layout(barmode="group")
    return _layout(fig, "Preference accuracy, adapter / base, per split (mean ± std over seeds)", "split",
                   "accuracy ratio", 400)


def probe_scatter(words: pd.DataFrame, model: str) -> go.Figure:
    """Held-out words: lexicon valence (x) against the probe's mean prediction (y); recovered words in red."""
    fig = go.Figure()
    for recovered, name, color in ((True, "recovered", CHOSEN), (False, "missed", OTHER)):
        part = words[words["recovered"] == recovered]
        fig.add_trace(go.Scatter(
            x=part["lexicon"], y=part["predicted"], mode="markers", name=name,
            marker=dict(color=color, size=9, line=dict(width=0.5, color="white")),
            customdata=[[text(w), text(n)] for w, n in zip(part["word"], part["n_tokens"])],
            hovertemplate="%{customdata[0]}<br>lexicon %{x:+.2f}<br>predicted %{y:+.4f}<br>tokens %{customdata[1]}<extra></extra>",
        ))
    fig.add_hline(y=0, line_color="lightgray")
    fig.add_vline(x=0, line_color="lightgray")
    return _layout(fig, f"Reward probe ({text(model)}): predicted vs lexicon valence of held-out words",
                   "lexicon valence (VADER)", "predicted valence", 420)


def control_tradeoff(curve: dict[str, Any], max_diversity_drop: float = 0.10, max_coherence_drop: float = 0.15) -> go.Figure:
    """RE-Control's validation trade-off: reward gain (with its paired 95% interval) and the relative
    change in diversity and coherence against step size x steps; the acceptance limits dashed, the
    selected setting (if any) marked."""
    from plotly.subplots import make_subplots

    points = sorted(curve["points"], key=lambda p: (p["step_size"] * p["n_steps"], p["step_size"]))
    base = curve["base"]
    labels = [f"{p['step_size']:g} x {text(p['n_steps'])}" for p in points]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("reward gain over base (paired 95% CI)",
                                                        "change relative to base"))
    gain = [p["reward_gain"] for p in points]
    fig.add_trace(go.Scatter(
        x=labels, y=gain, mode="lines+markers", name="reward gain", marker_color=CHOSEN,
        error_y=dict(type="data", symmetric=False, visible=True,
                     array=[p["reward_gain_high"] - p["reward_gain"] for p in points],
                     arrayminus=[p["reward_gain"] - p["reward_gain_low"] for p in points]),
        hovertemplate="%{x}<br>gain %{y:+.4f}<extra></extra>",
    ), row=1, col=1)
    for name, color in (("diversity", "#1f77b4"), ("coherence", "#2ca02c")):
        rel = [(p[name] - base[name]) / abs(base[name]) if base[name] else 0.0 for p in points]
        fig.add_trace(go.Scatter(x=labels, y=rel, mode="lines+markers", name=name, marker_color=color,
                                 hovertemplate=f"%{{x}}<br>{name} %{{y:+.1%}}<extra></extra>"), row=1, col=2)
    fig.add_hline(y=0, line_color="lightgray", row=1, col=1)
    fig.add_hline(y=-max_diversity_drop, line_dash="dash", line_color="#1f77b4", row=1, col=2)
    fig.add_hline(y=-max_coherence_drop, line_dash="dash", line_color="#2ca02c", row=1, col=2)
    fig.update_yaxes(tickformat="+.0%", row=1, col=2)
    sel = curve.get("selection")
    if sel:
        chosen = f"{sel['step_size']:g} x {text(sel['n_steps'])}"
        fig.add_vline(x=labels.index(chosen) if chosen in labels else 0, line_dash="dot", line_color="gray")
    fig = _layout(fig, f"RE-Control trade-off on {text(curve.get('n_prompts', '?'))} validation prompts "
                       f"({text(curve.get('reward'))})", "step size x steps", "", 440)
    return fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="right", x=1.0))


def controller_features(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """The features RE-Control turns up (red) and down (blue): mean dz per controlled step, and each feature's
    mean value attribution dz_i * grad V . d_i beside it; consistency in the hover (rows of
    app.explorer.controller_data.feature_table)."""
    from plotly.subplots import make_subplots

    labels = [f"feature {r['feature']}" for r in rows]
    colors = [CHOSEN if r["direction"] == "up" else OTHER for r in rows]
    custom = [[r["consistency"], r["mean_value_attribution"], r["mean_delta_z"]] for r in rows]
    hover = ("%{y}<br>mean Δz %{customdata[2]:+.4g}<br>same sign on %{customdata[0]:.0%} of steps"
             "<br>value attribution %{customdata[1]:+.4g}<extra></extra>")
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("mean Δz per controlled step",
                                                                          "mean value attribution (Δz · ∇V · d)"))
    fig.add_trace(go.Bar(x=[r["mean_delta_z"] for r in rows], y=labels, orientation="h", marker_color=colors,
                         customdata=custom, hovertemplate=hover, name="mean Δz"), row=1, col=1)
    fig.add_trace(go.Bar(x=[r["mean_value_attribution"] for r in rows], y=labels, orientation="h", marker_color=colors,
                         customdata=custom, hovertemplate=hover, name="value attribution"), row=1, col=2)
    fig.update_yaxes(autorange="reversed", type="category")
    fig = _layout(fig, "Features the controller turns up (red) and down (blue)", "", "", 80 + 26 * max(len(rows), 1))
    return fig.update_layout(showlegend=False)
