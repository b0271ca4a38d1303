"""Every use of RQ's private API, in one place, each with why (RQ is pinned: requirements-worker-base.txt).

The batch worker runs many RQ jobs at once inside one `SimpleWorker`, and finishes each of them by
itself, outside RQ's one-job `perform_job`. RQ has no public call for "this job you handed me is done,
with this result" from outside `perform_job`, nor for "was a stop asked for", so these functions reach
into what `perform_job` would have set. `tests/test_rq_adapter.py` checks every attribute and method
named here against the installed RQ and fails loudly when an upgrade moves one.
"""

from __future__ import annotations

from typing import Any

from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.utils import now

RQ_VERSION = "2.12.0"  # the version these functions were written against (and the pin)

# (object, private attribute) pairs this module touches; the pin test checks each still exists.
PRIVATE_ATTRIBUTES = (
    ("worker", "_stop_requested"),            # set by RQ's signal handler on the first Ctrl-C / SIGTERM
    ("worker", "_shutdown_requested_date"),   # set on every stop request (a second one is a cold stop)
    ("worker", "execution"),                  # read by handle_job_success/failure: the job's Execution
    ("job", "_result"),                       # what Job._handle_success stores as the job's return value
    ("job", "_status"),                       # what perform_job sets before the success/failure handlers
)


def stop_requested(worker: SimpleWorker) -> bool:
    """A warm stop was asked for (Ctrl-C, SIGTERM): admit nothing new, finish what runs. RQ keeps it in a
    private flag; its own loop reads the same flag between jobs."""
    return bool(worker._stop_requested)


def shutdown_requested(worker: SimpleWorker) -> bool:
    """Any stop request at all (RQ sets the date on each), as opposed to a burst that ran out of work."""
    return worker._shutdown_requested_date is not None


def start_execution(worker: SimpleWorker, job: Job, heartbeat_ttl: int) -> Execution:
    """Give `job` its own RQ Execution and mark it started (current job, heartbeats), as RQ's
    `execute_job` does for its one job through `worker.execution`. Here each admitted job keeps its own
    execution (the worker heartbeats all of them); `worker.execution` points at the newest, and
    `finish_job`/`fail_job` point it back at the job they end."""
    with worker.connection.pipeline() as pipe:
        execution = Execution.create(job, heartbeat_ttl, pipeline=pipe, worker_name=worker.name)
        pipe.execute()
    worker.execution = execution
    worker.prepare_job_execution(job, remove_from_intermediate_queue=len(worker.queues) == 1)
    job.started_at = now()
    return execution


def finish_job(worker: SimpleWorker, job: Job, queue: Queue, execution: Execution, result: Any) -> None:
    """Record `job` as finished with `result`, as RQ's `perform_job` would after the job function
    returned. `handle_job_success` reads the execution from `worker.execution` (not an argument) and the
    return value from `job._result`; with several jobs in flight we point both at this job first."""
    job.ended_at = now()
    job._result = result
    job._status = JobStatus.FINISHED
    worker.execution = execution
    worker.handle_job_success(job, queue, queue.started_job_registry)


def fail_job(worker: SimpleWorker, job: Job, queue: Queue, execution: Execution, reason: str) -> None:
    """Record `job` as failed with no retry, as `perform_job` would after the job raised: the status
    and `worker.execution` are what `handle_job_failure` reads, as above."""
    job.retries_left = 0
    job.ended_at = now()
    job._status = JobStatus.FAILED
    worker.execution = execution
    worker.handle_job_failure(job, queue, queue.started_job_registry, exc_string=reason)
