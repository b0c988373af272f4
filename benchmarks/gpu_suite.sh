#!/usr/bin/env bash
# The GPU benchmark run, as one command on a lent device machine (the `device` tool), from the repository root:
#   bash benchmarks/gpu_suite.sh        (writes JSON under $OUT, prints a summary table last)
# That machine reaches no registry and has its own torch; `.device/` (git-ignored, carried) holds what it
# lacks: wheels of transformer-lens and the versions of transformers/peft/trl/accelerate this project
# locks, SmolLM2's tokenizer and config (`.device/smol`), and the two data files the benchmarks read
# (`.device/data`); `bash benchmarks/prepare_device.sh` fills it. The model is a random-weight 1B Llama (Llama-3.2-1B shapes) made there, since real
# weights of that size cannot travel; timing depends on shapes, not values.
set -uo pipefail
OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 INTERP_DATA=$PWD/.device/data PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu MODEL_DIR=<small model> SKIP_INSTALL=1: a dry run of this script on the dev machine
[ -n "${SKIP_INSTALL:-}" ] || python3 -m pip install -q --no-index --no-deps .device/wheels/*.whl >>"$LOG" 2>&1 || echo "wheel install failed (see log)"
python3 -m interp.versions 2>&1 | tee -a "$LOG"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$LOG"
M=${MODEL_DIR:-/tmp/llama-1b}
[ -n "${MODEL_DIR:-}" ] || python3 -m benchmarks.random_model --like .device/smol --preset llama-1b --dtype bfloat16 --device cuda --out "$M" >>"$LOG" 2>&1
# the load-time cache check in bf16 on CUDA; fall back to float32 if it refuses
DT=$(M=$M DEVICE=$DEVICE python3 - <<'PY' 2>>"$LOG"
import torch
from interp.models import load_model
from interp.models.cache_guard import cache_discrepancy
try:
    import os
    m = load_model(os.environ["M"], device=os.environ["DEVICE"], dtype=torch.bfloat16)
    print(f"cache check bf16 on cuda: {cache_discrepancy(m):.3g} x spread", file=__import__("sys").stderr)
    print("bfloat16")
except Exception as e:
    print(f"bf16 refused: {e}", file=__import__("sys").stderr)
    print("float32")
PY
)
echo "dtype: $DT" | tee -a "$LOG"
run() {  # run NAME TIMEOUT MODULE ARGS...: one JSON line appended to $OUT/NAME.jsonl
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" python3 -m "$@" --model "$M" --device "$DEVICE" >"$OUT/tmp.json" 2>>"$LOG"
  local rc=$?
  python3 -c "import json,sys; d=json.load(open('$OUT/tmp.json')); d['argv']=sys.argv[1:]; print(json.dumps(d))" "$@" >>"$OUT/$name.jsonl" 2>>"$LOG" \
    || echo "{\"argv\": \"$*\", \"rc\": $rc}" >>"$OUT/$name.jsonl"
  echo "$name $* rc=$rc $((SECONDS - t0))s" | tee -a "$LOG"
}
run backbone 150 benchmarks.backbone --dtype $DT --batch 1 --repeat 5
run backbone 150 benchmarks.backbone --dtype $DT --batch 16 --repeat 5
run re_control 90 benchmarks.re_control --dtype $DT --batch 1 --repeat 3 --best-of 0
run re_control 90 benchmarks.re_control --dtype $DT --batch 16 --repeat 3 --best-of 0
run vas 90 benchmarks.vas --dtype $DT --batch 1 --repeat 3 --best-of 0
run vas 90 benchmarks.vas --dtype $DT --batch 16 --repeat 3 --best-of 0
run vas 60 benchmarks.vas --dtype $DT --batch 1 --repeat 3 --best-of 0 --value-layers 2
run vas 60 benchmarks.vas --dtype $DT --batch 16 --repeat 3 --best-of 0 --value-layers 2
run reprpo 120 benchmarks.reprpo --batch-size 1 --repeat 3 --warmup 1
run reprpo 120 benchmarks.reprpo --batch-size 16 --repeat 3 --warmup 1
rm -f "$OUT/tmp.json"
python3 -m benchmarks.gpu_table "$OUT" | tee "$OUT/table.md"
