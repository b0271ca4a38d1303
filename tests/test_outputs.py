"""worker/outputs.py: the token view's details, from a real engine result on random-tiny."""

from shared.contract.decoding import DecodingConfig
from worker.engine import Engine, GenerationRequest
from worker.model import load_model
from worker.outputs import token_details


def test_token_details_show_each_piece_as_the_tokenizer_decodes_it():
    tiny = load_model("random-tiny")
    prompt = tiny.tokenizer("In a distant future, humans and AI").input_ids
    config = DecodingConfig(temperature=0.7, top_p=0.9, max_new_tokens=12).effective()
    result = Engine(tiny.model, tiny.eos_token_id, 4, tiny.device).run([GenerationRequest(1, prompt, config, 3)])[0]
    details = token_details(tiny, result)
    decode = lambda token: tiny.tokenizer.decode([token])  # noqa: E731
    assert [step.text for step in details.steps] == [decode(t) for t in result.token_ids]
    for shown, recorded in zip(details.steps, result.steps, strict=True):
        assert shown.p == recorded["p"] and 0 < shown.p <= 1
        assert [text for text, _ in shown.model] == [decode(i) for i, _ in recorded["model"]]
        assert [text for text, _ in shown.sampled] == [decode(i) for i, _ in recorded["sampled"]]
        assert len(shown.model) == 5 and 1 <= len(shown.sampled) <= 5
    assert list(details.logprobs) == list(result.logprobs) and len(result.logprobs) == len(result.token_ids) == 12
