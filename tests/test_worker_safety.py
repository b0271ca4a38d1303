"""worker/batch_worker.py against what one student could do to everyone: a request that breaks the engine,
a pathological check, a damaged record, a lost worker. Real Redis, real worker code, random-tiny."""

from __future__ import annotations

import json
from dataclasses import replace

import torch
from rq import Queue
from rq.job import Job

from shared.contract.decoding import NOTEBOOK_PROMPT, PRESETS
from shared.services.submit import submit
from shared.services.validation import build_request
from shared.teaching.ablation import NOTEBOOK_ABLATION_CONFIG
from tests.conftest import TEST_CLASS, wait_for

POISON_WORD = " xylophone"
CATASTROPHIC = r"((\w|\W)+)+\d{9}"


def decoding_request(settings, student, seed=1, max_new_tokens=8, prompt=NOTEBOOK_PROMPT):
    configs = [{**p.to_dict(), "max_new_tokens": max_new_tokens} for p in PRESETS.values()]
    return build_request(settings, class_code=TEST_CLASS, student=student, prompt=prompt, configs=configs,
                         seed=seed, model=settings.model)


class PoisonedModel(torch.nn.Module):
    """The real model behind the same call, raising as a kernel bug would whenever one token is in a
    prefill: a request that breaks the engine for any batch it is in."""

    def __init__(self, model, poison_id: int):
        super().__init__()
        self.model, self.poison_id, self.config = model, poison_id, model.config
        self.crashes = 0

    def forward(self, input_ids, **kwargs):
        if input_ids.shape[1] > 1 and bool((input_ids == self.poison_id).any()):
            self.crashes += 1
            raise RuntimeError("device-side assert triggered (simulated)")
        return self.model(input_ids=input_ids, **kwargs)


def in_process_worker(settings, connection, model_wrapper=None):
    from worker.batch_worker import BatchWorker
    from worker.model import load_model

    loaded = load_model(settings.model, "cpu")
    if model_wrapper is not None:
        loaded = replace(loaded, model=model_wrapper(loaded))
    queue = Queue(settings.queue_name(), connection=connection)
    return BatchWorker([queue], connection=connection, loaded=loaded, settings=settings), loaded


def test_a_request_that_breaks_the_engine_fails_alone_and_its_batch_mates_finish_once(settings, store, connection):
    worker, loaded = None, None
    from worker.model import load_model

    poison_id = load_model(settings.model, "cpu").tokenizer(POISON_WORD).input_ids[0]
    worker, loaded = in_process_worker(replace(settings, max_batch=24), connection,
                                       lambda loaded: PoisonedModel(loaded.model, poison_id))
    good = [decoding_request(settings, f"s{i}", seed=i) for i in range(5)]
    bad = decoding_request(settings, "breaker", prompt="Tell me about the" + POISON_WORD)
    for request in good[:3] + [bad] + good[3:]:
        submit(store, settings, request)
    worker.work(burst=True)
    record = store.submission(bad.id)
    assert record.status == "failed" and record.error.code == "engine_crash"
    assert "device-side assert" in record.error.params["detail"]
    for request in good:
        done = store.submission(request.id)
        assert done.status == "done" and done.attempts == 1, done  # never retried through RQ
        assert len(store.submission_outputs(request.id)) == 3
    assert loaded.model.crashes <= 4  # halving: a handful of reruns, not one per batch-mate
    queue = Queue(settings.queue_name(), connection=connection)
    assert queue.count == 0 and Job.fetch(bad.id, connection=connection).get_status() == "failed"


def test_isolated_reruns_give_the_same_text_as_an_undisturbed_batch(settings, store, connection):
    from worker.model import load_model

    poison_id = load_model(settings.model, "cpu").tokenizer(POISON_WORD).input_ids[0]
    requests = [decoding_request(settings, f"s{i}", seed=10 + i, max_new_tokens=12) for i in range(3)]
    for request in requests:
        submit(store, settings, request)
    worker, _ = in_process_worker(settings, connection)
    worker.work(burst=True)
    calm = {r.id: [o.text for o in store.submission_outputs(r.id)] for r in requests}
    store.redis.flushdb()
    from shared.services.classes import open_class
    open_class(store, TEST_CLASS)
    for request in requests[:2] + [decoding_request(settings, "breaker", prompt="A" + POISON_WORD)] + requests[2:]:
        request = replace(request, id=request.id + "x") if request.student != "breaker" else request
        submit(store, settings, request)
    worker, _ = in_process_worker(settings, connection, lambda loaded: PoisonedModel(loaded.model, poison_id))
    worker.work(burst=True)
    for request in requests:
        assert [o.text for o in store.submission_outputs(request.id + "x")] == calm[request.id]


