#!/usr/bin/env bash
# The pre-registered RE-Control evaluation (methods/re_control/README.md): judge, trajectories, two value
# functions (standardised and raw state), then the evaluation that chooses on validation and tests once.
# Every step is skipped when finished, so a re-run after an interruption resumes; RUNS (default runs/)
# holds the run directories; BATCH_SIZE (default 16) is the generation batch, not a setting of any step.
# Needs the offline data (../shared/data, or INTERP_DATA) and HF_HUB_OFFLINE=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs}
CONFIG=methods/re_control/configs/smollm2-hh-prereg.json
export HF_HUB_OFFLINE=1
mkdir -p "$RUNS"
if [ ! -f "$RUNS/rm-response-prereg/train/metrics.json" ]; then
  python - "$RUNS/hh_train_pairs_response.jsonl" <<'PY'
import json, sys
from methods.re_control.data import load_task
with open(sys.argv[1], "w") as f:  # the RE-Control training part only: no validation or test prompt
    for ex in load_task("hh-rlhf").train:
        f.write(json.dumps({"prompt": ex.prompt.text, "chosen": ex.chosen, "rejected": ex.rejected}) + "\n")
PY
  python -m app.cli reward train --data "jsonl:$RUNS/hh_train_pairs_response.jsonl" --out "$RUNS/rm-response-prereg" --text response
fi
python - "$CONFIG" "$RUNS" <<'PY'
import json, os, shutil, sys
from pathlib import Path
from interp.pipeline import run
from methods.re_control.config import REControlConfig
from methods.re_control.pipeline import PIPELINE

d, runs = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
d["reward"] = d["reward"].replace("rm:runs/", f"rm:{runs}/")
d["compare_values"] = [str(runs / Path(p).name) for p in d["compare_values"]]
d["batch_size"] = int(os.environ.get("BATCH_SIZE", 16))
std, raw = runs / "re-control-prereg", runs / "re-control-prereg-raw"
run(PIPELINE, REControlConfig.from_dict(d), std, steps=["collect", "label", "train-value"], progress=False)
for step in ("collect", "label"):  # the raw-state value function learns from the same labelled trajectories
    if not (raw / step / "metrics.json").exists():
        shutil.rmtree(raw / step, ignore_errors=True)
        shutil.copytree(std / step, raw / step)
run(PIPELINE, REControlConfig.from_dict({**d, "standardize": False}), raw, steps=["train-value"], progress=False)
run(PIPELINE, REControlConfig.from_dict(d), std, steps=["evaluate"], progress=True)
PY
python -m app.cli results write "$RUNS/re-control-prereg" --out methods/re_control/results/re-control-prereg.json
