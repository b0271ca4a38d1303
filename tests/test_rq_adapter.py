"""worker/rq_adapter.py: every private RQ name it relies on still exists and still means the same.
Fails loudly when the pinned RQ is upgraded and one of them moved (no Redis server needed)."""

import inspect
import re
from pathlib import Path

import rq
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from worker import rq_adapter

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_and_pinned_rq_is_the_one_the_adapter_was_written_for():
    assert rq.__version__ == rq_adapter.RQ_VERSION
    for requirements in ("requirements-dashboard.txt", "requirements-worker-base.txt"):
        pins = re.findall(r"^rq==([\w.]+)", (ROOT / requirements).read_text(), flags=re.M)
        assert pins == [rq_adapter.RQ_VERSION], requirements


def test_every_private_attribute_the_adapter_touches_exists():
    connection = Redis()  # never connects: constructing a worker and a job does not talk to Redis
    objects = {"worker": SimpleWorker([Queue("q", connection=connection)], connection=connection),
               "job": Job.create("worker.jobs.run_submission", connection=connection)}
    for owner, name in rq_adapter.PRIVATE_ATTRIBUTES:
        assert hasattr(objects[owner], name), f"RQ {rq.__version__}: {owner}.{name} is gone"


def test_the_success_and_failure_handlers_still_read_what_the_adapter_sets():
    success = inspect.getsource(SimpleWorker.handle_job_success)
    failure = inspect.getsource(SimpleWorker.handle_job_failure)
    assert "self.execution" in success and "self.execution" in failure
    assert "self._result" in inspect.getsource(Job._handle_success)
    signature = inspect.signature(SimpleWorker.handle_job_success)
    assert list(signature.parameters) == ["self", "job", "queue", "started_job_registry"]
    assert "exc_string" in inspect.signature(SimpleWorker.handle_job_failure).parameters


def test_no_other_module_uses_rqs_private_names():
    private = re.compile(r"\.(_stop_requested|_shutdown_requested_date)\b|\bjob\._(status|result)\b|\bself\.execution\s*=")
    for folder in ("shared", "dashboard", "worker", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name != "rq_adapter.py":
                assert not private.search(path.read_text()), path
