"""Resource caps on untrusted work at submit time (issue 20, section 5): a student's regex is compiled
in sandboxed children, no more at once than the dashboard process allows, and each compilation counts
against the student's limits. Real Redis, real sandbox children, the submit path the page calls."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from devtools.sandbox_children import ChildCounter
from shared.contract.problems import Problem
from shared.services.submit import submit
from shared.services.validation import build_request
from shared.teaching.ablation import NOTEBOOK_ABLATION_CONFIG
from shared.teaching.pattern_sandbox import ChildSlots
from tests.conftest import TEST_CLASS

PRESSES = 24  # one student's 24 tabs, or 24 students, pressing Run at the same moment


def ablation_request(settings, student: str, pattern: str):
    config = {**NOTEBOOK_ABLATION_CONFIG, "max_new_tokens": 4, "seed": 1}
    return build_request(settings, class_code=TEST_CLASS, student=student, prompt="", configs=[config], seed=1,
                         model=settings.model, lab="ablation", variants={"full": "Advantages of Git."},
                         checks=[{"id": "custom", "kind": "regex", "pattern": pattern}], topic="git")


def press_at_once(store, settings, sandbox, students: list[str], pattern: str) -> list[str]:
    """Every student presses Run at once (one thread each, as Streamlit runs sessions); what each got:
    "submitted" or the problem's code."""
    outcomes: list[str] = [""] * len(students)
    start = threading.Barrier(len(students), timeout=60)

    def press(index: int) -> None:
        start.wait()
        try:
            submit(store, settings, ablation_request(settings, students[index], pattern), sandbox=sandbox)
            outcomes[index] = "submitted"
        except Problem.Invalid as invalid:
            outcomes[index] = invalid.problems[0].code

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(students))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_24_presses_at_once_never_run_more_sandbox_children_than_the_cap(store, settings):
    """F5: 24 students' presses, one dashboard process: at most `sandbox_children` compile at once; a
    press that finds none free within a moment is told to try again (nothing enqueued), never an error."""
    settings = replace(settings, sandbox_children=3)
    sandbox = ChildSlots(settings.sandbox_children)  # what dashboard/common.py's get_sandbox() holds
    with ChildCounter() as children:
        outcomes = press_at_once(store, settings, sandbox, [f"s{i}" for i in range(PRESSES)], r"\bgit\b")
    assert 2 <= children.most <= settings.sandbox_children, children.most
    assert set(outcomes) <= {"submitted", "sandbox_busy"} and outcomes.count("submitted") >= settings.sandbox_children
    queued = [s for s in store.redis.smembers(store.keys.pending(TEST_CLASS))]
    assert len(queued) == outcomes.count("submitted")


def test_one_students_tabs_run_one_child_at_a_time_and_count_against_their_limit(store, settings):
    """F5: a refused pattern makes no submission, so only the count of compilations stops a student
    pressing Run in 24 tabs: one child at a time, `max_per_minute_per_student` in all, the rest refused
    before any child starts."""
    settings = replace(settings, max_per_minute_per_student=3)
    sandbox = ChildSlots(settings.sandbox_children)
    with ChildCounter() as children:
        outcomes = press_at_once(store, settings, sandbox, ["ana"] * PRESSES, "(unclosed")
    assert outcomes.count("bad_custom_check") == 3, outcomes
    assert outcomes.count("too_many_pattern_checks") == PRESSES - 3, outcomes
    assert children.most == 1 and len(children.seen) <= 3
    assert store.redis.zcard(store.keys.pattern_checks(TEST_CLASS, "ana")) == 3
    outcome = press_at_once(store, settings, sandbox, ["bea"], "(unclosed")  # another student is not affected
    assert outcome == ["bad_custom_check"]


def test_the_busy_and_limit_messages_say_nothing_was_sent_in_both_languages():
    for code in ("sandbox_busy", "too_many_pattern_checks"):
        es, en = (Problem(code, limit=10).message(lang) for lang in ("es", "en"))
        assert "No se ha enviado nada" in es and "Nothing was sent" in en


@pytest.mark.parametrize("limit", [1, 2])
def test_child_slots_wait_a_moment_then_say_busy(limit):
    slots = ChildSlots(limit)
    assert all(slots.take(0.0) for _ in range(limit))
    start = time.monotonic()
    assert not slots.take(0.2) and 0.15 < time.monotonic() - start < 2.0
    slots.give_back()
    assert slots.take(0.0)
