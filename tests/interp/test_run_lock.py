"""One writer per run directory (issue 20, item 1), with two real processes on one run.

The first writer is a forked child running a real command (`app.cli.main`, the models loaded once by
this module and inherited). It stops at a gate inside its step, after it took the run's lock and
wrote the step's config.json: exactly the moment a second writer used to take the step over. The
second writer is the same or another command run here, in this process. It must be refused at once
with one line naming the child's pid and command, and change nothing; the child then finishes with
its own settings. A child killed with SIGKILL leaves a stale lock that the next writer takes over.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import select
import signal
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

import app.cli as cli
from interp.runs import LOCK_FILE, NestedRun, RunBusy, holds_lock, writing
from tests.forked import exit_with, one_model_per_spec

S = "stories260k"


@pytest.fixture(scope="module", autouse=True)
def _one_model_per_spec():
    """Commands load models by spec; load each once here, so a forked writer starts in milliseconds."""
    with one_model_per_spec(S):
        cli.build_parser()  # imports every command group once, before any fork
        yield


class Writer:
    """A forked child running `interp ARGV` (or `call()`, an API call), held at the first call of `owner.name`
    until released."""

    def __init__(self, argv: list[str], owner, name: str, call: Callable[[], object] | None = None):
        self.argv = argv
        ready_r, ready_w = os.pipe()
        self._go_r, self._go_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into pytest
            def body() -> int:
                os.close(ready_r)
                os.close(self._go_w)
                torch.set_num_threads(1)
                real = getattr(owner, name)

                def gate(*a, **k):
                    setattr(owner, name, real)
                    os.write(ready_w, b"1")
                    os.read(self._go_r, 1)  # until the test releases it (or kills it)
                    return real(*a, **k)

                setattr(owner, name, gate)
                if call is not None:
                    call()
                    return 0
                sys.argv = ["interp", *argv]  # what a real `interp ...` process has
                return cli.main(argv)

            exit_with(body)
        os.close(ready_w)
        os.close(self._go_r)
        ready, _, _ = select.select([ready_r], [], [], 120)
        assert ready and os.read(ready_r, 1) == b"1", "the first writer never reached its step"
        os.close(ready_r)

    def release(self) -> int:
        os.write(self._go_w, b"1")
        os.close(self._go_w)
        _, status = os.waitpid(self.pid, 0)
        return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self._go_w)


def run_cli(argv: list[str]) -> tuple[int, str, BaseException | None]:
    """`interp ARGV` in this process: exit code, stderr, and the exception behind a refusal."""
    caught: list[BaseException] = []
    real = cli.one_line

    def keep(e):
        caught.append(e)
        return real(e)

    err = io.StringIO()
    cli.one_line = keep
    try:
        with contextlib.redirect_stderr(err):
            rc = cli.main(argv)
    finally:
        cli.one_line = real
    return rc, err.getvalue(), caught[0] if caught else None


def hashes(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def refused(argv: list[str], holder: Writer, root: Path) -> str:
    """Run `argv` against the run `holder` writes: refused at once, in one line naming it; nothing changed."""
    before = hashes(root)
    rc, err, error = run_cli(argv)
    assert isinstance(error, RunBusy), f"{type(error).__name__}: {error}\n{err}"
    line = err.strip()
    assert rc == 2 and "\n" not in line and line.startswith("interp: error: "), err
    assert f"pid {holder.pid}" in line, line
    assert not holder.argv or f"interp {' '.join(holder.argv[:2])}" in line, line
    assert hashes(root) == before, "a refused writer changed files of the run"
    return line


# ---- the pieces ---------------------------------------------------------------------------------
def _rc(root: Path, run: str, *extra: str) -> list[str]:
    return ["re-control", "collect", "--run", run, "--runs", str(root), "--model", S, "--dataset", "rt-polarity-prompts",
            "--n-train", "8", "--max-new-tokens", "4", "--batch-size", "4", "--do-sample", "--quiet", *extra]


def test_concurrent_collects_with_two_seeds_never_mix(tmp_path):
    """Item 1, first case: the second collect (seed 1) is refused while the first (seed 0) writes; the step ends
    with seed 0's config and seed 0's responses only (a second identical collect is refused the same way)."""
    from interp.store.writer import StoreWriter

    root = tmp_path / "runs"
    first = Writer(_rc(root, "x", "--seed", "0"), StoreWriter, "append")
    assert (root / "x" / "collect" / "config.json").exists()  # the step the second writer used to take over
    line = refused(_rc(root, "x", "--seed", "1"), first, root)
    assert "--seed 0" in line and "wait for it to finish" in line
    refused(_rc(root, "x", "--seed", "0"), first, root)  # item 1, last case: not "no saved response ... --force"
    assert first.release() == 0
    collect = root / "x" / "collect"
    assert json.loads((collect / "config.json").read_text())["seed"] == 0 and (collect / "metrics.json").exists()

    ref = tmp_path / "ref"  # what seed 0 gives alone
    assert run_cli(_rc(ref, "x", "--seed", "0"))[0] == 0
    assert (collect / "trajectories.jsonl").read_text() == (ref / "x" / "collect" / "trajectories.jsonl").read_text()
    lock = json.loads((root / "x" / LOCK_FILE).read_text())
    assert lock["writer"] is None and "flock" in lock["about"]  # released: the file holds its idle text again


def test_a_lock_left_by_a_killed_writer_is_taken_over(tmp_path):
    from interp.store.writer import StoreWriter

    root = tmp_path / "runs"
    first = Writer(_rc(root, "x", "--seed", "0"), StoreWriter, "append")
    first.kill()  # SIGKILL: its lock file still names it, but the kernel released the lock
    assert json.loads((root / "x" / LOCK_FILE).read_text())["writer"]["pid"] == first.pid
    rc, err, _ = run_cli(_rc(root, "x", "--seed", "0"))
    assert rc == 0, err
    assert (root / "x" / "collect" / "metrics.json").exists()


def test_vas_train_twice_on_one_directory(tmp_path):
    """Item 1: two identical `vas train --out D` used to both write (last writer wins)."""
    import methods.vas.pipeline as vp

    prompts = tmp_path / "p.txt"
    prompts.write_text("once upon a time\nthe cat sat\nthe dog ran\nthe sun was\n")
    out = tmp_path / "vas"
    argv = ["vas", "train", "--model", S, "--prompts", str(prompts), "--max-new-tokens", "3", "--batch-size", "4",
            "--out", str(out), "--adapter", "none", "--val-fraction", "0.25", "--epochs", "1"]
    first = Writer(argv, vp, "sample_into")
    refused(argv, first, tmp_path)
    assert first.release() == 0
    assert (out / "train" / "metrics.json").exists()


def test_reward_train_while_another_writes_the_directory(tmp_path):
    """Item 1: `reward train --out D --hidden 0` while `reward train --out D` runs used to leave a head of one
    config under the other's config.json."""
    import interp.rewards.train as rt

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"q{i}", "chosen": f"good answer {i}", "rejected": f"bad {i}"}) + "\n"
                             for i in range(12)))
    out = tmp_path / "rm"
    argv = ["reward", "train", "--data", f"jsonl:{pairs}", "--out", str(out), "--encoder", f"model:{S}",
            "--epochs", "3", "--patience", "2"]
    first = Writer(argv, rt, "load_encoder")
    refused([*argv, "--hidden", "0"], first, tmp_path)
    assert first.release() == 0
    assert json.loads((out / "train" / "config.json").read_text())["hidden"] == 64
    from interp.rewards import get_reward

    assert get_reward(f"rm:{out}")(["q"], ["good"]).shape == (1,)  # rm:D loads


