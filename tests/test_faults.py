"""Fault injection: SIGKILL a long step at seeded-random points, re-run it, and end where an uninterrupted run ends.

Each step runs in a forked child process (the loaded model is inherited, so a run costs no start-up).
`interp.faults` kills the child with SIGKILL at the N-th fault point it passes: after a batch, an
epoch or a checkpoint, and inside every atomic write just before its rename. N is drawn from a
seeded generator over the points an uninterrupted run passes. After every kill each file of the run
directory must read back whole (JSON parses, every JSONL line parses, every safetensors tensor
loads, stores open, `latest.json` names a whole checkpoint); files named `.*.tmp` are the atomic
writers' scratch files, never read. The re-run that is not killed must give the uninterrupted
run's artifacts.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors import safe_open

from interp import faults
from interp.io import load_tensors, read_json, read_jsonl
from tests.forked import exit_with

KILLS_PER_STEP = 6
SURVIVED: dict[str, int] = {}


def run_forked(fn: Callable[[], object], kill_at: int | None = None, trace: Path | None = None) -> str:
    """Run `fn` in a forked child; 'done', 'killed' (SIGKILL) or 'failed'."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        def body() -> int:
            faults.reset()
            os.environ.pop(faults.KILL_AT, None)
            os.environ.pop(faults.TRACE, None)
            if kill_at is not None:
                os.environ[faults.KILL_AT] = str(kill_at)
            if trace is not None:
                os.environ[faults.TRACE] = str(trace)
            torch.set_num_threads(1)
            fn()
            return 0

        exit_with(body)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL, f"child died of signal {os.WTERMSIG(status)}"
        return "killed"
    return "done" if os.WEXITSTATUS(status) == 0 else "failed"


def check_whole(root: Path) -> int:
    """Read every file under `root` back; returns how many were checked."""
    from interp.checkpoint import Checkpoints
    from interp.store import ActivationStore

    checked = 0
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") and part.endswith(".tmp") for part in rel) or p.is_dir():
            continue
        if p.suffix == ".json":
            json.loads(p.read_text(encoding="utf-8"))
        elif p.suffix == ".jsonl":
            text = p.read_text(encoding="utf-8")
            assert not text or text.endswith("\n"), f"{p} ends in the middle of a line"
            for line in text.splitlines():
                json.loads(line)
        elif p.suffix == ".safetensors":
            with safe_open(str(p), framework="pt") as f:
                for k in f.keys():
                    f.get_tensor(k)
        else:
            raise AssertionError(f"unexpected file {p}: the test does not know how to check it")
        checked += 1
    for manifest_dir in {p.parent for p in root.rglob("manifest-r*.json")}:
        ActivationStore.open(manifest_dir).read_all()  # every listed shard exists with its rows
    for latest in root.rglob("latest.json"):
        assert Checkpoints(latest.parent).latest() is not None, f"{latest} names no whole checkpoint"
    return checked


def count_points(fn: Callable[[], object], trace: Path) -> int:
    trace.unlink(missing_ok=True)
    assert run_forked(fn, trace=trace) == "done"
    return len(trace.read_text().splitlines())


