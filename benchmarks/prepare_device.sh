#!/usr/bin/env bash
# Fill `.device/` (git-ignored; carried to the device machine) with what benchmarks/gpu_suite.sh needs there:
# wheels for Python 3.12 of the packages its image lacks or holds too old (versions from requirements-lock.txt
# where it pins them), SmolLM2's tokenizer and config, and the two data folders the benchmarks read.
#   bash benchmarks/prepare_device.sh   (here, with the project's venv active and the SmolLM2 cache filled)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device/wheels .device/data/genies .device/smol
grep -qx "/.device/" .git/info/exclude 2>/dev/null || echo "/.device/" >> .git/info/exclude
pin() { grep -i "^$1==" requirements-lock.txt | head -1; }
PURE="transformer-lens transformers better-abc datasets dill trl peft accelerate vaderSentiment huggingface_hub httpx2 httpcore2 truststore"
BINARY="kernels multiprocess regex"
for p in $PURE; do pip download -q --no-deps -d .device/wheels "$(pin "$p" || echo "$p")"; done
for p in $BINARY; do
  pip download -q --no-deps -d .device/wheels --python-version 3.12 --only-binary=:all: \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 "$(pin "$p" || echo "$p")"
done
SMOL=${INTERP_CACHE:-$HOME/.cache/interp}/models/smollm2-135m-instruct
cp "$SMOL"/config.json "$SMOL"/generation_config.json "$SMOL"/tokenizer* "$SMOL"/chat_template.jinja .device/smol/
DATA=${INTERP_DATA:-../shared/data}
cp -r "$DATA"/hh-rlhf "$DATA"/README.md "$DATA"/SHA256SUMS .device/data/
cp -r "$DATA"/genies/alpaca_easy .device/data/genies/
du -sh .device
