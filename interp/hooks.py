"""Attaching functions to bridge HookPoints with handles that are always removed.

Each hook is tagged with its site, so `interp.models.lean_path` can run the same function on the
HF module itself when the lean execution path is chosen (residual sites only; any other site keeps
the bridge path, which the lean path's scan sees from the tag).

We register plain PyTorch forward hooks on the HookPoint modules (rather than the bridge's
global `hooks()` context) so that each handle can be removed on its own, several can stack
on one site in order, and they fire when the HF model is called directly (KV-cached steps).
Like transformer-lens's own hooks, a function sees the HookPoint's value through the point's
`hook_conversion` (q/k/v/z as `[batch pos heads d_head]`), and what it returns is converted back,
so a site delivers what `run_with_cache` stores under the same name.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from jaxtyping import Float
from torch import Tensor, nn

from interp.models.lean_path import SITE_TAG, note_detached
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model

HookFn = Callable[[Tensor], "Tensor | None"]
_HEAD_STATE = "_interp_head_out"  # per output projection: this forward's z and each head's current output


def hook_point(model: "Model", site: "Site | str"):
    site = parse_site(site)
    name = site.hook_name(model)
    # bridge.hook_dict rebuilds a dict of every HookPoint on each access (~30 ms on SmolLM2):
    # keep one per model, refreshed only when a name is missing
    cache = model.__dict__.setdefault("_hook_points", {})
    hp = cache.get(name)
    if hp is None:
        cache.clear()
        cache.update(model.bridge.hook_dict)
        hp = cache.get(name)
    if hp is None:
        raise ValueError(f"model {model.spec!r} has no hook {name!r} for site {site}")
    return hp


def _tag(hook: Callable, site: Site, fn: HookFn) -> Callable:
    # the tag lets the lean execution path move this hook onto the HF module itself (residual sites),
    # or tells it that the bridge path must run (every other site)
    setattr(hook, SITE_TAG, site)
    hook._interp_fn = fn  # type: ignore[attr-defined]
    return hook


def _select(acts: Tensor, site: Site) -> Tensor:
    return acts if site.head is None else acts.select(site.head_axis, site.head)


def _put(acts: Tensor, site: Site, new: Tensor) -> Tensor:
    """`acts` with the selected head replaced by `new` (a copy: the caller's tensor is left as it was)."""
    if site.head is None:
        return new
    out = acts.clone()
    out.select(site.head_axis, site.head).copy_(new)
    return out


def _point_hook(hp: nn.Module, site: Site, fn: HookFn) -> Callable:
    conversion = getattr(hp, "hook_conversion", None)

    def torch_hook(module: nn.Module, inputs: Any, output: Any) -> Tensor | None:
        if not isinstance(output, Tensor):
            return None
        acts = conversion.convert(output) if conversion is not None else output
        new = fn(_select(acts, site))
        if new is None:
            return None
        new = _put(acts, site, new)
        return conversion.revert(new) if conversion is not None else new

    return _tag(torch_hook, site, fn)


def w_o_head(linear: nn.Module, head: int, d_head: int) -> Float[Tensor, "d_head d_model"]:
    """Head `head`'s rows of the attention output projection, as `[d_head d_model]`: HF's Conv1D (GPT-2)
    stores its weight `[in out]`, `nn.Linear` `[out in]`; z is laid out head-major (`head * d_head + i`)."""
    cols = slice(head * d_head, (head + 1) * d_head)
    weight = linear.weight
    if type(linear).__name__ == "Conv1D":
        return weight[cols]
    return weight[:, cols].T


def _head_out_hooks(model: "Model", site: Site, fn: HookFn) -> list[Any]:
    """`head_out(l, h)`: head h's contribution to the residual, z_h @ W_O[h].

    Why it is computed: the bridge carries per-head outputs (`attn.hook_result`) only while its model-wide
    `use_attn_result` switch is on, which reroutes every layer's attention through a per-head einsum and
    holds `[batch pos heads d_model]` per layer; flipping it on a shared model for one hook would change
    every other user's forward. Instead the head's input to the output projection (z) is read as the
    projection receives it (a pre-hook on the HF projection, so edits to z attached earlier count), and
    the hook on the projection's output HookPoint (`attn.o.hook_out`, which keeps the bridge path) hands
    z_h @ W_O[h] to `fn` and adds `fn`'s change to the projection's output. Several head_out hooks on one
    projection share the per-forward state, so stacked edits of one head compose in order."""
    attn = model.bridge.blocks[site.layer].attn
    linear = attn.o.original_component
    n_heads, d_head = int(model.bridge.cfg.n_heads), int(model.bridge.cfg.d_head)
    state: dict[str, Any] = linear.__dict__.setdefault(_HEAD_STATE, {})
    head = int(site.head)  # type: ignore[arg-type]

    def read_z(module: nn.Module, args: tuple) -> None:
        state["z"], state["now"] = args[0], {}

    def edit(module: nn.Module, inputs: Any, output: Any) -> Tensor | None:
        if not isinstance(output, Tensor) or "z" not in state:
            return None
        current = state["now"].get(head)
        if current is None:
            z = state["z"].unflatten(-1, (n_heads, d_head))[..., head, :]
            current = z @ w_o_head(linear, head, d_head).to(z.dtype)
        new = fn(current)
        if new is None:
            state["now"][head] = current
            return None
        state["now"][head] = new
        return output + (new - current).to(output.dtype)

    return [
        linear.register_forward_pre_hook(read_z),
        attn.o.hook_out.register_forward_hook(_tag(edit, site, fn)),
    ]


@contextmanager
def attached(model: "Model", hooks: list[tuple["Site | str", HookFn]]) -> Iterator[None]:
    """Attach `(site, fn)` pairs in order; `fn(acts)` may return a replacement. Removed on exit, also on error."""
    handles = []
    states = []
    try:
        for site, fn in hooks:
            site = parse_site(site).resolve(model)
            if site.kind == "head_out":
                handles.extend(_head_out_hooks(model, site, fn))
                states.append(model.bridge.blocks[site.layer].attn.o.original_component)
                continue
            hp = hook_point(model, site)
            handles.append(hp.register_forward_hook(_point_hook(hp, site, fn)))
        yield
    finally:
        for h in handles:
            h.remove()
        for linear in states:  # the last forward's z is not kept alive past the hooks (the dict stays: an
            linear.__dict__.get(_HEAD_STATE, {}).clear()  # enclosing attachment may still share it)
        note_detached()


__all__ = ["attached", "hook_point", "w_o_head"]