def test_capture_into_a_store_another_capture_writes(tmp_path):
    from interp.store.writer import StoreWriter

    prompts = tmp_path / "p.txt"
    prompts.write_text("once upon a time\nthe cat sat\n")
    argv = ["capture", "--model", S, "--prompts", str(prompts), "--site", "resid_post:1", "--out", str(tmp_path / "st")]
    first = Writer(argv, StoreWriter, "append")
    refused(argv, first, tmp_path)
    assert first.release() == 0


# ---- API callers hold the lock for their whole write, not only while a step opens ------------------
def api_refused(call: Callable[[], object], holder: Writer, root: Path) -> str:
    """`call()` (the same API call as `holder`'s, other settings) while `holder` is inside its write: RunBusy at
    once, in one line naming the holder; nothing changed."""
    before = hashes(root)
    with pytest.raises(RunBusy) as refusal:
        call()
    line = str(refusal.value)
    assert "\n" not in line and f"pid {holder.pid}" in line and "wait for it to finish" in line, line
    assert hashes(root) == before, "a refused writer changed files of the run"
    return line


def test_reward_api_holds_the_lock_while_it_trains(tmp_path):
    """`train_reward_model` took the lock only inside `open_step`: a second call with --hidden 0 made while the
    first trained replaced its config.json (a config holding only config.json is "abandoned") and trained too."""
    import interp.rewards.train as rt
    from interp.data.types import PreferencePair
    from interp.rewards import get_reward
    from interp.rewards.bradley_terry import BTConfig

    pairs = [PreferencePair(prompt=f"q{i}", chosen=f"good answer {i}", rejected=f"bad {i}") for i in range(12)]
    out = tmp_path / "rm"

    def train(hidden: int):
        return rt.train_reward_model(pairs, out, BTConfig(encoder=f"model:{S}", hidden=hidden, max_epochs=3, patience=2),
                                     progress=False)

    first = Writer([], rt, "train_head", call=lambda: train(64))  # held after both steps opened
    api_refused(lambda: train(0), first, tmp_path)
    data = tmp_path / "pairs.jsonl"  # and the command, in one line
    data.write_text("".join(json.dumps(vars(p)) + "\n" for p in pairs))
    refused(["reward", "train", "--data", f"jsonl:{data}", "--out", str(out), "--encoder", f"model:{S}", "--hidden", "0"],
            first, out)
    assert first.release() == 0
    assert json.loads((out / "train" / "config.json").read_text())["hidden"] == 64
    assert get_reward(f"rm:{out}")(["q"], ["good"]).shape == (1,)


