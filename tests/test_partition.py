"""A worker host cut off from Redis, and a frozen worker: its submissions are finished by another worker,
and when it comes back it publishes nothing twice and goes on serving.

The cut: the worker runs in its own network namespace (`ip netns`), joined to the host by a veth pair
that only this test uses (10.200.N.0/30); Redis listens on the host end of the pair only, with a
password. Cutting is `ip link set <host end> down`, mid-batch: the worker sees silence, as when a
switch between two machines dies. Needs root (CI runs as root); skipped with the reason otherwise.
The freeze (SIGSTOP, then SIGCONT) needs nothing special.

Every write of an output record is counted with Redis' MONITOR: "duplicated" is an output written more
than once, "lost" a submission not done with all its outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
import redis

from devtools.embedded_redis import EmbeddedRedis, free_port
from devtools.factories import make_output, make_request
from shared.contract.decoding import NOTEBOOK_PROMPT
from shared.contract.settings import Settings
from shared.services.classes import open_class
from shared.services.gallery import publish
from shared.services.store import Store
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import ROOT, TEST_CLASS, settings_env, wait_for

SUBMISSIONS = 3
NEW_TOKENS = 300  # one sampled generation each; the interruption comes as soon as all three run


def sampled_request(settings: Settings, student: str, seed: int, max_new_tokens: int = NEW_TOKENS):
    config = {"strategy": "sampling", "temperature": 1.0, "top_k": 50, "max_new_tokens": max_new_tokens}
    return build_request(settings, class_code=TEST_CLASS, student=student, prompt=NOTEBOOK_PROMPT, configs=[config],
                         seed=seed, model=settings.model)


class OutputWrites:
    """Counts, from Redis' MONITOR, how often each output record and each submission's "done" is written."""

    def __init__(self, url: str, prefix: str):
        self.client = redis.Redis.from_url(url)
        self.output_marker, self.writes = f"{prefix}:out:", {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> OutputWrites:
        self.monitor = self.client.monitor().__enter__()
        self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.stopping.is_set():
            try:
                command = self.monitor.next_command()["command"]
            except (redis.exceptions.RedisError, OSError, ValueError):
                return
            words = command.split(" ", 2)
            if words[0].upper() == "SET" and len(words) > 1 and self.output_marker in words[1]:
                key = words[1].strip('"')
                self.writes[key] = self.writes.get(key, 0) + 1

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.client.close()

    def duplicated(self) -> int:
        return sum(count - 1 for count in self.writes.values() if count > 1)


def lost(store: Store, requests) -> int:
    return sum(1 for r in requests if store.submission(r.id).status != "done"
               or len(store.submission_outputs(r.id)) != len(r.items))


def start_worker(settings: Settings, log_path, *prefix: str, name: str) -> subprocess.Popen:
    env = {**settings_env(settings), "DECODELAB_WORKER_METRICS_PORT": "0"}
    return subprocess.Popen([*prefix, sys.executable, "-m", "worker", "--name", name], cwd=ROOT, env=env,
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)


def announced(store: Store, name: str) -> dict | None:
    raw = store.redis.get(store.keys.worker(name))
    return json.loads(raw) if raw else None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def _within(seconds: float, condition) -> bool:
    try:
        return bool(wait_for(condition, timeout=seconds, interval=0.2))
    except AssertionError:
        return False


def run_and_interrupt(settings, store, tmp_path, interrupt, resume, worker_prefix=()) -> None:
    """Worker A takes the class's submissions; `interrupt()` cuts or freezes it mid-batch; worker B,
    started then, finishes them; `resume()` gives A back. Checks nothing is lost or written twice, and
    that A lets go of what B holds and serves the next submission."""
    requests = [sampled_request(settings, f"s{i}", seed=i) for i in range(SUBMISSIONS)]
    a = start_worker(settings, tmp_path / "worker-a.log", *worker_prefix, name="worker-a")
    b = None
    try:
        wait_for(lambda: announced(store, "worker-a"), timeout=240, message="worker A to start")
        for request in requests:
            submit(store, settings, request)
        wait_for(lambda: all(s == "running" for s in store.statuses([r.id for r in requests])), timeout=60,
                 interval=0.02, message="worker A to be generating every submission")
        with OutputWrites(settings.redis_url, settings.key_prefix) as writes:
            interrupted = time.time()
            interrupt(a)
            assert all(store.submission(r.id).status == "running" for r in requests), "the batch ended too soon"
            b = start_worker(settings, tmp_path / "worker-b.log", name="worker-b")
            wait_for(lambda: announced(store, "worker-b"), timeout=240, message="worker B to start")
            b_ready = time.time()
            for request in requests:
                if not _within(240, lambda: store.submission(request.id).status == "done"):
                    record = store.submission(request.id)
                    raise AssertionError(f"{request.id} not finished by worker B: {record.status}, "
                                         f"{record.worker}, attempt {record.attempts}, {record.progress_done} tokens")
                record = store.submission(request.id)
                assert (record.worker, record.attempts) == ("worker-b", 2)
            taken_over = max(store.submission(r.id).started_at for r in requests)
            resume(a)
            resumed = time.time()
            let_go = _within(90, lambda: (announced(store, "worker-a") or {}).get("seen_at", 0) > resumed
                             and announced(store, "worker-a")["in_flight"] == 0)
            time.sleep(settings.heartbeat_seconds + settings.heartbeat_grace + settings.maintenance_seconds + 1)
        lost_count, duplicated = lost(store, requests), writes.duplicated()
        print(f"taken over {taken_over - interrupted:.1f} s after the "
              f"interruption (worker B ready after {b_ready - interrupted:.1f} s); lost {lost_count}, "
              f"duplicated {duplicated}")
        assert lost_count == 0 and duplicated == 0, writes.writes
        # requeued and started by B within heartbeat + grace (or B's start, if later) and one sweep
        lapsed = interrupted + settings.heartbeat_seconds + settings.heartbeat_grace
        assert taken_over - max(b_ready, lapsed) <= settings.maintenance_seconds + 10
        assert let_go, "worker A did not come back and let go of what B holds"
        assert a.poll() is None, "worker A died instead of resuming"
        assert len(writes.writes) == SUBMISSIONS  # each output written exactly once, by B
        assert store.class_output_count(TEST_CLASS) == SUBMISSIONS and store.pending_count(TEST_CLASS) == 0
        assert all(store.submission(r.id).attempts == 2 for r in requests)  # no third run after A came back
        stop(b)
        after = sampled_request(settings, "after", seed=99, max_new_tokens=8)
        submit(store, settings, after)
        wait_for(lambda: store.submission(after.id).status == "done", timeout=90, message="worker A to serve again")
        assert store.submission(after.id).worker == "worker-a"
    finally:
        stop(a)
        if b is not None:
            stop(b)


def test_publish_refuses_a_submission_another_attempt_holds(store):
    """The fence itself: worker A's attempt 1 was requeued and worker B runs attempt 2; A's late publish
    writes nothing, B's goes through."""
    output = make_output(1, TEST_CLASS)
    request = make_request(TEST_CLASS, id=output.submission_id)
    with store.redis.pipeline() as pipe:
        store.add_submission(pipe, request)
        pipe.execute()
    first = store.mark_running(request.id, "worker-a")
    second = store.mark_running(request.id, "worker-b")  # requeued after worker A went silent
    assert not publish(store, request, [output], owner=("worker-a", first))
    assert store.outputs([output.id]) == [] and store.status(request.id) == "running"
    assert publish(store, request, [output], owner=("worker-b", second))
    assert store.status(request.id) == "done" and store.outputs([output.id])[0].id == output.id
    assert not publish(store, request, [output], owner=("worker-b", second))  # done: not active any more


