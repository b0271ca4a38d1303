"""Instruction checks of finished submissions, off the generation loop.

The built-in checks are pure functions over a few kilobytes of model output, with patterns written by
us (linear time): they run in-process when a submission finishes. A student's custom regular
expression is untrusted: it runs in a sandboxed child (shared/teaching/pattern_sandbox.py) with memory and time
limits and a wall-clock budget per submission, at most `CHECK_SLOTS` children at a time, taken in turns
by the students whose checks wait (`CheckPool`). The worker polls them between engine steps
(`finished()` never blocks), so generation never waits on a pattern.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from shared.contract.records import Output, Request
from shared.teaching.checks import regex_result, run_checks
from shared.teaching.pattern_sandbox import RUN_BUDGET_SECONDS, PatternRun

CHECK_SLOTS = 2  # sandboxed children at once per worker: each is a short-lived Python process


@dataclass
class PendingChecks:
    """One finished submission whose custom regex check has not been answered yet."""

    key: str
    outputs: list[Output]
    spec: dict
    payload: object = None           # what the worker needs back to store the submission
    run: PatternRun | None = None
    budget_seconds: float = RUN_BUDGET_SECONDS
    student: str = ""                # whose it is ("class/student id"): the pool takes turns between them

    def start(self) -> None:
        self.run = PatternRun(self.spec["pattern"], [o.text for o in self.outputs], self.budget_seconds)

    def poll(self) -> bool:
        if self.run is None or not self.run.poll():
            return False
        for index, output in enumerate(self.outputs):
            output.checks["custom"] = regex_result(self.run, index).to_dict()
        return True


@dataclass
class CheckPool:
    """At most `slots` sandboxed children, shared fairly between students: a free slot goes to the
    student with the fewest children running, and among those to the one served longest ago (round
    robin; a student not served yet first), so one student's slow patterns never queue up ahead of
    everyone else's. Each child runs at most `budget_seconds`: a student with no child running waits
    for at most that long, however many checks others have queued."""

    slots: int = CHECK_SLOTS
    budget_seconds: float = RUN_BUDGET_SECONDS
    waiting: dict[str, deque[PendingChecks]] = field(default_factory=dict)  # per student, oldest first
    running: list[PendingChecks] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=dict)  # student -> turn number of their last child started
    turns: int = 0

    def add(self, key: str, request: Request, outputs: list[Output], payload=None) -> bool:
        """Attach every check the request lists to `outputs`. Returns True when they are complete now;
        False when a custom regex still runs (its outputs come back from `finished()` with `payload`)."""
        specs = request.checks
        custom = next((s for s in specs if s["id"] == "custom" and s.get("kind") == "regex"), None)
        in_process = [s for s in specs if s is not custom]
        for output in outputs:
            output.checks.clear()  # a cached copy is checked again, against this request's checks
            output.checks.update(run_checks(in_process, output.text, output.prompt, request.topic))
        if custom is None:
            return True
        student = f"{request.class_code}/{request.student_id}"
        pending = PendingChecks(key, outputs, custom, payload, budget_seconds=self.budget_seconds, student=student)
        self.waiting.setdefault(student, deque()).append(pending)
        self._start_waiting()
        return False

    def finished(self) -> list[PendingChecks]:
        """Submissions whose checks are complete since the last call (never blocks)."""
        done = [pending for pending in self.running if pending.poll()]
        self.running = [pending for pending in self.running if pending not in done]
        self._start_waiting()
        return done

    def drop(self, key: str) -> None:
        """Forget a submission (cancelled, timed out), ending its child if one runs."""
        for student, queued in list(self.waiting.items()):
            kept = deque(p for p in queued if p.key != key)
            if kept:
                self.waiting[student] = kept
            else:
                del self.waiting[student]
        for pending in [p for p in self.running if p.key == key]:
            pending.run.cancel()
            self.running.remove(pending)
        self._start_waiting()

    def __len__(self) -> int:
        return sum(len(queued) for queued in self.waiting.values()) + len(self.running)

    def _start_waiting(self) -> None:
        while self.waiting and len(self.running) < self.slots:
            pending = self._next_turn()
            pending.start()
            self.running.append(pending)

    def _next_turn(self) -> PendingChecks:
        """The oldest check of the student with the fewest children running, served longest ago among
        equals (min keeps the first of equals: the student who has waited longest)."""
        busy = Counter(p.student for p in self.running)
        student = min(self.waiting, key=lambda name: (busy[name], self.served.get(name, -1)))
        queued = self.waiting[student]
        pending = queued.popleft()
        if not queued:
            del self.waiting[student]
        self.turns += 1
        self.served[student] = self.turns
        self._forget_idle_students(set(busy) | {student})
        return pending

    def _forget_idle_students(self, running: set[str]) -> None:
        """Keep `served` to the students with checks waiting or running (it would grow with the class)."""
        active = set(self.waiting) | running
        for student in [s for s in self.served if s not in active]:
            del self.served[student]
