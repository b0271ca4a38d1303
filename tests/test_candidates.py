"""worker/candidates.py: the shortlist's contract (exact order, a fence over everything left out) on
ordinary, tied, near-tied and special scores; the Gumbel bits computed in NumPy equal the int64 hash."""

import pytest
import torch

from worker.candidates import _in_exact_order_torch, in_exact_order, shortlist
from worker.gumbel import _hash_top_bits, gumbel_noise, hash32


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
    near[:, 1::2] = near[:, ::2] * (1 + 2.0**-20)  # pairs a few float32 steps apart
    odd = plain.half().float()
    odd[::7, :3] = float("inf")
    odd[1::7, :40] = -float("inf")
    odd[2::7, :200] = 0.0
    odd[3::7, 10:150] = -0.0
    odd[4::7] = 1.0  # a whole row tied
    return {"float32": plain, "near ties": near, "float16 and special values": odd}


@pytest.mark.parametrize("kind", ["float32", "near ties", "float16 and special values"])
@pytest.mark.parametrize("n", [58, 5, 1, 250])
@pytest.mark.parametrize("sort_all", [False, True])
def test_shortlist_keeps_the_contract(kind, n, sort_all):
    scores = score_sets(torch.Generator().manual_seed(3))[kind]
    listed = shortlist(scores, n, sort_all=sort_all)
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
    if sort_all:  # everything sorted: the n best in exact order on every row, ties at the cut included
        assert torch.equal(listed.ids, sorted_ids[:, :n]) and torch.equal(listed.values, sorted_values[:, :n])


def test_a_window_shortlisted_by_sorting_all_of_it_keeps_its_token_ids():
    """`sort_all` with `ids`: the columns are a window's tokens (scattered ids), not the vocabulary."""
    scores = score_sets(torch.Generator().manual_seed(7))["float16 and special values"][:, :58]
    ids = torch.randperm(50257, generator=torch.Generator().manual_seed(8))[:58].expand_as(scores).contiguous()
    for sort_all in (False, True):
        listed = shortlist(scores, 5, ids=ids, sort_all=sort_all)
        assert torch.equal(listed.values, scores.gather(1, (ids[:1] == listed.ids[..., None]).int().argmax(-1)))
    whole = shortlist(scores, 5, ids=ids, sort_all=True)
    values, sorted_ids = in_exact_order(scores, ids)
    assert torch.equal(whole.ids, sorted_ids[:, :5]) and torch.equal(whole.fence, values[:, 5])


def test_gumbel_bits_in_uint32_equal_the_int64_hash():
    keys = torch.randint(0, 2**32, (64,), generator=torch.Generator().manual_seed(5))
    ids = torch.randint(0, 50257, (64, 300), generator=torch.Generator().manual_seed(6))
    expected = hash32((keys[:, None] + ids * 0x9E3779B1) & 0xFFFFFFFF) >> 9
    assert torch.equal(torch.from_numpy(_hash_top_bits(keys.numpy(), ids.numpy())).long(), expected)
    noise = gumbel_noise(keys, ids)
    uniform = expected.float() * 2.0**-23 + 2.0**-24
    assert torch.equal(noise, -torch.log(-torch.log(uniform)))


@pytest.mark.parametrize("kind", ["float32", "near ties", "float16 and special values"])
def test_exact_order_of_keys_on_both_paths(kind):
    """The NumPy sort (a CPU) and the torch sort (a GPU) of the 64-bit keys both give exact (score
    descending, id ascending) order, for scattered ids well past GPT-2's vocabulary."""
    scores = score_sets(torch.Generator().manual_seed(4))[kind][:, :70]
    ids = torch.randperm(3_000_000, generator=torch.Generator().manual_seed(5))[:70].expand_as(scores)
    ids = ids.contiguous()
    by_id = ids.argsort(dim=-1, stable=True)  # sort by id, then stably by score
    order = by_id.gather(1, scores.gather(1, by_id).sort(dim=-1, descending=True, stable=True).indices)
    for values, sorted_ids in (_in_exact_order_torch(scores, ids), in_exact_order(scores, ids)):
        assert torch.equal(sorted_ids, ids.gather(1, order))
        assert torch.equal(values, scores.gather(1, order))  # -0.0 == 0.0