def test_frozen_worker_loses_nothing_and_publishes_nothing_twice(settings, store, tmp_path):
    run_and_interrupt(settings, store, tmp_path, interrupt=lambda a: a.send_signal(signal.SIGSTOP),
                      resume=lambda a: a.send_signal(signal.SIGCONT))


# --- the cut link --------------------------------------------------------------------------------------
def _netns_reason() -> str | None:
    if sys.platform != "linux" or shutil.which("ip") is None:
        return "needs Linux with iproute2 (`ip`)"
    if os.geteuid() != 0:
        return "needs root to create a network namespace (ip netns); CI runs as root"
    return None


class Namespace:
    """A network namespace joined to the host by its own veth pair (10.200.N.1 here, .2 inside)."""

    def __init__(self):
        number = os.getpid() % 250 + 1
        self.name, self.host_end, self.inner_end = f"dlpart{number}", f"dlph{number}", f"dlpw{number}"
        self.host_address, self.inner_address = f"10.200.{number}.1", f"10.200.{number}.2"

    def create(self) -> None:
        for command in ([["netns", "add", self.name]],
                        [["link", "add", self.host_end, "type", "veth", "peer", "name", self.inner_end]],
                        [["link", "set", self.inner_end, "netns", self.name]],
                        [["addr", "add", f"{self.host_address}/30", "dev", self.host_end]],
                        [["link", "set", self.host_end, "up"]],
                        [["-n", self.name, "addr", "add", f"{self.inner_address}/30", "dev", self.inner_end]],
                        [["-n", self.name, "link", "set", self.inner_end, "up"]],
                        [["-n", self.name, "link", "set", "lo", "up"]]):
            subprocess.run(["ip", *command[0]], check=True, capture_output=True)

    def link(self, state: str) -> None:
        subprocess.run(["ip", "link", "set", self.host_end, state], check=True, capture_output=True)

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)


@pytest.fixture
def namespace():
    reason = _netns_reason()
    if reason:
        pytest.skip(reason)
    space = Namespace()
    space.remove()  # a leftover of an interrupted run of this same test
    try:
        space.create()
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot create a network namespace here: {error.stderr.decode().strip()}")
    yield space
    space.remove()


def test_worker_cut_off_from_redis_loses_nothing_and_publishes_nothing_twice(namespace, tmp_path):
    server = EmbeddedRedis(tmp_path / "redis", port=free_port(), host=namespace.host_address,
                           password="partition-test-password").start()
    try:
        settings = replace(Settings(), redis_url=server.url, model="random-tiny", key_prefix="dltest", max_batch=16,
                           heartbeat_seconds=1, heartbeat_grace=3, maintenance_seconds=2)
        store = Store(redis.Redis.from_url(server.url), settings.key_prefix)
        open_class(store, TEST_CLASS)
        run_and_interrupt(settings, store, tmp_path, interrupt=lambda a: namespace.link("down"),
                          resume=lambda a: namespace.link("up"), worker_prefix=namespace.prefix())
    finally:
        server.stop()
