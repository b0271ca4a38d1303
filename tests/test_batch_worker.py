"""The RQ side of the worker: real Redis, real worker processes with random-tiny."""

from __future__ import annotations

from dataclasses import replace

from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from shared.contract.decoding import NOTEBOOK_PROMPT, PRESETS
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS


def notebook_request(settings, student="ana", prompt=NOTEBOOK_PROMPT, seed=42, max_new_tokens=None):
    configs = [p.to_dict() for p in PRESETS.values()]
    if max_new_tokens:
        configs = [{**c, "max_new_tokens": max_new_tokens} for c in configs]
    return build_request(settings, class_code=TEST_CLASS, student=student, prompt=prompt, configs=configs,
                         seed=seed, model=settings.model)


def test_submissions_complete_through_rq_in_one_batch(settings, store, connection, workers):
    requests = [notebook_request(settings, student=f"s{i}", seed=i, max_new_tokens=12) for i in range(4)]
    for request in requests:
        submit(store, settings, request)
    queue = Queue(settings.queue_name(), connection=connection)
    assert queue.count == 4
    process = workers.start("--burst", DECODELAB_MAX_BATCH="12")  # room for all 12 generations at once
    assert process.wait(timeout=120) == 0, workers.log()
    finished = FinishedJobRegistry(queue=queue)
    for request in requests:
        assert Job.fetch(request.id, connection=connection).get_status() == "finished"
        assert request.id in finished
        record = store.submission(request.id)
        assert record.status == "done"
        outputs = store.submission_outputs(request.id)
        assert [o.index for o in outputs] == [0, 1, 2]
        assert all(0 < o.new_tokens <= 12 for o in outputs)
        assert all(o.model == "random-tiny" and o.provenance.random_weights for o in outputs)
    assert store.class_output_count(TEST_CLASS) == 12
    assert store.pending_count(TEST_CLASS) == 0
    jobs = [Job.fetch(r.id, connection=connection) for r in requests]
    assert max(j.started_at for j in jobs) < min(j.ended_at for j in jobs)  # admitted into one batch
    assert len({o.worker for r in requests for o in store.submission_outputs(r.id)}) == 1


def test_prompt_too_long_for_the_model_fails_only_its_own_submission(settings, store, connection, workers):
    good = notebook_request(settings, student="good", max_new_tokens=8)
    bad = notebook_request(settings, student="bad", max_new_tokens=8)
    # Forge a request past the dashboard's checks: the worker must check again.
    bad = replace(bad, items=tuple(replace(item, prompt="word " * 1100) for item in bad.items))
    for request in (good, bad):
        submit(store, settings, request)
    assert workers.start("--burst").wait(timeout=120) == 0, workers.log()
    queue = Queue(settings.queue_name(), connection=connection)
    assert bad.id in FailedJobRegistry(queue=queue)
    failed = store.submission(bad.id)
    assert failed.status == "failed" and failed.error.code == "prompt_too_long_tokens"
    assert store.submission(good.id).status == "done"


def test_identical_request_is_answered_from_the_cache_and_says_so(settings, store, connection, workers):
    first = notebook_request(settings, student="ana", seed=5, max_new_tokens=10)
    submit(store, settings, first)
    assert workers.start("--burst").wait(timeout=120) == 0, workers.log()
    again = notebook_request(settings, student="bob", seed=5, max_new_tokens=10)  # same prompt, configs, seed
    other_seed = notebook_request(settings, student="eve", seed=6, max_new_tokens=10)
    for request in (again, other_seed):
        submit(store, settings, request)
    assert workers.start("--burst").wait(timeout=120) == 0, workers.log(1)
    originals = store.submission_outputs(first.id)
    cached = store.submission_outputs(again.id)
    assert [o.cached_from for o in cached] == [o.id for o in originals]
    assert [o.text for o in cached] == [o.text for o in originals]
    assert all(o.generation_seconds == 0.0 and o.student == "bob" for o in cached)
    assert store.token_details(cached[0].details_id).token_ids == originals[0].token_ids
    reseeded = store.submission_outputs(other_seed.id)
    assert reseeded[0].cached_from == originals[0].id  # greedy does not depend on the seed
    assert reseeded[1].cached_from is None and reseeded[1].text != originals[1].text
    assert store.class_output_count(TEST_CLASS) == 9  # cached answers are outputs of their own


