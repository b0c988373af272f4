"""Which layers the hidden-state losses read: indices, fractions of depth, or inclusive ranges.

The default "0.3:-3" runs from 30% of the depth to the third-last layer (inclusive): deep enough
to hold abstract features, and short of the last layers that mostly prepare the next token.
"""
from __future__ import annotations


def _one(item: str, n_layers: int) -> int:
    item = item.strip()
    if not item:
        raise ValueError("empty layer item")
    try:
        if any(c in item for c in ".eE"):
            f = float(item)
            if not 0.0 <= f < 1.0:
                raise ValueError(f"layer fraction {item} must be in [0, 1)")
            return int(f * n_layers)
        i = int(item)
    except ValueError as e:
        raise ValueError(
            f"cannot read layer {item!r}: write an index (3, -3), a fraction of depth (0.3) or a range (0.3:-3); {e}"
        ) from None
    layer = i + n_layers if i < 0 else i
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {item} is outside the model: layers run 0..{n_layers - 1} (or -{n_layers}..-1)")
    return layer


def parse_layers(spec: str | list[int] | tuple[int, ...], n_layers: int) -> list[int]:
    """Sorted distinct layer indices from "a:b" (inclusive, optional ":step"), "i,j,k", or a list."""
    if isinstance(spec, (list, tuple)):
        items = [str(x) for x in spec]
    else:
        items = [s for s in str(spec).split(",") if s.strip()]
    if not items:
        raise ValueError(f"no layers in {spec!r}; e.g. '0.3:-3' or '3,5,-3'")
    out: set[int] = set()
    for item in items:
        if ":" in item:
            parts = item.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(f"layer range {item!r} must be 'start:stop' or 'start:stop:step'")
            start, stop = _one(parts[0], n_layers), _one(parts[1], n_layers)
            step = int(parts[2]) if len(parts) == 3 else 1
            if step < 1:
                raise ValueError(f"layer range step must be positive, got {step}")
            if stop < start:
                raise ValueError(
                    f"layer range {item!r} resolves to {start}..{stop} on a {n_layers}-layer model: empty; "
                    "name layers explicitly for shallow models"
                )
            out.update(range(start, stop + 1, step))
        else:
            out.add(_one(item, n_layers))
    return sorted(out)
