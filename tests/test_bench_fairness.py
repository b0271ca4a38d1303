"""bench/fairness.py, run small: it measures both phases in one run and prints its figures last."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_fairness_bench_prints_storage_and_slowdown_last():
    run = subprocess.run([sys.executable, "-m", "bench.fairness", "--bystanders", "1", "--jobs", "3",
                          "--hog-generations", "4", "--hog-tokens", "40", "--bystander-tokens", "4",
                          "--max-batch", "4", "--timeout", "600"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert re.fullmatch(r"bystander_slowdown: \d+\.\d+", lines[-1]), lines
    figures = dict(line.split(": ", 1) for line in lines if re.match(r"^[a-z_]+: [\d.]+$", line))
    packed, before = float(figures["redis_bytes_per_token"]), float(figures["redis_bytes_per_token_json_before"])
    assert 0 < packed < before / 3  # packed token details: a fraction of the JSON form, even for short outputs
    assert any(line.startswith("bystanders alone: 3 jobs") for line in lines)
    assert any(line.startswith("bystanders beside the hog: 3 jobs") for line in lines)
