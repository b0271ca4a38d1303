"""worker/checking.py: the worker's sandboxed regex checks are shared fairly between students (F6).

Real sandbox children (shared/teaching/pattern_sandbox.py) run the patterns; the pool is the one the
worker's loop polls between engine steps."""

from __future__ import annotations

import time

from devtools.factories import make_output, make_request
from worker.checking import CheckPool

CATASTROPHIC = r"((\w|\W)+)+\d{9}"  # backtracks until the child's budget ends it
SLOW_TEXT = "the quick brown fox jumps over 12 lazy dogs and " * 10
CLASS = "clase-test"


def regex_submission(pool: CheckPool, key: str, student: str, pattern: str, texts: list[str]) -> None:
    request = make_request(CLASS, id=key, student=student,
                           checks=({"id": "custom", "kind": "regex", "pattern": pattern},))
    outputs = [make_output(i, CLASS, student=student, text=text) for i, text in enumerate(texts)]
    assert pool.add(key, request, outputs) is False  # a regex check runs in a child


def finish_times(pool: CheckPool, timeout: float = 30.0) -> dict[str, float]:
    """Seconds from now until each submission's checks were answered, polling as the worker does."""
    start, done = time.monotonic(), {}
    while len(pool) and time.monotonic() - start < timeout:
        for pending in pool.finished():
            done[pending.key] = time.monotonic() - start
        time.sleep(0.01)
    return done


def test_a_bystanders_trivial_check_does_not_queue_behind_another_students_slow_ones():
    """Two students fill the pool with slow patterns (6 checks, 1 s each, 2 children: 3 s first come,
    first served); a third student's `\\w+` then starts at the first free child, not after all of them."""
    pool = CheckPool(slots=2, budget_seconds=1.0)
    for i in range(3):
        regex_submission(pool, f"hog-a{i}", "hog-a", CATASTROPHIC, [SLOW_TEXT] * 8)
        regex_submission(pool, f"hog-b{i}", "hog-b", CATASTROPHIC, [SLOW_TEXT] * 8)
    regex_submission(pool, "bystander", "bystander", r"\w+", ["hello"])
    done = finish_times(pool)
    assert set(done) == {"bystander"} | {f"hog-{s}{i}" for s in "ab" for i in range(3)}
    hogs = sorted(t for key, t in done.items() if key != "bystander")
    assert done["bystander"] < hogs[2], done  # behind the two running when it came, not all six


def test_turns_go_round_between_students_and_each_students_checks_keep_their_order():
    pool = CheckPool(slots=1, budget_seconds=1.0)
    for i in range(3):
        regex_submission(pool, f"ana-{i}", "ana", r"\d", [f"text {i}"])
    for i in range(2):
        regex_submission(pool, f"bea-{i}", "bea", r"\d", [f"text {i}"])
    regex_submission(pool, "carla-0", "carla", r"\d", ["text"])
    started = []
    while len(pool):
        started += [p.key for p in pool.running if p.key not in started]
        pool.finished()
        time.sleep(0.01)
    assert started == ["ana-0", "bea-0", "carla-0", "ana-1", "bea-1", "ana-2"]


def test_a_dropped_submission_frees_its_child_for_the_next_student():
    pool = CheckPool(slots=1, budget_seconds=30.0)
    regex_submission(pool, "slow", "ana", CATASTROPHIC, [SLOW_TEXT] * 8)
    regex_submission(pool, "quick", "bea", r"\w+", ["hello"])
    pool.drop("slow")
    assert [p.key for p in pool.running] == ["quick"]
    assert finish_times(pool, timeout=10.0).keys() == {"quick"}