def ablation_request(settings, student, pattern, samples=4, max_new_tokens=6):
    variants = {f"v{i}": f"Topic {i}: advantages of using Git. Answer briefly." for i in range(4)}
    configs = [{**NOTEBOOK_ABLATION_CONFIG, "max_new_tokens": max_new_tokens, "seed": 100 + i} for i in range(samples)]
    return build_request(settings, class_code=TEST_CLASS, student=student, prompt="", configs=configs, seed=0,
                         model=settings.model, lab="ablation", variants=variants,
                         checks=[{"id": "valid_json"}, {"id": "custom", "kind": "regex", "pattern": pattern}],
                         topic="git")


def test_a_pathological_check_never_holds_back_another_students_generation(settings, store, connection, workers):
    slow = ablation_request(settings, "regex-fan", CATASTROPHIC, max_new_tokens=60)  # 16 x 0.2 s > the budget
    submit(store, settings, slow)
    workers.start()
    wait_for(lambda: store.submission(slow.id).status == "checking", 120, 0.02, "the slow one's checks")
    other = decoding_request(settings, "bystander", max_new_tokens=4)
    submit(store, settings, other)  # admitted and generated while the pattern runs in its sandbox
    wait_for(lambda: store.submission(other.id).status == "done", 60, 0.02, "the bystander")
    assert store.submission(slow.id).status == "checking"
    wait_for(lambda: store.submission(slow.id).status == "done", 60, message="the slow one")
    outputs = store.submission_outputs(slow.id)
    assert len(outputs) == 16 and all("valid_json" in o.checks for o in outputs)
    assert outputs[-1].checks["custom"]["detail"] == "the pattern took too long"


def test_damaged_records_are_refused_once_each_and_touch_nobody_else(settings, store, connection, workers):
    good = decoding_request(settings, "good", max_new_tokens=4)
    damaged = {name: decoding_request(settings, name, max_new_tokens=4) for name in ("notjson", "noid", "jargon")}
    for request in [*damaged.values(), good]:
        submit(store, settings, request)
    key = store.keys.submission
    connection.hset(key(damaged["notjson"].id), "request", "{not json")
    connection.hset(key(damaged["noid"].id), "request", json.dumps({k: v for k, v in damaged["noid"].to_dict().items()
                                                                       if k != "id"}))
    connection.hset(key(damaged["jargon"].id), "request", json.dumps(
        {**damaged["jargon"].to_dict(), "checks": [{"id": "no_jargon", "jargon": [["nested"], 7]}]}))
    process = workers.start("--burst")
    assert process.wait(timeout=120) == 0, workers.log()
    reasons = {"notjson": "malformed_request", "noid": "malformed_request", "jargon": "bad_custom_check"}
    for name, request in damaged.items():
        record = connection.hgetall(key(request.id))
        assert record[b"status"] == b"failed", name
        assert json.loads(record[b"error"])["code"] == reasons[name]
        assert Job.fetch(request.id, connection=connection).get_status() == "failed"
    assert store.pending_count(TEST_CLASS) == 0
    done = store.submission(good.id)
    assert done.status == "done" and done.attempts == 1
    assert "Traceback" not in workers.log()


def test_rq_shows_the_worker_busy_on_a_running_job_after_another_finishes(settings, store, connection, workers):
    from rq import Worker

    short = decoding_request(settings, "short", max_new_tokens=2)
    long = decoding_request(settings, "long", max_new_tokens=700, prompt="Once")
    submit(store, settings, long)
    submit(store, settings, short)
    workers.start("--burst")
    wait_for(lambda: Job.fetch(short.id, connection=connection).get_status() == "finished", 120,
             message="the short job to finish")
    assert Job.fetch(long.id, connection=connection).get_status() == "started"
    [worker] = Worker.all(connection=connection)
    assert worker.get_state() == "busy" and worker.get_current_job_id() == long.id


def test_a_job_abandoned_with_no_retries_left_ends_its_submission_with_a_reason(settings, store, connection, workers):
    import signal

    no_retries = replace(settings, job_retries=0)
    request = decoding_request(settings, "unlucky", max_new_tokens=700, prompt="Once")
    submit(store, no_retries, request)
    first = workers.start()
    wait_for(lambda: store.submission(request.id).status == "running", 120, message="running")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    workers.start()  # a live worker's registry sweep finds the abandoned job
    wait_for(lambda: store.submission(request.id).status == "failed", 90, message="the submission to end")
    record = store.submission(request.id)
    assert record.error.code == "worker_lost" and store.pending_count(TEST_CLASS) == 0
    assert "sin" not in record.error.code
    submit(store, settings, decoding_request(settings, "unlucky", seed=5, max_new_tokens=2))  # limits freed