def test_collect_api_holds_the_lock_while_it_collects(tmp_path):
    """`interp.store.collect` took no lock at all: a second collection into the store ran beside the first."""
    import interp
    from interp.store import ActivationStore, collect
    from interp.store.writer import StoreWriter

    model = interp.load_model(S)
    texts = ["once upon a time", "the cat sat", "the dog ran"]
    store = tmp_path / "st"

    def fill(max_length: int | None):
        return collect(model, texts, ["resid_post:1"], store, batch_size=1, max_length=max_length, progress=False)

    first = Writer([], StoreWriter, "append", call=lambda: fill(None))
    api_refused(lambda: fill(3), first, tmp_path)
    assert first.release() == 0
    assert ActivationStore.open(store).n_rows == int(model.tokenize(texts)[1].sum())


def test_collect_api_into_a_step_holds_the_lock_of_the_steps_run(tmp_path):
    """A store inside a step is written under its run's lock: re-entrant under the protocol (no NestedRun), and a
    second writer of that run is refused while a collection into the step runs outside it."""
    from dataclasses import dataclass

    import interp
    from interp.pipeline import Pipeline, run
    from interp.store import collect
    from interp.store.writer import StoreWriter

    @dataclass
    class Cfg:
        n: int = 1

    model = interp.load_model(S)
    p = Pipeline("collector", Cfg)
    p.step(name="acts")(lambda ctx: {"rows": collect(model, ["a b c"], ["resid_post:1"], ctx.step_dir / "store",
                                                     progress=False).n_rows})
    root = tmp_path / "runs"
    assert run(p, Cfg(), root / "x")["acts"]["rows"] > 0
    store = root / "x" / "acts" / "store2"
    first = Writer([], StoreWriter, "append", call=lambda: collect(model, ["a b"], ["resid_post:1"], store, progress=False))
    line = api_refused(lambda: run(p, Cfg(n=2), root / "x", force=True), first, root)
    assert str(root / "x") in line
    assert first.release() == 0


