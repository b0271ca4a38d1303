"""Fair share of the engine's rows among students: who is admitted next, and whose rows give way.

Every generation carries its owner (the student: class code and student id). The engine asks this
module two things before each admission:

- `rows_to_preempt`: running rows that must give way. While more than one student has work, a student
  may hold at most `limit_rows` rows; rows above it are preempted (their least advanced first, so
  little work is lost). And a student with work waiting but no row at all takes one from the largest
  holder above an even split, when no row is free: in a class burst, every student sees their first
  words within a few steps of being dequeued, instead of a whole generation later (the worker takes one
  newcomer at a time, so a burst costs at most one preempted row per student, its least advanced).
  A preempted row goes back to the queue and is run
  again from its prompt later: sampling draws depend only on (seed, step, token), so it comes out
  token for token the same (recompute-preemption, as vLLM does without swap space).
- `admission_order`: free rows go round-robin across students, each time to the student holding the
  fewest rows (arrival order breaks ties), and never past a student's limit.

The limit protects small jobs' latency: on a CPU every row in a step costs real time, so a student with
a maximal job (64 generations) beside a student with one 8-token run would make that run's every step
several times slower. While a student with a small job (at most `fair_rows` generations) has work, every
student is held to `fair_rows` rows; between big jobs only, the rows are split evenly. A student alone
uses the whole batch.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from collections.abc import Hashable, Sequence


def fair_rows_for(max_batch: int, requested: int, divisor: int) -> int:
    """Rows one student may hold while a student with a small job has work (`requested`, 0 = automatic:
    the batch / `divisor`, EngineConfig.fair_rows_divisor; by default 8 of 64 rows on a CPU, 128 of 1024
    on a GPU)."""
    return max(1, requested or max_batch // divisor)


def limit_rows(demand: Counter, max_batch: int, fair_rows: int) -> int:
    """Rows each student may hold now. `demand`: student -> generations running or waiting."""
    if len(demand) <= 1:
        return max_batch
    if min(demand.values()) <= fair_rows:  # someone has a small job: keep the steps short for them
        return min(fair_rows, max_batch)
    return math.ceil(max_batch / len(demand))


def rows_to_preempt(running: Sequence[Hashable], steps: Sequence[int], waiting: Sequence[Hashable],
                    max_batch: int, fair_rows: int) -> list[int]:
    """Positions of the running rows that give way. `running`: each row's owner; `steps`: tokens each
    row has generated; `waiting`: each waiting generation's owner."""
    held = Counter(running)
    demand = held + Counter(waiting)
    if len(demand) <= 1:
        return []
    limit = limit_rows(demand, max_batch, fair_rows)
    excess = Counter({owner: count - limit for owner, count in held.items() if count > limit})
    keeping = held - excess
    newcomers = {owner for owner in waiting if not held[owner]}
    short = len(newcomers) - (max_batch - sum(keeping.values()))
    even = max(1, max_batch // len(demand))
    least = {}  # owner -> fewest tokens any of its rows has generated: among equal holders, the least work is lost
    for owner, done in zip(running, steps):
        least[owner] = min(done, least.get(owner, done))
    for _ in range(max(0, short)):
        count = max(keeping.values())
        biggest = min((o for o, c in keeping.items() if c == count), key=lambda o: least[o])
        if count <= even:  # nobody holds more than an even split: the newcomer waits for a free row
            break
        excess[biggest] += 1
        keeping[biggest] -= 1
    return _least_advanced(running, steps, excess)


def _least_advanced(running: Sequence[Hashable], steps: Sequence[int], excess: Counter) -> list[int]:
    """For each owner, the positions of its `excess[owner]` rows with the fewest tokens generated."""
    chosen: list[int] = []
    for owner, count in excess.items():
        mine = sorted((i for i, o in enumerate(running) if o == owner), key=lambda i: steps[i])
        chosen += mine[:count]
    return sorted(chosen)


def admission_order(running: Sequence[Hashable], waiting: Sequence[Hashable], free: int, max_batch: int,
                    fair_rows: int) -> list[int]:
    """Positions in `waiting` to admit into `free` rows: round-robin across owners, the owner holding the
    fewest rows first, none past its limit; each owner's own generations in arrival order."""
    held = Counter(running)
    limit = limit_rows(held + Counter(waiting), max_batch, fair_rows)
    queues: dict[Hashable, deque[int]] = {}
    for position, owner in enumerate(waiting):
        queues.setdefault(owner, deque()).append(position)
    # (rows held, next position, tie-break, owner): the heap's top is the owner to serve next
    turns = [(held[o], q[0], n, o) for n, (o, q) in enumerate(queues.items()) if held[o] < limit]
    heapq.heapify(turns)
    chosen: list[int] = []
    while turns and len(chosen) < free:
        count, position, n, owner = heapq.heappop(turns)
        chosen.append(queues[owner].popleft())
        if queues[owner] and count + 1 < limit:
            heapq.heappush(turns, (count + 1, queues[owner][0], n, owner))
    return chosen
