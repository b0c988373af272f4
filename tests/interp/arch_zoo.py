"""Every tiny architecture the hook tests cover, built once as local folders."""
from pathlib import Path

from interp.models import tiny_random

REGISTERED = ["tiny-random-llama", "tiny-random-gpt2", "tiny-random-neox"]


def extra_archs() -> list[str]:
    """Architectures beyond the three registered ones (random configs saved as local folders)."""
    known = getattr(tiny_random, "EXTRA_ARCHS", None)
    if known is None:
        import inspect

        src = inspect.getsource(tiny_random.tiny_config)
        known = [a for a in ("qwen2", "mistral", "phi3", "gemma", "opt", "gptj", "olmo", "qwen3", "gemma2") if f'"{a}"' in src]
    return list(known)


def build_local(arch: str, root: Path) -> str:
    out = root / f"tiny-{arch}"
    if not (out / "config.json").exists():
        tiny_random.build_tiny_random(arch, out)
    return str(out)


def load_spec(spec: str, tmp_path_factory):
    """Load a registered spec, or `local:<arch>` built into a temporary folder first."""
    from interp.models import load_model

    if spec.startswith("local:"):
        spec = build_local(spec.split(":", 1)[1], tmp_path_factory.mktemp("zoo"))
    return load_model(spec, device="cpu")
