"""worker/admission.py: what a dequeued submission becomes, decided without Redis, RQ or a model."""

from dataclasses import replace

from shared.contract.decoding import GREEDY, DecodingConfig
from shared.contract.problems import Problem
from shared.contract.records import DONE, EXPLORE, Item, Request, Submission
from shared.contract.settings import Settings
from shared.services.cache_identity import cache_key
from worker.admission import (
    Admitted,
    AlreadyDone,
    Exploration,
    PlannedItem,
    Refused,
    admit,
    answered_from_cache,
    read_problem,
)

SETTINGS = Settings()
MODEL = "distilgpt2"
CONTEXT = 1024
GREEDY_CONFIG = DecodingConfig(strategy=GREEDY, max_new_tokens=20)
SAMPLED = DecodingConfig(temperature=0.7, max_new_tokens=20)


def tokenize(text: str) -> list[int]:
    """A stand-in tokenizer: one token per word."""
    return [len(word) for word in text.split()]


def request(*items: Item, lab: str = "decoding", prompt: str = "Once upon a time") -> Request:
    return Request(id="r1", class_code="C1", student_id="s1", student="Ana", lab=lab, model=MODEL, prompt=prompt,
                   items=items)


def decide(record, cancelled: bool = False, context: int = CONTEXT, words=tokenize):
    return admit(record, cancelled=cancelled, settings=SETTINGS, tokenize=words, context_window=context, model=MODEL)


NOTEBOOK = request(Item("Once upon a time", GREEDY_CONFIG, 1), Item("Once upon a time", SAMPLED, 2))


def test_a_valid_request_is_admitted_with_one_planned_item_per_item_in_order():
    admission = decide(Submission.new(NOTEBOOK))
    assert admission == Admitted(NOTEBOOK, (
        PlannedItem(0, [4, 4, 1, 4], GREEDY_CONFIG.effective(), 1,
                    cache_key("C1", MODEL, "Once upon a time", GREEDY_CONFIG.effective(), 1)),
        PlannedItem(1, [4, 4, 1, 4], SAMPLED.effective(), 2,
                    cache_key("C1", MODEL, "Once upon a time", SAMPLED.effective(), 2)),
    ))


def test_greedy_items_that_differ_only_in_seed_share_a_cache_key_sampled_ones_do_not():
    greedy = decide(Submission.new(request(Item("Hi there", GREEDY_CONFIG, 1), Item("Hi there", GREEDY_CONFIG, 9))))
    sampled = decide(Submission.new(request(Item("Hi there", SAMPLED, 1), Item("Hi there", SAMPLED, 9))))
    assert isinstance(greedy, Admitted) and isinstance(sampled, Admitted)
    assert greedy.items[0].cache_key == greedy.items[1].cache_key
    assert sampled.items[0].cache_key != sampled.items[1].cache_key


def test_a_submission_an_earlier_attempt_published_is_already_done_even_if_cancelled_since():
    assert decide(replace(Submission.new(NOTEBOOK), status=DONE), cancelled=True) == AlreadyDone()


def test_a_cancelled_submission_is_refused_with_its_request():
    assert decide(Submission.new(NOTEBOOK), cancelled=True) == Refused(Problem("cancelled"), NOTEBOOK)


def test_a_missing_record_is_a_worker_error_and_a_damaged_one_keeps_its_problem():
    assert decide(None) == Refused(Problem("worker_error", detail="submission record missing"), None)
    assert decide(Problem("not_text")) == Refused(Problem("not_text"), None)
    assert decide(None, cancelled=True) == Refused(Problem("cancelled"), None)


def test_reading_problems_name_the_first_problem_found_else_malformed():
    assert read_problem(Problem.Invalid([Problem("empty_prompt"), Problem("not_text")])) == Problem("empty_prompt")
    assert read_problem(KeyError("request")) == Problem("malformed_request")
    assert read_problem(ValueError("not JSON")) == Problem("malformed_request")


def test_the_workers_second_check_refuses_what_the_dashboard_would_have():
    edited = request(Item("bad \x07 bell", SAMPLED, 1))  # a record edited by hand, past the dashboard
    assert decide(Submission.new(edited)) == Refused(Problem("control_characters"), edited)
    assert decide(Submission.new(request())).problem.code == "too_many_generations"  # type: ignore[union-attr]


def test_a_prompt_too_long_for_the_context_is_refused_with_its_figures():
    admission = decide(Submission.new(NOTEBOOK), context=23)  # 4 prompt tokens + 20 new ones
    assert admission == Refused(Problem("prompt_too_long_tokens", prompt_tokens=4, max_new_tokens=20, context=23),
                                NOTEBOOK)
    assert isinstance(decide(Submission.new(NOTEBOOK), context=24), Admitted)


def test_a_record_that_breaks_tokenizing_is_refused_as_malformed_never_raised():
    def broken(text: str) -> list[int]:
        raise TypeError("not a string")

    assert decide(Submission.new(NOTEBOOK), words=broken) == Refused(Problem("malformed_request"), NOTEBOOK)


def test_an_explorer_request_is_one_forward_pass_over_its_prompt():
    explore = request(lab=EXPLORE, prompt="The cat sat")
    assert decide(Submission.new(explore)) == Exploration(explore, [3, 3, 3])
    assert decide(Submission.new(explore), context=3) == Refused(
        Problem("prompt_too_long_tokens", prompt_tokens=3, max_new_tokens=1, context=3), explore)
    blank = request(lab=EXPLORE, prompt="   ")
    assert decide(Submission.new(blank)) == Refused(Problem("empty_prompt"), blank)


def test_the_cache_answers_the_items_whose_original_output_still_exists():
    admitted = decide(Submission.new(request(*(Item("Hi there", SAMPLED, seed) for seed in range(3)))))
    assert isinstance(admitted, Admitted)
    originals = {"old:0": "the original output"}  # "gone:1" was deleted since: generated again
    answered = answered_from_cache(admitted.items, ["old:0", "gone:1", None], originals)  # type: ignore[arg-type]
    assert answered == {0: "the original output"}
