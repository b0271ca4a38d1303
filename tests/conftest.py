"""Fixtures: a real Redis server, settings pointed at it, and worker processes started by pid.

By default the session starts its own server from the embedded package (so `make test` needs no Redis
installed, and fault tests can stop and restart it). With REDIS_URL set, tests use that server, on
database DECODELAB_TEST_REDIS_DB (15 unless set), flushed around every test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from devtools.embedded_redis import EmbeddedRedis, free_port
from shared.contract.settings import Settings
from shared.services.classes import open_class
from shared.services.store import Store

ROOT = Path(__file__).resolve().parent.parent
TEST_CLASS = "clase-test"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """(url, EmbeddedRedis or None): the server every test talks to."""
    external = os.environ.get("REDIS_URL")
    if external:
        db = os.environ.get("DECODELAB_TEST_REDIS_DB", "15")
        base = external.rsplit("/", 1)[0] if external.count("/") > 2 else external
        yield f"{base}/{db}", None
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server.url, server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    url, server = redis_server
    if server is not None and not server.ping():
        server.start()  # a fault test stopped it
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def settings(redis_url) -> Settings:
    return replace(Settings(), redis_url=redis_url, model="random-tiny", key_prefix="dltest", max_batch=8,
                   heartbeat_seconds=1, heartbeat_grace=3, maintenance_seconds=2, instructor_password="profe-secreto")


@pytest.fixture
def connection(settings):
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    client.close()


@pytest.fixture
def store(connection, settings) -> Store:
    store = Store(connection, settings.key_prefix)
    open_class(store, TEST_CLASS)
    return store


def settings_env(settings: Settings) -> dict:
    return {**os.environ, "REDIS_URL": settings.redis_url, "DECODELAB_MODEL": settings.model,
            "DECODELAB_PREFIX": settings.key_prefix, "DECODELAB_MAX_BATCH": str(settings.max_batch),
            "DECODELAB_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
            "DECODELAB_HEARTBEAT_GRACE": str(settings.heartbeat_grace),
            "DECODELAB_MAINTENANCE_SECONDS": str(settings.maintenance_seconds),
            "DECODELAB_INSTRUCTOR_PASSWORD": settings.instructor_password, "PYTHONPATH": str(ROOT)}


class WorkerProcesses:
    """Worker processes a test starts; each is stopped by its own pid at the end."""

    def __init__(self, settings: Settings, log_dir: Path):
        self.settings = settings
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self, *args: str, **env) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{len(self.processes)}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "worker", *args], cwd=ROOT,
                                   env={**settings_env(self.settings), **env}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def log(self, index: int = 0) -> str:
        return (self.log_dir / f"worker-{index}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def workers(settings, tmp_path):
    pool = WorkerProcesses(settings, tmp_path)
    yield pool
    pool.stop_all()


def wait_for(condition, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def dashboard_url(settings, store, workers, tmp_path):
    """A real `streamlit run` of the dashboard (and one worker) on a free port; its URL."""
    workers.start()
    port = free_port()
    env = {**settings_env(settings), "DECODELAB_DEMO_CLASS": ""}
    log = open(tmp_path / "streamlit.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                               "--server.port", str(port), "--server.headless", "true",
                               "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=60, message="streamlit to answer")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200
    except OSError:
        return False


# --- the fast tier (`make test-fast`) ----------------------------------------------------------------
# A test is in it when it needs no Redis server (none of these fixtures, directly or through another),
# and its module starts no browser, proxy, compose, dashboard server or model training. Pure logic, the
# engine, records.
NEEDS_REDIS = {"redis_server", "redis_url", "settings", "connection", "store", "workers", "app_env"}
SLOW_MODULES = {"test_browser", "test_lesson_browser", "test_load_lesson", "test_scale_out", "test_compose",
                "test_demo_model", "test_protocol_client", "test_proxy", "test_browser_roster",
                "test_run"}  # test_run: `make run` itself (a worker and a dashboard)
SLOW_MODULES |= {"test_partition", "test_prometheus"}  # operations: a network namespace, a real Prometheus
SLOW_MODULES |= {"test_bench_smoke"}  # benchmarks' smoke runs: a dashboard, workers, a browser


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module not in SLOW_MODULES and not NEEDS_REDIS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fast)
