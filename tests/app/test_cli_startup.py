"""`interp --help` builds every registered method's commands; that must not import transformer-lens,
transformers or sae-lens (about 10 of the 18 seconds the command once took). Checked by what the process
imported, not by a clock."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("transformer_lens", "transformers", "sae_lens", "trl", "peft", "datasets")


def test_help_imports_no_model_library():
    probe = ("import sys, contextlib, io\n"
             "from app.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try:\n"
             "        main(['--help'])\n"
             "    except SystemExit:\n"
             "        pass\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
