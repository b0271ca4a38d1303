"""worker/batch_state.py: the batch owns its rows' record-book slots and keeps their sampling
parameters on the device as rows join and leave."""

import numpy as np
import torch

from shared.contract.decoding import DecodingConfig
from tests.test_engine import MIXED, PROMPTS, ids, tiny  # noqa: F401 - `tiny` is a fixture
from tests.test_sampling import random_configs
from worker.engine import Engine, GenerationRequest
from worker.engine_config import DEFAULT_CONFIG
from worker.sampling import RowParams


def assert_same_params(ours: RowParams, expected: RowParams):
    for name in ("do_sample", "temperature", "top_k", "top_p", "threshold", "repetition_penalty", "full_rows",
                 "greedy_rows", "top_p_rows"):
        assert torch.equal(getattr(ours, name), getattr(expected, name)), name
    assert (ours.any_penalty, ours.any_top_p, ours.window) == (expected.any_penalty, expected.any_top_p,
                                                               expected.window)


def test_rows_leaving_and_joining_keep_the_parameters_from_configs_gives():
    configs = random_configs(40, torch.Generator().manual_seed(3))
    first, second = (RowParams.from_configs(part, "cpu", 5, DEFAULT_CONFIG) for part in (configs[:25], configs[25:]))
    assert_same_params(first.concat(second), RowParams.from_configs(configs, "cpu", 5, DEFAULT_CONFIG))
    order = [24, 3, 7, 0, 11]
    chosen = first.select(torch.tensor(order), order)
    assert_same_params(chosen, RowParams.from_configs([configs[i] for i in order], "cpu", 5, DEFAULT_CONFIG))


def test_every_record_slot_is_held_by_one_row_or_free_through_joins_and_leaves(tiny):  # noqa: F811
    runner = Engine(tiny.model, tiny.eos_token_id, 4, tiny.device)
    for i in range(11):
        config = DecodingConfig(**{**MIXED[i % len(MIXED)].to_dict(), "max_new_tokens": 3 + 2 * i}).effective()
        runner.submit(GenerationRequest(i, ids(tiny, PROMPTS[i % len(PROMPTS)]), config, seed=i))
    while runner.busy:
        runner.step()
        held = runner.batch.slots.tolist()
        assert sorted(held + runner.batch.free_slots) == list(range(4))
        assert runner.batch.slots_on_device.tolist() == held
        if runner.rows:
            expected = [r.request.config.top_k or 0 for r in runner.rows]
            assert np.array_equal(runner.batch.params.host.top_k, expected)
    assert runner.batch.params is None and sorted(runner.batch.free_slots) == list(range(4))
