"""A student's submission: validate, record and enqueue it in one step; then follow it to its results.

The dashboard calls `submit`; the worker calls `validate_request` again on what it dequeues (it never
trusts the queue). The record and its RQ job are written in one Redis transaction, so a submission is
either fully queued or not there at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import unicodedata
import uuid
from dataclasses import replace

import redis
from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from shared.contract.decoding import CONTEXT_WINDOW, DecodingConfig, validate_seed
from shared.contract.problems import Problem
from shared.contract.records import ACTIVE, CHECKING, EXPLORE, LABS, QUEUED, RUNNING, Item, Progress, Request
from shared.contract.settings import Settings
from shared.contract.tokens import count_gpt2_tokens
from shared.services.classes import BIDI_CONTROLS, class_info, is_open
from shared.services.store import Store
from shared.services.workers import served_models
from shared.teaching.checks import check_shape_problem, validate_custom
from shared.teaching.pattern_sandbox import ChildSlots

MAX_GENERATIONS = 64  # generations in one submission (variants x samples, or configs)
JOB_FUNCTION = "worker.jobs.run_submission"  # by name: the dashboard never imports the worker
ALLOWED_CONTROL = {"\n", "\t"}
ON_FAILURE = "shared.services.submissions.job_failed"  # RQ's failure callback, by name (runs wherever RQ cleans up)
SUBMIT_LOCK_SECONDS = 10  # the per-student submit lock expires by itself if its release is lost

log = logging.getLogger(__name__)


def clean_prompt(prompt, max_chars: int) -> str:
    """The prompt as the model will see it; raises with every problem found."""
    if not isinstance(prompt, str):
        raise Problem.Invalid([Problem("not_text")])
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, decoded with errors kept
        raise Problem.Invalid([Problem("not_text")]) from None
    text = prompt.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise Problem.Invalid([Problem("empty_prompt")])
    if len(text) > max_chars:
        raise Problem.Invalid([Problem("prompt_too_long_chars", chars=len(text), limit=max_chars)])
    if any(unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROL for ch in text):
        raise Problem.Invalid([Problem("control_characters")])
    if any(ch in BIDI_CONTROLS for ch in text):  # they reorder how text is shown to others: a disguise
        raise Problem.Invalid([Problem("bidi_characters")])
    return text


def check_context(prompt_tokens: int, configs: list[DecodingConfig], context: int = CONTEXT_WINDOW) -> None:
    longest = max(c.max_new_tokens for c in configs)
    if prompt_tokens + longest > context:
        raise Problem.Invalid([Problem("prompt_too_long_tokens", prompt_tokens=prompt_tokens,
                                       max_new_tokens=longest, context=context)])


def build_request(settings: Settings, *, class_code: str, student: str, prompt: str, configs: list[dict],
                  seed, model: str, lab: str = "decoding", variants: dict[str, str] | None = None,
                  checks: list[dict] | None = None, topic: str = "", request_id: str | None = None,
                  student_id: str | None = None) -> Request:
    """Validate everything a student sent and return the request record; raises `Problem.Invalid`.

    One generation per (variant, config): the decoding lab sends one prompt and several configs; the
    ablation lab sends named prompt variants (`variants`, name -> text) with one config.
    `request_id`: the id of this press of Run, reused when the page retries it (see `submit`).
    `student`: the label others see; `student_id`: who it is (limits, results), the label if not given.
    """
    variants = variants if variants is not None else {"": prompt}
    problems: list[Problem] = []
    if lab not in LABS:
        problems.append(Problem("bad_lab"))
    if not configs:
        problems.append(Problem("no_configs"))
    elif len(configs) > settings.max_configs:
        problems.append(Problem("too_many_configs", limit=settings.max_configs))
    parsed: list[DecodingConfig] = []
    seeds: list[int] = []
    for row, raw in enumerate(configs[: settings.max_configs], start=1):
        try:
            named_row = row if lab == "decoding" and len(configs) > 1 else None  # the ablation's rows are seeds
            parsed.append(DecodingConfig.from_dict(raw, row=named_row))
            seeds.append(validate_seed(raw["seed"] if raw.get("seed") is not None else seed))
        except Problem.Invalid as invalid:
            problems += [p for p in invalid.problems if p not in problems]
    _collect(problems, validate_seed, seed)
    texts = {name: _collect(problems, clean_prompt, text, settings.max_prompt_chars)
             for name, text in variants.items()}
    if len(variants) * len(parsed) > MAX_GENERATIONS:
        problems.append(Problem("too_many_generations", limit=MAX_GENERATIONS))
    problems += [Problem(p) for p in (check_shape_problem(spec) for spec in checks or []) if p]
    if problems:
        raise Problem.Invalid(problems)
    for text in texts.values():
        check_context(count_gpt2_tokens(text), parsed)
    items = tuple(Item(variant=_clean_label(name), prompt=text, config=c, seed=s)
                  for name, text in texts.items() for c, s in zip(parsed, seeds, strict=True))
    return Request(id=request_id or new_request_id(), class_code=class_code, student=student,
                   student_id=student_id or student, lab=lab, model=model, prompt=next(iter(texts.values())),
                   items=items, created_at=time.time(), total_tokens=len(texts) * sum(c.max_new_tokens for c in parsed),
                   checks=tuple(checks or ()), topic=topic[:300])


def _collect(problems: list[Problem], check, *args):
    """`check(*args)`, or None with its problems added to `problems` (each reported once)."""
    try:
        return check(*args)
    except Problem.Invalid as invalid:
        problems += [p for p in invalid.problems if p not in problems]
        return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def _clean_label(name: str) -> str:
    """A variant name as shown to the class: without bidirectional controls that would disguise it."""
    return "".join(ch for ch in str(name) if ch not in BIDI_CONTROLS)


def build_explore_request(settings: Settings, *, class_code: str, student: str, prompt: str, model: str,
                          request_id: str | None = None, student_id: str | None = None) -> Request:
    """Ask a worker for the next-token distribution after `prompt` (the explorer's bars)."""
    text = clean_prompt(prompt, settings.max_prompt_chars)
    check_context(count_gpt2_tokens(text), [DecodingConfig(max_new_tokens=1)])
    return Request(id=request_id or new_request_id(), class_code=class_code, student=student,
                   student_id=student_id or student, lab=EXPLORE, model=model, prompt=text, created_at=time.time())


def validate_request(request: Request, settings: Settings) -> list[DecodingConfig]:
    """The worker's second check of a dequeued request (its shape was checked when it was read, by
    `Request.from_dict`); returns its effective configs, one per item. Cheap: a custom regex is not
    compiled here (it runs in the sandbox with the other checks)."""
    for item in request.items:
        clean_prompt(item.prompt, settings.max_prompt_chars)
        validate_seed(item.seed)
    configs = [item.config.effective() for item in request.items]
    if not configs or len(configs) > MAX_GENERATIONS:
        raise Problem.Invalid([Problem("too_many_generations", limit=MAX_GENERATIONS)])
    problems = [Problem(p) for p in (check_shape_problem(spec) for spec in request.checks) if p]
    if problems:
        raise Problem.Invalid(problems)
    return configs


def cache_key(class_code: str, model: str, prompt: str, config: DecodingConfig, seed: int) -> str:
    """Identity of a generation's result: model + prompt + effective config + seed (any seed for greedy,
    which does not sample). Scoped to the class: "cached" never tells a student what another class ran."""
    effective = config.effective()
    draw = str(seed) if effective.do_sample else "greedy"
    return hashlib.sha256(json.dumps([class_code, model, prompt, effective.group_key(), draw]).encode()).hexdigest()


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


ENDED_STATUSES = {None, JobStatus.FAILED.value, JobStatus.STOPPED.value, JobStatus.CANCELED.value}


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
