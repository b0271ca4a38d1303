"""Processes killed for real (by their own pid): nothing a student submitted is lost or duplicated."""

import signal

from rq import Queue
from rq.job import Job

from shared.services.submit import submit
from tests.conftest import TEST_CLASS, wait_for
from tests.test_batch_worker import notebook_request


def test_worker_killed_mid_batch_its_submissions_complete_on_a_new_worker(settings, store, connection, workers):
    requests = [notebook_request(settings, student=f"s{i}", seed=i, max_new_tokens=400) for i in range(3)]
    for request in requests:
        submit(store, settings, request)
    doomed = workers.start()
    wait_for(lambda: all(store.submission(r.id).progress_done > 0 for r in requests), timeout=120,
             message="the first worker to be generating all three submissions")
    queue = Queue(settings.queue_name(), connection=connection)
    assert queue.started_job_registry.count == 3
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    workers.start()
    for request in requests:
        wait_for(lambda: store.submission(request.id).status == "done", timeout=180,
                 message=f"submission {request.id} to complete on the second worker")
        # the outputs are published first, then the job is finished in RQ: a moment apart
        wait_for(lambda: Job.fetch(request.id, connection=connection).get_status() == "finished", timeout=30,
                 message=f"job {request.id} to be finished in RQ")
        assert store.submission(request.id).attempts == 2
    assert store.class_output_count(TEST_CLASS) == 9  # three outputs each, none twice
    assert store.pending_count(TEST_CLASS) == 0


def test_submissions_wait_for_a_worker_and_complete_when_one_starts(settings, store, workers):
    request = notebook_request(settings, max_new_tokens=5)
    submit(store, settings, request)
    assert store.submission(request.id).status == "queued"
    workers.start("--burst")
    wait_for(lambda: store.submission(request.id).status == "done", timeout=120, message="completion")


def test_redis_stopped_and_restarted_mid_batch_loses_nothing(settings, store, connection, workers, redis_server):
    import pytest
    import redis as redis_lib

    from shared.services.moderation import instructor_token, set_star

    url, server = redis_server
    if server is None:
        pytest.skip("needs the embedded Redis the tests start (REDIS_URL points at a server we must not stop)")
    done = notebook_request(settings, student="first", max_new_tokens=5)
    submit(store, settings, done)
    workers.start()
    wait_for(lambda: store.submission(done.id).status == "done", timeout=120, message="the first submission")
    starred = store.submission_outputs(done.id)[0].id
    set_star(store, settings, instructor_token(settings, settings.instructor_password), TEST_CLASS, starred, True)
    requests = [notebook_request(settings, student=f"s{i}", seed=i, max_new_tokens=300) for i in range(3)]
    for request in requests:
        submit(store, settings, request)
    wait_for(lambda: all(store.submission(r.id).status == "running" for r in requests), timeout=60,
             message="the batch to start")
    server.stop()
    with pytest.raises(redis_lib.exceptions.ConnectionError):
        connection.ping()
    import time
    time.sleep(3)  # the worker keeps generating; its heartbeats and writes wait
    server.start()
    for request in requests:
        wait_for(lambda: store.submission(request.id).status == "done", timeout=180,
                 message=f"{request.student} to complete after the restart")
    assert workers.processes[0].poll() is None  # the same worker, still alive
    assert store.redis.zscore(store.keys.starred(TEST_CLASS), starred) is not None
    assert store.class_output_count(TEST_CLASS) == 12 and store.pending_count(TEST_CLASS) == 0


def test_two_models_served_at_once_each_queue_goes_to_its_own_workers(settings, store, workers):
    from dataclasses import replace

    from shared.services.workers import served_models

    tiny = workers.start()
    distil = workers.start(DECODELAB_MODEL="random-distilgpt2")
    wait_for(lambda: set(served_models(store)) == {"random-tiny", "random-distilgpt2"}, timeout=120,
             message="both workers to announce their model")
    big = replace(settings, model="random-distilgpt2")
    requests = {"random-tiny": notebook_request(settings, student="a", max_new_tokens=4),
                "random-distilgpt2": notebook_request(big, student="b", max_new_tokens=4)}
    for request in requests.values():
        submit(store, settings, request)
    for model, request in requests.items():
        wait_for(lambda: store.submission(request.id).status == "done", timeout=120, message=model)
        assert {o.model for o in store.submission_outputs(request.id)} == {model}
    assert tiny.poll() is None and distil.poll() is None
