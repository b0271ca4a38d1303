"""shared/teaching/sweeps.py: each sweep varies what the activity asks and fixes the rest."""

from shared.contract.decoding import DecodingConfig
from shared.teaching.sweeps import SWEEP_NAMES, sweep


def test_every_sweep_gives_valid_distinct_configs():
    for name in SWEEP_NAMES:
        rows = sweep(name)
        configs = [DecodingConfig.from_dict(r) for r in rows]
        keys = [(c.group_key(), r.get("seed")) for c, r in zip(configs, rows)]
        assert len(set(keys)) == len(keys), name
        assert 3 <= len(rows) <= 16


def test_sweeps_vary_only_their_knob():
    assert [r["temperature"] for r in sweep("temperature")] == [0.1, 0.7, 1.5]
    assert {(r["top_k"], r["repetition_penalty"]) for r in sweep("temperature")} == {(50, 1.1)}
    assert [r["repetition_penalty"] for r in sweep("repetition")] == [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    assert [r["seed"] for r in sweep("seeds", seed=7)] == [7, 8, 9, 10, 11]
    assert len({(r["top_k"], r["top_p"]) for r in sweep("top_k_top_p")}) == 9
