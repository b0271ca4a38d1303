"""`make chaos`: a burst of submissions while worker processes and the Redis server are SIGKILLed.

Loopback only, bounded in count and time. Starts its own embedded Redis (append-only file on), two
`random-tiny` workers, and `--students` threads that each send `--per-student` submissions through the
dashboard's own code (`build_request`, `submit`), retrying a submit that raised with the *same*
request id, as the page does. Meanwhile a chaos thread SIGKILLs a worker every `--kill-every` seconds
(and starts a new one), and SIGKILLs Redis (not a clean stop: no final AOF rewrite) `--redis-kills`
times, restarting it on the same port and data directory.

At the end it waits for every accepted submission and counts:
- lost: accepted (submit returned) but never done, or done with fewer outputs than generations;
- duplicated: submissions or outputs stored more than once (the class's submission ids beyond those
  sent, outputs beyond one per generation);
- failed: submissions that ended with a reason (e.g. retries spent), listed by reason.
Its last line is `chaos: lost=N duplicated=N`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import redis

from devtools.embedded_redis import EmbeddedRedis
from shared.contract.decoding import NOTEBOOK_PROMPT, PRESETS
from shared.contract.problems import Problem
from shared.contract.settings import Settings
from shared.services.classes import open_class
from shared.services.store import Store, redis_client
from shared.services.submit import submit
from shared.services.validation import build_request

ROOT = Path(__file__).resolve().parent.parent
CLASS = "chaos"
DRAIN_SECONDS = 240  # after the burst, how long the last submissions may take to finish
SUBMIT_GIVE_UP_SECONDS = 120  # a student keeps retrying one press this long


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make chaos ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--per-student", type=int, default=4, help="submissions each student sends")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--kill-every", type=float, default=8.0, help="seconds between worker SIGKILLs")
    parser.add_argument("--redis-kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


class Stack:
    """The embedded Redis and the worker processes, each killed and restarted by pid."""

    def __init__(self, data_dir: Path, settings: Settings):
        self.redis = EmbeddedRedis(data_dir / "redis").start()
        self.settings = settings
        self.workers: list[subprocess.Popen] = []
        self.log_dir = data_dir
        self.worker_kills = self.redis_kills = 0

    def env(self) -> dict:
        return {**os.environ, "REDIS_URL": self.redis.url, "DECODELAB_MODEL": "random-tiny",
                "DECODELAB_PREFIX": self.settings.key_prefix, "DECODELAB_HEARTBEAT_SECONDS": "1",
                "DECODELAB_HEARTBEAT_GRACE": "3", "DECODELAB_MAINTENANCE_SECONDS": "2",
                "DECODELAB_JOB_RETRIES": str(self.settings.job_retries), "DECODELAB_TORCH_THREADS": "1",
                "PYTHONPATH": str(ROOT)}

    def start_worker(self) -> None:
        log = open(self.log_dir / f"worker-{len(self.workers)}.log", "wb")
        self.workers.append(subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=self.env(),
                                             stdout=log, stderr=subprocess.STDOUT))

    def kill_a_worker(self, rng: random.Random) -> None:
        alive = [w for w in self.workers if w.poll() is None]
        if alive:
            victim = rng.choice(alive)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            self.worker_kills += 1
        self.start_worker()

    def kill_redis(self) -> None:
        self.redis.process.send_signal(signal.SIGKILL)
        self.redis.process.wait(timeout=10)
        self.redis_kills += 1
        time.sleep(1.0)  # clients see it gone for a moment
        self.redis.start()

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
        self.redis.stop()


def student(index: int, store: Store, settings: Settings, args, sent: list, tally: Counter, lock) -> None:
    configs = [{**p.to_dict(), "max_new_tokens": args.max_new_tokens} for p in PRESETS.values()]
    for number in range(args.per_student):
        request = build_request(settings, class_code=CLASS, student=f"student{index:03d}",
                                prompt=f"{NOTEBOOK_PROMPT} ({index}-{number})", configs=configs,
                                seed=1000 * index + number, model="random-tiny")
        deadline = time.monotonic() + SUBMIT_GIVE_UP_SECONDS
        while True:  # one press, retried with the same id until it is confirmed
            try:
                submit(store, settings, request)
                with lock:
                    sent.append(request.id)
                wait_for_result(store, request.id)  # a student reads their result before the next press
                break
            except (redis.exceptions.RedisError, OSError):
                with lock:
                    tally["submit errors, retried with the same id"] += 1
            except Problem.Invalid as invalid:
                with lock:
                    tally[f"refused: {invalid.problems[0].code}"] += 1
            if time.monotonic() > deadline:
                with lock:
                    tally["presses given up"] += 1
                break
            time.sleep(0.3)


def wait_for_result(store: Store, submission_id: str, limit: float = DRAIN_SECONDS) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if store.redis.hget(store.keys.submission(submission_id), "status") in (b"done", b"failed"):
                return
        except redis.exceptions.RedisError:
            pass
        time.sleep(0.3)


def chaos(stack: Stack, args, stop: threading.Event) -> None:
    """Kills until `stop`: a worker every `kill_every` seconds; Redis at 2 s and then every 1.5 periods."""
    rng = random.Random(args.seed)
    redis_at = [2.0 + i * 1.5 * args.kill_every for i in range(args.redis_kills)]
    started = time.monotonic()
    next_worker_kill = started + args.kill_every
    while not stop.is_set():
        now = time.monotonic()
        if redis_at and now - started >= redis_at[0]:
            redis_at.pop(0)
            stack.kill_redis()
        if now >= next_worker_kill:
            stack.kill_a_worker(rng)
            next_worker_kill = now + args.kill_every
        time.sleep(0.1)


def settle(store: Store, ids: list[str]) -> dict[str, dict]:
    """Wait until every id is done or failed (or DRAIN_SECONDS); returns their records."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        try:
            records = {i: store.submission(i) for i in ids}
        except redis.exceptions.RedisError:
            time.sleep(0.5)
            continue
        unfinished = [i for i, r in records.items() if not r or r.status not in ("done", "failed")]
        if not unfinished or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def count(store: Store, sent: list[str], records: dict[str, dict]) -> dict:
    outputs = store.redis.zrange(store.keys.outputs(CLASS), 0, -1)
    per_submission = Counter(o.decode().split(":")[0] for o in outputs)
    stored_ids = {k.decode().split(":")[-1] for k in store.redis.scan_iter(match=store.keys.submission_pattern())}
    expected_outputs = {i: len(r.request.items) for i, r in records.items() if r}
    lost = [i for i, r in records.items() if not r or r.status not in ("done", "failed")
            or (r.status == "done" and per_submission[i] != expected_outputs[i])]
    duplicated = len(stored_ids - set(sent)) + sum(max(0, per_submission[i] - expected_outputs.get(i, 0))
                                                   for i in per_submission)
    failures = Counter(r.error.code for r in records.values() if r and r.status == "failed")
    return {"sent": len(sent), "done": sum(1 for r in records.values() if r and r.status == "done"),
            "failed": dict(failures), "outputs": len(outputs), "duplicated": duplicated,
            "lost": len(lost), "lost_detail": {i: where(store, i, records[i]) for i in lost[:10]}}


