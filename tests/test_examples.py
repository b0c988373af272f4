"""The scripts in examples/ run (on the small real stories260k model) and print what they promise."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
                       timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_compare_residual_streams():
    out = run_example("compare_residual_streams.py", "--model", "stories260k")
    rows = [l.split() for l in out.splitlines()[1:] if l.strip()]
    assert len(rows) == 5 and all(-1.0 <= float(r[1]) <= 1.0 for r in rows)


def test_steer_and_generate():
    out = run_example("steer_and_generate.py", "--model", "stories260k", "--prompt", "Once upon a time", "--strength", "2")
    base = next(l for l in out.splitlines() if l.startswith("base:"))
    steered = next(l for l in out.splitlines() if l.startswith("steered:"))
    assert base[5:].strip() != steered[8:].strip()


@pytest.mark.skipif(not (ROOT / "examples" / "collect_store.py").exists(), reason="collect example not written yet")
def test_collect_store():
    out = run_example("collect_store.py", "--model", "stories260k")
    assert "rows" in out.lower()
