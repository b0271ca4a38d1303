"""Submitting (shared/services/validation.py, submit.py): bad input gets a clear message in the student's language and nothing is queued."""

import pytest
from rq import Queue

from shared.contract.decoding import NOTEBOOK_PROMPT, PRESETS
from shared.contract.problems import Problem
from shared.services.classes import close_class
from shared.services.progress import progress
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS

PRESET_CONFIGS = [p.to_dict() for p in PRESETS.values()]


def attempt(settings, store, prompt=NOTEBOOK_PROMPT, configs=None, seed=1, code=TEST_CLASS):
    request = build_request(settings, class_code=code, student="ana", prompt=prompt,
                            configs=PRESET_CONFIGS if configs is None else configs, seed=seed, model=settings.model)
    return submit(store, settings, request), request


def nothing_enqueued(store, settings, connection):
    assert Queue(settings.queue_name(), connection=connection).count == 0
    assert not connection.keys(f"{settings.key_prefix}:sub:*")


@pytest.mark.parametrize("prompt,code", [
    ("", "empty_prompt"), ("   \n\t ", "empty_prompt"), ("x" * 50_000, "prompt_too_long_chars"),
    ("hola\x00mundo", "control_characters"), ("word " * 1000, "prompt_too_long_tokens"),
])
def test_bad_prompts_are_refused(settings, store, connection, prompt, code):
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store, prompt=prompt)
    assert refused.value.problems[0].code == code
    assert refused.value.messages("es")[0] != refused.value.messages("en")[0]
    nothing_enqueued(store, settings, connection)


@pytest.mark.parametrize("change", [
    {"temperature": 0}, {"temperature": -0.5}, {"temperature": float("nan")}, {"top_p": 1.01},
    {"top_k": -1}, {"max_new_tokens": 0}, {"max_new_tokens": 5000},
])
def test_bad_parameters_are_refused(settings, store, connection, change):
    configs = [{**PRESET_CONFIGS[1], **change}]
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store, configs=configs)
    field = next(iter(change))
    assert field in refused.value.messages("en")[0]
    nothing_enqueued(store, settings, connection)


def test_no_configs_bad_seed_and_closed_class_are_refused(settings, store, connection):
    for kwargs, code in (({"configs": []}, "no_configs"), ({"seed": -3}, "out_of_range"),
                         ({"configs": [PRESET_CONFIGS[0]] * 17}, "too_many_configs")):
        with pytest.raises(Problem.Invalid) as refused:
            attempt(settings, store, **kwargs)
        assert refused.value.problems[0].code == code
    close_class(store, TEST_CLASS)
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store)
    assert refused.value.problems[0].code == "class_closed"  # said as it is, not "does not exist"
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store, code="no-such-class")
    assert refused.value.problems[0].code == "bad_class_code"
    nothing_enqueued(store, settings, connection)


def test_a_good_submission_is_recorded_and_queued_together(settings, store, connection):
    job, request = attempt(settings, store)
    assert job.id == request.id and job.retries_left == settings.job_retries
    assert store.submission(request.id).status == "queued"
    assert store.pending_count(TEST_CLASS) == 1
    view = progress(store, settings, request.id)
    assert (view.status, view.position, view.depth, view.total) == ("queued", 1, 1, 240)
    second_job, second = attempt(settings, store)
    assert progress(store, settings, second.id).position == 2


def test_ablation_variants_become_one_generation_each_and_are_all_checked(settings, store):
    variants = {"full": "Answer in a professional tone. Topic: Git.", "topic_only": "Topic: Git."}
    config = {"strategy": "sampling", "temperature": 0.7, "top_p": 0.9, "max_new_tokens": 50}
    request = build_request(settings, class_code=TEST_CLASS, student="ana", prompt="", configs=[config], seed=3,
                            model=settings.model, lab="ablation", variants=variants)
    assert [(i.variant, i.prompt) for i in request.items] == list(variants.items())
    assert request.total_tokens == 100
    with pytest.raises(Problem.Invalid) as refused:
        build_request(settings, class_code=TEST_CLASS, student="ana", prompt="", configs=[config], seed=3,
                      model=settings.model, lab="ablation", variants={**variants, "empty": " "})
    assert refused.value.problems[0].code == "empty_prompt"


