"""A student's allowances, checked at submit: so one student cannot fill the queue, keep the workers busy
alone, start sandboxed children without end, or fill Redis ahead of the class.

Each check raises `Problem.Invalid` with the limit the student met (the page says which, and how much is
left). `submit` (services/submit.py) checks the storage first, then the others under the student's
submit lock, so two tabs cannot both pass. The limits and what each protects are listed in docs/fairness-and-storage.md and docs/limits.md.
"""

from __future__ import annotations

import time
import uuid

from shared.contract.problems import Problem
from shared.contract.records import ACTIVE, Request
from shared.contract.settings import Settings
from shared.services.store import Store


def count_pattern_check(store: Store, settings: Settings, code: str, student: str) -> None:
    """One more sandboxed compilation for `student`, or `too_many_pattern_checks` past the per-minute
    limit (`max_per_minute_per_student`, the same number as submissions)."""
    key, now = store.keys.pattern_checks(code, student), time.time()
    with store.redis.pipeline() as pipe:
        pipe.zremrangebyscore(key, "-inf", now - 60)
        pipe.zcard(key)
        _, recent = pipe.execute()
    if recent >= settings.max_per_minute_per_student:
        raise Problem.Invalid([Problem("too_many_pattern_checks", limit=settings.max_per_minute_per_student)])
    with store.redis.pipeline() as pipe:
        pipe.zadd(key, {uuid.uuid4().hex: now})
        pipe.expire(key, 120)
        pipe.execute()


def check_limits(store: Store, settings: Settings, code: str, student: str, tokens: int = 0) -> None:
    """The student's allowances: submissions active and sent this minute, and tokens asked for this
    minute (`tokens`: what the new submission asks for). Keyed on the student id the server gave them."""
    recent = store.student_submissions(code, student, limit=settings.max_active_per_student + 20)
    active = sum(status in ACTIVE for status in store.statuses(recent))
    if active >= settings.max_active_per_student:
        raise Problem.Invalid([Problem("too_many_active", limit=settings.max_active_per_student)])
    last_minute = store.redis.zcount(store.keys.student_submissions(code, student), time.time() - 60, "+inf")
    if last_minute >= settings.max_per_minute_per_student:
        raise Problem.Invalid([Problem("too_many_per_minute", limit=settings.max_per_minute_per_student)])
    check_token_budget(store, settings, code, student, tokens)


def check_token_budget(store: Store, settings: Settings, code: str, student: str, tokens: int) -> None:
    """Tokens a student may ask for per minute (their submissions' max_new_tokens x generations, whether
    generated, cached or cancelled since): a student cannot keep the workers busy alone by resubmitting."""
    limit = settings.tokens_per_minute_per_student
    if limit <= 0:
        return
    recent = store.redis.zrangebyscore(store.keys.student_submissions(code, student), time.time() - 60, "+inf")
    with store.redis.pipeline(transaction=False) as pipe:
        for submission_id in recent:
            pipe.hget(store.keys.submission(submission_id.decode()), "progress_total")
        used = sum(int(float(raw or 0)) for raw in pipe.execute())
    if used + tokens > limit:
        raise Problem.Invalid([Problem("token_budget", tokens=tokens, left=max(0, limit - used), limit=limit)])


# Bytes a submission may add to Redis: its outputs' fixed part (record, gallery indexes, stats) and each
# token (text, compact token details); measured by `make bench-fairness` (docs/fairness-and-storage.md).
BYTES_PER_OUTPUT = 4096
BYTES_PER_TOKEN = 64
STORAGE_HEADROOM = 0.05  # share of maxmemory kept free for queues, heartbeats and work already queued


def check_storage(store: Store, request: Request) -> None:
    """Refuse a submission when Redis (its `maxmemory`) has no room for its outputs: a full Redis would
    refuse the worker's writes after the generation, so the student is told now, and nothing is written."""
    memory = store.redis.info("memory")
    limit = int(memory.get("maxmemory") or 0)
    if limit <= 0:
        return  # no maxmemory: Redis grows until the machine runs out (see the docs' sizing table)
    needed = len(request.items) * BYTES_PER_OUTPUT + request.total_tokens * BYTES_PER_TOKEN
    if int(memory["used_memory"]) + needed > limit * (1 - STORAGE_HEADROOM):
        raise Problem.Invalid([Problem("storage_full")])
