"""Crash isolation by halving: a request that breaks the engine fails alone.

When an engine step raises, the batch is lost but not the submissions: the group that had rows in it
is split in two halves, which are run again one after the other, each alone in a fresh engine (the
others wait, and nothing new is admitted). A half that raises again is split again; a half that runs
cleanly finishes as it would have (generation is batch-invariant). The one that still raises alone is
the culprit, failed with the reason. With one culprit among n submissions, that is about 2·log2(n)
reruns.

The worker owns the engine and the submissions; this class keeps only the groups still to try, so the
order is tested without either (tests/test_isolation.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")  # a submission (the worker's InFlight)


class Isolation(Generic[T]):
    """The suspects' groups still to run alone, and the group the engine runs now (if isolating)."""

    def __init__(self) -> None:
        self._suspects: deque[list[T]] = deque()
        self._running: list[T] = []

    @property
    def active(self) -> bool:
        """Isolating: admissions wait until every suspect has run."""
        return bool(self._suspects or self._running)

    def failed(self, everyone: Sequence[T], had_rows: Callable[[T], bool]) -> list[T]:
        """The engine raised. Its rows were the running group's, or (outside isolation) `everyone`'s;
        `had_rows` keeps those that still have generations to run. Returns that group: one submission
        alone is the culprit (the caller fails it); more are queued as two halves, ahead of any other
        group still to try."""
        group = [s for s in (self._running or everyone) if had_rows(s)]
        self._running = []
        if len(group) > 1:
            half = len(group) // 2
            self._suspects.extendleft([group[half:], group[:half]])
        return group

    def next_group(self, alive: Callable[[T], bool]) -> list[T]:
        """The engine is empty: the next group of suspects (those still `alive`) to run alone; empty when
        none is left, and isolation ends."""
        self._running = []
        while self._suspects and not self._running:
            self._running = [s for s in self._suspects.popleft() if alive(s)]
        return list(self._running)
