"""worker/fair_share.py: the policy alone, then inside the real engine (random-tiny, CPU)."""

from collections import Counter

import pytest

from shared.contract.decoding import GREEDY, DecodingConfig
from worker.engine import Engine, GenerationRequest
from worker.fair_share import admission_order, limit_rows, rows_to_preempt
from worker.model import load_model

HOG, BYSTANDER, THIRD = ("c", "s1"), ("c", "s2"), ("c", "s3")


# --- the policy ----------------------------------------------------------------------------------
def test_a_student_alone_uses_the_whole_batch():
    assert limit_rows(Counter({HOG: 64}), 64, 8) == 64
    assert rows_to_preempt([HOG] * 64, list(range(64)), [HOG] * 10, 64, 8) == []


def test_a_small_job_holds_the_big_one_to_its_fair_rows_least_advanced_rows_first():
    steps = [500 - i for i in range(64)]  # row 63 has generated the least
    gone = rows_to_preempt([HOG] * 64, steps, [BYSTANDER], 64, 8)
    assert len(gone) == 56
    assert gone == list(range(8, 64))  # the 8 most advanced rows keep going


def test_big_jobs_alone_together_split_the_rows_evenly():
    assert limit_rows(Counter({HOG: 64, THIRD: 64}), 64, 8) == 32
    gone = rows_to_preempt([HOG] * 64, [0] * 64, [THIRD] * 64, 64, 8)
    assert len(gone) == 32


def test_a_student_with_no_row_takes_one_from_the_largest_holder_when_none_is_free():
    owners = [("c", f"s{i}") for i in range(4)]
    running = [o for o in owners for _ in range(4)]  # 4 students x 4 rows fill a batch of 16
    gone = rows_to_preempt(running, [5] * 16, [("c", "new")] * 3, 16, 2)
    assert len(gone) == 1
    assert rows_to_preempt(running, [5] * 16, [], 16, 2) == []  # nobody waiting: nobody gives way


def test_in_a_class_burst_a_newcomer_takes_one_row_the_least_advanced_of_a_holder_above_an_even_split():
    owners = [("c", f"s{i}") for i in range(16)]
    running = [o for o in owners for _ in range(4)]  # 16 students x 4 rows (the ablation) fill 64 rows
    steps = [5] * 64
    steps[6] = 1  # s1's least advanced row
    assert rows_to_preempt(running, steps, [("c", "new")] * 4, 64, 8) == [6]  # one row, not four


def test_nobody_gives_way_when_every_holder_is_at_an_even_split():
    running = [("c", f"s{i}") for i in range(64)]  # 64 students x 1 row
    assert rows_to_preempt(running, [5] * 64, [("c", "new")] * 3, 64, 8) == []


def test_admission_is_round_robin_across_students_fewest_rows_first():
    waiting = [HOG] * 5 + [BYSTANDER] * 2 + [THIRD]
    order = admission_order([HOG, HOG], waiting, 4, 16, 8)
    owners = [waiting[i] for i in order]
    assert owners[:2] == [BYSTANDER, THIRD]  # students with no row first, in arrival order
    assert Counter(owners) == Counter({BYSTANDER: 2, THIRD: 1, HOG: 1})


def test_admission_never_passes_a_students_limit_while_others_have_work():
    order = admission_order([BYSTANDER], [HOG] * 20, 30, 32, 4)
    assert len(order) == 4


# --- inside the real engine ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    return load_model("random-tiny")


def requests_of(tiny, owner, count, config, prefix):
    prompt = tiny.tokenizer("Advantages of using Git in generative AI projects.").input_ids
    return [GenerationRequest((prefix, i), prompt, config, 1000 + i, owner=owner) for i in range(count)]


