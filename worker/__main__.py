"""`python -m worker`: load the model once, then serve its RQ queue in batches until stopped.

Settings come from the environment (shared/contract/settings.py). Ctrl-C / SIGTERM finishes the batch in
hand (a second one stops at once; RQ then requeues what was running).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import time

import redis
from rq import Queue

from shared.contract.settings import Settings, redact_url
from worker.batch_worker import BatchWorker
from worker.model import ModelLoadError, load_model
from worker.rq_adapter import shutdown_requested


class RoutineAtDebug(logging.Filter):
    """RQ logs "cleaning registries" at INFO on every maintenance pass (every `maintenance_seconds`): routine
    for an operator, so it becomes DEBUG, shown only when the rq.worker logger is set to DEBUG."""

    ROUTINE = ("cleaning registries",)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not any(text in str(record.msg) for text in self.ROUTINE):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


# A worker on another host whose link to Redis is cut must notice, not wait on a socket for the kernel's
# ~15 minutes of retransmissions: unanswered data, keepalives or a connect for this long fail (as a
# timeout), the worker keeps generating, and reconnects when the link is back (tests/test_partition.py).
DEAD_LINK_SECONDS = 10
DEAD_LINK_OPTIONS = {socket.TCP_KEEPIDLE: 5, socket.TCP_KEEPINTVL: 2, socket.TCP_KEEPCNT: 3,
                     socket.TCP_USER_TIMEOUT: DEAD_LINK_SECONDS * 1000}


def connect(url: str, wait_seconds: float = 60.0) -> redis.Redis:
    """A Redis client, once the server answers (it may still be starting)."""
    client = redis.Redis.from_url(url, health_check_interval=10, socket_keepalive=True,
                                  socket_keepalive_options=DEAD_LINK_OPTIONS)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client.ping()
            return client
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"worker: cannot reach Redis at {redact_url(url)}: {redact_url(str(error))}") from error
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="quit when the queue is empty (tests, benchmarks)")
    parser.add_argument("--name", help="worker name shown in `rq info` (default: host.pid)")
    parser.add_argument("--check", action="store_true", help="only load the model, then exit: 0 if it loads, 2 if not")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    logging.getLogger("rq.worker").addFilter(RoutineAtDebug())  # RQ's own logger (rq/worker/base.py)
    settings = Settings.from_env()
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    try:
        loaded = load_model(settings.model, settings.device, settings.dtype)
    except ModelLoadError as error:
        print(f"worker: {error}", file=sys.stderr)
        return 2
    logging.info("model %s loaded on %s (%s)", loaded.name, loaded.device, loaded.dtype)
    if args.check:
        return 0
    connection = connect(settings.redis_url)
    queue = Queue(settings.queue_name(loaded.name), connection=connection)
    worker = BatchWorker([queue], connection=connection, loaded=loaded, settings=settings, name=args.name)
    worker.metrics.serve(settings.worker_metrics_port)
    logging.info("worker %s ready: model %s on %s (%s), batches of up to %d rows, queue %s, Redis %s",
                 worker.name, loaded.name, loaded.device, loaded.dtype, worker.max_batch, queue.name,
                 redact_url(settings.redis_url))
    while True:
        worker.work(burst=args.burst, logging_level="INFO")
        if args.burst or shutdown_requested(worker):  # Ctrl-C / SIGTERM: a real stop
            return 0
        # RQ's loop gives up on an error between jobs (Redis gone away); the model stays loaded, so wait
        # for Redis and resume under the same name (its stale registration, if any, is ours to drop).
        logging.warning("worker loop ended unexpectedly; resuming as soon as Redis answers")
        time.sleep(1)
        connect(settings.redis_url, wait_seconds=24 * 3600).delete(worker.key)


if __name__ == "__main__":
    sys.exit(main())
