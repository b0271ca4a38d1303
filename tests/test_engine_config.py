"""worker/engine_config.py: the engine's tuning constants change how it works, never which tokens come out."""

import dataclasses

import pytest

from shared.contract.decoding import DecodingConfig
from tests.test_engine import MIXED, PROMPTS, ids, tiny  # noqa: F401 - `tiny` is a fixture
from worker.engine import Engine, GenerationRequest
from worker.engine_config import DEFAULT_CONFIG, EngineConfig
from worker.fair_share import fair_rows_for

# Every buffer at its smallest spare and every threshold at its most eager: the copies, drops, shifts
# through a copy and rows redone over the whole vocabulary that the defaults make rare happen all the time.
EAGER = dataclasses.replace(DEFAULT_CONFIG, admit_fraction=1.0, record_spare_tokens=1, window_limit=2,
                            tie_margin=1, spare_columns=1, kv_spare_columns=1, drop_columns_at_least=1,
                            max_shift_chunks=1)


def test_the_config_is_frozen_and_its_defaults_are_the_engines():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CONFIG.record_top = 3  # type: ignore[misc]
    assert DEFAULT_CONFIG == EngineConfig()
    assert fair_rows_for(64, 0, DEFAULT_CONFIG.fair_rows_divisor) == 8 and fair_rows_for(64, 3, 8) == 3


def test_tuning_changes_no_token(tiny):  # noqa: F811
    requests = [GenerationRequest(i, ids(tiny, PROMPTS[i % len(PROMPTS)]), config.effective(), seed=i)
                for i, config in enumerate(MIXED * 2)]

    def run(config: EngineConfig) -> list:
        return Engine(tiny.model, tiny.eos_token_id, 4, tiny.device, config=config).run(requests)

    for default, eager in zip(run(DEFAULT_CONFIG), run(EAGER)):
        assert eager.token_ids == default.token_ids  # exactly: draws depend on (seed, step, token) only
        # the batch's rows and columns differ, so the model's logits may differ in their last bits
        assert eager.logprobs == pytest.approx(default.logprobs, abs=1e-4)
        assert [s["p"] for s in eager.steps] == pytest.approx([s["p"] for s in default.steps], abs=1e-4)


def test_the_record_holds_as_many_alternatives_as_the_config_asks(tiny):  # noqa: F811
    config = DecodingConfig(temperature=1.0, top_k=50, max_new_tokens=6).effective()
    two = dataclasses.replace(DEFAULT_CONFIG, record_top=2)
    [result] = Engine(tiny.model, tiny.eos_token_id, 2, tiny.device, config=two).run(
        [GenerationRequest(0, ids(tiny, PROMPTS[0]), config, seed=1)])
    assert len(result.steps) == 6 and all(len(step["model"]) == 2 for step in result.steps)
