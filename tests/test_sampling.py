"""worker/sampling.py: per-row processors equal transformers' own, and sampling draws the right law."""

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from shared.contract.decoding import DecodingConfig
from worker.gumbel import gumbel_noise, hash32, row_keys
from worker.reference import apply_repetition_penalty, sampling_distribution
from worker.sampling import Choice, RowParams, Sampler


def choose_tokens(scores: torch.Tensor, history: torch.Tensor, params: RowParams, keys: torch.Tensor,
                  top: int | None = None, eos_token_id: int | None = None) -> Choice:
    """One call of the engine's `Sampler`, recording `top` alternatives and asking for `eos_token_id`."""
    return Sampler(top, eos_token_id)(scores, history, params, keys)


def apply_warpers(scores: torch.Tensor, params: RowParams) -> torch.Tensor:
    """Reference: temperature, top-k, top-p over the whole vocabulary, per row (-inf = removed).
    Checked against transformers below; the engine's candidate path is checked against it."""
    scores = scores / params.temperature[:, None]
    vocab = scores.shape[-1]
    k = torch.where(params.top_k > 0, params.top_k.clamp(max=vocab), torch.full_like(params.top_k, vocab))
    kth_largest = torch.topk(scores, int(k.max()), dim=-1).values.gather(1, (k - 1)[:, None])
    scores = scores.masked_fill(scores < kth_largest, -float("inf"))
    sorted_scores, sorted_index = torch.sort(scores, descending=False)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= params.threshold[:, None]  # 1 - top_p in double, then float32
    remove_sorted[:, -1] = False  # keep at least one token
    remove = remove_sorted.scatter(1, sorted_index, remove_sorted)
    return scores.masked_fill(remove, -float("inf"))


CONFIGS = [
    DecodingConfig(temperature=0.3, top_p=0.9), DecodingConfig(temperature=1.5, top_k=7, top_p=0.5),
    DecodingConfig(temperature=0.7, top_k=0, top_p=1.0), DecodingConfig(temperature=1.0, top_k=50),
    DecodingConfig(temperature=0.1, top_k=3, top_p=0.95, repetition_penalty=1.5),
]


def transformers_reference(scores, input_ids, config):
    e = config.effective()
    scores = RepetitionPenaltyLogitsProcessor(e.repetition_penalty)(input_ids, scores)
    if e.temperature != 1.0:
        scores = TemperatureLogitsWarper(e.temperature)(input_ids, scores)
    if e.top_k:
        scores = TopKLogitsWarper(e.top_k)(input_ids, scores)
    if e.top_p < 1.0:
        scores = TopPLogitsWarper(e.top_p)(input_ids, scores)
    return scores


def test_processors_match_transformers_row_by_row():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(len(CONFIGS), 50257, generator=generator) * 3
    history = torch.randint(0, 50257, (len(CONFIGS), 30), generator=generator)
    params = RowParams.from_configs([c.effective() for c in CONFIGS], "cpu")
    ours = apply_warpers(apply_repetition_penalty(logits, history, params.repetition_penalty), params)
    for row, config in enumerate(CONFIGS):
        reference = transformers_reference(logits[row:row + 1].clone(), history[row:row + 1], config)[0]
        kept = torch.isfinite(reference)
        assert torch.equal(kept, torch.isfinite(ours[row])), config
        torch.testing.assert_close(ours[row][kept], reference[kept], rtol=1e-6, atol=1e-6)


def test_top_k_one_is_greedy_and_greedy_is_argmax_after_penalty():
    logits = torch.tensor([[2.0, 1.9, -1.0, 0.5], [0.1, 3.0, 2.9, -2.0]])
    seen = torch.tensor([[0], [3]])  # row 0 has seen token 0; row 1 only token 3, far from the top
    draws = torch.tensor([5, 6])
    greedy = RowParams.from_configs([DecodingConfig(strategy="greedy", repetition_penalty=1.2).effective()] * 2, "cpu")
    top1 = RowParams.from_configs([DecodingConfig(top_k=1, repetition_penalty=1.2).effective()] * 2, "cpu")
    assert choose_tokens(logits, seen, greedy, draws).tokens.tolist() == [1, 1]  # 2.0/1.2 < 1.9
    assert choose_tokens(logits, seen, top1, draws).tokens.tolist() == [1, 1]