def test_identical_generations_in_flight_run_once_and_everyone_gets_the_text(settings, store, connection):
    from shared.contract.decoding import PRESETS as presets

    greedy = [{**presets["greedy"].to_dict(), "max_new_tokens": 24}]
    requests = [build_request(settings, class_code=TEST_CLASS, student=f"s{i}", prompt=NOTEBOOK_PROMPT,
                              configs=greedy, seed=i, model=settings.model) for i in range(6)]  # greedy: seed ignored
    for request in requests:
        submit(store, settings, request)
    worker, _ = in_process_worker(settings, connection)
    worker.work(burst=True)
    texts = {store.submission_outputs(r.id)[0].text for r in requests}
    assert len(texts) == 1 and all(store.submission(r.id).status == "done" for r in requests)
    assert worker.engine.generated_tokens <= 24  # one generation's tokens, not six


def test_a_student_cancels_a_queued_and_a_running_submission(settings, store, connection, workers):
    from shared.services.cancel import cancel

    # Eight long rows fill the engine (max_batch 8), so the second submission stays in the queue.
    long_rows = [{"strategy": "sampling", "temperature": 0.5 + i / 8, "max_new_tokens": 900} for i in range(8)]
    running = build_request(settings, class_code=TEST_CLASS, student="impatient", prompt="Once",
                            configs=long_rows, seed=1, model=settings.model)
    queued = decoding_request(settings, "impatient", seed=2, max_new_tokens=4)
    assert settings.max_batch == len(long_rows)
    submit(store, settings, running)
    assert not cancel(store, running.id, "someone-else")  # only their own
    workers.start()
    wait_for(lambda: store.submission(running.id).status == "running", 120, message="running")
    submit(store, settings, queued)
    assert cancel(store, queued.id, "impatient") and cancel(store, running.id, "impatient")
    for request in (queued, running):
        wait_for(lambda: store.submission(request.id).status == "cancelled", 30, message="cancelled")
        assert store.submission(request.id).error.code == "cancelled"
    assert store.pending_count(TEST_CLASS) == 0 and Queue(settings.queue_name(), connection=connection).count == 0
    wait_for(lambda: not store.redis.smembers(store.keys.cancel()), 30, message="the cancel flags cleared")


class CancelsAtStep(torch.nn.Module):
    """The real model behind the same call; at its `step`-th forward the student presses Cancel: after
    the worker's last look at the cancel flags, before it publishes the last token."""

    def __init__(self, model, press, step: int):
        super().__init__()
        self.model, self.press, self.step, self.config = model, press, step, model.config
        self.calls = 0

    def forward(self, input_ids, **kwargs):
        self.calls += 1
        if self.calls == self.step:
            self.press()
        return self.model(input_ids, **kwargs)


def test_a_cancel_that_lands_after_the_last_token_still_ends_the_submission_cancelled(settings, store, connection):
    """Cancel said yes, so the submission must not turn up done (and in the gallery) a moment later."""
    from shared.services.cancel import cancel

    request = decoding_request(settings, "late", max_new_tokens=4)
    submit(store, settings, request)
    pressed = []
    worker, loaded = in_process_worker(settings, connection, lambda loaded: CancelsAtStep(
        loaded.model, lambda: pressed.append(cancel(store, request.id, "late")), step=4))
    worker.work(burst=True)
    assert pressed == [True] and loaded.model.calls == 4  # pressed during the last token's forward
    record = store.submission(request.id)
    assert record.status == "cancelled" and record.error.code == "cancelled", record
    assert store.submission_outputs(request.id) == [] and not store.redis.smembers(store.keys.cancel())
    assert not store.redis.zcard(store.keys.outputs(TEST_CLASS))  # nothing reached the gallery
    assert Job.fetch(request.id, connection=connection).get_status() == "failed"


def test_cancel_says_no_once_the_submission_is_done(settings, store, connection):
    from shared.services.cancel import cancel

    request = decoding_request(settings, "slow-to-click", max_new_tokens=2)
    submit(store, settings, request)
    in_process_worker(settings, connection)[0].work(burst=True)
    assert store.submission(request.id).status == "done"
    assert not cancel(store, request.id, "slow-to-click")
    assert store.submission(request.id).status == "done" and not store.redis.smembers(store.keys.cancel())


def test_small_top_k_beside_greedy_rows_completes_for_everyone(settings, store, connection):
    """The first minutes of "vary top_k": top_k 1-4 once crashed every batch it joined."""
    configs = [{"strategy": "sampling", "temperature": 1.0, "top_k": k, "max_new_tokens": 6} for k in (1, 2, 3, 4)]
    small = build_request(settings, class_code=TEST_CLASS, student="curious", prompt=NOTEBOOK_PROMPT,
                          configs=configs, seed=3, model=settings.model)
    others = [decoding_request(settings, f"s{i}", seed=i, max_new_tokens=6) for i in range(3)]
    for request in [small, *others]:
        submit(store, settings, request)
    worker, _ = in_process_worker(settings, connection)
    worker.work(burst=True)
    for request in [small, *others]:
        record = store.submission(request.id)
        assert record.status == "done" and record.attempts == 1, record
    steps = store.token_details(store.submission_outputs(small.id)[2].id).steps
    assert all(len(step.sampled) <= 3 for step in steps)  # top_k 3: at most 3 alternatives after the cut
