"""Every load benchmark, run short (a few students, a few seconds), so that a page or service change that
breaks one fails here and not on the day its figures are needed. Each runs as `make` runs it: its module
as a program, its own stack (embedded Redis, a random-tiny worker, `streamlit run` where it needs one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"


def run_benchmark(module: str, *args: str, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**_environment(), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, f"{module} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _environment() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # each benchmark starts its own Redis


def figure(output: str, name: str) -> float:
    line = [line for line in output.splitlines() if line.startswith(f"{name}: ")]
    assert line, f"no `{name}:` line in:\n{output[-2000:]}"
    return float(line[-1].split(": ", 1)[1])


def test_load_dashboard_with_the_protocol_client_reports_first_text():
    output = run_benchmark("bench.load_dashboard", "--client", "protocol", "--students", "2", "--measure", "1",
                           "--timeout", "120")
    assert figure(output, "dashboard_sessions_per_core") > 0
    assert 0 < figure(output, "first_text_p95_s") < 60


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install -y chromium)")
def test_load_dashboard_in_the_browser_runs_every_phase():
    output = run_benchmark("bench.load_dashboard", "--students", "2", "--measure", "1", "--timeout", "180")
    assert figure(output, "dashboard_sessions_per_core") > 0
    assert 0 < figure(output, "first_text_p95_s") < 90


def test_load_runs_students_against_workers_and_loses_nothing():
    output = run_benchmark("bench.load", "--students", "3", "--seconds", "3", "--workers", "1",
                           "--max-new-tokens", "4")
    assert figure(output, "lost") == 0
