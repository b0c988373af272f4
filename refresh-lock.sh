#!/usr/bin/env bash
# Re-resolve the newest versions pyproject allows in a brand-new virtualenv, run the whole suite there,
# and only if it passes write them to requirements-lock.txt (what the README and CI install).
set -euo pipefail
cd "$(dirname "$0")"
venv="$(mktemp -d)/venv"
python -m venv "$venv"
. "$venv/bin/activate"
pip install torch==2.13.0
pip install -e '.[test]'
python -m interp.versions
python -m pytest -q -n auto --dist loadfile
{
  sed -n '1,3p' requirements-lock.txt
  pip freeze --exclude-editable | grep -v '^torch=='
} > requirements-lock.txt.tmp
mv requirements-lock.txt.tmp requirements-lock.txt
echo "requirements-lock.txt refreshed from $venv"
