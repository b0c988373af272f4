"""Step 1, collect: generate a response per training prompt and record the state at the site at every step.

interp.generate(capture_sites=[site]) returns n + 1 states for a response of n tokens: state t
predicts token t+1, and the state after the last token is kept (RE-Control's official code
dropped it). They go to an ActivationStore, one row per state with columns `traj_id` (the
prompt's index), `t` (the step) and `n_states` (the trajectory's length, tokens + 1). Responses
go to trajectories.jsonl. The store is written in chunks of prompts and resumes after a crash
from the prompts it has committed (sampling seeds are per chunk start, so a resumed run
generates what an uninterrupted one would have).

Under `accelerate launch --num_processes N` rank r generates chunks r, r + N, r + 2N, ... into its
own shard series: every chunk is generated exactly as one process generates it, so the store
holds the same rows (in another order) and trajectories.jsonl is the same file.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp import distributed, faults
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
    commit_every: int = 1,
    **generation: Any,
) -> dict[str, Any]:
    """Generate from `prompts` (already rendered) and write states + responses into `out_dir`.

    `generation` goes to interp.generate (max_new_tokens, do_sample, temperature, seed, ...).
    States are committed every `commit_every` chunks of `batch_size` prompts (what a crash can
    lose). Every process of a multi-process launch calls this; returns counts and timing.
    """
    if len(prompts) != len(raw_prompts):
        raise ValueError(f"got {len(prompts)} rendered prompts but {len(raw_prompts)} raw prompts")
    if commit_every < 1:
        raise ValueError(f"commit_every must be at least 1, got {commit_every}")
    site_ = parse_site(site).resolve(model)
    out_dir = Path(out_dir)
    parts = out_dir / "responses.parts"
    seed = generation.pop("seed", None)
    rank, world = distributed.rank(), distributed.world_size()
    writer = ActivationStore.create(
        out_dir / STATES, [site_], model.d_model, dtype=torch.float32, columns=COLUMNS, model=model.spec,
        metadata={"n_prompts": len(prompts)}, shard_rows=shard_rows, rank=rank, world_size=world,
    )
    # whole chunks round-robin over ranks: chunk k is the same prompts and seed whatever the world size
    mine = [(s, min(s + batch_size, len(prompts))) for s in distributed.round_robin(range(0, len(prompts), batch_size), rank, world)]
    todo, skip = [], writer.items_done
    for start, end in mine:
        # a chunk committed in part (only a store written otherwise) resumes after its committed prompts
        cut = min(skip, end - start)
        skip -= cut
        if start + cut < end:
            todo.append((start + cut, end))
    if skip:
        raise RuntimeError(f"{out_dir / STATES} (rank {rank}) records {writer.items_done} prompts done, more than this "
                           "rank's share; redo the collect step with --force")
    seconds, n_tokens = 0.0, 0
    bar = tqdm(total=sum(e - s for s, e in mine), initial=writer.items_done, desc="collect", unit="prompt", disable=not (progress and rank == 0))
    with writer:
        for k, (start, end) in enumerate(todo, start=1):
            chunk = list(prompts[start:end])
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
            if k % commit_every == 0:
                writer.flush()  # a checkpoint: a crash from here on loses no chunk so far
            faults.point("collect chunk")
            seconds += gen.seconds
            n_tokens += sum(len(t) for t in gen.tokens)
            bar.update(len(chunk))
    bar.close()
    counts = distributed.all_reduce_sum(torch.tensor([seconds, float(n_tokens)], dtype=torch.float64))
    distributed.barrier()
    if distributed.is_main():
        rows = _assemble(parts, len(prompts))
        write_jsonl(out_dir / TRAJECTORIES, rows)
        shutil.rmtree(parts, ignore_errors=True)
    distributed.barrier()
    rows = read_jsonl(out_dir / TRAJECTORIES)
    lengths = [r["n_states"] for r in rows]
    return {
        "n_trajectories": len(rows), "site": site_.key, "d_model": model.d_model,
        "mean_response_tokens": sum(len(r["tokens"]) for r in rows) / len(rows),
        "max_states": max(lengths), "n_states": sum(lengths),
        "generation_seconds_this_run": float(counts[0]), "tokens_generated_this_run": int(counts[1]),
        "processes": world,
    }


def real_states(states: Float[Tensor, "n pos d"], lengths: Int[Tensor, "n"]) -> Float[Tensor, "rows d"]:
    """The states of `load_trajectories` without their padding: each trajectory's first `length` states."""
    return states[torch.arange(states.shape[1])[None, :] < lengths[:, None]]


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
