"""A student's regular expression, compiled and run in a child process with memory and time limits.

A pattern is untrusted input: `(?:(?:(?:a{9999}){9999}){9999})` (31 characters) makes the `regex`
module allocate tens of gigabytes at compile time, and `((\\w|\\W)+)+\\d{9}` backtracks for seconds on
a short text. No serving process (dashboard or worker) compiles or runs one in its own memory: each
pattern goes to a fresh child (`python -I` running this file) that first caps its own address space
(`RLIMIT_AS`) and CPU time (`RLIMIT_CPU`), and that the parent kills at a wall-clock deadline. A child
that runs out of memory or time dies alone; the parent reads what it wrote before dying.

Why a child and not a restricted pattern language: a restricted grammar bounds compile size, but
exponential matching also comes from overlapping alternatives with a single `+`, which no simple
grammar rule excludes; a process boundary bounds every case, at ~50 ms per submission.

The child imports only the standard library and `regex`, so it starts fast and runs the same in the
dashboard's image and the worker's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHILD_MEMORY_BYTES = 256 * 2**20   # address space of the child; a legitimate 200-character pattern needs ~30 MB
PER_TEXT_SECONDS = 0.2             # one search, inside the child (the regex module's own timeout)
VALIDATE_SECONDS = 3.0             # wall clock for compiling a pattern (start-up included)
RUN_BUDGET_SECONDS = 3.0           # wall clock for one submission's searches, all texts together
SNIPPET_CHARS = 40                 # characters of a match kept for the check's detail

SLOT_WAIT_SECONDS = 2.0            # how long a validation waits for a free child before saying "busy"

COMPILED, BAD_PATTERN, TOO_BIG, BUSY = "compiled", "bad_pattern", "too_big", "busy"


class ChildSlots:
    """How many sandboxed children one serving process may run at once (the dashboard's, for the
    validations of every session it serves). Each child may take `CHILD_MEMORY_BYTES`: 24 tabs pressing
    Run at once must not mean 24 children (6 GB). Thread-safe: Streamlit runs each session in a thread."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self._free = threading.BoundedSemaphore(self.limit)

    def take(self, wait_seconds: float) -> bool:
        """A slot, waiting at most `wait_seconds` for one; False when none came free (the caller says busy)."""
        return self._free.acquire(timeout=wait_seconds)

    def give_back(self) -> None:
        self._free.release()


def validate_pattern(pattern: str, seconds: float = VALIDATE_SECONDS, slots: ChildSlots | None = None,
                     wait_seconds: float = SLOT_WAIT_SECONDS) -> str:
    """COMPILED, BAD_PATTERN (does not parse), TOO_BIG (out of memory or time while compiling), or BUSY:
    `slots` had no free child within `wait_seconds` (nothing was started)."""
    if slots is None:
        return PatternRun(pattern, [], seconds).wait().status
    if not slots.take(wait_seconds):
        return BUSY
    try:
        return PatternRun(pattern, [], seconds).wait().status
    finally:
        slots.give_back()  # the child has exited (wait() reaps it, killed at its deadline if need be)


@dataclass
class PatternRun:
    """Searches of one pattern in several texts, running in a child; `poll()` never blocks.

    After `poll()` returns True: `status` is COMPILED, BAD_PATTERN or TOO_BIG, and `matches` holds one
    entry per text searched in time: the matched snippet, or None for no match. Texts missing from
    `matches` (or with the value `TIMED_OUT`) ran out of time.
    """

    pattern: str
    texts: list[str]
    budget_seconds: float = RUN_BUDGET_SECONDS
    status: str = TOO_BIG
    matches: list = field(default_factory=list)

    TIMED_OUT = "\0timeout"

    def __post_init__(self):
        self.deadline = time.monotonic() + self.budget_seconds
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(CHILD_MEMORY_BYTES),
             str(max(1, int(self.budget_seconds) + 1)), str(PER_TEXT_SECONDS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        payload = json.dumps({"pattern": self.pattern, "texts": self.texts}).encode()
        try:
            self._process.stdin.write(payload)
            self._process.stdin.close()
        except BrokenPipeError:  # the child died at once (its memory cap): poll() reads its status
            pass
        self._done = False

    def poll(self) -> bool:
        if self._done:
            return True
        if self._process.poll() is None:
            if time.monotonic() < self.deadline:
                return False
            self._process.kill()
            self._process.wait()
        self._read(self._process.stdout.read().decode(errors="replace"))
        self._process.stdout.close()
        self._done = True
        return True

    def cancel(self) -> None:
        """End the child now (its submission was cancelled); nothing more is read."""
        if not self._done:
            self._process.kill()
            self._process.wait()
            self._process.stdout.close()
            self._done = True

    def wait(self) -> PatternRun:
        while not self.poll():
            time.sleep(0.005)
        return self

    def _read(self, written: str) -> None:
        lines = written.splitlines()
        if not lines or lines[0] not in (COMPILED, BAD_PATTERN, TOO_BIG):
            self.status = TOO_BIG  # died before saying anything: out of memory or time at compile
            return
        self.status = lines[0]
        self.matches = [json.loads(line) for line in lines[1:] if _complete_json(line)]


def _complete_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False  # the last line of a child killed mid-write


def _child(memory_bytes: int, cpu_seconds: int, per_text_seconds: float) -> None:
    """In the child: cap memory and CPU first, then compile and search, one JSON line per text."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    import regex

    task = json.loads(sys.stdin.read())
    out = sys.stdout
    try:
        compiled = regex.compile(task["pattern"])
    except (regex.error, OverflowError, RecursionError, ValueError, TypeError):
        out.write(BAD_PATTERN + "\n")
        return
    except MemoryError:
        out.write(TOO_BIG + "\n")
        return
    out.write(COMPILED + "\n")
    out.flush()
    for text in task["texts"]:
        try:
            found = compiled.search(text, timeout=per_text_seconds)
            result = found.group(0)[:SNIPPET_CHARS] if found else None
        except (TimeoutError, MemoryError, RecursionError):
            result = PatternRun.TIMED_OUT
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    _child(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
