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
  one that fails alone is failed with a reason; everyone else's outputs are unchanged (generation is
  batch-invariant);
- instruction checks run off the loop (worker/checking.py): a submission is stored once its checks
  are back, while the engine keeps stepping for everyone else.

`SimpleWorker` is the base: no fork per job, so the model is loaded once and CUDA keeps working.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field, replace

import redis
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.utils import now
from rq.worker import WorkerStatus

from shared.contract.decoding import DecodingConfig
from shared.contract.packed_tokens import PackedTokens
from shared.contract.problems import Problem
from shared.contract.records import DONE, EXPLORE, Output, PartialText, Request
from shared.contract.settings import Settings
from shared.services.cache_identity import cache_key
from shared.services.gallery import publish
from shared.services.lost_jobs import reconcile_pending
from shared.services.retention import purge_expired_classes
from shared.services.store import Store
from shared.services.validation import check_context, clean_prompt, validate_request
from worker.checking import CheckPool
from worker.engine import Engine, GenerationRequest, GenerationResult, batch_size_for
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


@dataclass
class InFlight:
    job: Job
    queue: Queue
    execution: Execution
    request: Request
    attempt: int
    results: dict[int, GenerationResult] = field(default_factory=dict)
    cached: dict[int, Output] = field(default_factory=dict)   # index -> original output answering it
    cache_keys: dict[int, str] = field(default_factory=dict)  # index -> cache key, for new results
    generations: dict[int, GenerationRequest] = field(default_factory=dict)  # index -> what the engine runs
    checking: bool = False                                    # generated; its checks still run
    streamed: dict[int, PartialText] = field(default_factory=dict)  # index -> the text last published
    decoded: dict[int, tuple[int, str]] = field(default_factory=dict)  # index -> (tokens, text) decoded so far

    @property
    def id(self) -> str:
        return self.job.id

    def unfinished(self) -> list[GenerationRequest]:
        """Generations not yet back from the engine."""
        return [g for i, g in self.generations.items() if i not in self.results]


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
        # Crash isolation: groups of submissions to run again on their own (see _engine_failed).
        self.suspects: deque[list[InFlight]] = deque()
        # Identical generations in flight run once: cache key -> the generation running it, and
        # generation key -> the generations of other submissions waiting for its result.
        self.leaders: dict[str, tuple[str, int]] = {}
        self.followers: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.isolating: list[InFlight] = []
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
            if not stop_requested(self) and not (self.suspects or self.isolating):
                try:
                    self._fill()
                except REDIS_UNREACHABLE:
                    log.warning("Redis unreachable: no new admissions until it is back")
            self._isolate_next()
            if self.engine.busy:
                try:
                    finished = self.engine.step()
                except Exception as error:  # noqa: BLE001 - isolate the request that breaks the engine
                    self._engine_failed(error)
                    continue
                self.metrics.step(self.engine)
                for result in finished:
                    self._collect(result)
            else:
                time.sleep(IDLE_POLL_SECONDS)  # only checks (or Redis writes) are pending
            for pending in self.checks.finished():
                self._store(*pending.payload, pending.outputs)
            self._publish_progress()
            self._housekeeping()
        _retry_redis(lambda: self.set_state(WorkerStatus.IDLE))

    # --- admission ------------------------------------------------------------------------------
    def _fill(self) -> None:
        """Take queued submissions while the engine takes more: past a full batch, so that a student who
        just pressed Run gets a row by the fair share instead of waiting behind a big job."""
        while self.engine.takes_more:
            found = self.queue_class.dequeue_any(self._ordered_queues, None, connection=self.connection,
                                                 job_class=self.job_class, serializer=self.serializer)
            if found is None:
                return
            self._admit(*found)

    def _admit(self, job: Job, queue: Queue) -> None:
        execution = start_execution(self, job, self.get_heartbeat_ttl(job))
        try:
            record = self.store.submission(job.id)
            problem = None if record else Problem("worker_error", detail="submission record missing")
        except Problem.Invalid as invalid:  # edited by hand: not JSON, fields missing or of the wrong kind
            record, problem = None, invalid.problems[0]
        except (ValueError, KeyError, TypeError, AttributeError):
            record, problem = None, Problem("malformed_request")
        request = record.request if record else None
        if job.enqueued_at:
            self.metrics.admitted((now() - job.enqueued_at).total_seconds())
        if record and record.status == DONE:  # published by an earlier attempt (its worker was cut off, came back)
            self._succeed(job, queue, execution, {"already": DONE})
            return
        if self.store.cancel_requested([job.id]):
            self._fail(job, queue, execution, request, Problem("cancelled"))
            return
        if request is None:
            self._fail(job, queue, execution, None, problem or Problem("malformed_request"))
            return
        if request.lab == EXPLORE:
            self._explore(job, queue, execution, request)
            return
        try:
            configs = validate_request(request, self.settings)
            prompts = [self.loaded.tokenizer(item.prompt).input_ids for item in request.items]
            for prompt_ids, config in zip(prompts, configs, strict=True):
                check_context(len(prompt_ids), [config], self.loaded.context_window)
        except Problem.Invalid as invalid:
            self._fail(job, queue, execution, request, invalid.problems[0])
            return
        except (KeyError, TypeError, ValueError, AttributeError):  # a malformed record: refuse, never crash
            self._fail(job, queue, execution, request, Problem("malformed_request"))
            return
        attempt = self.store.mark_running(job.id, self.name)
        flight = self.inflight[job.id] = InFlight(job, queue, execution, request, attempt)
        keys = [cache_key(request.class_code, self.loaded.name, item.prompt, config, item.seed)
                for item, config in zip(request.items, configs, strict=True)]
        hit_ids = dict(zip(keys, self.store.cached_outputs(keys), strict=True))
        originals = {o.id: o for o in self.store.outputs([i for i in hit_ids.values() if i])}
        for index, (item, config, prompt_ids, key) in enumerate(zip(request.items, configs, prompts, keys, strict=True)):
            if hit_ids[key] in originals:
                flight.cached[index] = originals[hit_ids[key]]
                continue
            flight.cache_keys[index] = key
            flight.generations[index] = GenerationRequest(key=(job.id, index), prompt_ids=prompt_ids,
                                                          config=config, seed=item.seed,
                                                          owner=(request.class_code, request.student_id))
        for index, generation in flight.generations.items():
            self._generate_or_follow(flight, index, generation)
        if not flight.generations:
            self._complete(flight)  # everything answered from the cache: no generation at all

    def _explore(self, job: Job, queue: Queue, execution: Execution, request: Request) -> None:
        """The explorer's small job: one forward pass, the next-token logits stored as they are."""
        try:
            clean_prompt(request.prompt, self.settings.max_prompt_chars)
            prompt_ids = self.loaded.tokenizer(request.prompt).input_ids
            check_context(len(prompt_ids), [DecodingConfig(max_new_tokens=1)], self.loaded.context_window)
        except Problem.Invalid as invalid:
            self._fail(job, queue, execution, request, invalid.problems[0])
            return
        logits = next_token_logits(self.loaded, prompt_ids)
        likeliest = logits.argsort()[::-1][:EXPLORER_TEXTS]
        texts = {str(i): self.loaded.tokenizer.decode([int(i)]) for i in likeliest}
        _retry_redis(lambda: self.store.complete_exploration(request, logits.tobytes(), prompt_ids, texts))
        self._succeed(job, queue, execution, {"explore": request.id})

    # --- completion -----------------------------------------------------------------------------
    def _generate_or_follow(self, flight: InFlight, index: int, generation: GenerationRequest) -> None:
        """Identical generations in flight (same class, model, prompt, effective config and seed: a class
        pressing Run on the notebook's greedy preset) run once; the others follow the first's result."""
        key = flight.cache_keys[index]
        leader = self.leaders.get(key)
        if leader is not None and leader[0] in self.inflight:
            self.followers.setdefault(leader, []).append(generation.key)
            return
        self.leaders[key] = generation.key
        self.engine.submit(generation)

    def _collect(self, result: GenerationResult) -> None:
        self.leaders.pop(self._cache_key_of(result.key), None)
        self._deliver(result)
        for follower in self.followers.pop(result.key, []):
            self._deliver(replace(result, key=follower))

    def _deliver(self, result: GenerationResult) -> None:
        job_id, index = result.key
        flight = self.inflight.get(job_id)
        if flight is None or index in flight.results:
            return  # cancelled or timed out meanwhile, or already answered (a rerun during isolation)
        flight.results[index] = result
        if len(flight.results) + len(flight.cached) == len(flight.request.items):
            self._complete(flight)

    def _cache_key_of(self, generation_key: tuple[str, int]) -> str | None:
        flight = self.inflight.get(generation_key[0])
        return flight.cache_keys.get(generation_key[1]) if flight else None

    def _hand_over(self, flight: InFlight) -> None:
        """A leaving submission's unfinished generations that others follow: the first follower runs it."""
        for index, generation in flight.generations.items():
            waiting = self.followers.pop(generation.key, [])
            if index in flight.results or not waiting:
                continue
            first, rest = waiting[0], waiting[1:]
            heir = self.inflight.get(first[0])
            if heir is None:
                continue
            self.leaders[flight.cache_keys[index]] = first
            self.followers[first] = rest
            self.engine.submit(heir.generations[first[1]])

    def _complete(self, flight: InFlight) -> None:
        """Outputs of a generated submission; stored now, or once its custom check is back."""
        try:
            outputs, details = build_outputs(flight.request, flight.results, self.loaded, self.name)
            outputs += [cached_copy(original, flight.request, index) for index, original in flight.cached.items()]
            outputs.sort(key=lambda o: o.index)
            cache_keys = {f"{flight.request.id}:{i}": key for i, key in flight.cache_keys.items()}
        except Exception as error:  # noqa: BLE001 - one odd record fails alone, never the loop
            log.exception("submission %s: outputs could not be built", flight.id)
            self._end(flight, Problem("worker_error", detail=type(error).__name__))
            return
        flight.checking = True
        if self.checks.add(flight.id, flight.request, outputs, payload=(flight, details, cache_keys)):
            self._store(flight, details, cache_keys, outputs)
        else:
            _retry_redis(lambda: self.store.mark_checking(flight.id))

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
        self.engine.cancel(lambda key: key[0] == flight.id)  # keys are (submission id, index)
        self.checks.drop(flight.id)
        self.inflight.pop(flight.id, None)
        self._hand_over(flight)
        _retry_redis(lambda: self._fail(flight.job, flight.queue, flight.execution, flight.request, problem))

    def _drop(self, flight: InFlight) -> None:
        """Let go of a submission another attempt now holds (this worker was cut off from Redis, or
        frozen, past its heartbeat's grace, and the job was requeued): free its rows and write nothing,
        neither its outputs nor anything in RQ. The other attempt publishes it, once."""
        log.warning("submission %s is now held by another attempt; dropped here without publishing", flight.id)
        self.engine.cancel(lambda key: key[0] == flight.id)  # keys are (submission id, index)
        self.checks.drop(flight.id)
        self.inflight.pop(flight.id, None)
        self._hand_over(flight)
        self.metrics.dropped.inc()

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

    # --- a request that breaks the engine -------------------------------------------------------
    def _engine_failed(self, error: Exception) -> None:
        """The engine raised: the batch is lost, not the submissions. Those that had rows in it are run
        again in halves, while admissions wait; one that still fails alone is failed with the reason."""
        detail = f"{type(error).__name__}: {str(error)[:200]}"
        # Outside isolation every unfinished submission had rows in the engine; during it, only the group.
        running = self.isolating or list(self.inflight.values())
        group = [f for f in running if f.id in self.inflight and not f.checking and f.unfinished()]
        log.exception("engine failed with %d submission(s) in it; isolating", len(group))
        self.engine = self._new_engine()
        self.isolating = []
        self.leaders.clear()  # every unfinished generation is run again by its own submission
        self.followers.clear()
        if len(group) == 1:
            self._end(group[0], Problem("engine_crash", detail=detail))
        elif group:
            half = len(group) // 2
            self.suspects.extendleft([group[half:], group[:half]])

    def _isolate_next(self) -> None:
        """Between isolation groups: when the engine is empty, start the next group of suspects alone."""
        if self.engine.busy:
            return
        self.isolating = []
        while self.suspects and not self.isolating:
            self.isolating = [f for f in self.suspects.popleft() if f.id in self.inflight]
        for flight in self.isolating:
            for generation in flight.unfinished():
                self.engine.submit(generation)

    # --- every few seconds ----------------------------------------------------------------------
    def _housekeeping(self) -> None:
        moment = time.monotonic()
        if moment - self._last_beat < self.settings.heartbeat_seconds:
            return
        elapsed = moment - self._last_beat if self._last_beat else None
        if elapsed:
            rate = (self.engine.generated_tokens - self._tokens_at_beat) / elapsed
            self.tokens_per_second = rate if not self.tokens_per_second else 0.5 * rate + 0.5 * self.tokens_per_second
        self._last_beat, self._tokens_at_beat = moment, self.engine.generated_tokens
        try:
            for flight in self._taken_over(list(self.inflight.values())) if self.inflight else []:
                self._drop(flight)  # first: nothing of theirs is heartbeated, timed out or published
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable; generation goes on, heartbeats resume when it is back")
            return
        self._enforce_timeouts()
        try:
            for submission_id in self.store.cancel_requested(list(self.inflight)):
                self._end(self.inflight[submission_id], Problem("cancelled"))
            self._beat_all()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable; generation goes on, heartbeats resume when it is back")

    def _enforce_timeouts(self) -> None:
        """RQ's job timeout, inside the batch: a submission running longer fails (no retry) and frees
        its rows; the others go on."""
        for flight in list(self.inflight.values()):
            timeout = flight.job.timeout or self.settings.job_timeout
            if timeout > 0 and (now() - flight.job.started_at).total_seconds() > timeout:
                self._end(flight, Problem("timed_out", seconds=timeout))

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
        if moment - self._last_progress < PROGRESS_SECONDS and not self._awaiting_first_words():
            return
        self._last_progress = moment
        running = self.engine.partial_tokens()
        for leader, followers in self.followers.items():  # identical generations show the leader's text
            for follower in followers:
                if leader in running:
                    running[follower] = running[leader]
        done_tokens: dict[str, int] = {}
        changed: dict[str, list[PartialText]] = {}
        for job_id, flight in self.inflight.items():
            texts = [self._partial(flight, index, running.get((job_id, index)))
                     for index in range(len(flight.request.items))]
            done_tokens[job_id] = sum(text.tokens for text in texts)
            if any(flight.streamed.get(text.index) != text for text in texts):
                changed[job_id] = texts
                flight.streamed = {text.index: text for text in texts}
        try:
            self.store.set_progress(done_tokens, changed)
        except REDIS_UNREACHABLE:
            log.warning("Redis unreachable: progress not published, retrying at the next pace")

    def _awaiting_first_words(self) -> bool:
        """A submission whose page shows no word yet, now that the engine may have its first token: its
        first words are published at once, not at the next pace (the press to the first words is what a
        student waits through)."""
        waiting = [f for f in self.inflight.values() if not any(t.tokens or t.done for t in f.streamed.values())]
        if not waiting:
            return False
        steps = self.engine.progress()  # the host's own counts: no transfer from the device
        return any(steps.get((f.id, i), 0) > 0 or i in f.results or i in f.cached
                   for f in waiting for i in range(len(f.request.items)))

    def _partial(self, flight: InFlight, index: int, running: list[int] | None) -> PartialText:
        """One generation's text so far: from the cache, its result, the engine's running row, or nothing yet.
        Decoded again only when its token count changed."""
        if index in flight.cached:
            cached = flight.cached[index]
            return PartialText(index, cached.text, cached.new_tokens, done=True)
        result = flight.results.get(index)
        tokens = result.token_ids if result is not None else (running or [])
        known = flight.streamed.get(index)
        if known is not None and known.tokens == len(tokens) and known.done == (result is not None):
            return known
        if result is not None:
            return PartialText(index, self.loaded.tokenizer.decode(tokens, skip_special_tokens=True), len(tokens), True)
        return PartialText(index, self._text_so_far(flight, index, tokens), len(tokens))

    def _text_so_far(self, flight: InFlight, index: int, tokens: list[int]) -> str:
        """Only the tokens new since the last publication are decoded (a 1,024-row batch would otherwise
        decode every row's whole text twice a second). GPT-2's text is its tokens' bytes end to end, so a
        prefix that ended on a whole character decodes the same alone."""
        count, text = flight.decoded.get(index, (0, ""))
        if count > len(tokens):  # generated again from its prompt (out of memory, or crash isolation)
            count, text = 0, ""
        tail = self.loaded.tokenizer.decode(tokens[count:], skip_special_tokens=True)
        if not tail.endswith("\ufffd"):  # else: a character whose bytes are not all generated yet
            flight.decoded[index] = (len(tokens), text + tail)
        return (text + tail).rstrip("\ufffd")


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
