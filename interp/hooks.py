"""Attaching functions to bridge HookPoints with handles that are always removed.

Each hook is tagged with its site, so `interp.models.lean_path` can run the same function on the
HF module itself when the lean execution path is chosen.

We register plain PyTorch forward hooks on the HookPoint modules (rather than the bridge's
global `hooks()` context) so that each handle can be removed on its own, several can stack
on one site in order, and they fire when the HF model is called directly (KV-cached steps).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

from torch import Tensor

from interp.models.lean_path import SITE_TAG, note_detached
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model

HookFn = Callable[[Tensor], "Tensor | None"]


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


@contextmanager
def attached(model: "Model", hooks: list[tuple["Site | str", HookFn]]) -> Iterator[None]:
    """Attach `(site, fn)` pairs in order; `fn(acts)` may return a replacement. Removed on exit, also on error."""
    handles = []
    try:
        for site, fn in hooks:
            hp = hook_point(model, site)

            def torch_hook(module, inputs, output, _fn=fn):
                if not isinstance(output, Tensor):
                    return None
                new = _fn(output)
                return new if new is not None else None

            # the tag lets the lean execution path move this hook onto the HF module itself
            setattr(torch_hook, SITE_TAG, parse_site(site).resolve(model))
            torch_hook._interp_fn = fn
            handles.append(hp.register_forward_hook(torch_hook))
        yield
    finally:
        for h in handles:
            h.remove()
        note_detached()
