"""A run file of the right JSON type with the wrong contents costs its section one line, never the page (issue 20).

Each case copies the run a method page reads, corrupts the inside of one file the page reads (a number
that is text, a list of strings where numbers go, a nested key missing, lists of unequal length, an empty
list, a row without a field) and opens the page. Then: no exception; one warning names the file and what
is wrong in it (the key); the page's title and everything the bad file does not feed still render (the
figures counted per case). Before, each of these raised inside the page (TypeError, KeyError, ValueError,
StopIteration) and Streamlit showed a traceback in place of the page.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.app.explorer_util import copy_run, figures, open_page
from tests.app.fixture_runs import DIVERGENCE, RE_CONTROL, VAS

REPRPO = "reprpo"
ONE_REPRPO = "reprpo/alpaca_easy-dpo-none-s0"


def _set(path: str, value: Any) -> Callable[[Any], Any]:
    """Set a dotted key path ('a.b', '*' for every item of a list) to `value`; `DROP` deletes it."""
    def mutate(data: Any) -> Any:
        _walk(data, path.split("."), value)
        return data
    return mutate


DROP = object()


def _walk(node: Any, keys: list[str], value: Any) -> None:
    key, rest = keys[0], keys[1:]
    targets = list(range(len(node))) if key == "*" else [key]
    for k in targets:
        if rest:
            _walk(node[k], rest, value)
        elif value is DROP:
            del node[k]
        else:
            node[k] = value


def _replace(value: Any) -> Callable[[Any], Any]:
    return lambda data: value


# (page, run, file glob inside the run, mutation, words the warning must hold, figures still on the page)
CASES: dict[str, tuple[str, str, str, Callable[[Any], Any], tuple[str, ...], int]] = {
    "divergence.json layers is text": ("divergence", DIVERGENCE, "divergence/divergence.json",
                                       _set("layers", "abc"), ("layers", "abc"), 0),
    "divergence.json param holds strings": ("divergence", DIVERGENCE, "divergence/divergence.json",
                                            _set("param", ["a", "b"]), ("param",), 0),
    "divergence.json mlp_out lacks cos": ("divergence", DIVERGENCE, "divergence/divergence.json",
                                          _set("mlp_out.cos", DROP), ("mlp_out", "cos"), 0),
    "divergence.json a metric list of another length": ("divergence", DIVERGENCE, "divergence/divergence.json",
                                                        _set("resid_post.l2", [1.0]), ("resid_post", "l2"), 0),
    "divergence.json param_other is text": ("divergence", DIVERGENCE, "divergence/divergence.json",
                                            _set("param_other", "big"), ("param_other",), 0),
    "rlhf metrics: an interval is text": ("divergence", DIVERGENCE, "rlhf/metrics.json",
                                          _set("tuned_minus_base", "abc"), ("tuned_minus_base",), 2),
    "rlhf metrics: an interval lacks its mean": ("divergence", DIVERGENCE, "rlhf/metrics.json",
                                                 _set("base_reward.mean", DROP), ("base_reward", "mean"), 2),
    "features summary: n_features is text": ("features", DIVERGENCE, "features/summary.json",
                                             _set("*.n_features", "many"), ("n_features", "many"), 0),
    "features summary: a site without a layer": ("features", DIVERGENCE, "features/summary.json",
                                                 _set("*.site", "abc"), ("site", "abc"), 0),
    "features summary: no rows": ("features", DIVERGENCE, "features/summary.json", _replace([]), ("no",), 0),
    "features config: max_tokens is text": ("features", DIVERGENCE, "features/config.json",
                                            _set("max_tokens", "abc"), ("max_tokens",), 0),
    "features config: the tuned model is a number": ("features", DIVERGENCE, "features/config.json",
                                                     _set("tuned", 5), ("tuned",), 1),
    "SAE metrics: l0 is text": ("features", DIVERGENCE, "saes/*/*/x*.metrics.json", _set("l0", "abc"), ("l0",), 3),
    "feature rows: corr is text": ("features", DIVERGENCE, "features/*/*/x*.jsonl", _set("*.corr", "abc"),
                                   ("corr", "abc"), 0),
    "feature rows: a context with fewer activations": (
        "features", DIVERGENCE, "features/*/*/x*.jsonl", _set("*.top", [{"tokens": ["a", "b"], "acts": [1.0]}]),
        ("acts",), 0),
    "feature rows: no reward_related": ("features", DIVERGENCE, "features/*/*/x*.jsonl",
                                        _set("*.reward_related", DROP), ("reward_related",), 0),
    "probe results: r2 is text": ("reward_probe", DIVERGENCE, "probe/results.json", _set("tuned.r2_test", "abc"),
                                  ("r2_test",), 0),
    "probe results: a model is text": ("reward_probe", DIVERGENCE, "probe/results.json", _set("tuned", "abc"),
                                       ("tuned",), 0),
    "probe results: no model": ("reward_probe", DIVERGENCE, "probe/results.json", _replace({}), ("no",), 0),
    "probe words: lexicon is text": ("reward_probe", DIVERGENCE, "probe/words.jsonl", _set("*.lexicon", "abc"),
                                     ("lexicon",), 0),
    "probe words: recovered is text": ("reward_probe", DIVERGENCE, "probe/words.jsonl", _set("*.recovered", "yes"),
                                       ("recovered",), 0),
    "tradeoff: a gain is text": ("tradeoff", RE_CONTROL, "evaluate/tradeoff.json", _set("points.*.reward_gain", "abc"),
                                 ("reward_gain",), 0),
    "tradeoff: base lacks coherence": ("tradeoff", RE_CONTROL, "evaluate/tradeoff.json",
                                       _set("base.coherence", DROP), ("base", "coherence"), 0),
    "tradeoff: the selection's step size is text": ("tradeoff", RE_CONTROL, "evaluate/tradeoff.json",
                                                    _set("selection", {"step_size": "x", "n_steps": 5}),
                                                    ("step_size",), 0),
    "tradeoff: points is text": ("tradeoff", RE_CONTROL, "evaluate/tradeoff.json", _set("points", "abc"),
                                 ("points",), 0),
    "reprpo splits: a split is text": ("preference", REPRPO, "alpaca_easy-dpo-none-s0/eval/splits.json",
                                       _set("target_test", "abc"), ("target_test",), 1),
    "reprpo splits: a ratio holds strings": ("preference", REPRPO, "alpaca_easy-dpo-none-s0/eval/splits.json",
                                             _set("target_test.ratio_mean", ["a"]), ("ratio_mean",), 1),
    "reprpo metrics: the method is a number": ("preference", REPRPO, "alpaca_easy-dpo-none-s0/eval/metrics.json",
                                               _set("method", 5), ("method",), 1),
    "reprpo eval config: train is text": ("preference", REPRPO, "alpaca_easy-dpo-none-s0/eval/config.json",
                                          _set("train", "abc"), ("train",), 1),
    "VAS value.json: config is text": ("playground", VAS, "train/value.json",
                                       lambda d: {**{k: v for k, v in d.items() if k != "base_model"}, "config": "abc"},
                                       ("config",), 0),
}


def _corrupt(root: Path, pattern: str, mutate: Callable[[Any], Any]) -> list[Path]:
    files = sorted(root.glob(pattern))
    assert files, f"the fixture has no {pattern} under {root}"
    for f in files:
        if f.suffix == ".jsonl":
            rows = mutate([json.loads(line) for line in f.read_text().splitlines() if line.strip()])
            f.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            f.write_text(json.dumps(mutate(json.loads(f.read_text()))))
    return files


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_wrong_contents_cost_one_line(case, explorer_runs, tmp_path, monkeypatch):
    page, run, pattern, mutate, says, n_figures = CASES[case]
    files = _corrupt(copy_run(explorer_runs, run, tmp_path), pattern, mutate)
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page(page)
    assert not at.exception, f"{case}: the page raised {at.exception}"
    assert at.title, "the page's title is gone"
    named = [w.value.replace("\\", "") for w in at.warning
             if any(str(f.relative_to(tmp_path)) in w.value.replace("\\", "") for f in files)]
    assert len(named) == 1, f"{case}: no one warning names the file: {[w.value for w in at.warning]}"
    assert "\n" not in named[0] and all(word in named[0] for word in says), named[0]
    assert len(figures(at)) >= n_figures, f"{case}: the rest of the page did not render"


# ---- Plotly labels: run-file strings are text, never Plotly's HTML ------------------------------------------
EVIL_LABELS = ('<b onmouseover="alert(1)">x</b>', '<a href="http://evil.example/">y</a>')
_TAG = re.compile(r"<\s*/?\s*(?:a|b|i|em|span|img|sub|sup|svg|script)\b", re.IGNORECASE)  # not our <br>, <extra>


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def live_tags(spec: dict) -> list[str]:
    """Strings of a figure spec (titles, names, hover templates, ticks, customdata) holding an HTML tag Plotly renders."""
    return [s for s in _strings(spec) if _TAG.search(s)]


def test_chart_labels_from_run_files_are_escaped():
    import pandas as pd

    from app.explorer import charts

    bad, link = EVIL_LABELS
    agg = pd.DataFrame([{"shift": "a → b", "method": bad, "transform": link, "split": "target_test", "n_seeds": 1,
                         "base_accuracy": 0.5, "adapter_accuracy": 0.6, "ratio_mean": 1.2, "ratio_std": 0.0,
                         "label": f"{bad} / {link}"}])
    words = pd.DataFrame([{"model": bad, "word": w, "lexicon": 0.5, "predicted": 0.1, "recovered": r, "n_tokens": link}
                          for w, r in ((bad, True), (link, False))])
    point = {"step_size": 0.5, "n_steps": 5, "reward": 0.1, "reward_gain": 0.1, "reward_gain_low": 0.0,
             "reward_gain_high": 0.2, "diversity": 0.5, "coherence": 0.5}
    curve = {"points": [point], "base": {"reward": 0.0, "diversity": 0.5, "coherence": 0.5}, "reward": bad,
             "n_prompts": link, "selection": {"step_size": 0.5, "n_steps": 5, "reason": bad}}
    for fig in (charts.preference_bars(agg), charts.probe_scatter(words, bad), charts.control_tradeoff(curve),
                charts.logit_effects([(bad, 1, 0.5), (link, 2, -0.5)], "promotes", charts.CHOSEN)):
        spec = json.loads(fig.to_json())
        assert not live_tags(spec), live_tags(spec)
        shown = " ".join(_strings(spec))
        assert "&lt;b" in shown and "&lt;a" in shown, "the labels are not shown at all"


@pytest.mark.slow
def test_page_charts_show_run_file_labels_as_text(explorer_runs, tmp_path, monkeypatch):
    """A ReprPO method name and a probe word that hold HTML reach the page's figures escaped."""
    bad, link = EVIL_LABELS
    _corrupt(copy_run(explorer_runs, REPRPO, tmp_path), "alpaca_easy-dpo-none-s0/eval/metrics.json",
             _set("method", bad))
    _corrupt(copy_run(explorer_runs, DIVERGENCE, tmp_path), "probe/words.jsonl", _set("*.word", link))
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    for page, label in (("preference", "&lt;b onmouseover"), ("reward_probe", "&lt;a href")):
        at = open_page(page)
        assert not at.exception, at.exception
        specs = figures(at)
        assert specs and any(label in s for spec in specs for s in _strings(spec)), f"{page}: the label is not shown"
        assert not [t for spec in specs for t in live_tags(spec)], f"{page}: {[live_tags(s) for s in specs]}"
