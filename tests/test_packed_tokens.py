"""shared/contract/packed_tokens.py: token details as binary arrays, read back as the token view needs them."""

import json

import pytest

from shared.contract.decoding import GREEDY, DecodingConfig
from shared.contract.packed_tokens import PackedTokens, texts_lookup
from shared.contract.records import packed_ids, unpacked_ids
from worker.engine import Engine, GenerationRequest
from worker.model import load_model
from worker.outputs import packed_tokens, token_details


@pytest.fixture(scope="module")
def tiny():
    return load_model("random-tiny")


@pytest.mark.parametrize("config", [
    DecodingConfig(temperature=0.7, top_p=0.9, max_new_tokens=60),
    DecodingConfig(temperature=1.0, top_k=3, max_new_tokens=60),  # cut alternatives: shown as cut
    DecodingConfig(strategy=GREEDY, repetition_penalty=1.3, max_new_tokens=60),
])
def test_packed_details_read_back_as_the_token_view_showed_them_in_a_tenth_of_the_bytes(tiny, config):
    prompt = tiny.tokenizer("In a distant future, humans and AI").input_ids
    result = Engine(tiny.model, tiny.eos_token_id, 4, tiny.device).run(
        [GenerationRequest(1, prompt, config.effective(), 5)])[0]
    shown = token_details(tiny, result)  # as the JSON record held it
    raw = packed_tokens(tiny, result).to_bytes()
    back = PackedTokens.from_bytes(raw).details(texts_lookup(dict(enumerate(tiny.token_texts))))
    assert back.token_ids == shown.token_ids and back.finish_reason == shown.finish_reason
    assert back.logprobs == pytest.approx(shown.logprobs, rel=0.01)
    for packed, json_step in zip(back.steps, shown.steps, strict=True):
        assert packed.text == json_step.text
        assert [t for t, _ in packed.model] == [t for t, _ in json_step.model]
        assert [t for t, _ in packed.sampled] == [t for t, _ in json_step.sampled]
        for (_, p), (_, q) in zip(packed.model + packed.sampled, json_step.model + json_step.sampled):
            assert p == pytest.approx(q, rel=0.01, abs=1e-5)  # half floats of logs: ~3 digits; the view shows 2
        assert packed.p == pytest.approx(json_step.p, rel=0.01, abs=1e-5)
    assert len(raw) < len(json.dumps(shown.to_dict())) / 10


def test_tiny_probabilities_and_cut_tokens_survive_packing():
    packed = PackedTokens(model="m", finish_reason="eos", token_ids=(7,), logprobs=(-30.0,), top=2, p=(2.5e-7,),
                          model_ids=(7, 9), model_probs=(2.5e-7, 1e-12), sampled_ids=(7, 9), sampled_probs=(1.0, 0.0))
    back = PackedTokens.from_bytes(packed.to_bytes())
    assert back.p[0] == pytest.approx(2.5e-7, rel=0.01)  # a half float of the probability itself would be 2.4e-7
    assert back.model_probs[1] == pytest.approx(1e-12, rel=0.01)
    assert back.sampled_probs == (1.0, 0.0)
    assert [t for t, _ in back.details(texts_lookup({7: "a"})).steps[0].sampled] == ["a"]  # the cut one is left out


def test_a_damaged_record_is_refused_not_misread():
    raw = PackedTokens(model="m", finish_reason="eos", token_ids=(1, 2), logprobs=(-1.0, -2.0)).to_bytes()
    with pytest.raises(ValueError):
        PackedTokens.from_bytes(raw[:-3])
    with pytest.raises(ValueError):
        PackedTokens.from_bytes(b'{"steps": []}')


def test_output_token_ids_are_stored_packed_and_old_lists_still_read():
    ids = (50256, 12345, 31800, 25700)
    assert unpacked_ids(packed_ids(ids)) == ids
    assert len(packed_ids(ids * 250)) < len(json.dumps(list(ids * 250))) / 2
    assert unpacked_ids([1, 2, 3]) == (1, 2, 3)  # stored before
    assert unpacked_ids(packed_ids((70000, 1))) == (70000, 1)  # a large vocabulary stays a list


def test_an_output_without_the_token_view_record_packs_its_ids_alone():
    packed = PackedTokens(model="m", finish_reason="length", token_ids=(4, 5, 6), logprobs=(-1.0, -2.0, -3.0))
    details = PackedTokens.from_bytes(packed.to_bytes()).details(texts_lookup({4: "a"}))
    assert details.token_ids == (4, 5, 6)
    assert [s.text for s in details.steps] == ["a", "#5", "#6"] and all(s.p is None for s in details.steps)
