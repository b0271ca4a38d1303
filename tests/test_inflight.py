"""worker/inflight.py: an item's text so far, as its page is shown it."""

from shared.contract.records import PartialText
from worker.engine import GenerationResult
from worker.inflight import InFlightItem

WORDS = {1: "Once", 2: " upon", 3: " a", 4: " time", 5: "\ufffd"}  # 5: half of a character's bytes


def decode(tokens: list[int]) -> str:
    decode.calls.append(list(tokens))  # type: ignore[attr-defined]
    text = "".join(WORDS[t] for t in tokens)
    return text.replace("\ufffd\ufffd", "é")  # two halves make a whole character


decode.calls = []  # type: ignore[attr-defined]


def test_only_the_tokens_new_since_the_last_publication_are_decoded():
    item = InFlightItem(0, "key")
    decode.calls.clear()  # type: ignore[attr-defined]
    item.streamed = item.partial([1, 2], decode)
    assert item.streamed == PartialText(0, "Once upon", 2)
    assert item.partial([1, 2, 3], decode) == PartialText(0, "Once upon a", 3)
    assert decode.calls == [[1, 2], [3]]  # type: ignore[attr-defined]


def test_a_character_not_yet_whole_waits_for_its_other_bytes():
    item = InFlightItem(0, "key")
    assert item.partial([1, 5], decode).text == "Once"
    assert item.partial([1, 5, 5], decode).text == "Onceé"


def test_a_row_run_again_from_its_prompt_is_decoded_from_the_start():
    item = InFlightItem(0, "key")
    item.partial([1, 2, 3], decode)
    assert item.partial([1], decode).text == "Once"


def test_a_finished_item_is_its_results_whole_text_marked_done_and_unchanged_is_not_decoded_again():
    item = InFlightItem(0, "key", result=GenerationResult((0, "s"), [1, 4], "eos", 3, 0.0, 1.0))
    item.streamed = item.partial(None, decode)
    assert item.streamed == PartialText(0, "Once time", 2, done=True)
    decode.calls.clear()  # type: ignore[attr-defined]
    assert item.partial(None, decode) is item.streamed
    assert decode.calls == []  # type: ignore[attr-defined]


def test_an_admitted_item_is_answered_from_the_cache_or_by_a_generation_keyed_by_submission_and_index():
    from shared.contract.decoding import DecodingConfig
    from worker.admission import PlannedItem

    plan = PlannedItem(2, [7, 8], DecodingConfig().effective(), 5, "key")
    generated = InFlightItem.planned(plan, "sub", ("C1", "s1"), None)
    assert generated.generation is not None and generated.cached is None and not generated.done
    assert (generated.generation.key, generated.generation.owner, generated.generation.seed) == (("sub", 2), ("C1", "s1"), 5)
    cached = InFlightItem.planned(plan, "sub", ("C1", "s1"), "an earlier output")  # type: ignore[arg-type]
    assert cached.generation is None and cached.done