@pytest.mark.parametrize("config", [
    DecodingConfig(temperature=0.7, top_p=0.9, max_new_tokens=24),
    DecodingConfig(strategy=GREEDY, repetition_penalty=1.3, max_new_tokens=24),
])
def test_a_preempted_generation_comes_out_token_for_token_as_undisturbed(tiny, config):
    config = config.effective()
    hog = requests_of(tiny, HOG, 6, config, "hog")
    undisturbed = {r.key: Engine(tiny.model, tiny.eos_token_id, 8, tiny.device).run([r])[0] for r in hog}
    engine = Engine(tiny.model, tiny.eos_token_id, 8, tiny.device, fair_rows=2)
    for request in hog:
        engine.submit(request)
    results = {}
    for _ in range(10):  # the hog's rows are 10 tokens in when the bystander arrives
        results |= {r.key: r for r in engine.step()}
    bystander = requests_of(tiny, BYSTANDER, 1, DecodingConfig(strategy=GREEDY, max_new_tokens=8).effective(), "b")
    engine.submit(bystander[0])
    while engine.busy:
        results |= {r.key: r for r in engine.step()}
    assert engine.preempted_rows == 4  # the hog was held to 2 rows while the bystander had work
    for key, alone in undisturbed.items():
        assert results[key].token_ids == alone.token_ids
        # the figures agree to float precision (a batch of another width sums in another order)
        assert results[key].logprobs == pytest.approx(alone.logprobs, abs=1e-4)
        assert [s["model"][0][0] for s in results[key].steps] == [s["model"][0][0] for s in alone.steps]


def test_the_bystander_finishes_first_and_the_hog_gets_its_rows_back(tiny):
    config = DecodingConfig(temperature=1.0, top_k=50, max_new_tokens=60).effective()
    engine = Engine(tiny.model, tiny.eos_token_id, 8, tiny.device, fair_rows=2)
    for request in requests_of(tiny, HOG, 16, config, "hog"):
        engine.submit(request)
    engine.step()
    bystander = requests_of(tiny, BYSTANDER, 1, DecodingConfig(strategy=GREEDY, max_new_tokens=8).effective(), "b")
    engine.submit(bystander[0])
    order, widest_after = [], 0
    while engine.busy:
        order += [r.key for r in engine.step()]
        if ("b", 0) in order:
            widest_after = max(widest_after, len(engine.rows))
    assert order.index(("b", 0)) == 0  # done long before any of the hog's 60-token rows
    assert len(order) == 17
    assert widest_after == 8  # once alone again, the hog fills the batch


# --- through the real worker and Redis ----------------------------------------------------------------
def test_a_bystanders_small_job_sent_after_a_maximal_job_finishes_long_before_it(settings, store, workers):
    from shared.contract.decoding import NOTEBOOK_PROMPT
    from shared.services.cancel import cancel
    from shared.services.submit import submit
    from shared.services.validation import build_request
    from tests.conftest import TEST_CLASS, wait_for

    workers.start()
    variants = {f"part {i}": f"Write a long story, part {i}." for i in range(4)}
    hog = build_request(settings, class_code=TEST_CLASS, student="Hog", student_id="s1", prompt="", lab="ablation",
                        variants=variants, configs=[{"temperature": 1.0, "max_new_tokens": 300, "seed": s}
                                                    for s in range(16)], seed=1, model=settings.model)
    assert len(hog.items) == 64  # the most one submission may ask for
    submit(store, settings, hog)
    wait_for(lambda: store.submission(hog.id).progress_done > 0, timeout=120, message="the hog to run")
    bystander = build_request(settings, class_code=TEST_CLASS, student="Ana", student_id="s2", prompt=NOTEBOOK_PROMPT,
                              configs=[{"strategy": "greedy", "max_new_tokens": 8}], seed=1, model=settings.model)
    submit(store, settings, bystander)
    wait_for(lambda: store.status(bystander.id) == "done", timeout=120, message="the bystander's job")
    record = store.submission(hog.id)
    assert record.status == "running"
    assert record.progress_done < record.progress_total / 2, record  # before, it waited for ~all of the hog
    assert cancel(store, hog.id, "s1")
    wait_for(lambda: store.status(hog.id) == "cancelled", timeout=60, message="the hog to be cancelled")
