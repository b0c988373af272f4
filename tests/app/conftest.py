"""A small runs directory made by real pipelines on stories260k, shared by the explorer tests.

Every method's pipeline runs with tiny settings (tests/app/fixture_runs.py). Set
INTERP_TEST_EXPLORER_RUNS=DIR to build into (and reuse) a fixed folder: the pipelines skip their
finished steps, so a second session starts at once (a run made with older settings is rebuilt).
"""
import os
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def explorer_runs(tmp_path_factory):
    """runs/ made by running the pipelines (not hand-written numbers)."""
    from tests.app.fixture_runs import build

    fixed = os.environ.get("INTERP_TEST_EXPLORER_RUNS")
    root = Path(fixed) if fixed else tmp_path_factory.mktemp("runs")
    start = time.perf_counter()
    took = build(root, rebuild_stale=bool(fixed))
    print(f"\nexplorer fixture runs built in {time.perf_counter() - start:.1f}s: "
          + ", ".join(f"{k} {v:.1f}s" for k, v in took.items()))
    return root


@pytest.fixture
def runs_env(explorer_runs, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(explorer_runs))
    return explorer_runs


@pytest.fixture(scope="module")
def control_root(explorer_runs, tmp_path_factory):
    """The fixture's RE-Control and VAS runs beside a small random SAE at RE-Control's site (final, saes/final-x4)
    and a steering vector file at resid_post(1) (vectors/v.safetensors): the controls the playground composes and
    the controller page explains."""
    import torch

    from interp import resid_post
    from interp.sae.train import save_sae
    from interp.steering import save_vector
    from tests.app.explorer_util import copy_run
    from tests.app.fixture_runs import RE_CONTROL, VAS
    from tests.conftest import cached_model
    from tests.methods.re_control.sae_util import random_sae

    root = tmp_path_factory.mktemp("controls")
    copy_run(explorer_runs, RE_CONTROL, root)
    copy_run(explorer_runs, VAS, root)
    model = cached_model("stories260k")
    save_sae(random_sae(model.d_model), root / "saes" / "final-x4")
    save_vector(root / "vectors" / "v.safetensors", torch.randn(model.d_model, generator=torch.Generator().manual_seed(4)),
                resid_post(1), model)
    return root
