"""worker/__main__.py's console: what an operator reads at INFO, RQ's routine sweeps only at DEBUG."""

import inspect
import logging

from rq.worker import BaseWorker

from worker.__main__ import RoutineAtDebug


def rq_record(message: str, level=logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("rq.worker", level, __file__, 1, message, ("w1", "decodelab:random-tiny"), None)


def test_rqs_registry_sweep_is_debug_and_hidden_at_info():
    routine = RoutineAtDebug()
    logging.getLogger("rq.worker").setLevel(logging.INFO)
    record = rq_record("Worker %s: cleaning registries for queue: %s")
    assert routine.filter(record) is False and record.levelname == "DEBUG"
    logging.getLogger("rq.worker").setLevel(logging.DEBUG)
    assert routine.filter(rq_record("Worker %s: cleaning registries for queue: %s")) is True
    logging.getLogger("rq.worker").setLevel(logging.NOTSET)


def test_what_an_operator_needs_stays_at_info():
    routine = RoutineAtDebug()
    for message in ("Worker %s: started with PID %d, version %s", "Worker %s: %s: %s (%s)"):
        record = rq_record(message)
        assert routine.filter(record) and record.levelno == logging.INFO
    error = rq_record("Worker %s: could not connect: %s", logging.ERROR)
    assert routine.filter(error) and error.levelno == logging.ERROR


def test_rq_still_says_cleaning_registries_where_the_filter_looks():
    """Pins RQ's wording: if an upgrade changes it, the sweep would be back at INFO unnoticed."""
    assert "cleaning registries" in inspect.getsource(BaseWorker.clean_registries)


def test_a_running_workers_console_says_ready_and_not_every_sweep(workers):
    import time

    from tests.conftest import wait_for

    workers.start()
    wait_for(lambda: " ready: model random-tiny" in workers.log(), timeout=120, message="the worker to start")
    time.sleep(5)  # two maintenance passes at maintenance_seconds=2
    log = workers.log()
    assert "batches of up to 8 rows" in log and "cleaning registries" not in log