def where(store: Store, submission_id: str, record: dict | None) -> str:
    """Where a lost submission's job is, to see why (RQ status, registries, queue)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(submission_id, connection=store.redis)
    except NoSuchJobError:
        return f"record {(record or {}).get('status', 'missing')}, no RQ job"
    queue = f"rq:queue:{job.origin}"
    places = [name for name, key in (("queue", queue), ("intermediate", f"rq:intermediate:{job.origin}"))
              if submission_id.encode() in store.redis.lrange(key, 0, -1)]
    started = [m.decode() for m in store.redis.zrange(f"rq:wip:{job.origin}", 0, -1, withscores=False)
               if m.decode().startswith(submission_id)]
    return (f"record {(record or {}).get('status')}, attempts {(record or {}).get('attempts')}, RQ {job.get_status()}, "
            f"retries_left {job.retries_left}, in {places or 'no list'}, started entries {started}")


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = Settings(key_prefix="chaos", model="random-tiny", max_active_per_student=args.per_student,
                        max_per_minute_per_student=10 * args.per_student, job_retries=5)
    with tempfile.TemporaryDirectory(prefix="decodelab-chaos-") as tmp:
        stack = Stack(Path(tmp), settings)
        try:
            settings = replace(settings, redis_url=stack.redis.url)
            store = Store(redis_client(settings.redis_url), settings.key_prefix)
            open_class(store, CLASS)
            for _ in range(2):
                stack.start_worker()
            sent, tally, lock, stop = [], Counter(), threading.Lock(), threading.Event()
            started = time.monotonic()
            chaos_thread = threading.Thread(target=chaos, args=(stack, args, stop), daemon=True)
            chaos_thread.start()
            threads = [threading.Thread(target=student, args=(i, store, settings, args, sent, tally, lock))
                       for i in range(args.students)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=SUBMIT_GIVE_UP_SECONDS * args.per_student)
            records = settle(store, sent)
            stop.set()
            chaos_thread.join(timeout=30)
            records = settle(store, sent)
            figures = count(store, sent, records)
            figures.update(seconds=round(time.monotonic() - started, 1), worker_kills=stack.worker_kills,
                           redis_kills=stack.redis_kills, client=dict(tally))
        finally:
            stack.stop()
    print(json.dumps(figures, indent=1))
    print(f"chaos: lost={figures['lost']} duplicated={figures['duplicated']}")
    return 0 if figures["lost"] == 0 and figures["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
