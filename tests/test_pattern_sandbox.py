"""shared/teaching/pattern_sandbox.py: a student's regex never compiles or runs unbounded in a serving process."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

from shared.teaching.pattern_sandbox import BAD_PATTERN, COMPILED, TOO_BIG, PatternRun, validate_pattern
from tests.conftest import ROOT

EXPLOSIVE = "(?:(?:(?:a{9999}){9999}){9999})"   # 31 characters; compiled in-process it took > 20 GB
CATASTROPHIC = r"((\w|\W)+)+\d{9}"               # backtracks exponentially on ordinary text
TEXT = "the quick brown fox jumps over 12 lazy dogs and " * 10


def _capped_python(code: str, cap_bytes: int = 1536 * 2**20) -> subprocess.CompletedProcess:
    """Run `code` in a Python process capped at `cap_bytes`, as a serving process under a memory limit."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, preexec_fn=cap, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})


def test_the_dashboards_check_of_an_explosive_pattern_refuses_it_and_survives():
    done = _capped_python("from shared.teaching.checks import validate_custom\n"
                          f"print(validate_custom('regex', {EXPLOSIVE!r}))")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "custom_check_too_costly"


def test_the_workers_run_of_an_explosive_pattern_says_so_and_survives():
    done = _capped_python("from shared.teaching.checks import custom\n"
                          f"print(custom('aaa', 'regex', {EXPLOSIVE!r}).detail)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "too long" in done.stdout


def test_validation_tells_good_broken_and_too_big_apart():
    assert validate_pattern(r"\bgit\b") == COMPILED
    assert validate_pattern("(unclosed") == BAD_PATTERN
    assert validate_pattern(EXPLOSIVE) == TOO_BIG


def test_a_catastrophic_pattern_is_cut_at_the_budget_with_partial_answers():
    start = time.monotonic()
    run = PatternRun(CATASTROPHIC, [TEXT] * 40, budget_seconds=1.0).wait()
    assert time.monotonic() - start < 3.0
    assert run.status == COMPILED and len(run.matches) < 40  # the budget ended it before the last text
    assert all(m == PatternRun.TIMED_OUT for m in run.matches)


def test_matches_come_back_per_text():
    run = PatternRun(r"\d+\.\d+", ["version 2.1 released", "nothing"]).wait()
    assert run.status == COMPILED and run.matches == ["2.1", None]


def test_cancel_ends_the_child_at_once():
    run = PatternRun(CATASTROPHIC, [TEXT] * 40, budget_seconds=30.0)
    start = time.monotonic()
    run.cancel()
    assert run.poll() and time.monotonic() - start < 2.0 and run._process.returncode is not None
