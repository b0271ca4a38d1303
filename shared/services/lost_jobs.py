"""Submissions whose RQ job ended without them hearing of it: they are failed with a reason the student
sees, instead of staying "running" and counting against the student's limits forever.

Two ways in, for the two ways a job ends unseen: RQ's failure callback (`job_failed`, named by dotted
path in every job `submit` enqueues) when a job's worker was lost and no retry is left; and a sweep
(`reconcile_pending`, run by the workers) for jobs that failed, stopped, were cancelled or vanished
without calling it.
"""

from __future__ import annotations

from redis import Redis
from rq.job import Job, JobStatus

from shared.contract.problems import Problem
from shared.services.store import Store

ENDED_STATUSES = {None, JobStatus.FAILED.value, JobStatus.STOPPED.value, JobStatus.CANCELED.value}


def job_failed(job: Job, connection: Redis, *exc_info) -> None:
    """RQ's on_failure callback. RQ calls it from its registry cleanup when a job's worker was lost
    (abandoned), before deciding on a retry; when no retry is left, the submission ends here with a
    reason the student sees, instead of staying "running" and counting against their limits forever."""
    if job.retries_left:
        return  # RQ puts it back in the queue
    store = Store(connection, (job.meta or {}).get("prefix", "dl"))
    end_if_unfinished(store, job.id, Problem("worker_lost"))


def end_if_unfinished(store: Store, submission_id: str, problem: Problem) -> bool:
    """Fail a submission that is still queued or running; True when it did."""
    try:
        record = store.submission(submission_id)
    except ValueError:
        return False
    if record is None or not record.active:
        return False
    store.fail_submission(record.request, problem)
    return True


def reconcile_pending(store: Store) -> int:
    """The sweep behind `job_failed`: every pending submission whose RQ job has ended (failed, stopped,
    cancelled, or gone) without the submission hearing of it is failed with a reason. Returns how many.
    Two round trips per class (a class of 300 has ~600 pending during a burst, swept every few seconds
    from the generation loop)."""
    ended = 0
    for code in store.redis.hkeys(store.keys.classes()):
        pending = [raw.decode() for raw in store.redis.smembers(store.keys.pending(code.decode()))]
        with store.redis.pipeline(transaction=False) as pipe:
            for submission_id in pending:
                pipe.hget(Job.key_for(submission_id), "status")  # RQ's job hash, named by RQ's public key_for
            statuses = [raw.decode() if raw else None for raw in pipe.execute()]
        for submission_id, status in zip(pending, statuses):
            if status in ENDED_STATUSES:
                ended += end_if_unfinished(store, submission_id, Problem("worker_lost"))
    return ended
