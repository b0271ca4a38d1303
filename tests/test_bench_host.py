"""`make bench-host` runs and prints what the README says it prints (a short run: 8 rows, 2 steps)."""

import subprocess
import sys

from tests.conftest import ROOT


def bench_host(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "bench.host", "--rows", "8", "--steps", "2", "--rounds", "1",
                           "--baseline", "", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


def figures(lines: list[str]) -> list[str]:
    [row] = [line.split() for line in lines if line.split()[:1] == ["8"]]
    return row


def test_bench_host_prints_its_figures_and_the_device_path_runs_the_gpus_operations():
    cpu = bench_host()
    assert cpu[-1].startswith("host_ms_per_step_8: ") and float(cpu[-1].split()[-1]) > 0
    assert any(line.startswith("rows joining and leaving all the time") for line in cpu)
    device = bench_host("--device-path")
    assert any("NumPy paths off" in line for line in device)
    cpu_ops, device_ops = (int(figures(lines)[3].split("/")[0]) for lines in (cpu, device))
    assert device_ops != cpu_ops  # the torch key sort, hash and argmax are other operations than NumPy's
    # vocabulary passes, counted by aten and by the engine: the model's normalizer is 4 of them (amax,
    # subtract, exp, sum: what logsumexp ran inside itself, kept apart for float32 precision)
    assert figures(cpu)[4:7] == ["7", "/", "7"]
