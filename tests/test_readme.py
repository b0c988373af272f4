"""Every ```python block in README.md runs as written (in order, in one fresh interpreter), on the
models it names: a README example that fails is the first thing a new user meets."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)


def test_readme_has_python_blocks():
    assert readme_python_blocks(), "README.md should show the Python API in ```python blocks"


@pytest.mark.slow
@pytest.mark.smollm2
def test_readme_python_blocks_run(tmp_path):
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n\n".join(readme_python_blocks()))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]


def readme_commands() -> list[str]:
    block = re.search(r"^```bash\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_exactly_the_readme_test_command():
    setup_and_demo, setup_and_test = readme_commands()[:2]
    ci = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith(("#", "set ", "cd "))]
    assert ci == [setup_and_test]
    for command in (setup_and_demo, setup_and_test):  # a brand-new venv, installed through the lock
        assert command.startswith("python -m venv --clear .venv && . .venv/bin/activate && pip install torch==2.13.0")
        assert "pip install -c requirements-lock.txt -e '.[test]'" in command


def test_lock_pins_what_pyproject_allows():
    """Every locked package named in pyproject's dependencies satisfies pyproject's range."""
    import tomllib

    from packaging.requirements import Requirement

    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    lock = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version.strip()
    assert "torch" not in lock, "torch stays out of the lock: GPU users install their own build first"
    for req in deps:
        name = req.name.lower().replace("_", "-")
        if name == "torch":
            continue
        assert name in lock, f"{name} is a dependency but not locked"
        assert req.specifier.contains(lock[name], prereleases=True), f"lock has {name}=={lock[name]}, pyproject {req}"
