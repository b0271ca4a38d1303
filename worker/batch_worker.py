"""An RQ worker that runs many submissions at once through one continuous-batching engine.

RQ has no batch dequeue (its maintainers closed it as out of scope), so this worker keeps RQ's own
loop and bookkeeping and changes one thing: when it gets a job, instead of performing it alone, it
keeps taking queued jobs (non-blocking `Queue.dequeue_any`) while the engine has free rows, and steps
the engine until every admitted job is done. Each submission stays a real RQ job the whole time:

- admitted jobs get their own RQ `Execution`, sit in the started registry and are heartbeated
  together every `heartbeat_seconds`;
- a finished submission goes through `handle_job_success` (finished registry), a refused one through
  `handle_job_failure` with no retry (failed registry, the reason kept for the student);
- a worker killed mid-batch stops heartbeating: after `heartbeat_seconds + heartbeat_grace` its jobs
  are abandoned and the next registry sweep (every `maintenance_seconds`, by any live worker) requeues
  them, because every job is enqueued with `Retry(max=job_retries)`.

- a request the engine cannot run is isolated, not retried with its batch-mates: when a step raises,
  the submissions that had rows in the engine are run again in halves (the others wait), until the
  one that fails alone is failed with a reason (worker/isolation.py); everyone else's outputs are
  unchanged (generation is batch-invariant);
- instruction checks run off the loop (worker/checking.py): a submission is stored once its checks
  are back, while the engine keeps stepping for everyone else.

The loop reads like RQ's `Worker.work`, one short named step after another (`execute_job`). What is
decided is decided elsewhere, without Redis: whether a dequeued submission runs (worker/admission.py),
who follows whose identical generation (worker/generations.py), which suspects run next
(worker/isolation.py); this module reads and writes Redis and RQ around those decisions.

`SimpleWorker` is the base: no fork per job, so the model is loaded once and CUDA keeps working.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import redis
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.utils import now
from rq.worker import WorkerStatus

from shared.contract.packed_tokens import PackedTokens
from shared.contract.problems import Problem
from shared.contract.records import DONE, Output, PartialText, Request, Submission
from shared.contract.settings import Settings
from shared.services.gallery import publish
from shared.services.lost_jobs import reconcile_pending
from shared.services.retention import purge_expired_classes
from shared.services.store import Store
from worker.admission import (
    MALFORMED,
    Admitted,
    AlreadyDone,
    Exploration,
    Refused,
    admit,
    answered_from_cache,
    read_problem,
)
from worker.checking import CheckPool
from worker.engine import Engine, GenerationResult, batch_size_for
from worker.generations import SharedGenerations
from worker.inflight import InFlight, InFlightItem
from worker.isolation import Isolation
from worker.metrics import WorkerMetrics
from worker.model import LoadedModel, next_token_logits
from worker.outputs import build_outputs, cached_copy
from worker.registry import announce
from worker.rq_adapter import fail_job, finish_job, start_execution, stop_requested

log = logging.getLogger(__name__)
REDIS_RETRY_SECONDS = 300  # how long finished results wait in memory for Redis to come back
EXPLORER_TEXTS = 100  # the explorer labels the model's likeliest tokens; their text is stored with the logits
IDLE_POLL_SECONDS = 0.01  # loop pace while only instruction checks are pending (no engine rows)
# Redis gone (refused) or out of reach (a cut link: the kernel's TCP_USER_TIMEOUT, worker/__main__.py,
# surfaces as a timeout): either way the worker goes on generating and retries later.
REDIS_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# How often the text so far of every running generation (and the tokens done) is published for the
# students' pages, which poll about once a second: text appears as it is generated.
PROGRESS_SECONDS = 0.5


class BatchWorker(SimpleWorker):
    def __init__(self, queues, *, connection, loaded: LoadedModel, settings: Settings, **kwargs):
        super().__init__(queues, connection=connection, job_monitoring_interval=settings.heartbeat_seconds,
                         maintenance_interval=settings.maintenance_seconds,
                         worker_ttl=max(20, 3 * settings.heartbeat_seconds), **kwargs)
        self.loaded = loaded
        self.settings = settings
        self.store = Store(connection, settings.key_prefix)
        self.store.save_vocabulary(loaded.name, loaded.token_texts)  # packed token details hold only ids
        self.max_batch = batch_size_for(loaded, settings.max_batch)
        self.engine = self._new_engine()
        self.inflight: dict[str, InFlight] = {}
        self.checks = CheckPool()
        self.isolation: Isolation[InFlight] = Isolation()  # see _engine_failed
        self.shared = SharedGenerations(alive=lambda key: key[0] in self.inflight)  # identical generations run once
        self.tokens_per_second = 0.0
        self._last_beat = 0.0
        self._tokens_at_beat = 0
        self.metrics = WorkerMetrics(self)  # served by `python -m worker` (worker/metrics.py)
        self._last_progress = 0.0

    def _new_engine(self) -> Engine:
        return Engine(self.loaded.model, self.loaded.eos_token_id, self.max_batch, self.loaded.device,
                      fair_rows=self.settings.fair_rows)

    # --- RQ hooks -------------------------------------------------------------------------------
    def get_heartbeat_ttl(self, job: Job) -> int:
        """Short, so that a dead worker's jobs are requeued within seconds, not RQ's minutes."""
        return self.settings.heartbeat_seconds + self.settings.heartbeat_grace

    def heartbeat(self, timeout=None, pipeline=None):
        try:
            super().heartbeat(timeout, pipeline)
            announce(self.store, self, ttl=self.worker_ttl + 5, pipeline=pipeline)
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable: heartbeat skipped, retrying at the next one")

    def execute_job(self, job: Job, queue: Queue):
        """Run `job` and every job that can join it, until all of them are finished."""
        self.set_state(WorkerStatus.BUSY)
        self._admit(job, queue)
        while self.inflight:
            self._fill()
            self._isolate_next()
            self._step()
            self._store_checked()
            self._publish_progress()
            self._housekeeping()
        _retry_redis(lambda: self.set_state(WorkerStatus.IDLE))

    # --- admission ------------------------------------------------------------------------------
    def _fill(self) -> None:
        """Take queued submissions while the engine takes more: past a full batch, so that a student who
        just pressed Run gets a row by the fair share instead of waiting behind a big job. Nothing new
        while a stop was asked for or a crash is being isolated."""
        if stop_requested(self) or self.isolation.active:
            return
        try:
            while self.engine.takes_more:
                found = self.queue_class.dequeue_any(self._ordered_queues, None, connection=self.connection,
                                                     job_class=self.job_class, serializer=self.serializer)
                if found is None:
                    return
                self._admit(*found)
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable: no new admissions until it is back")

    def _admit(self, job: Job, queue: Queue) -> None:
        """Start `job`'s RQ execution, then do what its admission says (worker/admission.py)."""
        execution = start_execution(self, job, self.get_heartbeat_ttl(job))
        record = self._read_submission(job.id)
        if job.enqueued_at:
            self.metrics.admitted((now() - job.enqueued_at).total_seconds())
        admission = admit(record, cancelled=bool(self.store.cancel_requested([job.id])), settings=self.settings,
                          tokenize=self._tokenize, context_window=self.loaded.context_window,
                          model=self.loaded.name)
        match admission:
            case AlreadyDone():
                self._succeed(job, queue, execution, {"already": DONE})
            case Refused(problem, request):
                self._fail(job, queue, execution, request, problem)
            case Exploration(request, prompt_ids):
                self._explore(job, queue, execution, request, prompt_ids)
            case Admitted():
                self._start(job, queue, execution, admission)

    def _read_submission(self, submission_id: str) -> Submission | Problem | None:
        try:
            return self.store.submission(submission_id)
        except MALFORMED as error:  # edited by hand: not JSON, fields missing or of the wrong kind
            return read_problem(error)

    def _tokenize(self, text: str) -> list[int]:
        return self.loaded.tokenizer(text).input_ids

    def _decode(self, tokens: list[int]) -> str:
        return self.loaded.tokenizer.decode(tokens, skip_special_tokens=True)

    def _start(self, job: Job, queue: Queue, execution: Execution, admitted: Admitted) -> None:
        """Hold an admitted submission: its items answered from the cache, the others generated (or
        following an identical generation in flight)."""
        attempt = self.store.mark_running(job.id, self.name)
        output_ids = self.store.cached_outputs([item.cache_key for item in admitted.items])
        originals = {o.id: o for o in self.store.outputs([i for i in output_ids if i])}
        cached = answered_from_cache(admitted.items, output_ids, originals)
        owner = (admitted.request.class_code, admitted.request.student_id)
        flight = self.inflight[job.id] = InFlight(job, queue, execution, admitted.request, attempt, items=[
            InFlightItem.planned(plan, job.id, owner, cached.get(plan.index)) for plan in admitted.items])
        for item in flight.items:
            if item.generation is not None and self.shared.lead_or_follow(item.cache_key, (job.id, item.index)):
                self.engine.submit(item.generation)
        if flight.complete:
            self._complete(flight)  # everything answered from the cache: no generation at all

    def _explore(self, job: Job, queue: Queue, execution: Execution, request: Request, prompt_ids: list[int]) -> None:
        """The explorer's small job: one forward pass, the next-token logits stored as they are."""
        logits = next_token_logits(self.loaded, prompt_ids)
        likeliest = logits.argsort()[::-1][:EXPLORER_TEXTS]
        texts = {str(i): self.loaded.tokenizer.decode([int(i)]) for i in likeliest}
        _retry_redis(lambda: self.store.complete_exploration(request, logits.tobytes(), prompt_ids, texts))
        self._succeed(job, queue, execution, {"explore": request.id})

    # --- the engine -----------------------------------------------------------------------------
    def _step(self) -> None:
        """One engine step, its finished generations delivered; a short pause when only checks (or Redis
        writes) are pending."""
        if not self.engine.busy:
            time.sleep(IDLE_POLL_SECONDS)
            return
        try:
            finished = self.engine.step()
        except Exception as error:  # noqa: BLE001 - isolate the request that breaks the engine
            self._engine_failed(error)
            return
        self.metrics.step(self.engine)
        for result in finished:
            self._collect(result)

    def _collect(self, result: GenerationResult) -> None:
        """A generation is back: its submission's item and those of every identical one following it."""
        followers = self.shared.finished(self._cache_key_of(result.key), result.key)
        self._deliver(result)
        for follower in followers:
            self._deliver(replace(result, key=follower))

    def _deliver(self, result: GenerationResult) -> None:
        job_id, index = result.key
        flight = self.inflight.get(job_id)
        if flight is None or flight.items[index].result is not None:
            return  # cancelled or timed out meanwhile, or already answered (a rerun during isolation)
        flight.items[index].result = result
        if flight.complete:
            self._complete(flight)

    def _cache_key_of(self, generation_key: tuple[str, int]) -> str | None:
        flight = self.inflight.get(generation_key[0])
        return flight.items[generation_key[1]].cache_key if flight else None

    # --- completion -----------------------------------------------------------------------------
    def _complete(self, flight: InFlight) -> None:
        """Outputs of a generated submission; stored now, or once its custom check is back."""
        try:
            outputs, details = build_outputs(flight.request, flight.results(), self.loaded, self.name)
            outputs += [cached_copy(item.cached, flight.request, item.index)
                        for item in flight.items if item.cached is not None]
            outputs.sort(key=lambda o: o.index)
            cache_keys = {f"{flight.request.id}:{item.index}": item.cache_key for item in flight.generated()}
        except Exception as error:  # noqa: BLE001 - one odd record fails alone, never the loop
            log.exception("submission %s: outputs could not be built", flight.id)
            self._end(flight, Problem("worker_error", detail=type(error).__name__))
            return
        flight.checking = True
        if self.checks.add(flight.id, flight.request, outputs, payload=(flight, details, cache_keys)):
            self._store(flight, details, cache_keys, outputs)
        else:
            _retry_redis(lambda: self.store.mark_checking(flight.id))

    def _store_checked(self) -> None:
        """Store the submissions whose instruction checks came back (worker/checking.py)."""
        for pending in self.checks.finished():
            self._store(*pending.payload, pending.outputs)

    def _store(self, flight: InFlight, details: dict[str, PackedTokens], cache_keys: dict[str, str],
               outputs: list[Output]) -> None:
        if self.inflight.get(flight.id) is not flight:
            return  # timed out while its checks ran
        owner = (self.name, flight.attempt)
        if not _retry_redis(lambda: publish(self.store, flight.request, outputs, details, cache_keys, owner)):
            if _retry_redis(lambda: self._taken_over([flight])):
                self._drop(flight)  # another attempt holds it now: that one publishes, not this
            else:
                self._end(flight, Problem("cancelled"))  # its student cancelled it after its last token
            return
        del self.inflight[flight.id]
        self.metrics.completed.inc()
        self._succeed(flight.job, flight.queue, flight.execution, {"outputs": [o.id for o in outputs]})

    def _succeed(self, job: Job, queue: Queue, execution: Execution, result: dict) -> None:
        _retry_redis(lambda: finish_job(self, job, queue, execution, result))
        self._show_current_job()

    def _fail(self, job: Job, queue: Queue, execution: Execution, request: Request | None, problem: Problem) -> None:
        """Finish a job as failed, with no retry; the student's submission shows the reason."""
        self.metrics.failed(problem.code)
        self.store.fail_record(job.id, request.class_code if request else None, problem)
        self.store.forget_cancel(job.id)
        fail_job(self, job, queue, execution, f"{problem.code}: {problem.params}")
        self._show_current_job()

    def _end(self, flight: InFlight, problem: Problem) -> None:
        """Fail one in-flight submission and free what it holds (engine rows, check child)."""
        self._release(flight)
        _retry_redis(lambda: self._fail(flight.job, flight.queue, flight.execution, flight.request, problem))

    def _drop(self, flight: InFlight) -> None:
        """Let go of a submission another attempt now holds (this worker was cut off from Redis, or
        frozen, past its heartbeat's grace, and the job was requeued): free its rows and write nothing,
        neither its outputs nor anything in RQ. The other attempt publishes it, once."""
        log.warning("submission %s is now held by another attempt; dropped here without publishing", flight.id)
        self._release(flight)
        self.metrics.dropped.inc()

    def _release(self, flight: InFlight) -> None:
        """Free what a leaving submission holds: its engine rows, its check child, and the lead of the
        identical generations that follow its unfinished ones (the first follower runs it instead)."""
        self.engine.cancel(lambda key: key[0] == flight.id)  # keys are (submission id, index)
        self.checks.drop(flight.id)
        self.inflight.pop(flight.id, None)
        for item in flight.items:
            if item.generation is not None and item.result is None:
                self._run_heir(self.shared.leave(item.cache_key, (flight.id, item.index)))

    def _run_heir(self, heir: tuple[str, int] | None) -> None:
        """The follower that leads an identical generation from now on: the engine runs it."""
        generation = self.inflight[heir[0]].items[heir[1]].generation if heir is not None else None
        if generation is not None:
            self.engine.submit(generation)

    def _taken_over(self, flights: list[InFlight]) -> list[InFlight]:
        """Which of `flights` this worker no longer holds: their record names another worker or a later
        attempt, or they were ended elsewhere (one round trip)."""
        holders = self.store.holders([f.id for f in flights])
        return [f for f, holder in zip(flights, holders, strict=True)
                if holder != (self.name, f.attempt, True)]

    def _show_current_job(self) -> None:
        """RQ shows one current job per worker and clears it when any job ends: while others still run,
        show the oldest of them and stay busy, so `rq info` and rq-dashboard do not say idle."""
        if not self.inflight:
            return
        oldest = next(iter(self.inflight))
        with self.connection.pipeline() as pipe:
            self.set_current_job_id(oldest, pipeline=pipe)
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            pipe.execute()

    # --- a request that breaks the engine (worker/isolation.py) -----------------------------------
    def _engine_failed(self, error: Exception) -> None:
        """The engine raised: the batch is lost, not the submissions. Those that had rows in it are run
        again in halves, while admissions wait; one that still fails alone is failed with the reason."""
        detail = f"{type(error).__name__}: {str(error)[:200]}"
        group = self.isolation.failed(list(self.inflight.values()), had_rows=self._has_rows_to_run)
        log.exception("engine failed with %d submission(s) in it; isolating", len(group))
        self.engine = self._new_engine()
        self.shared.clear()  # every unfinished generation is run again by its own submission
        if len(group) == 1:
            self._end(group[0], Problem("engine_crash", detail=detail))

    def _has_rows_to_run(self, flight: InFlight) -> bool:
        return flight.id in self.inflight and not flight.checking and bool(flight.unfinished())

    def _isolate_next(self) -> None:
        """Between isolation groups: when the engine is empty, start the next group of suspects alone."""
        if self.engine.busy:
            return
        for flight in self.isolation.next_group(alive=lambda f: f.id in self.inflight):
            for generation in flight.unfinished():
                self.engine.submit(generation)

    # --- every few seconds ----------------------------------------------------------------------
    def _housekeeping(self) -> None:
        """Every `heartbeat_seconds`: the throughput figure, then what needs Redis (a worker cut off from
        it goes on generating, and does these again at the next beat)."""
        moment = time.monotonic()
        if moment - self._last_beat < self.settings.heartbeat_seconds:
            return
        self._measure_throughput(moment)
        try:
            self._drop_taken_over()  # first: nothing of theirs is heartbeated, timed out or published
            self._enforce_timeouts()
            self._end_cancelled()
            self._beat_all()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable; generation goes on, heartbeats resume when it is back")

    def _measure_throughput(self, moment: float) -> None:
        """Tokens per second since the last beat, smoothed: what the worker announces (worker/registry.py)."""
        elapsed = moment - self._last_beat if self._last_beat else None
        if elapsed:
            rate = (self.engine.generated_tokens - self._tokens_at_beat) / elapsed
            self.tokens_per_second = rate if not self.tokens_per_second else 0.5 * rate + 0.5 * self.tokens_per_second
        self._last_beat, self._tokens_at_beat = moment, self.engine.generated_tokens

    def _drop_taken_over(self) -> None:
        for flight in self._taken_over(list(self.inflight.values())) if self.inflight else []:
            self._drop(flight)

    def _enforce_timeouts(self) -> None:
        """RQ's job timeout, inside the batch: a submission running longer fails (no retry) and frees
        its rows; the others go on."""
        for flight in list(self.inflight.values()):
            timeout = flight.job.timeout or self.settings.job_timeout
            if timeout > 0 and (now() - flight.job.started_at).total_seconds() > timeout:
                self._end(flight, Problem("timed_out", seconds=timeout))

    def _end_cancelled(self) -> None:
        """Submissions their students cancelled while they ran (one round trip)."""
        for submission_id in self.store.cancel_requested(list(self.inflight)):
            self._end(self.inflight[submission_id], Problem("cancelled"))

    def run_maintenance_tasks(self):
        """RQ's registry sweeps, then ours: a submission whose job RQ ended without telling us (retries
        spent through abandonment) is failed with a reason instead of staying "running" for good."""
        super().run_maintenance_tasks()
        ended = reconcile_pending(self.store)
        if ended:
            log.warning("%d submission(s) whose RQ job had ended were marked failed", ended)
        purge_expired_classes(self.store, self.settings)  # closed classes past their retention

    def _beat_all(self) -> None:
        ttl = self.get_heartbeat_ttl(None)
        with self.connection.pipeline() as pipe:
            self.heartbeat(self.worker_ttl + 60, pipeline=pipe)
            for flight in self.inflight.values():
                flight.execution.heartbeat(flight.job.started_job_registry, ttl, pipeline=pipe)
                flight.job.heartbeat(now(), ttl, pipeline=pipe, xx=True)
            pipe.execute()

    # --- the students' pages: tokens done and the text so far -------------------------------------
    def _publish_progress(self) -> None:
        """Every PROGRESS_SECONDS: each in-flight submission's tokens done and, where it changed, the text
        of each of its generations so far (a finished one marked done, so its card is complete at once)."""
        moment = time.monotonic()
        if moment - self._last_progress < PROGRESS_SECONDS and not self._first_words_ready():
            return
        self._last_progress = moment
        running = self.engine.partial_tokens()
        self.shared.show_leaders(running)  # identical generations show the leader's text
        done_tokens: dict[str, int] = {}
        changed: dict[str, list[PartialText]] = {}
        for job_id, flight in self.inflight.items():
            texts = [item.partial(running.get((job_id, item.index)), self._decode) for item in flight.items]
            done_tokens[job_id] = sum(text.tokens for text in texts)
            if any(item.streamed != text for item, text in zip(flight.items, texts, strict=True)):
                changed[job_id] = texts
                for item, text in zip(flight.items, texts, strict=True):
                    item.streamed = text
        try:
            self.store.set_progress(done_tokens, changed)
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable: progress not published, retrying at the next pace")

    def _first_words_ready(self) -> bool:
        """A submission whose page shows no word yet, now that the engine may have its first token: its
        first words are published at once, not at the next pace (the press to the first words is what a
        student waits through)."""
        waiting = [f for f in self.inflight.values() if f.awaiting_first_words()]
        if not waiting:
            return False
        steps = self.engine.progress()  # the host's own counts: no transfer from the device
        return any(steps.get((f.id, item.index), 0) > 0 or item.done for f in waiting for item in f.items)


def _retry_redis(action):
    """Run a Redis write, waiting for Redis to come back instead of dropping a finished result."""
    deadline = time.monotonic() + REDIS_RETRY_SECONDS
    delay = 0.5
    while True:
        try:
            return action()
        except REDIS_UNREACHABLE:
            if time.monotonic() > deadline:
                raise
            log.warning("Redis unreachable; retrying in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 10)
