"""worker/candidates.py: the NumPy key-sort shortlist keeps the same contract as `topk`, and the
engine's token choice on a small vocabulary (key-sort path) equals the same rows decided by `topk`."""

import numpy as np
import pytest
import torch

from shared.decoding import DecodingConfig
from worker.candidates import KEY_VOCAB_LIMIT, shortlist
from worker.sampling import RowParams, _hash_top_bits, choose_tokens, gumbel_noise, hash32, row_keys


def exact_order(scores: torch.Tensor):
    """Reference: every row sorted by (score descending, id ascending)."""
    ids = torch.arange(scores.shape[1]).expand_as(scores)
    by_score = scores.sort(dim=-1, descending=True, stable=True)  # stable: equal scores keep id order
    return by_score.values, ids.gather(1, by_score.indices)


def score_sets(generator):
    """Float32 logits, float16-rounded ones (many exact ties), near-ties closer than the keys can
    tell apart, infinities and signed zeros."""
    plain = torch.randn(300, 256, generator=generator) * 3
    near = plain.clone()
    near[:, 1::2] = near[:, ::2] * (1 + 2.0**-20)  # pairs within one key class (15 mantissa bits kept)
    odd = plain.half().float()
    odd[::7, :3] = float("inf")
    odd[1::7, :40] = -float("inf")
    odd[2::7, :200] = 0.0
    odd[3::7, 10:150] = -0.0
    odd[4::7] = 1.0  # a whole row tied
    return {"float32": plain, "near ties": near, "float16 and special values": odd}


@pytest.mark.parametrize("kind", ["float32", "near ties", "float16 and special values"])
@pytest.mark.parametrize("n", [58, 5, 1, 250])
def test_key_sort_shortlist_keeps_the_contract(kind, n):
    scores = score_sets(torch.Generator().manual_seed(3))[kind]
    listed = shortlist(scores, n)
    sorted_values, sorted_ids = exact_order(scores)
    inside = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, listed.ids, True)
    # the fence bounds everything left out
    assert (scores.masked_fill(inside, -float("inf")).amax(dim=1) <= listed.fence).all()
    # where the n-th clears the fence, they are the true n best, in exact order
    exact = listed.values[:, -1] > listed.fence
    assert torch.equal(listed.ids[exact], sorted_ids[exact, :n])
    assert torch.equal(listed.values, scores.gather(1, listed.ids))
    if kind == "float32":
        assert exact.all()  # nothing for the engine to redo on ordinary logits


def test_key_sort_and_topk_give_the_same_shortlist():
    """A 256-token row and the same row padded with -inf past KEY_VOCAB_LIMIT (decided by topk)."""
    scores = torch.randn(200, 256, generator=torch.Generator().manual_seed(4)).half().float() * 4
    padded = torch.cat([scores, torch.full((200, KEY_VOCAB_LIMIT), -float("inf"))], dim=1)
    keys, topk = shortlist(scores, 58), shortlist(padded, 58)
    both = (keys.values[:, -1] > keys.fence) & (topk.values[:, -1] > topk.fence)
    assert both.float().mean() > 0.5
    assert torch.equal(keys.ids[both], topk.ids[both]) and torch.equal(keys.values[both], topk.values[both])


def test_gumbel_bits_in_uint32_equal_the_int64_hash():
    keys = torch.randint(0, 2**32, (64,), generator=torch.Generator().manual_seed(5))
    ids = torch.randint(0, 50257, (64, 300), generator=torch.Generator().manual_seed(6))
    expected = hash32((keys[:, None] + ids * 0x9E3779B1) & 0xFFFFFFFF) >> 9
    assert torch.equal(torch.from_numpy(_hash_top_bits(keys.numpy(), ids.numpy())).long(), expected)
    noise = gumbel_noise(keys, ids)
    uniform = expected.float() * 2.0**-23 + 2.0**-24
    assert torch.equal(noise, -torch.log(-torch.log(uniform)))


def mixed_configs(count, generator):
    pick = lambda options: options[int(torch.randint(len(options), (1,), generator=generator))]  # noqa: E731
    return [DecodingConfig(strategy=pick(["greedy", "sampling", "sampling"]), temperature=pick([0.3, 0.7, 1.0, 1.5]),
                           top_k=pick([0, 1, 3, 5, 50, 100]), top_p=pick([1.0, 0.9, 0.5]),
                           repetition_penalty=pick([1.0, 1.1, 1.5, 0.8])).effective() for _ in range(count)]


@pytest.mark.parametrize("penalty", [True, False], ids=["with penalty", "no penalty"])
@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16-rounded"])
def test_small_vocabulary_choice_equals_the_topk_path(penalty, half):
    """Tokens and records on a 256-token vocabulary (NumPy key sort) equal those of the same rows
    padded with -inf past KEY_VOCAB_LIMIT tokens (torch.topk), in a batch of mixed configs."""
    generator = torch.Generator().manual_seed(7 + 2 * half + penalty)
    rows = 200
    logits = torch.randn(rows, 256, generator=generator) * 3
    if half:
        logits = logits.half().float()
    history = torch.randint(0, 256, (rows, 30), generator=generator)
    configs = mixed_configs(rows, generator)
    if not penalty:
        configs = [DecodingConfig(**{**c.to_dict(), "repetition_penalty": 1.0}).effective() for c in configs]
    keys = torch.from_numpy(row_keys(np.arange(rows, dtype=np.uint64), np.full(rows, 2, dtype=np.uint64)))
    params = RowParams.from_configs(configs, "cpu", record_top=5)
    small = choose_tokens(logits.clone(), history, params, keys, top=5)
    padded = torch.cat([logits, torch.full((rows, KEY_VOCAB_LIMIT), -float("inf"))], dim=1)
    large = choose_tokens(padded, history, params, keys, top=5)
    assert torch.equal(small.tokens, large.tokens)
    torch.testing.assert_close(small.record, large.record, atol=2e-6, rtol=1e-5)
