"""scripts/run.py (`make run`): the embedded Redis has a password, and what it starts logs in with it (F13)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import redis

from devtools.embedded_redis import free_port
from shared.services.store import Store
from shared.services.workers import served_models
from tests.conftest import ROOT, _healthy, wait_for


def test_make_run_serves_from_a_redis_with_a_password_and_never_prints_it(tmp_path):
    port, redis_port, prefix = free_port(), free_port(), "dlrun"
    env = {**os.environ, "DECODELAB_MODEL": "random-tiny", "DECODELAB_PREFIX": prefix, "DECODELAB_DEMO_CLASS": "",
           "DECODELAB_TORCH_THREADS": "1"}
    env.pop("REDIS_URL", None)  # the embedded server, as a teacher's `make run` starts it
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "scripts.run", "--port", str(port), "--redis-port", str(redis_port),
                                "--data-dir", str(tmp_path / "data")], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        password_file = tmp_path / "data" / "redis" / "password"
        wait_for(password_file.exists, 60, message="the password file")
        password = password_file.read_text().strip()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=redis_port).ping()
        client = redis.Redis(port=redis_port, password=password)
        wait_for(lambda: served_models(Store(client, prefix)).get("random-tiny"), 240, 0.5,
                 "the worker to log in and announce itself")
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}"), 120, 0.5, "the dashboard")
        printed = log_path.read_text(errors="replace")
        assert f"127.0.0.1:{redis_port}" in printed and password not in printed
    finally:
        run.send_signal(signal.SIGINT)  # run.py stops its own children (by pid) and the server
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)  # its own session: only what this test started
            run.wait()