def test_sampling_frequencies_follow_the_softmax():
    rows = 20_000
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5]).repeat(rows, 1)
    seen = torch.zeros(logits.shape[0], 1, dtype=torch.long)  # token 0 seen
    params = RowParams.from_configs([DecodingConfig(temperature=1.0, top_k=0, repetition_penalty=1.0)] * rows, "cpu")
    keys = torch.from_numpy(row_keys(np.arange(rows, dtype=np.uint64), np.zeros(rows, dtype=np.uint64)))
    tokens = choose_tokens(logits, seen, params, keys).tokens
    frequencies = torch.bincount(tokens, minlength=5).double() / rows
    assert torch.allclose(frequencies, logits[0].double().softmax(-1), atol=0.015)


def test_keys_depend_only_on_seed_and_step_and_noise_is_gumbel():
    seeds, steps = np.array([1, 2, 1], dtype=np.uint64), np.array([5, 5, 5], dtype=np.uint64)
    keys = row_keys(seeds, steps)
    assert keys[0] == keys[2] != keys[1]
    assert keys[0] == row_keys(seeds[:1], steps[:1])[0]
    assert ((0 <= keys) & (keys < 2**32)).all()
    assert row_keys(np.array([1], np.uint64), np.array([6], np.uint64))[0] != keys[0]
    assert hash32(torch.tensor([0, 1, 2**32 - 1])).tolist() != [0, 1, 2**32 - 1]
    noise = gumbel_noise(torch.tensor([123]), torch.arange(200_000)[None, :])[0].double()
    assert abs(noise.mean() - 0.5772) < 0.01 and abs(noise.var() - 1.6449) < 0.03  # Euler-Mascheroni, pi^2/6


def test_fast_candidate_path_samples_only_what_the_full_warpers_keep():
    generator = torch.Generator().manual_seed(1)
    rows = len(CONFIGS) * 200
    configs = [c.effective() for c in CONFIGS] * 200
    logits = (torch.randn(len(CONFIGS), 50257, generator=generator) * 3).repeat(200, 1)
    seen = torch.zeros(logits.shape[0], 1, dtype=torch.long)  # token 0 seen
    params = RowParams.from_configs(configs, "cpu")
    kept = torch.isfinite(apply_warpers(apply_repetition_penalty(logits, seen, params.repetition_penalty), params))
    keys = torch.from_numpy(row_keys(np.arange(rows, dtype=np.uint64), np.zeros(rows, dtype=np.uint64)))
    tokens = choose_tokens(logits, seen, params, keys).tokens
    assert kept.gather(1, tokens[:, None]).all()
    for row in range(len(CONFIGS)):  # rows of one config hit every kept token of small kept sets
        same = tokens[row::len(CONFIGS)]
        if kept[row].sum() <= 3:
            assert set(same.tolist()) == set(kept[row].nonzero().flatten().tolist())


def test_a_rows_token_does_not_depend_on_the_other_rows_configs():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(1, 50257, generator=generator) * 2
    seen = torch.zeros(logits.shape[0], 1, dtype=torch.long)  # token 0 seen
    draw = torch.tensor([37])
    row = DecodingConfig(temperature=0.8, top_k=40, top_p=0.9).effective()
    alone = choose_tokens(logits, seen, RowParams.from_configs([row], "cpu"), draw).tokens
    for other in (DecodingConfig(top_k=0), DecodingConfig(strategy="greedy"), DecodingConfig(top_k=500)):
        params = RowParams.from_configs([row, other.effective()], "cpu")
        together = choose_tokens(logits.repeat(2, 1), seen.repeat(2, 1), params, draw.repeat(2)).tokens
        assert together[0] == alone[0]


def test_ties_at_the_top_k_cut_are_kept_as_transformers_does():
    logits = torch.tensor([[3.0, 2.0, 2.0, 1.0]])
    config = DecodingConfig(temperature=1.0, top_k=2, repetition_penalty=1.0)
    probs = sampling_distribution(logits, torch.zeros(1, 1, dtype=torch.long), RowParams.from_configs([config], "cpu"))
    torch.testing.assert_close(probs[0], torch.tensor([0.576117, 0.211942, 0.211942, 0.0]), atol=1e-6, rtol=0)
    reference = transformers_reference(logits.clone(), torch.zeros(1, 1, dtype=torch.long), config)[0]
    torch.testing.assert_close(probs[0], reference.softmax(-1))