@pytest.mark.parametrize("api", ["generate", "evaluate_step", "grid_step"])
def test_vas_api_holds_the_lock_while_it_writes(api, tmp_path):
    """VAS generate/evaluate/grid took the lock only inside `open_step`: a second call with another seed, made
    while the first loaded its value models, took the step's config.json over."""
    import interp
    import methods.vas.pipeline as vp
    from methods.vas.evaluate import EvalConfig

    model = interp.load_model(S)
    out, value = tmp_path / "vas", str(tmp_path / "value")  # the value model is never reached: the gate is first
    calls = {
        "generate": lambda seed: vp.generate(out, model, ["hi"], [(value, 1.0)], max_new_tokens=2, seed=seed),
        "evaluate_step": lambda seed: vp.evaluate_step(out, model, ["hi"], value, "vader-sentiment",
                                                       EvalConfig(seed=seed, max_new_tokens=2), progress=False),
        "grid_step": lambda seed: vp.grid_step(out, model, ["hi"], [value, value], ["a", "b"], [0.0, 1.0], [0.0, 1.0],
                                               EvalConfig(seed=seed, max_new_tokens=2), progress=False),
    }
    first = Writer([], vp.ValueModel, "load", call=lambda: calls[api](0))
    try:
        api_refused(lambda: calls[api](1), first, tmp_path)
    finally:
        first.kill()


def test_readers_need_no_lock_and_every_writer_command_is_refused(tmp_path):
    """While one process writes a run, `discover` (the explorer) and `divergence show` read it; the earlier
    spellings (`divergence run`, `vas evaluate|generate|grid`) and the generated ones are refused."""
    from app.explorer.rundata import discover
    from interp.store.writer import StoreWriter

    root = tmp_path / "runs"
    first = Writer(_rc(root, "x", "--seed", "0"), StoreWriter, "append")
    try:
        assert [(s.run, s.step) for s in discover(root)] == [("x", "collect")]
        rc, err, _ = run_cli(["divergence", "show", "--run", "x", "--runs", str(root)])
        assert rc == 2 and "no finished reward-divergence step" in err  # it read the run, never waited for the lock
        x = str(root / "x")
        for argv in (["divergence", "run", "--run", "x", "--runs", str(root), "--small"],
                     ["vas", "evaluate", "--model", S, "--value", x, "--out", x],
                     ["vas", "generate", "--model", S, "--prompt", "hi", "--value", f"{x}:1", "--out", x],
                     ["vas", "grid", "--model", S, "--value", x, "--value", x, "--rewards", "a,b", "--out", x]):
            refused(argv, first, root)
    finally:
        assert first.release() == 0


def test_the_lock_is_reentrant_in_one_process_and_names_its_writer(tmp_path):
    run = tmp_path / "r"
    with writing(run):
        assert holds_lock(run)
        with writing(run):  # a step that opens another step of its own run
            pass
        info = json.loads((run / LOCK_FILE).read_text())["writer"]
        assert info["pid"] == os.getpid() and "since" in info
    assert not holds_lock(run)
    assert json.loads((run / LOCK_FILE).read_text())["writer"] is None


def test_a_run_inside_another_runs_step_is_refused(tmp_path):
    """Item 7: after `--run outer` and `--run outer/collect`, `--run outer --force` deleted outer/collect/collect.
    Now the second run is refused (either order), before it writes anything."""
    from dataclasses import dataclass

    from interp.pipeline import Pipeline, run

    @dataclass
    class Cfg:
        n: int = 1

    p = Pipeline("nest", Cfg)
    p.step(name="collect")(lambda ctx: {"n": ctx.cfg.n})
    root = tmp_path / "runs"
    run(p, Cfg(), root / "outer")
    before = hashes(root)
    for inner in ("outer/collect", "outer/collect/deeper"):
        with pytest.raises(NestedRun, match=r"inside .*outer/collect, a step of the run .*outer"):
            run(p, Cfg(), root / inner)
    assert hashes(root) == before and not (root / "outer" / "collect" / LOCK_FILE).exists()
    run(p, Cfg(), root / "outer", force=True)  # what deleted the nested run before: its own step only
    # the other order: a run made first, then another run whose step would be that run's directory
    run(p, Cfg(), root / "b" / "collect")
    before = hashes(root)
    with pytest.raises(NestedRun, match="another run's directory"):
        run(p, Cfg(), root / "b", force=True)
    after = hashes(root)
    assert after.pop(str(root / "b" / LOCK_FILE)) and after == before  # only b's own (new) lock file was made
    rc, err, error = run_cli(_rc(root, "outer/collect", "--seed", "0"))  # the CLI says it in one line
    assert isinstance(error, NestedRun) and rc == 2 and err.count("\n") == 1 and "runs do not nest" in err
