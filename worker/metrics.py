"""A worker's Prometheus metrics, served on `/metrics` (`DECODELAB_WORKER_METRICS_PORT`).

What an operator scales and is alerted on (deploy/prometheus/alerts.yml), in Prometheus' own terms
(`_seconds`, `_total`, base units). Labels are bounded sets: the model, a step's phase, a failure's
code. No class code, student or prompt is ever a label (a class of 300 would make 300 series, and a
student's name does not belong in an operator's database).

Two kinds of figure, chosen so the step loop pays (almost) nothing:
- read at scrape time, from the scraping thread (`WorkerState.collect`): queue depth, rows in the
  batch, waiting generations, checks backlog. The loop never touches them.
- counted in the loop: tokens, step phases, admission wait, outcomes. One `step()` call per engine
  step: a counter increment and three histogram observations (`make bench-metrics` measures it;
  figures in docs/operations.md).

Each worker has its own `CollectorRegistry` (not prometheus_client's global one), so tests and tools
that build several workers in one process never collide on a name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Step phases: a decode step is the model's forward, the token choice, and the host's bookkeeping of
# the rows that finished. On a GPU the forward only launches kernels; the wait for them lands in
# "sampling", whose one transfer back to the host waits for the device.
PHASES = ("model", "sampling", "host")
# Buckets for one step: 0.5 ms (a stand-in model on a CPU) to 2 s (a 1,024-row prefill on a CPU).
STEP_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
# Buckets for the wait from enqueue to admission: a class burst waits seconds; minutes is an alert.
WAIT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


class WorkerMetrics:
    """What the batch worker counts as it runs; `serve(port)` starts the `/metrics` endpoint."""

    def __init__(self, worker) -> None:
        disable_created_metrics()  # no `_created` twin of every counter: nothing here reads it
        self.registry = CollectorRegistry()
        model = worker.loaded.name
        self.tokens = Counter("decodelab_worker_generated_tokens_total", "Tokens generated (rate() = tokens/s)",
                              ["model"], registry=self.registry).labels(model)
        step = Histogram("decodelab_worker_step_seconds", "Time of one engine step, by phase",
                         ["model", "phase"], buckets=STEP_BUCKETS, registry=self.registry)
        self.phases = [step.labels(model, phase) for phase in PHASES]
        self.admission_wait = Histogram(
            "decodelab_worker_admission_wait_seconds", "From enqueue to admission into this worker's batch",
            ["model"], buckets=WAIT_BUCKETS, registry=self.registry).labels(model)
        self.failures = Counter("decodelab_worker_failures_total", "Submissions ended failed, by reason code",
                                ["model", "reason"], registry=self.registry)
        self.completed = Counter("decodelab_worker_submissions_completed_total", "Submissions published",
                                 ["model"], registry=self.registry).labels(model)
        self.dropped = Counter(
            "decodelab_worker_submissions_dropped_total",
            "Submissions this worker stopped because another attempt owns them (after a cut or a freeze)",
            ["model"], registry=self.registry).labels(model)
        self.model = model
        self._tokens_seen = 0
        self._engine = None
        self.registry.register(WorkerState(worker))

    # --- called from the worker's loop ---------------------------------------------------------
    def step(self, engine) -> None:
        """After each engine step: its tokens and, for a decode step, its phases."""
        if engine is not self._engine:  # a new engine after a crash: its counter starts at 0
            self._engine, self._tokens_seen = engine, 0
        self.tokens.inc(engine.generated_tokens - self._tokens_seen)
        self._tokens_seen = engine.generated_tokens
        times = engine.step_times
        if times is not None:
            for histogram, seconds in zip(self.phases, times, strict=True):
                histogram.observe(seconds)

    def admitted(self, waited_seconds: float) -> None:
        self.admission_wait.observe(max(0.0, waited_seconds))

    def failed(self, reason: str) -> None:
        self.failures.labels(self.model, reason).inc()

    # --- the endpoint ----------------------------------------------------------------------------
    def serve(self, port: int, address: str = "0.0.0.0") -> bool:
        """Serve `/metrics` on `port` (0: not at all). A port already taken is logged, not fatal: the
        worker generates for its class whether or not anyone scrapes it."""
        if port <= 0:
            return False
        try:
            start_http_server(port, addr=address, registry=self.registry)
        except OSError as error:
            log.warning("metrics: cannot listen on port %d (%s); no /metrics from this worker", port, error)
            return False
        log.info("metrics on http://%s:%d/metrics", address, port)
        return True


class WorkerState(Collector):
    """Figures read when Prometheus scrapes, never in the step loop."""

    def __init__(self, worker) -> None:
        self.worker = worker
        # Its own client, with short timeouts: a scrape while Redis is unreachable answers at once
        # (without the queue depth) instead of holding the worker's connections.
        self.redis = redis.Redis.from_url(worker.settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        self.queue_keys = [queue.key for queue in worker.queues]

    def collect(self) -> Iterator:
        worker, engine = self.worker, self.worker.engine
        model = worker.loaded.name
        yield _gauge("decodelab_worker_batch_rows", "Rows generating in the batch now", model, len(engine.rows))
        yield _gauge("decodelab_worker_batch_capacity_rows", "Rows the batch may hold now", model, engine.max_batch)
        yield _gauge("decodelab_worker_waiting_generations", "Admitted generations waiting for free rows", model,
                     len(engine.waiting))
        yield _gauge("decodelab_worker_inflight_submissions", "Submissions this worker holds", model,
                     len(worker.inflight))
        yield _gauge("decodelab_worker_checks_backlog", "Finished submissions whose custom checks still run", model,
                     len(worker.checks))
        where = worker.loaded.provenance()
        info = InfoMetricFamily("decodelab_worker_model", "The model this worker serves",
                                labels=["model"])
        kind = "random" if where.random_weights else "demo" if where.demo_model else "real"
        info.add_metric([model], {"kind": kind, "device": str(where.device), "dtype": str(where.dtype)})
        yield info
        depth = self._queue_depth()
        if depth is not None:
            yield _gauge("decodelab_queue_depth", "Submissions waiting in the model's RQ queue", model, depth)

    def _queue_depth(self) -> int | None:
        """LLEN of this worker's RQ queue (RQ's `Queue.count`); None while Redis is unreachable."""
        try:
            return sum(int(self.redis.llen(key)) for key in self.queue_keys)
        except redis.exceptions.RedisError:
            return None


def _gauge(name: str, text: str, model: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, text, labels=["model"])
    gauge.add_metric([model], value)
    return gauge


