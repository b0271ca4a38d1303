"""shared/teaching/explorer.py (NumPy) equals transformers' own processors on the same logits."""

import numpy as np
import pytest
import torch

from shared.contract.decoding import DecodingConfig
from shared.teaching.explorer import reshape, top_table
from tests.test_sampling import transformers_reference


@pytest.mark.parametrize("temperature,top_k,top_p,penalty", [
    (1.0, 50, 1.0, 1.1), (0.3, 50, 0.9, 1.1), (1.5, 0, 0.5, 1.0), (0.7, 10, 0.95, 1.5), (2.0, 0, 1.0, 1.0),
])
def test_reshaped_distribution_equals_transformers_processors(temperature, top_k, top_p, penalty):
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 50257, generator=generator) * 2.5
    history = torch.randint(0, 50257, (1, 12), generator=generator)
    config = DecodingConfig(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=penalty)
    reference = transformers_reference(logits.clone(), history, config)[0]
    ours = reshape(logits[0].numpy(), history[0].tolist(), temperature=temperature, top_k=top_k, top_p=top_p,
                   repetition_penalty_value=penalty)
    assert np.array_equal(ours.kept, torch.isfinite(reference).numpy())
    np.testing.assert_allclose(ours.probs, reference.softmax(-1).numpy(), atol=1e-6, rtol=1e-4)
    assert 0 < ours.mass_kept <= 1.0001 and ours.entropy <= ours.entropy_model + 8


def test_lower_temperature_sharpens_and_cuts_keep_less():
    logits = np.random.default_rng(0).normal(size=1000).astype(np.float32) * 2
    sharp = reshape(logits, [], temperature=0.3)
    flat = reshape(logits, [], temperature=1.5)
    assert sharp.entropy < flat.entropy
    cut = reshape(logits, [], top_k=10)
    assert cut.kept.sum() == 10 and cut.mass_kept < 1.0
    table = top_table(cut, str, count=12)
    assert [row["kept"] for row in table] == [True] * 10 + [False] * 2
    assert table[0]["model"] >= table[1]["model"]


def test_ties_at_the_top_k_cut_are_kept():
    reshaped = reshape(np.array([3.0, 2.0, 2.0, 1.0], dtype=np.float32), [], top_k=2)
    np.testing.assert_allclose(reshaped.probs, [0.576117, 0.211942, 0.211942, 0.0], atol=1e-6)


def test_top_p_threshold_is_computed_in_double_as_transformers_does():
    reshaped = reshape(np.zeros(1000, dtype=np.float32), [], top_p=0.999)
    assert reshaped.kept.sum() == 999


def test_float16_rounded_logits_keep_what_the_engine_keeps():
    """Many ties: the explorer and the engine's sampler agree token for token, ties at cuts included."""
    from worker.reference import sampling_distribution
    from worker.sampling import RowParams

    generator = torch.Generator().manual_seed(8)
    for top_k, top_p, temperature in [(50, 1.0, 1.0), (2, 1.0, 0.7), (0, 0.9, 1.0), (40, 0.95, 0.3), (0, 0.5, 1.5)]:
        logits = (torch.randn(1, 50257, generator=generator) * 2.5).half().float()
        history = torch.randint(0, 50257, (1, 12), generator=generator)
        config = DecodingConfig(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=1.1)
        engine = sampling_distribution(logits, history, RowParams.from_configs([config], "cpu"))[0]
        ours = reshape(logits[0].numpy(), history[0].tolist(), temperature=temperature, top_k=top_k, top_p=top_p,
                       repetition_penalty_value=1.1)
        assert np.array_equal(ours.kept, (engine > 0).numpy()), config
        np.testing.assert_allclose(ours.probs, engine.numpy(), atol=1e-6, rtol=1e-4)
