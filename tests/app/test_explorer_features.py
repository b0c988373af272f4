"""Features page: the table, contexts, histogram, MMCS matches and logit effects agree with the run's files,
and with an independent computation through the real model where the page computes something itself."""
import re
import shutil

import pytest
import torch

from interp.io import read_json, read_jsonl
from tests.app.explorer_util import copy_run, figures, messages, open_page, values
from tests.app.fixture_runs import DIVERGENCE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(explorer_runs):
    """One rendering of the page shared by the read-only tests (INTERP_RUNS stays set for their reruns)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERP_RUNS", str(explorer_runs))
        yield open_page("features")


def _selected(at):
    return at.selectbox(key="model").value, at.selectbox(key="site").value, at.selectbox(key="size").value


def test_widgets_and_table_match_the_feature_file(page, explorer_runs):
    at = page
    assert not at.exception
    model, site, size = _selected(at)
    assert model == "tuned" and size == 4.0
    rows = read_jsonl(explorer_runs / DIVERGENCE / "features" / model / site / "x4.jsonl")
    table = at.dataframe[0].value
    assert len(table) == len(rows)
    by_id = {r["feature"]: r for r in rows}
    for _, r in table.iterrows():
        assert r["corr"] == pytest.approx(by_id[r["feature"]]["corr"])
        assert r["density"] == pytest.approx(by_id[r["feature"]]["density"])
    assert table["corr"].abs().tolist() == sorted(table["corr"].abs().tolist(), reverse=True)  # sorted by |corr|
    best = max(rows, key=lambda r: abs(r["corr"]))
    assert at.selectbox(key="feature").value == best["feature"]
    summary = [s for s in read_json(explorer_runs / DIVERGENCE / "features" / "summary.json")
               if s["model"] == model and s["site"] == site and s["expansion"] == size][0]
    assert {m.label: m.value for m in at.metric}["reward-related"] == str(summary["n_reward_related"])


def test_top_contexts_are_shaded_spans(page, explorer_runs):
    at = page
    model, site, _ = _selected(at)
    feature = at.selectbox(key="feature").value
    row = {r["feature"]: r for r in read_jsonl(explorer_runs / DIVERGENCE / "features" / model / site / "x4.jsonl")}[feature]
    html = next(m.value for m in at.markdown if 'class="ctx"' in m.value)
    assert html.count('class="ctx"') == len(row["top"]) > 0
    first = row["top"][0]
    alphas = [float(a) for a in re.findall(r"rgba\(230,85,13,([0-9.]+)\)", html.split("</div>")[0])]
    assert alphas == pytest.approx([a / row["max_act"] for a in first["acts"]], abs=1e-3)


def test_histogram_rows_are_the_ones_the_features_step_measured(page, explorer_runs):
    at = page
    model, site, _ = _selected(at)
    feature = at.selectbox(key="feature").value
    row = {r["feature"]: r for r in read_jsonl(explorer_runs / DIVERGENCE / "features" / model / site / "x4.jsonl")}[feature]
    n_tokens = [s for s in read_json(explorer_runs / DIVERGENCE / "features" / "summary.json")
                if s["model"] == model and s["site"] == site and s["expansion"] == 4.0][0]["n_tokens"]
    hist = next(f for f in figures(at) if f["data"][0]["type"] == "histogram")
    nonzero = values(hist["data"][0], "x")
    assert len(nonzero) == round(row["density"] * n_tokens) and (nonzero > 0).all()
    assert nonzero.max() == pytest.approx(row["max_act"], rel=1e-4)


def test_mmcs_match_is_the_closest_decoder_direction(page, explorer_runs):
    from sae_lens import SAE

    at = page
    model, site, _ = _selected(at)
    other_model, other_size = at.selectbox(key="match").value
    assert other_model != model and other_size == 4.0  # default: the other model, same dictionary size
    saes = explorer_runs / DIVERGENCE / "saes"
    a = SAE.load_from_disk(saes / model / site / "x4").W_dec.detach()
    b = SAE.load_from_disk(saes / other_model / site / "x4").W_dec.detach()
    cos = torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T
    best, idx = cos.max(dim=1)
    table = at.dataframe[0].value.sort_values("feature")
    assert table["mmcs_match"].tolist() == pytest.approx(best.tolist(), abs=1e-5)
    assert table["match_feature"].tolist() == idx.tolist()


def test_promoted_tokens_match_the_model_unembedding(page, explorer_runs):
    from sae_lens import SAE

    from interp import load_model

    at = page
    model, site, _ = _selected(at)
    feature = at.selectbox(key="feature").value
    spec = str(explorer_runs / DIVERGENCE / "rlhf" / "model") if model == "tuned" else "stories260k"
    m = load_model(spec, device="cpu")
    d = SAE.load_from_disk(explorer_runs / DIVERGENCE / "saes" / model / site / "x4").W_dec[feature].detach()
    logits = m.unembed_matrix().detach() @ (d * m.hf.model.norm.weight.detach())
    top = logits.topk(10)
    figs = {f["layout"]["title"]["text"]: f for f in figures(at) if f["data"][0]["type"] == "bar"}
    promoted = figs["promotes"]["data"][0]
    assert values(promoted, "x").tolist() == pytest.approx(top.values.tolist(), rel=1e-4, abs=1e-5)
    assert values(figs["suppresses"]["data"][0], "x").tolist() == pytest.approx((-(-logits).topk(10).values).tolist(),
                                                                                 rel=1e-4, abs=1e-5)
    assert [int(label.rsplit("#", 1)[1]) for label in promoted["y"]] == top.indices.tolist()
    for label, i in zip(promoted["y"], top.indices.tolist()):
        text = m.tokenizer.decode([i])
        if "\ufffd" not in text:  # byte tokens show their piece instead
            assert text.strip().replace(" ", "␣") in label


def test_filter_and_other_selection(page):
    at = page
    at.checkbox(key="only").check().run()
    table = at.dataframe[0].value
    assert table["reward_related"].all()
    at.checkbox(key="only").uncheck().run()
    at.selectbox(key="model").select("base").run()
    assert not at.exception and _selected(at)[0] == "base"


@pytest.mark.parametrize("broken", ["features_jsonl", "sae", "store"])
def test_broken_artifacts_are_messages(explorer_runs, tmp_path, monkeypatch, broken):
    run = copy_run(explorer_runs, DIVERGENCE, tmp_path)
    if broken == "features_jsonl":  # half-written: the default selection's table cannot be read
        path = run / "features" / "tuned"
        target = sorted(path.glob("*/x4.jsonl"))[0]
        for f in path.glob("*/x4.jsonl"):
            f.write_text(f.read_text()[:300])
        expect, command = target.name, "--steps features"
    elif broken == "sae":
        for f in (run / "saes" / "tuned").glob("*/x4/sae_weights.safetensors"):
            f.unlink()
        expect, command = "sae_weights.safetensors", "--steps saes"
    else:
        shutil.rmtree(run / "collect" / "tuned" / "eval")
        expect, command = "manifest-r000.json", "--steps collect"
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("features")
    assert not at.exception
    msgs = [m for m in messages(at) if expect in m]
    assert msgs and all("interp divergence run --name rd-small" in m and command in m for m in msgs), messages(at)
    if broken != "features_jsonl":
        assert len(at.dataframe[0].value) == 256  # the rest of the page still works


def test_no_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("features")
    assert not at.exception and "interp divergence run" in at.info[0].value
