"""Submit-time allowances of docs/fairness-and-storage.md: the per-student token budget and a full Redis."""

from dataclasses import replace

import pytest
import redis
from rq import Queue

from devtools.embedded_redis import EmbeddedRedis
from shared.contract.decoding import NOTEBOOK_PROMPT
from shared.contract.problems import Problem
from shared.services.classes import open_class
from shared.services.store import Store
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS

BIG = {"strategy": "sampling", "temperature": 1.0, "max_new_tokens": 1000}


def request_for(settings, student_id="s1", configs=None, variants=None, code=TEST_CLASS):
    return build_request(settings, class_code=code, student="Ana", student_id=student_id, prompt=NOTEBOOK_PROMPT,
                         configs=configs or [BIG] * 4, seed=1, model=settings.model, variants=variants)


def test_a_student_over_their_tokens_per_minute_is_told_how_many_they_have_left(settings, store, connection):
    budget = replace(settings, tokens_per_minute_per_student=10_000)
    submit(store, budget, request_for(budget))  # 4 x 1000 tokens
    submit(store, budget, request_for(budget))  # 8000 used
    with pytest.raises(Problem.Invalid) as refused:
        submit(store, budget, request_for(budget))
    problem = refused.value.problems[0]
    assert problem.code == "token_budget"
    assert problem.params == {"tokens": 4000, "left": 2000, "limit": 10_000}
    assert "4000" in problem.message("en") and "2000 left this minute" in problem.message("en")
    assert "te quedan 2000 este minuto" in problem.message("es")
    assert Queue(settings.queue_name(), connection=connection).count == 2  # the refused one left no trace
    submit(store, budget, request_for(budget, student_id="s2"))  # another student has their own budget


def test_the_budget_is_keyed_on_the_student_id_not_the_name_they_chose(settings, store):
    budget = replace(settings, tokens_per_minute_per_student=5000)
    submit(store, budget, request_for(budget))
    renamed = replace(request_for(budget), student="Someone else")  # same id, another label
    with pytest.raises(Problem.Invalid) as refused:
        submit(store, budget, renamed)
    assert refused.value.problems[0].code == "token_budget"


def test_a_budget_of_zero_means_no_limit(settings, store):
    unlimited = replace(settings, tokens_per_minute_per_student=0, max_active_per_student=10)
    for _ in range(5):
        submit(store, unlimited, request_for(unlimited, configs=[BIG] * 16))


@pytest.fixture
def small_redis(tmp_path):
    """A real server of its own whose maxmemory is small: full after a few submissions."""
    server = EmbeddedRedis(tmp_path / "full").start()
    client = redis.Redis.from_url(server.url)
    client.config_set("maxmemory-policy", "noeviction")  # what RQ needs (and the docs ask for)
    yield server, client
    client.close()
    server.stop()


def test_a_full_redis_refuses_new_submissions_whole_with_a_clear_message(settings, small_redis):
    server, client = small_redis
    settings = replace(settings, redis_url=server.url, tokens_per_minute_per_student=0, max_active_per_student=10**6,
                       max_per_minute_per_student=10**6)
    store = Store(client, settings.key_prefix)
    open_class(store, TEST_CLASS)
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 1_500_000)
    accepted, refused = 0, None
    for _ in range(200):
        try:
            submit(store, settings, request_for(settings, variants={f"v{i}": NOTEBOOK_PROMPT for i in range(4)}))
            accepted += 1
        except Problem.Invalid as invalid:
            refused = invalid.problems[0]
            break
    assert refused is not None and refused.code == "storage_full"
    assert accepted >= 1
    assert "full" in refused.message("en") and "lleno" in refused.message("es")
    records = client.keys(f"{settings.key_prefix}:sub:*")
    assert len(records) == accepted == Queue(settings.queue_name(), connection=client).count  # none half-written
