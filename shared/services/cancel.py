"""A student stopping their own submission.

A queued one leaves RQ's queue at once and ends as cancelled; a running one is flagged (`Store.request_cancel`)
and its worker ends it at its next heartbeat, freeing its rows. A cancelled submission is not a failure:
it is never requeued or counted as failed.
"""

from __future__ import annotations

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from shared.contract.problems import Problem
from shared.services.lost_jobs import end_if_unfinished
from shared.services.store import Store


def cancel(store: Store, submission_id: str, student_id: str) -> bool:
    """The student's own submission, stopped: a queued one leaves the queue now; a running one is ended by
    its worker at its next heartbeat, its rows freed. False when it is not theirs or already finished."""
    record = store.submission(submission_id)
    if record is None or record.request.student_id != student_id or not record.active:
        return False
    if not store.request_cancel(submission_id):
        return False  # it finished meanwhile
    try:
        job = Job.fetch(submission_id, connection=store.redis)
        if job.get_status() == JobStatus.QUEUED:
            job.cancel()  # out of the queue, into RQ's canceled registry
            end_if_unfinished(store, submission_id, Problem("cancelled"))
            store.forget_cancel(submission_id)
    except NoSuchJobError:
        end_if_unfinished(store, submission_id, Problem("cancelled"))
    return True
