"""A dashboard process's Prometheus metrics, on its own port (`DECODELAB_DASHBOARD_METRICS_PORT`).

Streamlit serves no extra routes, so prometheus_client's own HTTP server runs beside it, started once
per process (`dashboard_metrics` is an `st.cache_resource`: every session and rerun gets the same one).
Labels are bounded (a lab, a model); no class, student or prompt is ever a label.

Besides its own figures, the dashboard reports the service's: each model queue's depth and how many
workers announce themselves ready for it. A dashboard is always up while a class runs, even when no
worker is, so "work queued and no worker for it" (deploy/prometheus/alerts.yml) is seen from here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import redis
import streamlit as st
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq import Queue

from shared.contract.keys import Keys
from shared.contract.settings import Settings
from shared.services.store import Store
from shared.services.workers import served_models

log = logging.getLogger(__name__)

# From the press of Run to the first banner (queued / generating) drawn by the server: the figure the
# ≤ 1 s target of the dashboard tier is about (README, "A class of 300 on the dashboard").
PRESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SANDBOX_MARK = b"pattern_sandbox"  # in the command line of a student's regex child (shared/teaching/pattern_sandbox.py)


class DashboardMetrics:
    def __init__(self, settings: Settings) -> None:
        disable_created_metrics()  # no `_created` twin of every counter: nothing here reads it
        self.registry = CollectorRegistry()
        self.presses = Counter("decodelab_dashboard_presses_total", "Presses of Run that enqueued a submission",
                               ["lab"], registry=self.registry)
        self.press_to_banner = Histogram(
            "decodelab_dashboard_press_to_banner_seconds",
            "From a press of Run to its first banner, on the server", buckets=PRESS_BUCKETS, registry=self.registry)
        self.registry.register(ServiceState(settings))

    def pressed(self, lab: str) -> None:
        self.presses.labels(lab).inc()

    def banner_drawn(self, seconds: float) -> None:
        self.press_to_banner.observe(seconds)

    def serve(self, port: int) -> bool:
        """`/metrics` on `port` (0: not at all); a port already taken is logged, never fatal."""
        if port <= 0:
            return False
        try:
            start_http_server(port, registry=self.registry)
        except OSError as error:
            log.warning("metrics: cannot listen on port %d (%s); no /metrics from this dashboard", port, error)
            return False
        return True


@st.cache_resource
def dashboard_metrics() -> DashboardMetrics:
    """This process's metrics, its endpoint started on first use (a rerun never starts a second)."""
    settings = Settings.from_env()
    metrics = DashboardMetrics(settings)
    metrics.serve(settings.dashboard_metrics_port)
    return metrics


class ServiceState(Collector):
    """Read when Prometheus scrapes: sessions, sandbox children, and the queues and workers in Redis."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Short timeouts: a scrape while Redis is away answers at once, without the Redis figures.
        self.store = Store(redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1),
                           settings.key_prefix)

    def collect(self) -> Iterator:
        sessions = _session_count()
        if sessions is not None:
            yield GaugeMetricFamily("decodelab_dashboard_sessions", "Browser sessions connected to this process",
                                    value=sessions)
        yield GaugeMetricFamily("decodelab_dashboard_sandbox_children",
                                "Sandboxed children checking a student's regex now", value=_sandbox_children())
        try:
            depths, ready = self._queues(), {m: len(w) for m, w in served_models(self.store).items()}
        except redis.exceptions.RedisError:
            return
        queue = GaugeMetricFamily("decodelab_queue_depth", "Submissions waiting in the model's RQ queue",
                                  labels=["model"])
        workers = GaugeMetricFamily("decodelab_workers_ready", "Workers announcing themselves for the model",
                                    labels=["model"])
        for model in sorted(set(depths) | set(ready)):
            queue.add_metric([model], depths.get(model, 0))
            workers.add_metric([model], ready.get(model, 0))
        yield queue
        yield workers

    def _queues(self) -> dict[str, int]:
        """Model -> LLEN of its RQ queue, for every model queue RQ knows (and the configured model)."""
        namespace = Queue.redis_queue_namespace_prefix + Keys(self.settings.key_prefix).queue("")
        known = {raw.decode()[len(namespace):] for raw in self.store.redis.smembers(Queue.redis_queues_keys)
                 if raw.decode().startswith(namespace)}
        models = sorted(known | {self.settings.model})
        with self.store.redis.pipeline(transaction=False) as pipe:
            for model in models:
                pipe.llen(namespace + model)
            return dict(zip(models, pipe.execute(), strict=True))


def _session_count() -> int | None:
    """Sessions of this Streamlit server. Streamlit has no public count: its session manager's
    `num_active_sessions` is private API, used here only (tests/test_prometheus.py pins it)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    return Runtime.instance()._session_mgr.num_active_sessions()


def _sandbox_children() -> int:
    """Children of this process now running a student's pattern (Linux /proc; 0 elsewhere)."""
    count = 0
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                count += SANDBOX_MARK in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue  # ended between the two reads
    return count