def test_explore_job_stores_the_next_token_logits(settings, store, workers):
    import numpy as np
    import torch

    from shared.services.validation import build_explore_request
    from worker.model import load_model

    request = build_explore_request(settings, class_code=TEST_CLASS, student="ana", prompt=NOTEBOOK_PROMPT,
                                    model=settings.model)
    submit(store, settings, request)
    assert workers.start("--burst").wait(timeout=120) == 0, workers.log()
    assert store.submission(request.id).status == "done"
    raw, prompt_ids, texts = store.exploration(request.id)
    logits = np.frombuffer(raw, dtype=np.float32)
    tiny = load_model("random-tiny")
    assert prompt_ids == tiny.tokenizer(NOTEBOOK_PROMPT).input_ids
    with torch.no_grad():
        expected = tiny.model(torch.tensor([prompt_ids])).logits[0, -1].numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    best = int(expected.argmax())
    assert texts[str(best)] == tiny.tokenizer.decode([best]) and len(texts) == 100
    assert store.class_output_count(TEST_CLASS) == 0  # nothing for the gallery


def test_ablation_run_through_the_queue_gives_a_full_effect_matrix(settings, store, workers):
    from shared.teaching.ablation import (
        NOTEBOOK_ABLATION_CONFIG,
        PromptParts,
        check_specs,
        effect_matrix,
        notebook_variants,
    )

    variants = notebook_variants()
    specs = check_specs(PromptParts(), custom={"kind": "regex", "pattern": r"\bgit\b"})
    configs = [{**NOTEBOOK_ABLATION_CONFIG, "max_new_tokens": 12, "seed": 100 + i} for i in range(3)]
    request = build_request(settings, class_code=TEST_CLASS, student="ana", prompt="", configs=configs, seed=0,
                            model=settings.model, lab="ablation", variants=variants, checks=specs,
                            topic="advantages of using Git in generative AI projects")
    assert len(request.items) == 12
    submit(store, settings, request)
    assert workers.start("--burst").wait(timeout=180) == 0, workers.log()
    outputs = store.submission_outputs(request.id)
    assert len(outputs) == 12 and all(set(o.checks) == {s["id"] for s in specs} for o in outputs)
    check_ids = [s["id"] for s in specs]
    matrix = effect_matrix(outputs, list(variants), check_ids)
    assert [row["variant"] for row in matrix] == ["full", "without_bullets", "without_tone", "topic_only"]
    for row in matrix:
        for check_id in check_ids:
            assert row[check_id]["samples"] == 3 and 0 <= row[check_id]["passed"] <= 3
    assert sum(row["topic_words"]["samples"] for row in matrix) == 12
    seeds = {(o.variant, o.seed) for o in outputs}
    assert {s for _, s in seeds} == {100, 101, 102}  # the same seeds for every variant
    from shared.services.gallery import class_stats, group_summaries

    groups = group_summaries(store, TEST_CLASS, class_stats(store, TEST_CLASS))
    assert len(groups) == 4 and all(g.count == 3 for g in groups)
    assert {g.label.split(" · ")[0] for g in groups} == set(variants)


def test_a_malformed_request_in_the_queue_fails_alone_and_the_worker_goes_on(settings, store, connection, workers):
    import json

    good = notebook_request(settings, student="good", max_new_tokens=4)
    bad = notebook_request(settings, student="bad", max_new_tokens=4)
    for request in (bad, good):
        submit(store, settings, request)
    forged = {**bad.to_dict(), "items": [{"prompt": "hi", "config": "not a dict", "seed": 1}]}  # straight into Redis
    connection.hset(store.keys.submission(bad.id), "request", json.dumps(forged))
    assert workers.start("--burst").wait(timeout=120) == 0, workers.log()
    assert store.status(bad.id) == "failed"  # its record stays unreadable as a request: only the status is read
    assert json.loads(connection.hget(store.keys.submission(bad.id), "error"))["code"] == "malformed_request"
    assert store.submission(good.id).status == "done"


def test_a_submission_over_its_job_timeout_fails_alone(settings, store, connection, workers):
    from dataclasses import replace

    short = replace(settings, job_timeout=1)
    slow = notebook_request(settings, student="slow", max_new_tokens=900)
    submit(store, short, slow)  # enqueued with a 1-second RQ job timeout
    quick = notebook_request(settings, student="quick", max_new_tokens=4)
    submit(store, settings, quick)
    assert workers.start("--burst").wait(timeout=180) == 0, workers.log()
    record = store.submission(slow.id)
    assert record.status == "failed" and record.error.code == "timed_out"
    assert Job.fetch(slow.id, connection=connection).get_status() == "failed"
    assert store.submission(quick.id).status == "done"
