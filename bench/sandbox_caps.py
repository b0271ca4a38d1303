"""`python -m bench.sandbox_caps`: the caps on students' regular expressions, measured (docs/limits.md).

1. 24 students press Run with a custom regex at the same moment, through the submit path the dashboard
   calls (one thread each, as Streamlit runs sessions), in a fresh embedded Redis: how many sandbox
   children ran at once (a /proc scan every 2 ms) with the dashboard's cap, and with room for all 24
   (what happened before the cap).
2. The worker's check children: two students queue 3 slow checks each (a catastrophic pattern, 1 s
   budget, 2 children), then a bystander's `\\w+`. Seconds until the bystander's check is answered, with
   the pool taking turns between students, and with everyone as one student (first come, first served).

Prints one line per figure; the last lines are `children_at_once: N (cap C)` and
`bystander_check_s: X (first come, first served: Y)`.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from devtools.embedded_redis import EmbeddedRedis
from devtools.factories import make_output, make_request
from devtools.sandbox_children import ChildCounter
from shared.contract.problems import Problem
from shared.contract.settings import Settings
from shared.services.classes import open_class
from shared.services.store import Store, redis_client
from shared.services.submit import submit
from shared.services.validation import build_request
from shared.teaching.ablation import NOTEBOOK_ABLATION_CONFIG
from shared.teaching.pattern_sandbox import ChildSlots
from worker.checking import CheckPool

CLASS = "bench-caps"
CATASTROPHIC = r"((\w|\W)+)+\d{9}"
SLOW_TEXT = "the quick brown fox jumps over 12 lazy dogs and " * 10


def press_at_once(store: Store, settings: Settings, sandbox: ChildSlots, presses: int, run: int) -> dict[str, int]:
    """`presses` students press Run at once; how many got each outcome."""
    outcomes: dict[str, int] = {}
    start = threading.Barrier(presses, timeout=60)

    def press(index: int) -> None:
        config = {**NOTEBOOK_ABLATION_CONFIG, "max_new_tokens": 4, "seed": 1}
        request = build_request(settings, class_code=CLASS, student=f"r{run}s{index}", prompt="", configs=[config],
                                seed=1, model=settings.model, lab="ablation", variants={"full": "Git."},
                                checks=[{"id": "custom", "kind": "regex", "pattern": r"\bgit\b"}], topic="git")
        start.wait()
        try:
            submit(store, settings, request, sandbox=sandbox)
            outcome = "submitted"
        except Problem.Invalid as invalid:
            outcome = invalid.problems[0].code
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    threads = [threading.Thread(target=press, args=(i,)) for i in range(presses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def children_at_once(store: Store, settings: Settings, presses: int, cap: int, run: int) -> tuple[int, dict]:
    with ChildCounter() as children:
        outcomes = press_at_once(store, settings, ChildSlots(cap), presses, run)
    return children.most, outcomes


def bystander_seconds(fair: bool) -> float:
    """Seconds until the bystander's trivial check is answered, behind 6 slow ones of two students."""
    pool = CheckPool(slots=2, budget_seconds=1.0)

    def add(key: str, student: str, pattern: str, texts: list[str]) -> None:
        request = make_request(CLASS, id=key, student=student if fair else "everyone",
                               checks=({"id": "custom", "kind": "regex", "pattern": pattern},))
        pool.add(key, request, [make_output(i, CLASS, text=text) for i, text in enumerate(texts)])

    for i in range(3):
        add(f"a{i}", "hog-a", CATASTROPHIC, [SLOW_TEXT] * 8)
        add(f"b{i}", "hog-b", CATASTROPHIC, [SLOW_TEXT] * 8)
    start = time.monotonic()
    add("bystander", "bystander", r"\w+", ["hello"])
    answered = None
    while len(pool):
        if any(p.key == "bystander" for p in pool.finished()):
            answered = time.monotonic() - start
        time.sleep(0.01)
    assert answered is not None
    return answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            settings = replace(Settings(), redis_url=server.url, model="random-tiny", key_prefix="benchcaps")
            store = Store(redis_client(settings.redis_url), settings.key_prefix)
            open_class(store, CLASS)
            uncapped, _ = children_at_once(store, settings, args.presses, args.presses, run=0)
            print(f"children_at_once_without_cap: {uncapped} ({args.presses} presses)", flush=True)
            capped, outcomes = children_at_once(store, settings, args.presses, settings.sandbox_children, run=1)
            print(f"outcomes_with_cap: {outcomes}", flush=True)
        finally:
            server.stop()
    print(f"children_at_once: {capped} (cap {settings.sandbox_children})", flush=True)
    print(f"bystander_check_s: {bystander_seconds(fair=True):.2f} "
          f"(first come, first served: {bystander_seconds(fair=False):.2f})", flush=True)


if __name__ == "__main__":
    main()
