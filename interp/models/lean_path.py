"""The lean execution path: the model's own Hugging Face modules, hooked only at the block-level sites.

transformer-lens's bridge replaces every HF submodule with a wrapper that carries HookPoints
(~50 per layer). Calling `model.hf` therefore makes about four module calls for each one plain HF
makes (1,640 against 400 per SmolLM2 decode step). On a CPU the matrix work hides that; on a GPU
at batch 1 the Python overhead is most of a step. Every site this package names (resid_pre,
resid_post, attn_out, mlp_out, final) is the input or output of a module HF itself calls: the
decoder layer, its attention, its MLP, the final norm. So when nothing but site hooks is attached,
a forward can run with the wrappers taken out of the module tree for the duration of the call,
and the same hook functions attached as plain torch hooks on those HF modules.

Semantics are the bridge's: the same tensor reaches each hook function, a returned tensor replaces
it, several hooks on one site run in the order they were attached, and the HF KV cache is HF's
own. `tests/interp/models/test_lean_path.py` checks logits, captured states, interventions and
cached decoding against the bridge path on every test architecture.

The bridge path is kept, and chosen automatically, whenever anything else could observe a wrapper:
a site finer than the residual ones (`pattern(l)`, `head_out(l, h)`, `hook:NAME`, ...: `Site.lean` is
false), a hook registered on any HookPoint or bridge component other than through `interp.hooks.attached`
(transformer-lens's own `hooks()`/`add_hook`, a backward hook, a raw torch hook) or a global torch
module hook. `INTERP_EXECUTION=bridge` (or `Model.execution = "bridge"`) forces the bridge path;
`"lean"` refuses with the reason when the lean path cannot be used.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

if TYPE_CHECKING:
    from interp.models.model import Model
    from interp.sites import Site

MODES = ("auto", "lean", "bridge")
SITE_TAG = "_interp_site"  # attribute `interp.hooks.attached` sets on the torch hooks it registers
_GLOBAL_HOOK_DICTS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                      "_global_backward_pre_hooks")
# hooks transformer-lens installs between its own components (BlockBridge._maybe_wire_capture_hooks
# feeds hook_mlp_in and the split-qkv fork from the norms' inputs): with the wrappers out they have
# nothing to feed, and any user hook on those HookPoints is seen on the HookPoint itself
_BRIDGE_WIRING = "transformer_lens.model_bridge"
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def default_mode() -> str:
    mode = os.environ.get("INTERP_EXECUTION", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"INTERP_EXECUTION={mode!r} is not one of {', '.join(MODES)}")
    return mode


_detached = [0]


def note_detached() -> None:
    """Called by `interp.hooks.attached` when it removes hooks, so the next forward looks again."""
    _detached[0] += 1


def _hook_state() -> tuple:
    import torch.nn.modules.module as torch_module

    return RemovableHandle.next_id, _detached[0], tuple(len(getattr(torch_module, n, ())) for n in _GLOBAL_HOOK_DICTS)


class LeanUnavailable(RuntimeError):
    """`execution="lean"` was asked for while something only the bridge path would run is attached."""


@dataclass
class _Swap:
    parent: nn.Module
    name: str
    wrapper: nn.Module


@dataclass
class LeanPath:
    """Per-model state: which wrappers to take out, where each site lives in the HF modules."""

    model: "Model"
    _swaps: list[_Swap] | None = None
    _watched: list[nn.Module] | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    last: str = "none yet"  # the path the latest forward took, with the reason when it was the bridge
    _decided: tuple | None = None  # (hook state, site hooks) of the latest scan that allowed the lean path

    # --- the module tree ---------------------------------------------------------------
    def swaps(self) -> list[_Swap]:
        """Every (parent, name, wrapper) where a bridge component sits in the HF tree; rebuilt when
        the tree changed since (peft injecting adapters, say)."""
        if self._swaps is None or any(s.parent._modules.get(s.name) is not s.wrapper for s in self._swaps):
            self._swaps, self._watched = self._scan()
        return self._swaps

    def _scan(self) -> tuple[list[_Swap], list[nn.Module]]:
        from transformer_lens.hook_points import HookPoint
        from transformer_lens.model_bridge.generalized_components.base import GeneralizedComponent

        swaps, watched = [], []
        for parent in self.model.hf.modules():
            if isinstance(parent, (GeneralizedComponent, HookPoint)):
                watched.append(parent)
            for name, child in parent._modules.items():
                if isinstance(child, GeneralizedComponent) and child._modules.get("_original_component") is not None:
                    swaps.append(_Swap(parent, name, child))
        return swaps, watched

    def target(self, site: "Site") -> tuple[nn.Module, str]:
        """The HF module whose input ("pre") or output ("post") is `site`."""
        from interp.sites import HOOK_NAMES

        site = site.resolve(self.model)
        owner_name, point = HOOK_NAMES[site.kind].format(layer=site.layer).rsplit(".", 1)
        wrapper = self.model.bridge.get_submodule(owner_name)
        return wrapper._modules["_original_component"], ("pre" if point == "hook_in" else "post")

    # --- choosing ----------------------------------------------------------------------
    def site_hooks(self) -> tuple[list[tuple["Site", Callable]], str | None]:
        """The site hooks attached now, in order, or the reason the bridge path must run.

        Scanning every HookPoint costs ~1.4 ms on SmolLM2, too much per decode step, so the answer is
        kept until a hook is registered anywhere (torch numbers every handle: `RemovableHandle.next_id`)
        or removed by `interp.hooks.attached` (`note_detached`). Only a lean answer is kept: a foreign
        hook can be removed without either sign, so the bridge answer is looked at again each time."""
        key = _hook_state()
        if self._decided is not None and self._decided[0] == key:
            return self._decided[1], None
        hooks, reason = self._scan_hooks()
        self._decided = (key, hooks) if reason is None else None
        return hooks, reason

    def _scan_hooks(self) -> tuple[list[tuple["Site", Callable]], str | None]:
        import torch.nn.modules.module as torch_module

        for name in _GLOBAL_HOOK_DICTS:
            if getattr(torch_module, name, None):
                return [], f"a global torch module hook is registered ({name})"
        self.swaps()
        found: list[tuple["Site", Callable]] = []
        for module in self._watched or ():
            d = module.__dict__  # plain dict reads: the bridge's __getattr__ is slow, and this runs per forward
            if d.get("fwd_hooks") or d.get("bwd_hooks"):
                return [], "a transformer-lens hook is attached"
            if not (d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"] or d["_backward_pre_hooks"]):
                continue
            for dict_name in _HOOK_DICTS:
                hooks = d[dict_name]
                if not hooks:
                    continue
                for hook in hooks.values():
                    if getattr(hook, "__module__", "").startswith(_BRIDGE_WIRING):
                        continue  # the bridge's own wiring into its HookPoints, which are watched themselves
                    site = getattr(hook, SITE_TAG, None)
                    if dict_name != "_forward_hooks" or site is None:
                        return [], f"a {dict_name.strip('_').replace('_', ' ')} is registered on {type(module).__name__}"
                    if not getattr(site, "lean", True):  # pattern, head_out, hook:NAME...: inside a bridge component
                        return [], f"site {site} is attached (only residual sites run on the HF modules)"
                    found.append((site, hook._interp_fn))
        return found, None

    @contextmanager
    def running(self, mode: str) -> Iterator[str]:
        """Run the enclosed forward on the path `mode` allows; yields "lean" or "bridge"."""
        if mode not in MODES:
            raise ValueError(f"execution {mode!r} is not one of {', '.join(MODES)}")
        with self._lock:
            if mode == "bridge":
                self.last = "bridge (asked for)"
                yield "bridge"
                return
            hooks, reason = self.site_hooks()
            if reason is not None:
                if mode == "lean":
                    raise LeanUnavailable(f"the lean execution path cannot run: {reason}; use execution='auto' or 'bridge'")
                self.last = f"bridge ({reason})"
                yield "bridge"
                return
            start = RemovableHandle.next_id
            with self._lean(hooks):
                self.last = "lean"
                yield "lean"
            if RemovableHandle.next_id == start + len(hooks):  # only our own HF hooks came and went
                self._decided = (_hook_state(), hooks)

    @contextmanager
    def _lean(self, hooks: list[tuple["Site", Callable]]) -> Iterator[None]:
        swaps = self.swaps()
        targets = [(*self.target(site), fn) for site, fn in hooks]  # before the swap: the bridge's
        handles: list[Any] = []  # `blocks` is the HF ModuleList itself, so it changes with it
        done = 0
        try:
            for s in swaps:
                s.parent._modules[s.name] = s.wrapper._modules["_original_component"]
                done += 1
            for module, where, fn in targets:
                if where == "pre":
                    handles.append(module.register_forward_pre_hook(_pre_hook(fn), with_kwargs=True))
                else:
                    handles.append(module.register_forward_hook(_post_hook(fn)))
            yield
        finally:
            for h in handles:
                h.remove()
            for s in reversed(swaps[:done]):
                s.parent._modules[s.name] = s.wrapper


def _post_hook(fn: Callable[[Tensor], Tensor | None]) -> Callable:
    """An HF module's output (a tensor, or a tuple whose first item is the hidden state) through `fn`."""

    def hook(module: nn.Module, args: Any, output: Any) -> Any:
        if isinstance(output, Tensor):
            return fn(output)
        if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
            new = fn(output[0])
            return None if new is None else (new, *output[1:])
        return None

    return hook


def _pre_hook(fn: Callable[[Tensor], Tensor | None]) -> Callable:
    """A decoder layer's hidden-state input (first positional argument or `hidden_states=`) through `fn`."""

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> Any:
        if args and isinstance(args[0], Tensor):
            new = fn(args[0])
            return None if new is None else ((new, *args[1:]), kwargs)
        if isinstance(kwargs.get("hidden_states"), Tensor):
            new = fn(kwargs["hidden_states"])
            return None if new is None else (args, {**kwargs, "hidden_states": new})
        return None

    return hook