def kill_and_resume(name: str, fn: Callable[[], object], run_dir: Path, total: int, rng: random.Random) -> int:
    """Kill `fn` at KILLS_PER_STEP seeded points (checking every file after each), then run it to the end."""
    killed, where = 0, []
    trace = run_dir.parent / f".trace-{os.getpid()}"
    left = total  # about how many points the next run passes: a resumed run skips the work already saved
    for _ in range(KILLS_PER_STEP):
        at = rng.randint(1, max(1, left * 4 // 5))
        left = max(2, left - at + 1)
        trace.unlink(missing_ok=True)
        outcome = run_forked(fn, kill_at=at, trace=trace)
        assert outcome in ("killed", "done"), f"{name}: the run failed after a kill (point {at})"
        check_whole(run_dir)
        if outcome == "killed":
            killed += 1
            where.append(trace.read_text().splitlines()[-1].split("\t", 1)[1])
    assert run_forked(fn) == "done", f"{name}: the final re-run failed"
    check_whole(run_dir)
    SURVIVED[name] = SURVIVED.get(name, 0) + killed
    print(f"{name}: {total} fault points in a full run, {killed} kills survived, at: {'; '.join(where)}")
    return killed


def store_rows(store_dir: Path) -> dict[str, torch.Tensor]:
    from interp.store import ActivationStore

    data = ActivationStore.open(store_dir).read_all()
    order = torch.argsort(data["traj_id"] * 10_000 + data["t"])
    return {k: v[order] for k, v in data.items()}


@pytest.mark.slow
def test_re_control_collect_label_and_train_value_survive_sigkill(stories, tmp_path):
    from methods.re_control import REControlConfig
    from methods.re_control.pipeline import _Lazy, run_collect, run_label, run_train_value

    cfg = REControlConfig(model="stories260k", dataset="rt-polarity-prompts", reward="vader-sentiment", device="cpu",
                          n_train=16, max_new_tokens=6, batch_size=2, do_sample=True, seed=3,
                          depth=1, width=16, epochs=10, train_batch_size=4, lr=3e-3)
    ref, run = tmp_path / "ref", tmp_path / "faulted"
    rng = random.Random(20240611)
    steps = {
        "re-control collect": lambda d: run_collect(cfg, d, lazy=_Lazy(cfg, stories), progress=False),
        "re-control label": lambda d: run_label(cfg, d, lazy=_Lazy(cfg, stories), chunk=5),
        "re-control train-value": lambda d: run_train_value(cfg, d, progress=False),
    }
    killed = 0
    for name, step in steps.items():
        total = count_points(lambda: step(ref), tmp_path / "trace")
        killed += kill_and_resume(name, lambda: step(run), run, total, rng)
    assert killed >= 15

    a, b = store_rows(ref / "collect" / "states"), store_rows(run / "collect" / "states")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bitwise: every chunk is regenerated with its own seed
    assert read_jsonl(ref / "collect" / "trajectories.jsonl") == read_jsonl(run / "collect" / "trajectories.jsonl")
    assert read_jsonl(ref / "label" / "labels.jsonl") == read_jsonl(run / "label" / "labels.jsonl")
    wa = load_tensors(ref / "train-value" / "value.safetensors")
    wb = load_tensors(run / "train-value" / "value.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # bitwise
    assert read_json(ref / "train-value" / "history.json") == read_json(run / "train-value" / "history.json")
    ma, mb = read_json(ref / "train-value" / "metrics.json"), read_json(run / "train-value" / "metrics.json")
    assert ma["val_loss"] == mb["val_loss"] and ma["best_epoch"] == mb["best_epoch"]
    assert not (run / "train-value" / "checkpoints").exists()


@pytest.mark.slow
def test_reprpo_train_survives_sigkill(stories, tmp_path):
    from methods.reprpo.config import ReprPOConfig
    from methods.reprpo.pipeline import run_train

    cfg = ReprPOConfig(model="stories260k", method="mse", transform="hra", lr=1e-2, warmup_steps=1, schedule="cosine",
                       batch_size=2, epochs=2, max_length=48, max_prompt_length=32, lora_r=4, lora_alpha=8, seed=3,
                       n_train=10, save_every=1, chat=False)
    ref, run = tmp_path / "ref", tmp_path / "faulted"
    rng = random.Random(7)
    total = count_points(lambda: run_train(cfg, ref, model=stories, progress=False), tmp_path / "trace")
    killed = kill_and_resume("reprpo train", lambda: run_train(cfg, run, model=stories, progress=False), run, total, rng)
    assert killed >= 5

    wa = load_tensors(ref / "train" / "adapter" / "adapter.safetensors")
    wb = load_tensors(run / "train" / "adapter" / "adapter.safetensors")
    assert wa.keys() == wb.keys()
    diff = max(float((wa[k] - wb[k]).abs().max()) for k in wa)
    print(f"reprpo: max |adapter difference| resumed vs uninterrupted = {diff:.3g}")
    assert diff <= 1e-6
    ha, hb = read_jsonl(ref / "train" / "history.jsonl"), read_jsonl(run / "train" / "history.jsonl")
    assert [h["step"] for h in ha] == [h["step"] for h in hb]
    assert [h["loss"] for h in hb] == pytest.approx([h["loss"] for h in ha], abs=1e-6)
    assert not (run / "train" / "checkpoints").exists()


def teardown_module(module) -> None:
    if SURVIVED:
        print("kill points survived:", json.dumps(SURVIVED))


@pytest.mark.slow
def test_vas_value_training_survives_sigkill(tmp_path):
    from interp.io import save_tensors
    from methods.vas.rollouts import Rollout
    from methods.vas.train import TrainConfig, train_value_model
    from methods.vas.value_model import ValueConfig, ValueModel

    g = torch.Generator().manual_seed(0)
    rollouts = []
    for i in range(48):
        resp = torch.randint(3, 512, (int(torch.randint(3, 7, (1,), generator=g)),), generator=g).tolist()
        rollouts.append(Rollout(f"p{i}", [5, 6 + i % 7], "", resp, sum(t < 256 for t in resp) / len(resp)))

    ValueModel(ValueConfig("stories260k"), device="cpu")  # the lazy imports happen here once, not in every child

    def train(run_dir: Path) -> None:
        torch.manual_seed(0)
        value = ValueModel(ValueConfig("stories260k"), device="cpu")
        train_value_model(value, rollouts, TrainConfig(epochs=4, batch_size=8, lr=3e-3, val_fraction=0.25), pad_id=0,
                          progress=False, checkpoints=run_dir / "checkpoints")
        save_tensors(run_dir / "value.safetensors", value.trainable_state())

    ref, run = tmp_path / "ref", tmp_path / "faulted"
    total = count_points(lambda: train(ref), tmp_path / "trace")
    assert kill_and_resume("vas train", lambda: train(run), run, total, random.Random(11)) >= 4
    wa, wb = load_tensors(ref / "value.safetensors"), load_tensors(run / "value.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # bitwise


@pytest.mark.slow
def test_sae_training_survives_sigkill(tmp_path):
    import sae_lens  # noqa: F401 - imported once here, not in every forked child
    from sae_lens import SAETrainer  # noqa: F401

    from interp.sae import save_sae, train_sae
    from interp.sae.data import tensor_provider
    from interp.sae.train import SAETrainConfig

    acts = torch.randn(600, 16, generator=torch.Generator().manual_seed(0))
    cfg = SAETrainConfig(architecture="topk", expansion=2, k=4, batch_size=32, training_tokens=32 * 16,
                         n_batches_for_norm_estimate=3, dead_feature_window=8, lr_warm_up_steps=3, lr_decay_steps=10)

    def train(run_dir: Path) -> None:
        sae = train_sae(tensor_provider(acts, 32, seed=1), 16, cfg, checkpoints=run_dir / "checkpoints",
                        checkpoint_every=4)
        save_sae(sae, run_dir / "sae")

    ref, run = tmp_path / "ref", tmp_path / "faulted"
    total = count_points(lambda: train(ref), tmp_path / "trace")
    assert kill_and_resume("sae training", lambda: train(run), run, total, random.Random(5)) >= 4
    wa = load_tensors(ref / "sae" / "sae_weights.safetensors")
    wb = load_tensors(run / "sae" / "sae_weights.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # bitwise


# ---- a full disk (issue 20, item 4): one line that says what to do, the files stay whole, the resume is exact ---
# safetensors' own error on a full disk (measured writing to a 64 kB tmpfs); JSON writes raise OSError(ENOSPC)
ENOSPC = "Error while serializing: I/O error: No space left on device (os error 28)"


@contextlib.contextmanager
def disk_full_from(n: int):
    """Every safetensors write from the n-th on fails as it does when the disk is full."""
    import interp.io as io_module
    from safetensors import SafetensorError

    real, calls = io_module.save_file, [0]

    def save_file(*a, **k):
        calls[0] += 1
        if calls[0] >= n:
            raise SafetensorError(ENOSPC)
        return real(*a, **k)

    io_module.save_file = save_file
    try:
        yield calls
    finally:
        io_module.save_file = real


def cli(argv: list[str]) -> tuple[int, str]:
    """`interp ARGV` in this process: exit code and what the user reads on stderr."""
    from app.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, err.getvalue()


def one_line_error(rc: int, err: str, *says: str) -> None:
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert rc == 2 and last.startswith("interp: error: ") and "Traceback" not in err, err
    assert all(s in last for s in says), last


@pytest.fixture
def stories_for_every_spec(stories, monkeypatch):
    """Commands load 'stories260k' by spec: hand them the session's model."""
    import interp
    import interp.models

    load = lambda spec=None, device=None, **kw: stories  # noqa: E731
    monkeypatch.setattr(interp.models, "load_model", load)
    monkeypatch.setattr(interp, "load_model", load)
    return stories


def test_disk_full_during_collect_is_one_line_and_the_resume_is_exact(stories_for_every_spec, tmp_path):
    """The collect's second shard hits a full disk: StoreWriter used to flush again on exit and hide the error
    behind an IndexError; now one line names the file, and the re-run ends where an uninterrupted run ends."""
    def argv(root: Path) -> list[str]:
        return ["re-control", "collect", "--run", "x", "--runs", str(root), "--model", "stories260k", "--dataset",
                "rt-polarity-prompts", "--n-train", "8", "--max-new-tokens", "4", "--batch-size", "2", "--do-sample",
                "--seed", "3", "--quiet"]

    full = tmp_path / "full"
    with disk_full_from(2) as calls:
        rc, err = cli(argv(full))
    assert calls[0] == 2, "the second shard is the one that failed"
    one_line_error(rc, err, "no space left on the device while writing", "shard-r000-", "run the same command again")
    check_whole(full)
    assert cli(argv(full))[0] == 0  # space again: the same command resumes
    assert cli(argv(tmp_path / "ref"))[0] == 0
    a, b = store_rows(tmp_path / "ref" / "x" / "collect" / "states"), store_rows(full / "x" / "collect" / "states")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bitwise
    assert read_jsonl(tmp_path / "ref" / "x" / "collect" / "trajectories.jsonl") == read_jsonl(
        full / "x" / "collect" / "trajectories.jsonl")


def test_disk_full_during_vas_train_is_one_line(stories_for_every_spec, tmp_path):
    """The first checkpoint of `vas train` hits a full disk: one line, not a SafetensorError traceback."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("once upon a time\nthe cat sat\nthe dog ran\nthe sun was\n")
    argv = ["vas", "train", "--model", "stories260k", "--prompts", str(prompts), "--max-new-tokens", "3", "--batch-size",
            "4", "--out", str(tmp_path / "vas"), "--adapter", "none", "--val-fraction", "0.25", "--epochs", "2"]
    with disk_full_from(1):
        rc, err = cli(argv)
    one_line_error(rc, err, "no space left on the device while writing", "checkpoints", "Free some space")
    check_whole(tmp_path / "vas")
    assert cli(argv)[0] == 0 and (tmp_path / "vas" / "train" / "metrics.json").exists()
