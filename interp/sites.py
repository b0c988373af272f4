"""Sites: names for places in the computation, from the residual stream down to one attention head.

Grammar (`L` a layer, `H` a head; negative numbers count from the end of the model):

    residual sites      resid_pre(L)  resid_post(L)  mlp_out(L)  attn_out(L)  final()
    attention, per head pattern(L[, H])  attn_scores(L[, H])  q(L[, H])  k(L[, H])  v(L[, H])  z(L[, H])
    one head's output   head_out(L, H)
    MLP hidden units    mlp_pre(L)  mlp_post(L)
    any bridge hook     hook:NAME     e.g. hook:blocks.3.attn.hook_pattern, hook:blocks.-1.ln2.hook_normalized,
                                           hook:hook_embed

Each `kind(L)` / `kind(L, H)` may also be written `kind:L[:H]` or in its key form `kind.L[.H]`;
`final`, `final()` and `final:` are the same site; `hook.NAME` is the key form of `hook:NAME`.
`parse_site` reads every form and says, when it cannot, what was wrong and which forms exist.

What each site delivers (the tensor a capture returns and an intervention receives and returns) is
exactly what transformer-lens's `run_with_cache` stores under the same hook name:
`[batch pos d_model]` for the residual sites and `head_out`, `[batch pos heads d_head]` for q/k/v/z
(k and v have the key-value heads under grouped-query attention), `[batch heads query key]` for
`pattern`/`attn_scores`, `[batch pos d_mlp]` for `mlp_pre`/`mlp_post`. A head index selects that
head and drops its axis (`pattern(3, 5)` is `[batch query key]`); an edit of the slice is written
back into the full tensor.

`head_out(L, H)` is head H's contribution to the residual stream, z_H @ W_O[H] (the attention
output is the sum of these over heads plus the output bias). The bridge has no hook that carries it
unless its model-wide `use_attn_result` switch is on, so `interp.hooks` computes it (see there).

The five residual sites are inputs and outputs of modules Hugging Face itself calls, so they run on
the lean execution path (`interp.models.lean_path`); every other site lives inside a bridge
component, and attaching one keeps the forward on the bridge path. `HOOK_NAMES` and `hook_name` are
the one place where a site becomes a transformer-lens bridge hook name.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interp.models.model import Model

HOOK_NAMES = {
    "resid_pre": "blocks.{layer}.hook_in",
    "resid_post": "blocks.{layer}.hook_out",
    "mlp_out": "blocks.{layer}.mlp.hook_out",
    "attn_out": "blocks.{layer}.attn.hook_out",
    "final": "ln_final.hook_out",
    "pattern": "blocks.{layer}.attn.hook_pattern",
    "attn_scores": "blocks.{layer}.attn.hook_attn_scores",
    "q": "blocks.{layer}.attn.hook_q",
    "k": "blocks.{layer}.attn.hook_k",
    "v": "blocks.{layer}.attn.hook_v",
    "z": "blocks.{layer}.attn.hook_z",
    "head_out": "blocks.{layer}.attn.o.hook_out",  # where the head's edit lands; computed from hook_z
    "mlp_pre": "blocks.{layer}.mlp.hook_pre",
    "mlp_post": "blocks.{layer}.mlp.hook_post",
}
LEAN = ("resid_pre", "resid_post", "mlp_out", "attn_out", "final")  # the sites the lean path can run
LAYERED = ("resid_pre", "resid_post", "mlp_out", "attn_out", "mlp_pre", "mlp_post")
HEADED = ("pattern", "attn_scores", "q", "k", "v", "z")  # a layer and an optional head
KV_HEADED = ("k", "v")  # counted in key-value heads
HEAD_AXIS = {"pattern": 1, "attn_scores": 1, "q": 2, "k": 2, "v": 2, "z": 2}  # in the delivered tensor
KEYED = ("pattern", "attn_scores")  # a key axis (last) that grows during generation
KEYED_HOOKS = ("hook_pattern", "hook_attn_scores")
FORMS = (
    "resid_pre(L)", "resid_post(L)", "mlp_out(L)", "attn_out(L)", "final()", "pattern(L[, H])",
    "attn_scores(L[, H])", "q(L[, H])", "k(L[, H])", "v(L[, H])", "z(L[, H])", "head_out(L, H)",
    "mlp_pre(L)", "mlp_post(L)", "hook:NAME",
)
FORMS_TEXT = (
    "valid forms: " + ", ".join(FORMS) + " (L a layer, H a head, negative from the end; also written kind:L[:H] "
    "or kind.L[.H]; NAME any bridge hook point, e.g. hook:blocks.3.attn.hook_pattern)"
)
_BLOCK_NAME = re.compile(r"^blocks\.(-?\d+)\.(.+)$")


@dataclass(frozen=True)
class Site:
    """A place in the model. `kind` is one of `HOOK_NAMES` or "hook" (then `name` is the bridge hook name,
    relative to `blocks.{layer}` when `layer` is set); `head` selects one attention head."""

    kind: str
    layer: int | None = None
    head: int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        kind = self.kind
        if kind == "hook":
            if not self.name:
                raise ValueError(f"site hook: needs a bridge hook name, e.g. hook:blocks.3.attn.hook_pattern; {FORMS_TEXT}")
            if self.head is not None:
                raise ValueError(f"site hook:{self.name} takes no head; to select a head use pattern(L, H), q(L, H), ..., z(L, H)")
            return
        if kind not in HOOK_NAMES:
            near = difflib.get_close_matches(kind, [*HOOK_NAMES, "hook"], n=3)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise ValueError(f"unknown site kind {kind!r}{hint}; {FORMS_TEXT}")
        if self.name is not None:
            raise ValueError(f"site {kind} takes no hook name (only hook:NAME does)")
        if kind == "final":
            if self.layer is not None or self.head is not None:
                raise ValueError("site final() takes no layer and no head")
            return
        if self.layer is None:
            example = f"{kind}(-1, 0)" if kind == "head_out" else f"{kind}(-1)"
            raise ValueError(f"site {kind} needs a layer, e.g. {example}")
        if kind == "head_out" and self.head is None:
            raise ValueError(f"site head_out needs a layer and a head, e.g. head_out({self.layer}, 0)")
        if kind in LAYERED and self.head is not None:
            raise ValueError(f"site {kind}({self.layer}) takes no head: it is not split by head")

    # --- against a model ---------------------------------------------------------------
    def resolve(self, model: "Model | int") -> "Site":
        """The same site with non-negative layer and head, checked against the model (its depth; with a
        `Model`, also its heads and, for `hook:NAME`, that the hook exists and fires)."""
        n = model if isinstance(model, int) else model.n_layers
        layer = self.layer
        if layer is not None:
            layer = layer + n if layer < 0 else layer
            if not 0 <= layer < n:
                raise ValueError(f"site {self} is outside the model: layers run 0..{n - 1} (or -{n}..-1 from the end)")
        head = self.head
        if head is not None and not isinstance(model, int):
            n_heads = heads_of(model, self.kind)
            head = head + n_heads if head < 0 else head
            if not 0 <= head < n_heads:
                what = "key-value heads" if self.kind in KV_HEADED else "heads"
                raise ValueError(f"site {self} is outside the model: {what} run 0..{n_heads - 1} (or -{n_heads}..-1)")
        site = Site(self.kind, layer, head, self.name)
        if site.kind == "hook" and not isinstance(model, int):
            check_hook(model, site._name())
        return site

    def hook_name(self, model: "Model | int") -> str:
        """The bridge hook point this site attaches to (for `head_out`, the attention's output projection)."""
        return self.resolve(model)._name()

    def _name(self) -> str:
        """The hook name as written (a negative layer stays negative)."""
        if self.kind == "hook":
            return str(self.name) if self.layer is None else f"blocks.{self.layer}.{self.name}"
        return HOOK_NAMES[self.kind].format(layer=self.layer)

    # --- what it delivers ----------------------------------------------------------------
    @property
    def lean(self) -> bool:
        """Whether the lean execution path can run this site (the residual sites only)."""
        return self.kind in LEAN

    @property
    def head_axis(self) -> int | None:
        """The axis of the full (unselected) tensor that a head index selects from."""
        return HEAD_AXIS.get(self.kind)

    @property
    def keyed(self) -> bool:
        """Whether the tensor has a key axis (last) beside the query position: attention patterns and scores."""
        return self.kind in KEYED or (self.kind == "hook" and str(self.name).endswith(KEYED_HOOKS))

    @property
    def pos_axis(self) -> int:
        """The (query) position axis of the delivered tensor: 2 for `[batch heads query key]`, else 1."""
        return 2 if self.keyed and self.head is None else 1

    @property
    def residual_width(self) -> bool:
        """Whether each position's value is a d_model vector (the residual sites and `head_out`)."""
        return self.kind in LEAN or self.kind == "head_out"

    # --- names ---------------------------------------------------------------------------
    def __str__(self) -> str:
        if self.kind == "hook":
            return f"hook:{self._name()}"
        args = [str(a) for a in (self.layer, self.head) if a is not None]
        return f"{self.kind}({', '.join(args)})"

    @property
    def key(self) -> str:
        """A file- and JSON-friendly name: `resid_post.3`, `final`, `pattern.3.5`, `hook.blocks.3.attn.hook_z`."""
        if self.kind == "hook":
            return f"hook.{self._name()}"
        return ".".join([self.kind, *(str(a) for a in (self.layer, self.head) if a is not None)])

    def _order(self) -> tuple:
        return (self.kind, -1 if self.layer is None else self.layer, -1 if self.head is None else self.head, self.name or "")

    def __lt__(self, other: "Site") -> bool:
        return self._order() < other._order()

    def __le__(self, other: "Site") -> bool:
        return self._order() <= other._order()

    def __gt__(self, other: "Site") -> bool:
        return self._order() > other._order()

    def __ge__(self, other: "Site") -> bool:
        return self._order() >= other._order()


def heads_of(model: "Model", kind: str) -> int:
    """How many heads a head index of this site kind counts: key-value heads for k and v, else query heads."""
    cfg = model.bridge.cfg
    if kind in KV_HEADED:
        return int(getattr(cfg, "n_key_value_heads", None) or cfg.n_heads)
    return int(cfg.n_heads)


def hook_names(model: "Model") -> list[str]:
    """Every bridge hook point name of the model (aliases included), kept per model."""
    names = model.__dict__.get("_hook_names")
    if names is None:
        names = model.__dict__["_hook_names"] = sorted(model.bridge.hook_dict)
    return names


def check_hook(model: "Model", name: str) -> None:
    """Refuse a hook the model does not have (naming the nearest ones) or one the bridge leaves silent."""
    names = hook_names(model)
    if name not in names:
        near = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        block = _BLOCK_NAME.match(name)
        if not near and block:  # same place in block 0: the names a block has
            near = [n for n in names if n.startswith("blocks.0.")][:12]
        raise ValueError(
            f"model {model.spec!r} has no hook {name!r}"
            + (f"; near names: {', '.join(near)}" if near else "")
            + " (all hook names: `sorted(model.bridge.hook_dict)`)"
        )
    gated = getattr(model.bridge, "_gated_hook_reason", None)
    flag = gated(name) if gated is not None else None
    if flag and not getattr(model.bridge.cfg, flag, False):
        extra = "; for one head's output use head_out(L, H)" if flag == "use_attn_result" else ""
        raise ValueError(
            f"hook {name!r} fires only when the bridge's {flag} is on (model.bridge.set_{flag}(True)){extra}"
        )


def resid_pre(layer: int) -> Site:
    return Site("resid_pre", layer)


def resid_post(layer: int) -> Site:
    return Site("resid_post", layer)


def mlp_out(layer: int) -> Site:
    return Site("mlp_out", layer)


def attn_out(layer: int) -> Site:
    return Site("attn_out", layer)


def final() -> Site:
    return Site("final")


def pattern(layer: int, head: int | None = None) -> Site:
    """Attention probabilities `[batch heads query key]` (one head: `[batch query key]`)."""
    return Site("pattern", layer, head)


def attn_scores(layer: int, head: int | None = None) -> Site:
    """Attention scores before the softmax, masked as the bridge masks them."""
    return Site("attn_scores", layer, head)


def q(layer: int, head: int | None = None) -> Site:
    return Site("q", layer, head)


def k(layer: int, head: int | None = None) -> Site:
    return Site("k", layer, head)


def v(layer: int, head: int | None = None) -> Site:
    return Site("v", layer, head)


def z(layer: int, head: int | None = None) -> Site:
    """Each head's attention-weighted values, the input of the output projection."""
    return Site("z", layer, head)


def head_out(layer: int, head: int) -> Site:
    """Head `head`'s contribution to the residual stream, z_head @ W_O[head], `[batch pos d_model]`."""
    return Site("head_out", layer, head)


def mlp_pre(layer: int) -> Site:
    return Site("mlp_pre", layer)


def mlp_post(layer: int) -> Site:
    """The MLP's hidden activations after the nonlinearity (gated: act(gate) * up), `[batch pos d_mlp]`."""
    return Site("mlp_post", layer)


def hook_site(name: str) -> Site:
    """Any bridge hook point by name: `hook_site("blocks.3.attn.hook_pattern")`; `blocks.-1.` counts from the end."""
    return parse_site(f"hook:{name}")


_NUM = r"\s*(-?\d+)\s*"
_CALL = re.compile(rf"^([a-z_]+)\s*\((?:{_NUM}(?:,{_NUM})?)?\)$")
_SEP = re.compile(r"^([a-z_]+)(?:[:.](-?\d+)?(?:[:.](-?\d+))?)?$")


def parse_site(text: "str | Site") -> Site:
    """Read a site in any of the forms in this module's docstring (`resid_post:-1`, `pattern(3, 5)`,
    `head_out.3.5`, `hook:blocks.3.attn.hook_pattern`, `final`); errors say what was wrong."""
    if isinstance(text, Site):
        return text
    if not isinstance(text, str):
        raise TypeError(f"a site is a Site or a string, not {type(text).__name__}")
    s = text.strip()
    for prefix in ("hook:", "hook."):
        if s.startswith(prefix):
            name = s[len(prefix):].strip()
            if not name or any(c.isspace() for c in name):
                raise ValueError(f"cannot parse site {text!r}: hook: needs one hook name without spaces, "
                                 f"e.g. hook:blocks.3.attn.hook_pattern")
            block = _BLOCK_NAME.match(name)
            if block:
                return Site("hook", int(block.group(1)), name=block.group(2))
            return Site("hook", name=name)
    m = _CALL.match(s) or _SEP.match(s.replace(" ", ""))
    if not m:
        kind = re.match(r"^[a-z_]*", s).group(0)  # type: ignore[union-attr]
        what = "unbalanced or extra characters" if kind in HOOK_NAMES else "not a site"
        raise ValueError(f"cannot parse site {text!r} ({what}); {FORMS_TEXT}")
    kind, layer, head = m.group(1), m.group(2), m.group(3)
    return Site(kind, None if layer is None else int(layer), None if head is None else int(head))