def test_top_p_threshold_is_computed_in_double_as_transformers_does():
    logits = torch.zeros(1, 1000)  # uniform: cumulative mass k/1000; 1 - 0.999 in float32 keeps all 1000
    config = DecodingConfig(temperature=1.0, top_k=0, top_p=0.999, repetition_penalty=1.0)
    params = RowParams.from_configs([config], "cpu")
    probs = sampling_distribution(logits, torch.zeros(1, 1, dtype=torch.long), params)
    reference = transformers_reference(logits.clone(), torch.zeros(1, 1, dtype=torch.long), config)[0]
    assert int((probs[0] > 0).sum()) == int(torch.isfinite(reference).sum()) == 999


def random_configs(count, generator):
    """Every mix a class can send: any top_k (none, small, past the window, the whole vocabulary)."""
    pick = lambda options: options[int(torch.randint(len(options), (1,), generator=generator))]  # noqa: E731
    configs = []
    for _ in range(count):
        greedy = pick([False, False, False, True])
        configs.append(DecodingConfig(strategy="greedy" if greedy else "sampling",
                                      temperature=pick([0.3, 0.7, 1.0, 1.5]),
                                      top_k=pick([0, 1, 2, 3, 4, 5, 10, 50, 60, 300, 1000, 50257]),
                                      top_p=pick([1.0, 1.0, 0.9, 0.5, 0.95, 0.999]),
                                      repetition_penalty=pick([1.0, 1.1, 1.5])).effective())
    return configs


@pytest.mark.parametrize("vocab", [50257, 300], ids=["GPT-2 vocabulary", "300 tokens"])
@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16-rounded"])
def test_kept_set_equals_transformers_for_every_row_of_a_mixed_batch(half, vocab):
    """Random logits, random configs, all in one batch: each row's distribution is the one
    transformers' processors give that row alone (float16-rounded logits have many ties)."""
    generator = torch.Generator().manual_seed(5 + half)
    rows = 300
    logits = torch.randn(rows, vocab, generator=generator) * 2.5
    if half:
        logits = logits.half().float()
    history = torch.randint(0, vocab, (rows, 20), generator=generator)
    configs = random_configs(rows, generator)
    probs = sampling_distribution(logits, history, RowParams.from_configs(configs, "cpu"))
    for row, config in enumerate(configs):
        reference = transformers_reference(logits[row:row + 1].clone(), history[row:row + 1], config)[0]
        ours, theirs = probs[row] > 0, torch.isfinite(reference)
        differ = ours != theirs
        if differ.any():  # only where tokens tie exactly at the top-p cut (see below)
            assert half and config.top_p < 1.0 and ours.sum() == theirs.sum(), (row, config)
            tied = _scaled(logits[row:row + 1], history[row:row + 1], config) == reference[theirs].min()
            assert tied[differ].all(), (row, config)
            torch.testing.assert_close(probs[row].sort().values, reference.softmax(-1).sort().values,
                                       atol=2e-6, rtol=1e-4)
            continue
        torch.testing.assert_close(probs[row], reference.softmax(-1), atol=2e-6, rtol=1e-4)
    # Tokens tied exactly at the top-p cut: transformers keeps the ones its unstable sort happens to
    # put last; the engine keeps the lowest ids, so a row's result never depends on sort internals.


def _scaled(logits, history, config):
    """Scores after the penalty and temperature, before any cut."""
    whole = DecodingConfig(temperature=config.temperature, top_k=0, top_p=1.0,
                           repetition_penalty=config.repetition_penalty)
    return transformers_reference(logits.clone(), history, whole)[0]


def test_float16_logits_give_each_row_the_same_token_in_any_mix_of_top_k():
    generator = torch.Generator().manual_seed(6)
    rows = 120
    logits = (torch.randn(rows, 50257, generator=generator) * 2.5).half().float()
    history = torch.randint(0, 50257, (rows, 20), generator=generator)
    configs = random_configs(rows, generator)
    keys = torch.from_numpy(row_keys(np.arange(rows, dtype=np.uint64), np.full(rows, 3, dtype=np.uint64)))
    together = choose_tokens(logits.clone(), history, RowParams.from_configs(configs, "cpu"), keys, top=5)
    for row, config in enumerate(configs):
        alone = choose_tokens(logits[row:row + 1].clone(), history[row:row + 1],
                              RowParams.from_configs([config], "cpu"), keys[row:row + 1], top=5)
        assert alone.tokens[0] == together.tokens[row], (row, config)
        torch.testing.assert_close(alone.record[0], together.record[row], atol=2e-6, rtol=1e-5)


