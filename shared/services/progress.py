"""Following a submission while it waits: what the student's page shows until its results are there."""

from __future__ import annotations

import time
from dataclasses import replace

from shared.contract.records import CHECKING, QUEUED, RUNNING, Progress
from shared.contract.settings import Settings
from shared.services.store import Store
from shared.services.submit import queue_for
from shared.services.workers import served_models


def progress(store: Store, settings: Settings, submission_id: str) -> Progress | None:
    """What the student's page shows while waiting: status, queue position and depth, tokens done."""
    record = store.submission(submission_id)
    if record is None:
        return None
    view = Progress(status=record.status, done=record.progress_done, total=record.progress_total,
                    attempts=record.attempts, error=record.error, created_at=record.created_at,
                    finished_at=record.finished_at, request=record.request)
    if record.status in (RUNNING, CHECKING):
        return replace(view, partial=store.partial_texts(submission_id))
    if record.status != QUEUED:
        return view
    model = record.request.model
    queue = queue_for(store.redis, settings, model)
    position = queue.get_job_position(submission_id)
    if position is None:
        return replace(view, depth=queue.count)
    return replace(view, position=position + 1, depth=queue.count,
                   wait_seconds=estimated_wait(store, queue.get_job_ids(0, position + 1), model))


def estimated_wait(store: Store, job_ids_ahead: list[str], model: str) -> float | None:
    """Seconds until the last of `job_ids_ahead` is done: their tokens over the live workers' measured
    throughput (tokens/s). None until a worker has measured one."""
    throughput = sum(w.tokens_per_s for w in served_models(store).get(model, []))
    if throughput <= 0:
        return None
    with store.redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids_ahead:
            pipe.hget(store.keys.submission(job_id), "progress_total")
        tokens = sum(int(t or 0) for t in pipe.execute())
    return tokens / throughput


def awaits_first_words(view: Progress) -> bool:
    """Queued or running with no word written yet: what a student who just pressed Run waits through."""
    return view.status in (QUEUED, RUNNING) and not any(part.text.strip() for part in view.partial)


def wait_for_first_words(store: Store, submission_id: str, seconds: float, look: float = 0.05) -> bool:
    """Wait at most `seconds`, looking every `look` seconds, until the submission's first words are
    published or it has ended; True if they are (or it has), False when the time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if store.has_words_or_ended(submission_id):
            return True
        time.sleep(min(look, max(0.0, deadline - time.monotonic())))
    return store.has_words_or_ended(submission_id)
