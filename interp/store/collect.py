"""`collect`: run texts through a model and write the chosen sites' activations to a store.

One row per real token (columns `seq_id`, `position`, `token_id`) or, with
`per_token=False`, one pooled row per text (columns `seq_id`, `n_tokens`). `seq_id` is
the text's index in `texts`, so the rows do not depend on how texts were batched or shared
out. Under `accelerate launch` each process takes its share of the texts and writes its own
shard series; the union over ranks equals a one-process run. A re-run resumes after the
texts already committed (the configuration must match, or pass `overwrite=True`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.activations import capture
from interp.distributed import ShareSplit, share
from interp.fingerprint import digest, length_prefixed
from interp.runs import writes_run
from interp.sites import Site, parse_site
from interp.store.manifest import read_manifests, remove_rank
from interp.store.reader import ActivationStore
from interp.store.writer import StoreWriter

if TYPE_CHECKING:
    from interp.models.model import Model

Split = ShareSplit  # how texts are shared among processes: interp.distributed.share


def texts_fingerprint(texts: Sequence[str]) -> str:
    """A hash of the inputs: resuming with other texts would silently mix two datasets."""
    return digest(length_prefixed(texts))


def token_rows(
    acts: dict[Site, Float[Tensor, "batch pos d"]],
    ids: Int[Tensor, "batch pos"],
    mask: Int[Tensor, "batch pos"],
    seq_ids: Int[Tensor, " batch"],
    exclude_padding: bool = True,
) -> tuple[dict[Site, Float[Tensor, "rows d"]], dict[str, Int[Tensor, " rows"]]]:
    """Flatten per-token activations to rows (padding dropped unless asked; its position is -1)."""
    pos = mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, -1)
    keep = mask.bool() if exclude_padding else torch.ones_like(mask, dtype=torch.bool)
    seq = seq_ids.to(ids.device)[:, None].expand_as(ids)
    cols = {"seq_id": seq[keep].cpu(), "position": pos[keep].cpu(), "token_id": ids[keep].cpu()}
    return {s: a[keep] for s, a in acts.items()}, cols


@writes_run("store_dir")  # the run that owns the store (or the store itself), for the whole collection
def collect(
    model: "Model",
    texts: Sequence[str],
    sites: Sequence["Site | str"],
    store_dir: str | Path,
    batch_size: int = 32,
    max_length: int | None = None,
    per_token: bool = True,
    exclude_padding: bool = True,
    pool: Literal["mean", "last"] = "mean",
    dtype: torch.dtype | None = None,
    shard_rows: int = 65536,
    split: Split = "contiguous",
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ActivationStore:
    """Capture `sites` for every text into `store_dir` and return the store (all ranks, once all finished).

    `exclude_padding=False` also writes padding positions (position -1); those rows then
    depend on how texts were batched. Pooled rows (`per_token=False`) always ignore padding.
    """
    from accelerate import PartialState

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    # a CPU model under torchrun / `accelerate launch` needs cpu=True for Accelerate to pick gloo
    state = PartialState(cpu=model.device.type == "cpu")
    rank, world = state.process_index, state.num_processes
    resolved = [parse_site(s).resolve(model) for s in sites]
    store_dir = Path(store_dir)
    config = {
        "sites": [s.key for s in resolved], "max_length": max_length, "per_token": per_token,
        "exclude_padding": exclude_padding, "pool": None if per_token else pool, "split": split,
        "n_texts": len(texts), "texts_sha256": texts_fingerprint(texts),
    }
    if overwrite and state.is_main_process and store_dir.exists():
        for m in read_manifests(store_dir):
            remove_rank(store_dir, m.rank)
    state.wait_for_everyone()
    columns = {"seq_id": torch.int64, "position": torch.int64, "token_id": torch.int64} if per_token else {
        "seq_id": torch.int64, "n_tokens": torch.int64}
    writer = StoreWriter(
        store_dir, resolved, model.d_model, dtype=dtype or model.dtype, columns=columns, model=model.spec,
        metadata={**(metadata or {}), "collect": config}, shard_rows=shard_rows, rank=rank, world_size=world,
    )
    mine = share(len(texts), rank, world, split)
    done = writer.items_done
    if done > len(mine):
        raise ValueError(f"{store_dir} (rank {rank}) records {done} texts done but this rank has only {len(mine)}")
    bar = tqdm(total=len(mine), initial=done, unit="text", desc=f"collect {store_dir.name}",
               disable=not (progress and state.is_main_process))
    with writer:
        for start in range(done, len(mine), batch_size):
            idx = mine[start:start + batch_size]
            ids, mask = model.tokenize([texts[i] for i in idx], max_length=max_length)
            seq_ids = torch.tensor(idx, dtype=torch.long)
            if per_token:
                acts = capture(model, ids, mask, resolved)
                acts, cols = token_rows(acts, ids, mask, seq_ids, exclude_padding)
            else:
                acts = capture(model, ids, mask, resolved, pool=pool)
                cols = {"seq_id": seq_ids, "n_tokens": mask.sum(1).cpu()}
            writer.append({s.key: a for s, a in acts.items()}, cols, items=len(idx))
            bar.update(len(idx))
            bar.set_postfix(rows=writer.rows_committed + writer.rows_buffered)
    bar.close()
    state.wait_for_everyone()
    return ActivationStore.open(store_dir)
