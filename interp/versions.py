"""The installed versions of the packages whose releases can change interp's results.

`python -m interp.versions` prints them (CI does, before the tests); the KV-cache guard names them
when it refuses a model.
"""
from __future__ import annotations

import importlib.metadata as md
import re

PACKAGES = ("torch", "transformers", "transformer-lens", "sae-lens", "trl", "peft", "accelerate")


def installed_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def supported_ranges(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """The ranges interp's own metadata (pyproject) states for `packages`."""
    try:
        requires = md.requires("interp") or []
    except md.PackageNotFoundError:
        return {}
    ranges = {}
    for req in requires:
        if ";" in req:  # extras and markers
            continue
        m = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", req)
        name = m.group(1).lower().replace("_", "-") if m else ""
        if name in packages:
            ranges[name] = m.group(2).strip() or "any"
    return ranges


def main() -> None:
    ranges = supported_ranges()
    for name, version in installed_versions().items():
        print(f"{name:<18} {version:<16} supported: {ranges.get(name, '?')}")


if __name__ == "__main__":
    main()
