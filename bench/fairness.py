"""`make bench-fairness`: does one student's maximal job hold up the rest, and what does storage cost?

Loopback only, bounded. Starts its own embedded Redis and one `random-tiny` worker, then, through the
dashboard's own code (`build_request`, `submit`):

1. alone: `--bystanders` students each run `--jobs` small greedy jobs (`--bystander-tokens` tokens), one
   after another, each timed from submit until its outputs are stored;
2. beside a hog: one student submits the maximal job (`--hog-generations` x `--hog-tokens`: 64 x 1000,
   the submission limits' maximum), and once it runs the bystanders do the same again;
3. the hog is left to finish alone, and Redis's memory of its outputs is measured: `MEMORY USAGE` of each
   output record and its token details, over the tokens generated. The same outputs are also written in
   the JSON form used before the packed one, measured the same way, and deleted.

It prints each phase's p50/p95 latencies, then `redis_bytes_per_token: X` and, last,
`bystander_slowdown: X` (p95 beside the hog / p95 alone). Targets on a 2-core CPU: <= 40 and <= 2.0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from devtools.embedded_redis import EmbeddedRedis
from shared.contract.packed_tokens import MAGIC
from shared.contract.records import DONE, FAILED
from shared.contract.settings import Settings
from shared.services.classes import open_class
from shared.services.store import Store, redis_client
from shared.services.submit import submit
from shared.services.validation import build_request

ROOT = Path(__file__).resolve().parent.parent
CLASS = "fairness"
HOG_PROMPT = "Write a long story about a lighthouse keeper."  # short: 1,000 new tokens fit the window
POLL_SECONDS = 0.02
PAUSE_SECONDS = 0.3  # a bystander's pause between two runs (reading the result)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make bench-fairness ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bystanders", type=int, default=3, help="students running small jobs")
    parser.add_argument("--jobs", type=int, default=8, help="small jobs each bystander runs per phase")
    parser.add_argument("--bystander-tokens", type=int, default=8)
    parser.add_argument("--hog-generations", type=int, default=64, help="variants x configs (at most 64)")
    parser.add_argument("--hog-tokens", type=int, default=1000)
    parser.add_argument("--max-batch", type=int, default=0, help="worker rows (0 = automatic: 64 on a CPU)")
    parser.add_argument("--fair-rows", type=int, default=0, help="DECODELAB_FAIR_ROWS (0 = automatic)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="decodelab-fairness-") as folder:
        server = EmbeddedRedis(Path(folder) / "redis").start()
        settings = replace(Settings(), redis_url=server.url, model="random-tiny", key_prefix="dlfair",
                           tokens_per_minute_per_student=0, max_per_minute_per_student=10**6,
                           max_active_per_student=10**6)
        worker = start_worker(settings, args, Path(folder))
        try:
            return run(args, settings)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            server.stop()


def start_worker(settings: Settings, args, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": settings.redis_url, "DECODELAB_MODEL": settings.model,
           "DECODELAB_PREFIX": settings.key_prefix, "DECODELAB_MAX_BATCH": str(args.max_batch),
           "DECODELAB_FAIR_ROWS": str(args.fair_rows), "DECODELAB_HEARTBEAT_SECONDS": "1", "PYTHONPATH": str(ROOT)}
    log = open(folder / "worker.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def run(args, settings: Settings) -> int:
    store = Store(redis_client(settings.redis_url), settings.key_prefix)
    open_class(store, CLASS)
    deadline = time.monotonic() + args.timeout
    wait_for_worker(store, settings, deadline)
    alone = bystander_phase(store, settings, args, "alone", deadline)
    hog = submit(store, settings, hog_request(settings, args)).id
    until(lambda: (store.submission(hog).progress_done or 0) > 0, deadline, "the hog to start")
    beside = bystander_phase(store, settings, args, "beside", deadline)
    until(lambda: store.status(hog) in (DONE, FAILED), deadline, "the hog to finish")
    report("alone", alone)
    report("beside the hog", beside)
    print(f"hog: {store.status(hog)}, {args.hog_generations} x {args.hog_tokens} tokens")
    packed, before = storage_per_token(store, hog)
    print(f"redis_bytes_per_token_json_before: {before:.1f}")
    print(f"redis_bytes_per_token: {packed:.1f}")
    print(f"bystander_slowdown: {p95(beside) / p95(alone):.2f}")
    return 0


def wait_for_worker(store: Store, settings: Settings, deadline: float) -> None:
    """The worker is up once it has stored its model's vocabulary (it does so before taking work)."""
    until(lambda: store.redis.hlen(store.keys.vocabulary(settings.model)) > 0, deadline, "the worker to start")
    time.sleep(1.0)


