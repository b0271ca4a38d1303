"""Submitting: a checked `Request` recorded and enqueued as its RQ job in one step.

The record and its RQ job are written in one Redis transaction, so a submission is either fully queued
or not there at all. The student's limits (services/limits.py) are checked first, under a per-student
lock; a custom regex is compiled in a sandboxed child before anything is written.
"""

from __future__ import annotations

import logging

import redis
from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job

from shared.contract.problems import Problem
from shared.contract.records import Request
from shared.contract.settings import Settings
from shared.services.classes import class_info, is_open
from shared.services.limits import check_limits, check_storage, count_pattern_check
from shared.services.store import Store
from shared.teaching.checks import validate_custom
from shared.teaching.pattern_sandbox import ChildSlots

JOB_FUNCTION = "worker.jobs.run_submission"  # by name: the dashboard never imports the worker
ON_FAILURE = "shared.services.lost_jobs.job_failed"  # RQ's failure callback, by name (runs wherever RQ cleans up)
SUBMIT_LOCK_SECONDS = 10  # the per-student submit lock expires by itself if its release is lost

log = logging.getLogger(__name__)


def queue_for(redis: Redis, settings: Settings, model: str) -> Queue:
    return Queue(settings.queue_name(model), connection=redis)


def submit(store: Store, settings: Settings, request: Request, sandbox: ChildSlots | None = None) -> Job:
    """Record the submission and enqueue its RQ job atomically. Refuses a closed or unknown class, and a
    student over their limits (so one student cannot fill the queue ahead of the class). A custom regex
    is compiled in a sandboxed child first (`check_patterns`), in one of `sandbox`'s: the serving
    process's children, shared by all its sessions (None: a pool of this call's own).

    Idempotent: a request id that is already stored (the page retrying one press of Run after an error)
    returns that job and enqueues nothing. Once the transaction has committed, nothing after it may
    turn the submission into an error: the per-student lock expires by itself if releasing it fails.
    """
    if not is_open(store, request.class_code):
        known = class_info(store, request.class_code) is not None
        raise Problem.Invalid([Problem("class_closed" if known else "bad_class_code")])
    if store.exists(request.id):
        return Job.fetch(request.id, connection=store.redis)
    check_storage(store, request)
    try:
        return _submit_locked(store, settings, request, sandbox)
    except redis.exceptions.OutOfMemoryError:  # filled up since the check: refused whole, nothing half-written
        raise Problem.Invalid([Problem("storage_full")]) from None


def _submit_locked(store: Store, settings: Settings, request: Request, sandbox: ChildSlots | None) -> Job:
    # One submit at a time per student (two tabs cannot both pass the limits), held for milliseconds.
    lock = store.redis.lock(store.keys.submitting(request.class_code, request.student_id),
                            timeout=SUBMIT_LOCK_SECONDS, blocking_timeout=SUBMIT_LOCK_SECONDS)
    if not lock.acquire():
        raise Problem.Invalid([Problem("busy")])
    try:
        if store.exists(request.id):
            return Job.fetch(request.id, connection=store.redis)
        check_limits(store, settings, request.class_code, request.student_id, request.total_tokens)
        check_patterns(store, settings, request, sandbox or ChildSlots(settings.sandbox_children))
        return _enqueue(store, settings, request)
    finally:
        _release(lock)


def _release(lock) -> None:
    try:
        lock.release()
    except (redis.exceptions.RedisError, OSError) as error:  # stored or not, the lock expires on its own
        log.warning("submit lock not released (%s); it expires in %d s", type(error).__name__, SUBMIT_LOCK_SECONDS)


def _enqueue(store: Store, settings: Settings, request: Request) -> Job:
    queue = queue_for(store.redis, settings, request.model)
    with store.redis.pipeline() as pipe:
        # RQ opens the transaction (MULTI) itself, so its commands go first; ours join the same EXEC.
        job = queue.enqueue_call(
            JOB_FUNCTION, args=(request.id,), job_id=request.id, pipeline=pipe,
            timeout=settings.job_timeout, result_ttl=7 * 24 * 3600, failure_ttl=7 * 24 * 3600,
            retry=Retry(max=settings.job_retries) if settings.job_retries > 0 else None,  # RQ refuses max=0
            on_failure=Callback(ON_FAILURE), meta={"prefix": store.prefix},
            description=f"{request.lab} by {request.student}",
        )
        store.add_submission(pipe, request)
        pipe.execute()
    return job


def check_patterns(store: Store, settings: Settings, request: Request, sandbox: ChildSlots) -> None:
    """Compile the request's custom regexes, each in a sandboxed child (up to 256 MB and 3 s). Each
    compilation counts against the student's per-minute limit before its child starts, refused ones too,
    so pressing Run in many tabs cannot start children without end; and waits at most a moment for one
    of `sandbox`'s children ("busy, try again" past that). Runs under the student's submit lock: one
    child at a time per student."""
    for spec in request.checks:
        if spec.get("id") != "custom" or spec.get("kind") != "regex":
            continue
        count_pattern_check(store, settings, request.class_code, request.student_id)
        problem = validate_custom("regex", spec["pattern"], sandbox)
        if problem:
            raise Problem.Invalid([Problem(problem)])
