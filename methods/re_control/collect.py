"""Step 1, collect: generate a response per training prompt and record the state at the site at every step.

interp.generate(capture_sites=[site]) returns n + 1 states for a response of n tokens: state t
predicts token t+1, and the state after the last token is kept (RE-Control's official code
dropped it). They go to an ActivationStore, one row per state with columns `traj_id` (the
prompt's index), `t` (the step) and `n_states` (the trajectory's length, tokens + 1). Responses
go to trajectories.jsonl. The store is written in chunks of prompts and resumes after a crash
from the prompts it has committed (sampling seeds are per chunk start, so a resumed run
generates what an uninterrupted one would have).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.generation import generate
from interp.io import read_jsonl, write_jsonl
from interp.sites import parse_site
from interp.store import ActivationStore
from methods.re_control.bellman import pad_trajectories

if TYPE_CHECKING:
    from interp.models.model import Model

STATES = "states"
TRAJECTORIES = "trajectories.jsonl"
COLUMNS = {"traj_id": torch.int64, "t": torch.int64, "n_states": torch.int64}


def collect_trajectories(
    model: "Model",
    prompts: Sequence[str],
    raw_prompts: Sequence[str],
    out_dir: str | Path,
    site: str = "final",
    batch_size: int = 16,
    shard_rows: int = 32768,
    progress: bool = True,
    **generation: Any,
) -> dict[str, Any]:
    """Generate from `prompts` (already rendered) and write states + responses into `out_dir`.

    `generation` goes to interp.generate (max_new_tokens, do_sample, temperature, seed, ...).
    Returns counts and timing for the step's metrics.
    """
    if len(prompts) != len(raw_prompts):
        raise ValueError(f"got {len(prompts)} rendered prompts but {len(raw_prompts)} raw prompts")
    site_ = parse_site(site).resolve(model)
    out_dir = Path(out_dir)
    parts = out_dir / "responses.parts"
    seed = generation.pop("seed", None)
    writer = ActivationStore.create(
        out_dir / STATES, [site_], model.d_model, dtype=torch.float32, columns=COLUMNS, model=model.spec,
        metadata={"n_prompts": len(prompts)}, shard_rows=shard_rows,
    )
    done = writer.items_done
    seconds, n_tokens = 0.0, 0
    bar = tqdm(total=len(prompts), initial=done, desc="collect", unit="prompt", disable=not progress)
    with writer:
        for start in range(done, len(prompts), batch_size):
            chunk = list(prompts[start:start + batch_size])
            gen = generate(model, chunk, capture_sites=[site_], batch_size=batch_size, chat=False, progress=False,
                           seed=None if seed is None else seed + start, **generation)
            states = gen.states[site_]
            rows = [{"traj_id": start + i, "prompt": raw_prompts[start + i], "rendered_prompt": chunk[i],
                     "response": gen.texts[i], "tokens": gen.tokens[i], "n_states": len(states[i])}
                    for i in range(len(chunk))]
            # responses first: a chunk whose states were not committed is regenerated and rewritten
            write_jsonl(parts / f"{start:08d}.jsonl", rows)
            writer.append(
                {site_.key: torch.cat(states).float()},
                {"traj_id": torch.cat([torch.full((len(s),), start + i) for i, s in enumerate(states)]),
                 "t": torch.cat([torch.arange(len(s)) for s in states]),
                 "n_states": torch.cat([torch.full((len(s),), len(s)) for s in states])},
                items=len(chunk),
            )
            seconds += gen.seconds
            n_tokens += sum(len(t) for t in gen.tokens)
            bar.update(len(chunk))
    bar.close()
    rows = _assemble(parts, len(prompts))
    write_jsonl(out_dir / TRAJECTORIES, rows)
    shutil.rmtree(parts, ignore_errors=True)
    lengths = [r["n_states"] for r in rows]
    return {
        "n_trajectories": len(rows), "site": site_.key, "d_model": model.d_model,
        "mean_response_tokens": sum(len(r["tokens"]) for r in rows) / len(rows),
        "max_states": max(lengths), "n_states": sum(lengths),
        "generation_seconds_this_run": seconds, "tokens_generated_this_run": n_tokens,
    }


def _assemble(parts: Path, n: int) -> list[dict]:
    by_id: dict[int, dict] = {}
    for f in sorted(parts.glob("*.jsonl")):
        for r in read_jsonl(f):
            by_id[int(r["traj_id"])] = r
    missing = [i for i in range(n) if i not in by_id]
    if missing:
        raise RuntimeError(
            f"{len(missing)} trajectories have states but no saved response (first: {missing[0]}) in {parts}; "
            "redo the collect step with --force"
        )
    return [by_id[i] for i in range(n)]


def load_trajectories(collect_dir: str | Path) -> tuple[Float[Tensor, "n pos d"], Int[Tensor, "n"], list[dict], str]:
    """(padded states, number of states per trajectory, trajectory rows, site key) of a collect step."""
    collect_dir = Path(collect_dir)
    if not (collect_dir / TRAJECTORIES).exists():
        raise FileNotFoundError(f"{collect_dir / TRAJECTORIES} does not exist; run `interp re-control collect` first")
    rows = read_jsonl(collect_dir / TRAJECTORIES)
    store = ActivationStore.open(collect_dir / STATES)
    if not store.complete:
        raise RuntimeError(f"the activation store {store.path} is incomplete; re-run the collect step to finish it")
    key = list(store.widths)[0]
    data = store.read_all()
    states, lengths = pad_trajectories(data[key], data["traj_id"], data["t"], len(rows))
    expected = torch.tensor([r["n_states"] for r in rows])
    stored = torch.zeros_like(expected).scatter_(0, data["traj_id"].long(), data["n_states"].long())
    if not (torch.equal(lengths, expected) and torch.equal(stored, expected)):
        raise RuntimeError(f"{store.path} and {TRAJECTORIES} disagree on trajectory lengths; redo collect with --force")
    return states, lengths, rows, key
