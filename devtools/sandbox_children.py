"""Counting a process's sandbox children from /proc (no psutil): for the tests and the benchmark of the
caps on students' regular expressions (docs/limits.md)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def sandbox_children(parent: int | None = None) -> set[int]:
    """Pids of `parent`'s children (this process by default) running shared/teaching/pattern_sandbox.py."""
    wanted, found = str(parent or os.getpid()), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # it ended while we looked
        if stat.rsplit(")", 1)[1].split()[1] == wanted and b"pattern_sandbox.py" in cmdline:
            found.add(int(entry.name))
    return found


class ChildCounter:
    """Samples this process's sandbox children every 2 ms while in use: the most at once, and every pid seen."""

    def __init__(self):
        self.most, self.seen, self._stop = 0, set(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            now = sandbox_children()
            self.most, self.seen = max(self.most, len(now)), self.seen | now
            time.sleep(0.002)

    def __enter__(self) -> ChildCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
