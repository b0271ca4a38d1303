"""`make load`: simulated students against a running stack, loopback only, bounded in count and time.

Starts its own embedded Redis (or uses REDIS_URL) and `--workers` worker processes with `random-tiny`,
then `--students` threads join a class and keep submitting the notebook's presets through the same
code the dashboard runs (`join_class`, `build_request`, `submit`), each waiting for its result before
the next, for `--seconds`. Prints submissions accepted, refused (per-student limits), completed,
failed, lost (accepted but never finished: must be 0), p50/p95/p99 submit-to-result latency, Redis
memory per stored output, and ends with `lost: N`. `--workers 1,2` runs once per worker count, to
show throughput growing with workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from devtools.embedded_redis import EmbeddedRedis
from shared.contract.decoding import NOTEBOOK_PROMPT, PRESETS
from shared.contract.problems import Problem
from shared.contract.settings import Settings
from shared.services.classes import join_class, open_class
from shared.services.store import Store, redis_client
from shared.services.submit import submit
from shared.services.validation import build_request
from shared.services.workers import served_models

ROOT = Path(__file__).resolve().parent.parent
CLASS = "load-test"
DRAIN_SECONDS = 120  # after the submitting stops, how long results may still take


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make load ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long students keep submitting")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-submissions", type=int, default=5000, help="hard cap on submissions sent")
    return parser.parse_args(argv)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted, self.refused, self.latencies, self.ids = 0, 0, [], []


def student_loop(index, store, settings, args, deadline, tally, budget):
    name = f"student{index:03d}"
    me = join_class(store, CLASS, name)
    configs = [{**p.to_dict(), "max_new_tokens": args.max_new_tokens} for p in PRESETS.values()]
    configs[0] = {**configs[0], "repetition_penalty": 1.0 + (index % 50) / 100}  # greedy ignores seeds
    sent = 0
    while time.monotonic() < deadline:
        with tally.lock:
            if tally.accepted >= budget:
                return
        sent += 1  # a new seed (and prompt) each time: every submission is real work, never a cache hit
        request = build_request(settings, class_code=CLASS, student=me.label, student_id=me.id,
                                prompt=f"{NOTEBOOK_PROMPT} ({sent})",
                                configs=configs, seed=index * 100_000 + sent, model=settings.model)
        try:
            submit(store, settings, request)
        except Problem.Invalid:
            with tally.lock:
                tally.refused += 1
            time.sleep(1.0)
            continue
        with tally.lock:
            tally.accepted += 1
            tally.ids.append(request.id)
        while time.monotonic() < deadline + DRAIN_SECONDS:
            if store.redis.hget(store.keys.submission(request.id), "status") in (b"done", b"failed"):
                break
            time.sleep(0.2)


def run_once(args, worker_count: int, url: str) -> dict:
    prefix = f"load{os.getpid()}w{worker_count}"
    settings = Settings(redis_url=url, model="random-tiny", key_prefix=prefix, max_batch=args.max_batch,
                        max_per_minute_per_student=60)
    store = Store(redis_client(url), prefix)
    open_class(store, CLASS)
    env = {**os.environ, "REDIS_URL": url, "DECODELAB_MODEL": "random-tiny", "DECODELAB_PREFIX": prefix,
           "DECODELAB_MAX_BATCH": str(args.max_batch), "DECODELAB_TORCH_THREADS": "1", "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-m", "worker", "--name", f"{prefix}-{i}"], cwd=ROOT, env=env,
                                stdout=open(Path(tempfile.gettempdir()) / f"{prefix}-{i}.log", "wb"),
                                stderr=subprocess.STDOUT) for i in range(worker_count)]
    try:
        deadline = time.monotonic() + 120
        while len(served_models(store).get("random-tiny", [])) < worker_count:
            if time.monotonic() > deadline:
                raise SystemExit("load: workers did not start")
            time.sleep(0.2)
        memory_before = store.redis.info("memory")["used_memory"]
        tally, start = Tally(), time.monotonic()
        stop = start + args.seconds
        threads = [threading.Thread(target=student_loop, daemon=True,
                                    args=(i, store, settings, args, stop, tally, args.max_submissions))
                   for i in range(args.students)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + DRAIN_SECONDS + 30)
        elapsed = time.monotonic() - start
        records = [store.submission(i) for i in tally.ids]
        done = [r for r in records if r and r.status == "done"]
        failed = [r for r in records if r and r.status == "failed"]
        latencies = sorted(float(r.finished_at) - float(r.created_at) for r in done)
        outputs = store.class_output_count(CLASS)
        memory = store.redis.info("memory")["used_memory"] - memory_before
        return {"workers": worker_count, "students": args.students, "seconds": round(elapsed, 1),
                "accepted": tally.accepted, "refused": tally.refused, "completed": len(done), "failed": len(failed),
                "lost": tally.accepted - len(done) - len(failed), "outputs": outputs,
                "outputs_per_s": round(outputs / elapsed, 1),
                "p50_s": pct(latencies, 50), "p95_s": pct(latencies, 95), "p99_s": pct(latencies, 99),
                "redis_bytes_per_output": round(memory / outputs) if outputs else None}
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


def pct(values, q):
    if not values:
        return None
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0], 2)


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = None if os.environ.get("REDIS_URL") else EmbeddedRedis(Path(tmp) / "redis").start()
        url = os.environ.get("REDIS_URL") or server.url
        try:
            rows = [run_once(args, int(n), url) for n in args.workers.split(",")]
        finally:
            if server:
                server.stop()
    print(f"load: {args.students} simulated students for {args.seconds:.0f} s each run, random-tiny, "
          f"{args.max_new_tokens} new tokens x 3 presets per submission, loopback only")
    keys = ["workers", "accepted", "refused", "completed", "failed", "lost", "outputs_per_s", "p50_s", "p95_s", "p99_s",
            "redis_bytes_per_output"]
    print("  ".join(f"{k:>10}" for k in keys))
    for row in rows:
        print("  ".join(f"{str(row[k]):>10}" for k in keys))
    print(f"lost: {sum(r['lost'] for r in rows)}")
    return 0 if all(r["lost"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