def test_numpy_argmax_takes_the_first_of_tied_maxima_as_torch_does():
    from worker.sampling import _first_argmax

    generator = torch.Generator().manual_seed(8)
    values = (torch.randn(600, 58, generator=generator) * 2).half().float()  # many ties
    values[::3, 10:] = -float("inf")
    values[1::5] = 1.0  # a whole row tied: the first position
    assert torch.equal(_first_argmax(values), values.argmax(dim=-1, keepdim=True))


class DeviceReads(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the aten operations that make the host wait for a GPU to learn a value."""

    WAITS = {"aten.nonzero.default", "aten._local_scalar_dense.default", "aten.is_nonzero.default",
             "aten.equal.default"}

    def __init__(self):
        super().__init__()
        self.waits = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.waits += str(func) in self.WAITS
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16-rounded (ties at the cuts)"])
def test_eos_comes_back_with_the_rows_to_redo_in_one_transfer(half):
    """With `eos_token_id`, the rows the window cannot decide and the rows that chose EOS come back in
    one [2, rows] transfer (no `nonzero` or scalar read waiting on the device before it); the tokens
    and records are those of the same call without `eos_token_id`."""
    generator = torch.Generator().manual_seed(9)
    rows = 160
    logits = torch.randn(rows, 50257, generator=generator) * 2.5
    logits = logits.half().float() if half else logits
    eos = int(logits[0].argmax())  # row 0 greedy, so some row surely chooses EOS
    history = torch.randint(0, 50257, (rows, 20), generator=generator)
    configs = [DecodingConfig(strategy="greedy").effective()] + random_configs(rows - 1, generator)
    params = RowParams.from_configs(configs, "cpu", 5)
    keys = torch.from_numpy(row_keys(np.arange(rows, dtype=np.uint64), np.full(rows, 2, dtype=np.uint64)))
    without_eos = choose_tokens(logits.clone(), history, params, keys, top=5)
    with DeviceReads() as reads:
        one_transfer = choose_tokens(logits.clone(), history, params, keys, top=5, eos_token_id=eos)
    assert reads.waits == 0
    assert len(params.full_rows) > 0 and (one_transfer.recounted_rows > 0) == half  # both redo paths taken
    assert torch.equal(one_transfer.tokens, without_eos.tokens)
    assert torch.equal(one_transfer.record, without_eos.record)
    assert one_transfer.eos.tolist() == (without_eos.tokens == eos).tolist() and one_transfer.eos[0]


# --- three edges of the engine's functions, called directly (issue 21) ----------------------------
def test_a_vocabulary_smaller_than_the_records_top_leaves_the_missing_alternatives_blank():
    """`Sampler(top=5)` over 3 tokens: the record keeps its layout (the engine's buffer is
    that wide) and the token view lists the 3 tokens there are."""
    from worker.token_record import RecordLayout, TokenSteps

    logits = torch.tensor([[2.0, 1.0, 0.5], [0.1, 0.2, 0.3], [1.0, 1.0, -3.0], [0.0, 5.0, 1.0]])
    configs = [DecodingConfig(strategy="greedy"), DecodingConfig(top_k=2), DecodingConfig(top_k=0, top_p=0.9),
               DecodingConfig(top_k=50, repetition_penalty=1.3)]
    params = RowParams.from_configs([c.effective() for c in configs], "cpu", record_top=5)
    seen = torch.tensor([[1], [0], [2], [1]])
    choice = choose_tokens(logits.clone(), seen, params, torch.tensor([1, 2, 3, 4]), top=5)
    layout = RecordLayout(5)
    assert choice.record.shape == (4, layout.width)
    for row in range(4):
        step = TokenSteps(choice.record[row][None].numpy(), layout)[0]
        assert sorted(i for i, _ in step["model"]) == [0, 1, 2]
        assert sum(q for _, q in step["model"]) == pytest.approx(1.0, abs=1e-4)
        assert {i for i, _ in step["sampled"]} <= {0, 1, 2} and step["p"] > 0


@pytest.mark.parametrize("ids_shape", ["[1, n]", "[n]", "[rows, n]"])
def test_gumbel_noise_broadcasts_token_ids_the_same_way_on_both_paths(ids_shape, monkeypatch):
    import worker.candidates

    keys = torch.tensor([7, 123, 2**32 - 1, 0])
    ids = torch.arange(50)
    given = {"[1, n]": ids[None, :], "[n]": ids, "[rows, n]": ids.repeat(4, 1)}[ids_shape]
    numpy_noise = gumbel_noise(keys, given)
    monkeypatch.setattr(worker.candidates, "NUMPY_ON_CPU", False)
    torch_noise = gumbel_noise(keys, given)
    assert numpy_noise.shape == torch_noise.shape == (4, 50)
    assert torch.equal(numpy_noise, torch_noise)
    assert torch.equal(numpy_noise, gumbel_noise(keys, ids.repeat(4, 1)))


@pytest.mark.parametrize("config", [DecodingConfig(strategy="greedy", repetition_penalty=1.0),
                                    DecodingConfig(strategy="greedy", repetition_penalty=1.3),
                                    DecodingConfig(top_k=0, temperature=1.0, repetition_penalty=1.0),
                                    DecodingConfig(top_k=50, temperature=1.0, repetition_penalty=1.3)])
def test_the_recorded_probability_is_the_distributions_at_large_logits(config):
    """At |logit| ~ 600 a float32 logsumexp is 6e-5 coarse: the record showed 1.0 where the distribution
    gives 0.99997. The record's p, log-prob and alternatives are computed as the distribution is."""
    from worker.token_record import RecordLayout

    logits = torch.tensor([[600.0, 589.6, -600.0, 0.0, 3.0, -1.0]])
    seen = torch.tensor([[5]])  # a token far from the top: the penalty changes nothing that matters
    params = RowParams.from_configs([config.effective()], "cpu", record_top=2)
    choice = choose_tokens(logits.clone(), seen, params, torch.tensor([9]), top=2)
    layout, token = RecordLayout(2), int(choice.tokens[0])
    distribution = sampling_distribution(logits, seen, params)[0]
    assert token == 0 and distribution[0] < 0.99998
    assert choice.record[0, layout.p].item() == pytest.approx(distribution[0].item(), rel=1e-6, abs=0)
    assert choice.record[0, layout.p].item() < 0.99998
    model = logits.double().log_softmax(-1)[0]
    assert choice.record[0, layout.logprob].item() == pytest.approx(model[0].item(), abs=1e-7)  # not 0.0
    torch.testing.assert_close(choice.record[0, layout.model_probs].double(), model[:2].exp(), rtol=1e-5, atol=0)


# --- the Sampler's pass count, predicted from the rows' parameters (worker/reference.py) ------------
PASS_MIXES = {
    "the class mix": [DecodingConfig(strategy="greedy"), DecodingConfig(temperature=1.0, top_k=50),
                      DecodingConfig(temperature=0.3, top_p=0.9), DecodingConfig(temperature=0.7, top_p=0.9)],
    "no penalty": [DecodingConfig(strategy="greedy", repetition_penalty=1.0),
                   DecodingConfig(top_k=20, repetition_penalty=1.0)],
}


@pytest.mark.parametrize("mix", PASS_MIXES)
@pytest.mark.parametrize("top", [None, 5])
def test_the_passes_the_rows_parameters_predict_are_those_aten_counts(mix, top):
    """`make bench-host` shows `worker.reference.vocab_passes` beside aten's count of the kernels over
    [rows, vocab] (the engine itself counts nothing): both agree, with a record and without, for rows
    decided on their window. (Rows decided over the whole vocabulary count as 2-3 passes there, where
    aten sees every kernel of the draw on [rows, vocab]: the count is the window path's.)"""
    from bench.host import VOCAB, VocabPasses
    from worker.reference import vocab_passes

    generator = torch.Generator().manual_seed(12)
    rows = 16
    configs = [PASS_MIXES[mix][row % len(PASS_MIXES[mix])].effective() for row in range(rows)]
    params = RowParams.from_configs(configs, "cpu", top or 0)
    logits = torch.randn(rows, VOCAB, generator=generator) * 3
    history = torch.randint(0, VOCAB, (rows, 20), generator=generator)
    keys = torch.from_numpy(row_keys(np.arange(rows, dtype=np.uint64), np.full(rows, 4, dtype=np.uint64)))
    with VocabPasses(rows, VOCAB) as counter:
        choice = Sampler(top, eos_token_id=VOCAB - 1)(logits, history, params, keys)
    assert choice.recounted_rows == 0  # no ties at a cut in these logits: aten would not see a few rows' sort
    assert counter.count == vocab_passes(params, top is not None, choice.recounted_rows)