def hog_request(settings: Settings, args):
    configs = min(args.hog_generations, settings.max_configs)
    variants = {f"part {i + 1}": f"{HOG_PROMPT} Part {i + 1}." for i in range(max(1, args.hog_generations // configs))}
    config = [{"strategy": "sampling", "temperature": 1.0, "top_k": 50, "max_new_tokens": args.hog_tokens,
               "seed": seed} for seed in range(configs)]
    return build_request(settings, class_code=CLASS, student="Hog", student_id="hog", prompt=HOG_PROMPT,
                         configs=config, seed=1, model=settings.model, lab="ablation", variants=variants)


def bystander_phase(store: Store, settings: Settings, args, phase: str, deadline: float) -> list[float]:
    """Every bystander's latencies (seconds from submit to stored outputs), all bystanders at once."""
    latencies: list[float] = []
    threads = [threading.Thread(target=bystander, args=(store, settings, args, f"{phase}-{n}", latencies, deadline))
               for n in range(args.bystanders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def bystander(store: Store, settings: Settings, args, name: str, latencies: list[float], deadline: float) -> None:
    for job in range(args.jobs):
        request = build_request(settings, class_code=CLASS, student=name, student_id=name, seed=job,
                                prompt=f"{name} asks, for the {job + 1}th time: what is decoding?",  # no cache hit
                                configs=[{"strategy": "greedy", "max_new_tokens": args.bystander_tokens}],
                                model=settings.model)
        started = time.monotonic()
        submit(store, settings, request)
        until(lambda done=request.id: store.status(done) in (DONE, FAILED), deadline, f"{name}'s job")
        latencies.append(time.monotonic() - started)
        time.sleep(PAUSE_SECONDS)


def storage_per_token(store: Store, submission_id: str) -> tuple[float, float]:
    """(bytes per generated token of the outputs and their packed token details, the same in the JSON
    form stored before), both by Redis's own MEMORY USAGE."""
    outputs = store.submission_outputs(submission_id)
    tokens = sum(o.new_tokens for o in outputs) or 1
    packed = 0
    for output in outputs:
        packed += store.redis.memory_usage(store.keys.output(output.id), samples=0) or 0
        packed += store.redis.memory_usage(store.keys.token_details(output.id), samples=0) or 0
    assert all(store.redis.get(store.keys.token_details(o.id)).startswith(MAGIC) for o in outputs)
    scratch = store.keys.output("bench-json-before")
    before = 0
    for output in outputs:
        old = output.to_dict() | {"token_ids": list(output.token_ids)}
        details = store.token_details(output.id)
        store.redis.set(scratch, json.dumps(old))
        before += store.redis.memory_usage(scratch, samples=0) or 0
        store.redis.set(scratch, json.dumps(details.to_dict()) if details else "")
        before += store.redis.memory_usage(scratch, samples=0) or 0
    store.redis.delete(scratch)
    return packed / tokens, before / tokens


def until(condition, deadline: float, what: str) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench-fairness: gave up waiting for {what}")
        time.sleep(POLL_SECONDS)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(phase: str, latencies: list[float]) -> None:
    print(f"bystanders {phase}: {len(latencies)} jobs, p50 {statistics.median(latencies):.2f} s, "
          f"p95 {p95(latencies):.2f} s, max {max(latencies):.2f} s")


if __name__ == "__main__":
    sys.exit(main())