def test_queued_submission_gets_a_wait_estimate_from_measured_throughput(settings, store):
    from shared.contract.records import WorkerInfo
    from shared.services.workers import announce

    _, first = attempt(settings, store)
    _, second = attempt(settings, store)
    assert progress(store, settings, second.id).wait_seconds is None  # nothing measured yet
    announce(store, WorkerInfo(name="w1", model=settings.model, tokens_per_s=120.0, in_flight=1), ttl=30)
    announce(store, WorkerInfo(name="w2", model=settings.model, tokens_per_s=120.0, in_flight=1), ttl=30)
    announce(store, WorkerInfo(name="w3", model="another-model", tokens_per_s=1e6, in_flight=1), ttl=30)
    assert progress(store, settings, first.id).wait_seconds == pytest.approx(240 / 240)
    assert progress(store, settings, second.id).wait_seconds == pytest.approx(480 / 240)


def test_per_student_limits_refuse_with_a_clear_message_and_spare_the_others(settings, store, connection):
    for _ in range(settings.max_active_per_student):
        attempt(settings, store)
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store)
    assert refused.value.problems[0].code == "too_many_active"
    assert "espera" in refused.value.messages("es")[0] and "wait" in refused.value.messages("en")[0]
    other = build_request(settings, class_code=TEST_CLASS, student="bob", prompt=NOTEBOOK_PROMPT,
                          configs=PRESET_CONFIGS, seed=1, model=settings.model)
    submit(store, settings, other)  # another student is not held back
    assert Queue(settings.queue_name(), connection=connection).count == settings.max_active_per_student + 1
    for submission_id in store.student_submissions(TEST_CLASS, "ana"):
        store.redis.hset(store.keys.submission(submission_id), "status", "done")
    from dataclasses import replace
    strict = replace(settings, max_per_minute_per_student=3)
    with pytest.raises(Problem.Invalid) as refused:
        attempt(strict, store)
    assert refused.value.problems[0].code == "too_many_per_minute"


@pytest.mark.parametrize("prompt", [b"In a distant future", "bad \udcff surrogate", None, 42])
def test_non_text_prompts_are_refused(settings, store, connection, prompt):
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store, prompt=prompt)
    assert refused.value.problems[0].code == "not_text"
    nothing_enqueued(store, settings, connection)


