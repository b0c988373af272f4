"""Bad input gets a clear error, and nothing already written is harmed (issue 9, item 3).

One table, one test: every case runs a real command through the CLI (`app.cli.main(argv)`, in
process) or, where no command reaches the check, the API call a pipeline makes. For each case:
  - the exception is of the expected type, and it is one the CLI prints as a single
    "interp: error: ..." line (no traceback), and that line says what was wrong and what to do;
  - every file that existed before the command (the fixture runs, stores, data files, value
    models, and the cached model folder) has the same sha256 afterwards.
Cases that must succeed (prompts longer than the context) check the warning instead.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

import app.cli as cli
from interp.data._files import DataError
from interp.io import WeightsRefused
from interp.models.paths import cache_dir
from interp.runs import RunConfigMismatch
from interp.store.manifest import StoreMismatch
from interp.training_guard import NonFiniteLoss
from tests.forked import one_model_per_spec

S = "stories260k"  # d_model 64, 5 layers, 512 tokens, context 512
CLI_ERRORS = (ValueError, OSError, RuntimeError, KeyError)  # what app.cli.main prints as one line


# ---- running a command ------------------------------------------------------------------------
@dataclass
class Outcome:
    rc: int | None
    stderr: str
    error: BaseException | None
    warnings: list[str]


def run_cli(argv: list[str]) -> Outcome:
    """`main(argv)` in process, keeping what the user reads (stderr) and the exception behind it."""
    caught: list[BaseException] = []
    real = cli.build_parser

    def build():
        parser = real()
        parse = parser.parse_args

        def parse_args(a=None, ns=None):
            args = parse(a, ns)
            func = args.func

            def recorded(x):
                try:
                    return func(x)
                except BaseException as e:
                    caught.append(e)
                    raise
            args.func = recorded
            return args
        parser.parse_args = parse_args
        return parser

    err = io.StringIO()
    cli.build_parser = build
    try:
        with warnings.catch_warnings(record=True) as w, contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            rc = cli.main(argv)
    finally:
        cli.build_parser = real
    return Outcome(rc, err.getvalue(), caught[0] if caught else None, [str(x.message) for x in w])


def run_api(call: Callable[[], Any]) -> Outcome:
    try:
        call()
    except BaseException as e:  # noqa: BLE001 - checked by the test
        return Outcome(None, str(e), e, [])
    return Outcome(None, "", None, [])


def hashes(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ---- the workspace: fixture runs and data files, made once -----------------------------------------
class W:
    """Paths and helpers shared by the cases; fixture runs are made on first use."""

    def __init__(self, root: Path):
        self.root, self.runs, self.data = root, root / "runs", root / "data"
        self.data.mkdir(parents=True)
        self.prompts = self.file("prompts.txt", "once upon a time\nthe cat sat\nthe dog ran\nthe sun was\n")
        self._made: set[str] = set()
        self.genies = self.data_dir("genies", {"genies/short/train.json": json.dumps(SHORT),
                                               "genies/short/test.json": json.dumps(SHORT)})

    def file(self, name: str, text: str | bytes) -> Path:
        p = self.root / "files" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        return p

    def data_dir(self, name: str, files: dict[str, str | bytes]) -> Path:
        """A folder to point INTERP_DATA at, holding `files` (relative path -> content)."""
        root = self.data / name
        for rel, content in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith(".gz") and isinstance(content, str):
                content = gzip.compress(content.encode())
            p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return root

    def rc(self, run: str, *extra: str, step: str = "collect") -> list[str]:
        return ["re-control", step, "--run", run, "--runs", str(self.runs), "--model", S, "--dataset", "rt-polarity-prompts",
                "--reward", "vader-sentiment", "--n-train", "6", "--max-new-tokens", "3", "--batch-size", "6",
                "--epochs", "2", "--quiet", *extra]

    def rc_run(self) -> Path:
        """runs/rc: RE-Control collect, label and train-value finished."""
        if "rc" not in self._made:
            for step in ("collect", "label", "train-value"):
                out = run_cli(self.rc("rc", step=step))
                assert out.rc == 0, out.stderr
            self._made.add("rc")
        return self.runs / "rc"

    def rc_copy(self, name: str, steps=("collect", "label", "train-value")) -> Path:
        src, dst = self.rc_run(), self.runs / name
        if not dst.exists():
            for s in steps:
                shutil.copytree(src / s, dst / s)
        return dst

    def vas_args(self, out: str, *extra: str) -> list[str]:
        return ["vas", "train", "--model", S, "--prompts", str(self.prompts), "--max-new-tokens", "3", "--batch-size", "4",
                "--out", str(self.root / out), "--adapter", "none", "--val-fraction", "0.25", *extra]

    def vas_run(self) -> Path:
        if "vas" not in self._made:
            out = run_cli(self.vas_args("vas", "--epochs", "1"))
            assert out.rc == 0, out.stderr
            self._made.add("vas")
        return self.root / "vas"

    def reprpo(self, run: str, *extra: str) -> list[str]:
        """`reprpo train` on a tiny GENIES set of short pairs (run with INTERP_DATA=ws.genies)."""
        return ["reprpo", "train", "--model", S, "--source", "short", "--target", "short", "--random", "", "--n-train", "8",
                "--n-eval", "0", "--batch-size", "2", "--max-steps", "3", "--save-every", "1", "--runs-dir", str(self.runs),
                "--run", run, *extra]

    def store(self) -> Path:
        if "store" not in self._made:
            out = run_cli(["capture", "--model", S, "--prompts", str(self.prompts), "--site", "resid_post:1",
                           "--out", str(self.root / "store")])
            assert out.rc == 0, out.stderr
            self._made.add("store")
        return self.root / "store"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return W(tmp_path_factory.mktemp("bad-input"))


@pytest.fixture(scope="module", autouse=True)
def _one_model_per_spec():
    """Commands load models by spec; load each once for this module."""
    with one_model_per_spec():
        yield


# ---- fault injection for the NaN cases ------------------------------------------------------------
def nan_from_call(module, name: str, n: int, when: Callable[[], bool] = lambda: True):
    """Patch `module.name` so that its n-th call (counting calls where `when()`) returns NaNs."""
    real, calls = getattr(module, name), [0]

    def wrapped(*a, **k):
        out = real(*a, **k)
        if when():
            calls[0] += 1
            if calls[0] >= n:
                if isinstance(out, tuple):
                    return (out[0] * float("nan"), *out[1:])
                return out * float("nan")
        return out
    return real, wrapped


@contextlib.contextmanager
def patched(module, name: str, n: int, when: Callable[[], bool] = lambda: True):
    real, wrapped = nan_from_call(module, name, n, when)
    setattr(module, name, wrapped)
    try:
        yield
    finally:
        setattr(module, name, real)


def _rc_nan():
    import methods.re_control.train as m
    return patched(m, "bellman_terms", 2)  # the second training batch: epoch 1


def _vas_nan():
    import methods.vas.train as m
    return patched(m, "response_values", 2, when=torch.is_grad_enabled)  # training calls only (validation is no_grad)


def _reprpo_nan():
    import methods.reprpo.trainer as m
    return patched(m, "compute_loss", 2)  # step 1 (0-based): after the step-1 checkpoint


def finite_checkpoints(root: Path) -> list[int]:
    """Steps of the checkpoints under `root`, asserting each holds only finite tensors."""
    from interp.checkpoint import Checkpoints, load_state

    steps = []
    for folder in sorted(root.glob("step-*")):
        state = load_state(folder, "state")
        stack = [state]
        while stack:
            x = stack.pop()
            if isinstance(x, torch.Tensor) and x.is_floating_point():
                assert torch.isfinite(x).all(), f"{folder} holds a non-finite tensor"
            elif isinstance(x, dict):
                stack.extend(x.values())
            elif isinstance(x, (list, tuple)):
                stack.extend(x)
        steps.append(int(folder.name.split("-")[1]))
    assert Checkpoints(root).latest() is not None
    return steps


# ---- the cases ----------------------------------------------------------------------------------
@dataclass
class Case:
    setup: Callable[[W], list[str] | Callable[[], Any]]  # argv for the CLI, or an API call
    error: type[BaseException] | None  # None: the command must succeed
    says: tuple[str, ...]  # in the user-visible message (or, for error None, in a warning)
    env: dict[str, Callable[[W], str]] = field(default_factory=dict)
    inject: Callable[[], Any] | None = None  # a context manager active during the command
    then: Callable[[W, Outcome], None] | None = None  # extra checks afterwards


SHORT = [{"prompt": f"Say {w}.", "responses": {f"{w}!": 1.0, f"no {i}": 0.0}}
         for i, w in enumerate(["yes", "hello", "good", "fine", "sure", "ok", "thanks", "right"])]
HH_OK = json.dumps({"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"})


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _genies(ws: W, name: str, train: str | bytes) -> list[str]:
    ws.data_dir("genies", {f"genies/{name}/train.json": train, f"genies/{name}/test.json": json.dumps(SHORT)})
    return ws.reprpo(f"g-{name}", "--source", name)


def _collect_with_data(ws: W, name: str, dataset: str, files: dict[str, str | bytes]) -> list[str]:
    ws.current_data = ws.data_dir(name, files)
    return ws.rc(f"d-{name}", "--dataset", dataset)


def _jsonl(ws: W, name: str, text: str | bytes) -> list[str]:
    return ws.rc(f"j-{name}", "--dataset", f"jsonl:{ws.file(name + '.jsonl', text)}")


def _rc_value(ws: W, run: str, **cfg) -> list[str]:
    from methods.re_control.value import ValueConfig, ValueFunction

    run_dir = ws.rc_copy(run)
    ValueFunction(ValueConfig(**cfg)).save(run_dir / "train-value")  # as if copied in from another model's run
    return ws.rc(run, "--n-eval", "2", "--n-val", "1", "--no-baselines", "--no-tradeoff", step="evaluate")


def _vas_other_tokenizer(ws: W) -> list[str]:
    from methods.vas.value_model import ValueConfig, ValueModel

    folder = ws.root / "vas-llama"
    if not folder.exists():
        ValueModel(ValueConfig(backbone="tiny-random-llama", adapter="none", head="mlp"), device="cpu").save(folder / "train")
    return ["vas", "generate", "--model", S, "--prompt", "once upon", "--max-new-tokens", "2", "--value", f"{folder}:1.0",
            "--out", str(ws.root / "vas-gen")]


def _truncated_model(ws: W) -> Path:
    """A copy of the stories260k folder whose weights file was cut in half (an interrupted copy or download)."""
    from interp.models.registry import registered_folder

    folder = ws.root / "truncated-model"
    if not folder.exists():
        shutil.copytree(registered_folder(S), folder)
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder


def _sae(ws: W, d_in: int, **meta):
    from interp.models import load_model
    from interp.sae import SAETrainConfig, build_training_sae, load_sae, save_sae
    from interp.sae.metrics import ce_loss_recovered

    folder = ws.root / f"sae-{d_in}-{len(meta)}"
    save_sae(build_training_sae(SAETrainConfig(expansion=2, k=4, training_tokens=64, batch_size=64), d_in, meta), folder)
    return lambda: ce_loss_recovered(load_model(S), load_sae(folder), "resid_post:1", ["once upon a time"])


def _after_rc_nan(ws: W, out: Outcome) -> None:
    step = ws.runs / "rc-nan" / "train-value"
    assert not (step / "value.safetensors").exists() and not (step / "metrics.json").exists()
    assert finite_checkpoints(step / "checkpoints") == [1], "the last good checkpoint (after epoch 0) is kept"


def _after_vas_nan(ws: W, out: Outcome) -> None:
    step = ws.root / "vas-nan" / "train"
    assert not (step / "value.safetensors").exists() and not (step / "metrics.json").exists()
    assert finite_checkpoints(step / "checkpoints") == [1]


def _after_reprpo_nan(ws: W, out: Outcome) -> None:
    step = ws.runs / "rp-nan" / "train"
    assert not (step / "metrics.json").exists() and not (step / "adapter").exists()
    assert finite_checkpoints(step / "checkpoints") == [1]


def _reprpo_nan_run(ws: W) -> list[str]:
    return ws.reprpo("rp-nan")


def _reprpo_mismatch(ws: W) -> list[str]:
    if not (ws.runs / "rp-nan" / "train" / "config.json").exists():  # made by the NaN case when run in order
        import os

        old = os.environ.get("INTERP_DATA")
        os.environ["INTERP_DATA"] = str(ws.genies)
        try:
            with _reprpo_nan():
                run_cli(ws.reprpo("rp-nan"))
        finally:
            os.environ.pop("INTERP_DATA") if old is None else os.environ.__setitem__("INTERP_DATA", old)
    return ws.reprpo("rp-nan", "--seed", "5")


def _vas_nan_setup(ws: W) -> list[str]:
    src = ws.vas_run() / "rollouts"
    if not (ws.root / "vas-nan" / "rollouts").exists():
        shutil.copytree(src, ws.root / "vas-nan" / "rollouts")  # finished sampling: only training runs
    return ws.vas_args("vas-nan", "--epochs", "3")


def _long_prompt_then(ws: W, out: Outcome) -> None:
    rows = [json.loads(x) for x in (ws.root / "long.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["response"] is not None


GENIES = {"INTERP_DATA": lambda ws: str(ws.genies)}
CASES: dict[str, Case] = {
    # -- data files: jsonl, prompt files, HH-RLHF, GENIES, rt-polarity ------------------------------
    "jsonl: malformed line": Case(lambda ws: _jsonl(ws, "bad", '{"prompt": "a"}\n{"prompt": oops\n'),
                                  DataError, ("bad.jsonl, line 2", "not valid JSON")),
    "jsonl: empty file": Case(lambda ws: _jsonl(ws, "empty", ""), DataError, ("empty.jsonl", "file is empty")),
    "jsonl: missing field": Case(lambda ws: _jsonl(ws, "nofield", '{"prompt": "a"}\n{"text2": "b"}\n'),
                                 DataError, ("line 2", "missing field 'prompt'", "fields present: 'text2'")),
    "jsonl: not UTF-8": Case(lambda ws: _jsonl(ws, "latin", b'{"prompt": "caf\xe9"}\n'), DataError,
                             ("latin.jsonl, line 1", "not valid utf-8")),
    "jsonl: cannot tell the kind": Case(lambda ws: _jsonl(ws, "kind", '{"question": "a"}\n'), DataError,
                                        ("cannot tell what this file holds", "prompt/chosen/rejected")),
    "prompt file: malformed line": Case(
        lambda ws: ["generate", "--model", S, "--prompts", str(ws.file("p-bad.jsonl", '{"prompt": "x"}\n{oops\n'))],
        ValueError, ("p-bad.jsonl, line 2", "not valid JSON")),
    "prompt file: empty": Case(
        lambda ws: ["capture", "--model", S, "--prompts", str(ws.file("p-empty.txt", "\n\n")), "--site", "resid_post:1",
                    "--out", str(ws.root / "store-empty")],
        ValueError, ("p-empty.txt holds no prompts",)),
    "prompt file: missing": Case(
        lambda ws: ["generate", "--model", S, "--prompts", str(ws.root / "no-such.txt")],
        FileNotFoundError, ("no-such.txt does not exist",)),
    "HH: dialogue without an assistant turn": Case(
        lambda ws: _collect_with_data(ws, "hh-noturn", "hh-rlhf", {"hh-rlhf/harmless-base-test.jsonl.gz": json.dumps(
            {"chosen": "\n\nHuman: hi there", "rejected": "\n\nHuman: hi\n\nAssistant: no"}) + "\n"}),
        DataError, ("harmless-base-test.jsonl.gz, line 1", "field 'chosen'", "no '\\n\\nAssistant:' turn"),
        env={"INTERP_DATA": lambda ws: str(ws.current_data)}),
    "HH: empty file": Case(
        lambda ws: _collect_with_data(ws, "hh-empty", "hh-rlhf", {"hh-rlhf/harmless-base-test.jsonl.gz": ""}),
        DataError, ("harmless-base-test.jsonl.gz", "file is empty"), env={"INTERP_DATA": lambda ws: str(ws.current_data)}),
    "HH: missing field": Case(
        lambda ws: _collect_with_data(ws, "hh-field", "hh-rlhf", {"hh-rlhf/harmless-base-test.jsonl.gz": HH_OK + "\n" + json.dumps(
            {"chosen": "\n\nHuman: a\n\nAssistant: b"}) + "\n"}),
        DataError, ("line 2", "missing field 'rejected'"), env={"INTERP_DATA": lambda ws: str(ws.current_data)}),
    "HH: truncated gzip": Case(
        lambda ws: _collect_with_data(ws, "hh-trunc", "hh-rlhf", {"hh-rlhf/harmless-base-test.jsonl.gz":
                                                                    _half(gzip.compress(((HH_OK + "\n") * 200).encode()))}),
        DataError, ("harmless-base-test.jsonl.gz", "not a complete gzip file", "fetch it again"),
        env={"INTERP_DATA": lambda ws: str(ws.current_data)}),
    "GENIES: malformed JSON": Case(lambda ws: _genies(ws, "badjson", '[{"prompt": "x", '), DataError,
                                   ("badjson/train.json, line 1", "not valid JSON"),
                                   env=GENIES),
    "GENIES: empty file": Case(lambda ws: _genies(ws, "emptyg", ""), DataError, ("emptyg/train.json", "file is empty"),
                               env=GENIES),
    "GENIES: not a list": Case(lambda ws: _genies(ws, "dictg", '{"prompt": "x"}'), DataError,
                               ("dictg/train.json", "expected a JSON list of items, got dict"),
                               env=GENIES),
    "GENIES: no preferred response": Case(
        lambda ws: _genies(ws, "nopref", json.dumps([{"prompt": "x", "responses": {"a": 0.0, "b": 0.5}}])),
        DataError, ("nopref/train.json, item 0", "needs a response scored 1.0"),
        env=GENIES),
    "rt-polarity: empty file": Case(
        lambda ws: _collect_with_data(ws, "rt-empty", "rt-polarity-prompts", {"rt-polarity/rt-polarity.pos": "a good film\n",
                                                                             "rt-polarity/rt-polarity.neg": ""}),
        DataError, ("rt-polarity.neg", "file is empty"), env={"INTERP_DATA": lambda ws: str(ws.current_data)}),
    "rt-polarity: missing file, hub off": Case(
        lambda ws: _collect_with_data(ws, "rt-missing", "rt-polarity-prompts", {"rt-polarity/rt-polarity.pos": "a good film\n"}),
        FileNotFoundError, ("rt-polarity.neg", "hub is off", "point INTERP_DATA at a folder"),
        env={"INTERP_DATA": lambda ws: str(ws.current_data)}),
    # -- model specs ----------------------------------------------------------------------------
    "model: unknown name": Case(lambda ws: ["model", "info", "no-such-model"], ValueError,
                                ("'no-such-model' is not a registered name", "stories260k", "local Hugging Face model folder")),
    "model: missing folder (pipeline)": Case(lambda ws: ws.rc("m-missing", "--model", str(ws.root / "nope")),
                                             FileNotFoundError, ("model folder", "nope' does not exist")),
    "model: truncated safetensors (issue 20)": Case(lambda ws: ["generate", "--model", str(_truncated_model(ws)),
                                                                "--prompt", "hi"],
                                                    WeightsRefused, ("model.safetensors", "is truncated")),
    "model: folder without config.json": Case(
        lambda ws: ["generate", "--model", str(ws.file("not-a-model/README", "x").parent), "--prompt", "hi"],
        ValueError, ("not-a-model", "holds no config.json")),
    # -- value models and SAEs of another width or tokenizer ---------------------------------------
    "RE-Control value function: other width": Case(
        lambda ws: _rc_value(ws, "v-width", d_model=32, model="smollm2-135m-instruct", tokenizer_size=512),
        ValueError, ("d_model=32", "'stories260k' has d_model=64", "retrain it")),
    "RE-Control value function: other tokenizer": Case(
        lambda ws: _rc_value(ws, "v-tok", d_model=64, model="tiny-random-llama", tokenizer_size=259),
        ValueError, ("tokenizer of 259 tokens", "has 512", "tokenizers must match")),
    "VAS value model: other tokenizer": Case(_vas_other_tokenizer, ValueError,
                                             ("backbone 'tiny-random-llama'", "259 tokens", "has 512", "must match")),
    "VAS value spec without beta": Case(
        lambda ws: ["vas", "generate", "--model", S, "--prompt", "hi", "--value", str(ws.root / "vas")],
        ValueError, ("expected PATH:BETA",)),
    "SAE: other width": Case(lambda ws: _sae(ws, 32), ValueError, ("SAE was trained for d_model=32", "has d_model=64")),
    "SAE: other tokenizer": Case(lambda ws: _sae(ws, 64, tokenizer_size=259, model_name="tiny-random-llama"), ValueError,
                                 ("SAE was trained with a tokenizer of 259 tokens", "has 512")),
    # -- sites ----------------------------------------------------------------------------------
    "site: layer past the end": Case(
        lambda ws: ["capture", "--model", S, "--prompts", str(ws.prompts), "--site", "resid_post:99", "--out", str(ws.root / "s1")],
        ValueError, ("resid_post(99) is outside the model", "layers run 0..4")),
    "site: negative layer past the start": Case(
        lambda ws: ["generate", "--model", S, "--prompt", "hi", "--steer-site", "mlp_out:-9", "--steer-positive", "good",
                    "--steer-negative", "bad", "--max-new-tokens", "2"],
        ValueError, ("mlp_out(-9) is outside the model", "-5..-1")),
    "site: outside the model in a pipeline": Case(lambda ws: ws.rc("site-99", "--site", "resid_post:99"), ValueError,
                                                  ("resid_post(99) is outside the model",)),
    "site: unknown kind": Case(
        lambda ws: ["capture", "--model", S, "--prompts", str(ws.prompts), "--site", "resid_pots:1", "--out", str(ws.root / "s2")],
        ValueError, ("unknown site kind 'resid_pots'", "resid_post")),
    "ReprPO layers outside the model": Case(
        lambda ws: ws.reprpo("rp-layers", "--method", "mse", "--layers", "50:60"), ValueError,
        ("layer 50 is outside the model", "0..4"), env=GENIES),
    # -- prompts longer than the context: truncated with a warning, not a crash ---------------------
    "prompt longer than the context": Case(
        lambda ws: ["generate", "--model", S, "--prompt", "once upon a time " * 200, "--max-new-tokens", "3",
                    "--out", str(ws.root / "long.jsonl")],
        None, ("longer than", "truncated"), then=_long_prompt_then),
    "prompts longer than --max-length": Case(
        lambda ws: ["capture", "--model", S, "--prompts", str(ws.prompts), "--site", "resid_post:1", "--max-length", "2",
                    "--out", str(ws.root / "store-short")],
        None, ("exceed 2 tokens", "keeping their last 2")),
    # -- a loss that turns NaN: stop, name the step, keep the last good checkpoint --------------------
    "NaN loss: RE-Control train-value": Case(
        lambda ws: (ws.rc_copy("rc-nan", ("collect", "label")), ws.rc("rc-nan", "--epochs", "3", step="train-value"))[1],
        NonFiniteLoss, ("Bellman loss is nan at epoch 1, batch 0", "last good checkpoint is kept", "--lr"),
        inject=_rc_nan, then=_after_rc_nan),
    "NaN loss: VAS train": Case(_vas_nan_setup, NonFiniteLoss, ("TD loss is nan at epoch 1, batch 0", "last good checkpoint"),
                                inject=_vas_nan, then=_after_vas_nan),
    "NaN loss: ReprPO train": Case(_reprpo_nan_run, NonFiniteLoss, ("dpo loss is nan at step 1", "last good checkpoint"),
                                   env=GENIES, inject=_reprpo_nan, then=_after_reprpo_nan),
    # -- a run directory written by another config: refused unless --force ---------------------------
    "other config: RE-Control collect": Case(lambda ws: (ws.rc_run(), ws.rc("rc", "--seed", "1"))[1], RunConfigMismatch,
                                             ("rc/collect was written with another config", "differs in: seed", "--force")),
    "other config: VAS train": Case(lambda ws: (ws.vas_run(), ws.vas_args("vas", "--epochs", "1", "--lr", "0.5"))[1],
                                    RunConfigMismatch, ("vas/train was written with another config", "--force")),
    "other config: ReprPO train": Case(_reprpo_mismatch, RunConfigMismatch,
                                       ("rp-nan/train was written with another config", "differs in", "--force"), env=GENIES),
    "other config: activation store": Case(
        lambda ws: (ws.store(), ["capture", "--model", S, "--prompts", str(ws.prompts), "--site", "resid_post:2",
                                 "--out", str(ws.root / "store")])[1],
        StoreMismatch, ("store (rank 0) was written with another configuration", "pass --force")),
    # -- damaged run files and names --------------------------------------------------------------
    "damaged value.json in a run": Case(
        lambda ws: ((ws.rc_copy("v-json") / "train-value" / "value.json").write_text('{"kind": "re-con'),
                    ws.rc("v-json", "--n-eval", "2", "--no-baselines", "--no-tradeoff", step="evaluate"))[1],
        ValueError, ("value.json is not valid JSON", "delete it or re-run the step")),
    "pickled weights in a run": Case(
        lambda ws: (torch.save({"w": torch.zeros(1)}, ws.rc_copy("v-pt") / "train-value" / "value.safetensors"),
                    ws.rc("v-pt", "--n-eval", "2", "--no-baselines", "--no-tradeoff", step="evaluate"))[1],
        WeightsRefused, ("value.safetensors is not a valid safetensors file", "looks like a pickle")),
    "run name escaping the runs directory": Case(lambda ws: ws.rc("../escape"), ValueError,
                                                 ("invalid run name '../escape'", "no '..'")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, ws, monkeypatch):
    case = CASES[name]
    monkeypatch.delenv("INTERP_DEBUG", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    target = case.setup(ws)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v(ws))
    model_cache = cache_dir() / "models" / S
    before = hashes(ws.root, model_cache)
    assert before, "the workspace holds files to protect"
    with case.inject() if case.inject else contextlib.nullcontext():
        out = run_api(target) if callable(target) else run_cli(target)
    if case.error is None:
        assert out.rc == 0 and out.error is None, out.stderr
        shown = " | ".join(out.warnings)
        assert all(s in shown for s in case.says), f"warnings: {shown}"
    else:
        assert isinstance(out.error, case.error), f"{type(out.error).__name__}: {out.error}\n{out.stderr}"
        assert isinstance(out.error, CLI_ERRORS), "the CLI would print a traceback, not one clear line"
        if not callable(target):
            last = out.stderr.replace("\r", "\n").strip().splitlines()[-1]  # after any progress bars
            assert out.rc == 2 and last.startswith("interp: error: "), out.stderr
            assert "Traceback" not in out.stderr
        message = last if not callable(target) else str(out.error)
        missing = [s for s in case.says if s not in message]
        assert not missing, f"message lacks {missing}: {message}"
    after = hashes(ws.root, model_cache)
    changed = [p for p, h in before.items() if after.get(p) != h]
    assert not changed, f"pre-existing files changed or removed: {changed}"
    if case.then:
        case.then(ws, out)


def test_every_item_3_kind_is_covered():
    """The table spans every kind of bad input issue 9 names (and says how many inputs it tries)."""
    kinds = ["jsonl", "HH", "GENIES", "rt-polarity", "model:", "value", "SAE", "site", "longer than", "NaN loss",
             "other config"]
    for k in kinds:
        assert any(k in name for name in CASES), k
    assert len(CASES) >= 40


# ---- issue 20: bad flags and settings, refused in one line before anything is written ------------------
def _config_file(ws: W, name: str, values: dict) -> str:
    return str(ws.file(name, json.dumps(values)))


def _gen(*extra: str) -> list[str]:
    return ["generate", "--model", S, "--prompt", "once upon", "--max-new-tokens", "2", *extra]


STEER = ("--steer-site", "resid_post:1", "--steer-positive", "good", "--steer-negative", "bad")
FLAG_CASES: dict[str, tuple[Callable[[W], list[str]], tuple[str, ...]]] = {
    # item 6, as measured: "all but 3" prompts, ZeroDivisionError, range() arg 3, exit 0 with no output, ...
    "--n-train -3": (lambda ws: ws.rc("f-neg", "--n-train", "-3"), ("n_train", "at least 1", "-3")),
    "--n-train 0": (lambda ws: ws.rc("f-zero", "--n-train", "0"), ("n_train", "at least 1", "0")),
    "--batch-size 0": (lambda ws: ws.rc("f-batch", "--batch-size", "0"), ("batch_size", "at least 1")),
    "generate --batch-size -1": (lambda ws: _gen("--batch-size", "-1"), ("--batch-size", "at least 1", "-1")),
    "generate --max-new-tokens -5": (lambda ws: _gen("--max-new-tokens", "-5"), ("--max-new-tokens", "at least 1")),
    "generate --temperature -1": (lambda ws: _gen("--do-sample", "--temperature", "-1"), ("--temperature", "above 0")),
    "generate --scale nan": (lambda ws: _gen(*STEER, "--scale", "nan"), ("--scale", "finite number", "nan")),
    "vas train --epochs -1": (lambda ws: ws.vas_args("f-vas", "--epochs", "-1"), ("--epochs", "at least 1")),
    "capture --max-length -3": (
        lambda ws: ["capture", "--model", S, "--prompts", str(ws.prompts), "--site", "resid_post:1", "--max-length", "-3",
                    "--out", str(ws.root / "f-store")], ("--max-length", "at least 1")),
    "--config with do_sample \"false\"": (
        lambda ws: ws.rc("f-config", "--config", _config_file(ws, "sample.json", {"do_sample": "false"})),
        ("do_sample must be true or false", '"false"', "nothing was written")),
    # the same rules on other flags and settings
    "re-control --temperature -1": (lambda ws: ws.rc("f-temp", "--temperature", "-1"), ("temperature", "above 0")),
    "re-control --lr nan": (lambda ws: ws.rc("f-lr", "--lr", "nan"), ("--lr", "finite number")),
    "re-control --config with a probability of 2": (
        lambda ws: ws.rc("f-prob", "--config", _config_file(ws, "prob.json", {"val_fraction": 2})),
        ("val_fraction", "in [0, 1]", "2")),
    "--config with a count as text": (
        lambda ws: ws.rc("f-text", "--config", _config_file(ws, "text.json", {"n_train": "6"})),
        ("n_train must be a whole number", '"6"')),
    "vas run with an evaluation temperature of 0": (
        lambda ws: ["vas", "rollouts", "--run", "f-vasrun", "--runs", str(ws.runs), "--model", S, "--eval-temperature",
                    "0"], ("eval.temperature", "above 0")),
    "divergence run --p-value 2": (
        lambda ws: ["divergence", "run", "--run", "f-div", "--runs", str(ws.runs), "--small", "--p-value", "2"],
        ("--p-value", "in [0, 1]")),
    "reward train --lr -1": (
        lambda ws: ["reward", "train", "--data", "hh-rlhf", "--out", str(ws.root / "f-rm"), "--lr", "-1"],
        ("--lr", "above 0")),
}


@pytest.mark.parametrize("name", list(FLAG_CASES))
def test_bad_flag_is_one_line(name, ws, monkeypatch):
    monkeypatch.delenv("INTERP_DEBUG", raising=False)
    setup, says = FLAG_CASES[name]
    argv = setup(ws)
    before = hashes(ws.root)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(argv)
    except SystemExit as e:  # argparse refuses a flag's value itself
        rc = e.code
    text = err.getvalue().strip()
    assert rc == 2, f"exit {rc}: {text}"
    assert "\n" not in text and "Traceback" not in text and text.startswith("interp"), text
    assert "error:" in text
    missing = [s for s in says if s not in text]
    assert not missing, f"message lacks {missing}: {text}"
    assert hashes(ws.root) == before, "a refused command wrote or changed files"