def test_two_tabs_submitting_at_once_cannot_pass_the_limit_together(settings, store, connection):
    import threading

    outcomes = []

    def one_tab():
        try:
            attempt(settings, store)
            outcomes.append("accepted")
        except Problem.Invalid as refused:
            outcomes.append(refused.problems[0].code)

    tabs = [threading.Thread(target=one_tab) for _ in range(8)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(timeout=30)
    assert outcomes.count("accepted") == settings.max_active_per_student
    assert outcomes.count("too_many_active") == 8 - settings.max_active_per_student
    assert Queue(settings.queue_name(), connection=connection).count == settings.max_active_per_student


def test_one_press_submitted_twice_is_stored_once(settings, store, connection):
    job, request = attempt(settings, store)
    again = submit(store, settings, request)  # the page retrying the same press after an error
    assert again.id == job.id
    assert Queue(settings.queue_name(), connection=connection).count == 1
    assert store.student_submissions(TEST_CLASS, "ana") == [request.id]


def test_a_lost_lock_release_after_the_commit_is_not_reported_as_a_failure(settings, store, connection):
    """The submission is committed, then the per-student lock's release fails (here: a Redis user that may
    not run scripts, as a connection lost at that moment would): the student must not see an error for a
    submission that is stored, or press again and store it twice."""
    from dataclasses import replace

    import redis as redis_module

    from shared.services.store import Store

    connection.execute_command("ACL", "SETUSER", "noscripts", "on", ">pw", "~*", "&*", "+@all", "-eval",
                               "-evalsha", "-script")
    try:
        host, port = connection.connection_pool.connection_kwargs["host"], connection.connection_pool.connection_kwargs["port"]
        db = connection.connection_pool.connection_kwargs.get("db", 0)
        limited = redis_module.Redis(host=host, port=port, db=db, username="noscripts", password="pw")
        limited_store = Store(limited, store.prefix)
        request = build_request(settings, class_code=TEST_CLASS, student="ana", prompt=NOTEBOOK_PROMPT,
                                configs=PRESET_CONFIGS, seed=1, model=settings.model)
        job = submit(limited_store, replace(settings), request)
        assert job.id == request.id and store.submission(request.id).status == "queued"
        limited.close()
    finally:
        connection.execute_command("ACL", "DELUSER", "noscripts")


def test_zero_retries_means_no_retries(settings, store, connection):
    from dataclasses import replace

    job, _ = attempt(replace(settings, job_retries=0), store)
    assert job.retries_left is None
    job, _ = attempt(replace(settings, job_retries=2), store, seed=2)
    assert job.retries_left == 2


def test_bidirectional_controls_are_refused_in_prompts_and_removed_from_names(settings, store, connection):
    with pytest.raises(Problem.Invalid) as refused:
        attempt(settings, store, prompt="Summarise this \u202egnp.exe\u202c for me")
    assert refused.value.problems[0].code == "bidi_characters"
    assert "dirección" in refused.value.messages("es")[0]
    nothing_enqueued(store, settings, connection)
    request = build_request(settings, class_code=TEST_CLASS, student="ana", prompt="", configs=[PRESET_CONFIGS[0]],
                            seed=1, model=settings.model, lab="ablation", variants={"\u2067evil\u2069": "Topic: git"})
    assert request.items[0].variant == "evil"


def test_the_result_cache_is_scoped_to_a_class():
    from shared.contract.decoding import DecodingConfig
    from shared.services.cache_identity import cache_key

    config = DecodingConfig.from_dict(PRESET_CONFIGS[1])
    assert cache_key("clase-a", "m", "p", config, 1) != cache_key("clase-b", "m", "p", config, 1)
    assert cache_key("clase-a", "m", "p", config, 1) == cache_key("clase-a", "m", "p", config, 1)


def test_a_pending_submission_whose_rq_job_ended_is_failed_with_a_reason(settings, store, connection):
    from rq.job import Job, JobStatus

    from shared.services.lost_jobs import reconcile_pending

    _, ended = attempt(settings, store)
    _, alive = attempt(settings, store, seed=2)
    Job.fetch(ended.id, connection=connection).set_status(JobStatus.FAILED)  # as RQ's cleanup leaves it
    assert reconcile_pending(store) == 1
    record = store.submission(ended.id)
    assert record.status == "failed" and record.error.code == "worker_lost"
    assert store.submission(alive.id).status == "queued" and store.pending_count(TEST_CLASS) == 1
    attempt(settings, store, seed=3)
    attempt(settings, store, seed=4)  # the ended one no longer counts against the active limit


def test_new_jobs_name_the_failure_callback_where_it_lives_and_the_old_path_still_resolves():
    """Jobs enqueued before the split name `shared.services.submissions.job_failed`; RQ imports that
    path when such a job fails, so it must keep resolving to the same callback."""
    from rq.utils import import_attribute

    from shared.services import lost_jobs
    from shared.services.submit import ON_FAILURE

    assert import_attribute(ON_FAILURE) is lost_jobs.job_failed
    assert import_attribute("shared.services.submissions.job_failed") is lost_jobs.job_failed


def test_a_job_queued_with_the_old_callback_path_still_fails_its_submission(settings, store, connection):
    from rq.job import Job
    from rq.timeouts import UnixSignalDeathPenalty

    _, request = attempt(settings, store)
    connection.hset(Job.key_for(request.id), "failure_callback_name", "shared.services.submissions.job_failed")
    job = Job.fetch(request.id, connection=connection)
    job.retries_left = 0  # RQ has no retry left: the callback ends the submission
    job.execute_failure_callback(UnixSignalDeathPenalty, None, None, None)  # as RQ's cleanup calls it
    record = store.submission(request.id)
    assert record.status == "failed" and record.error.code == "worker_lost"


def test_a_prompt_is_cleaned_as_the_model_will_see_it_without_redis():
    from shared.contract.decoding import DecodingConfig
    from shared.services.validation import check_context, clean_prompt

    assert clean_prompt("uno\r\ndos\rtres\tcuatro", 100) == "uno\ndos\ntres\tcuatro"
    for prompt, code in [(b"bytes", "not_text"), ("\ud800", "not_text"), (" \n", "empty_prompt"),
                         ("x" * 11, "prompt_too_long_chars"), ("a\x07b", "control_characters"),
                         ("a\u202eb", "bidi_characters")]:
        with pytest.raises(Problem.Invalid) as refused:
            clean_prompt(prompt, 10)
        assert refused.value.problems[0].code == code
    check_context(1000, [DecodingConfig(max_new_tokens=24)], context=1024)
    with pytest.raises(Problem.Invalid) as refused:
        check_context(1001, [DecodingConfig(max_new_tokens=8), DecodingConfig(max_new_tokens=24)], context=1024)
    assert refused.value.problems[0].params == {"prompt_tokens": 1001, "max_new_tokens": 24, "context": 1024}
