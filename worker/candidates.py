"""Every row's best few tokens, found without sorting its whole vocabulary.

`shortlist(scores, n)` gives each row its n best token ids and their scores, in exact order (score
descending, ties by token id ascending: the order greedy ties and top-p cuts between tied tokens
follow), and a fence: every token left out scores at most `fence`. The n tokens are a row's true n
best whenever the n-th scores above the fence; callers decide a row for which that fails (a tie at
the cut) over its whole vocabulary instead (worker/sampling.py), so no result depends on how the
shortlist was found.

It is found with one unsorted `torch.topk` of n + 1 columns (exact scores, ties in any order), then
those few are put in exact order with one sort of 64-bit keys that hold the score's bits above the
token id (`order_keys`): score order and id order at once, ties included, for any vocabulary. On a CPU
the keys are sorted by NumPy (vectorised; torch sorts a CPU row element by element), on a GPU by
`torch.sort`. One shortlist serves the config's top-k, top-p and the token view's top 5.

(A CPU-only variant that sorted 32-bit keys of the whole vocabulary was tried: it only works for
vocabularies of a few thousand tokens, so it sped up `make bench-host`'s 256-token stand-in and no real
model; it was left out, and the benchmark measures the path GPT-2's 50,257 tokens take.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Shortlist:
    ids: torch.Tensor         # [rows, n] int64 token ids (column numbers), score descending
    values: torch.Tensor      # [rows, n] float32 their scores
    fence: torch.Tensor       # [rows] float32: every score outside `ids` is at most this


# On a CPU a few steps run through NumPy, vectorised where torch's CPU kernels go element by element
# (this key sort, the Gumbel hash in worker/gumbel.py, the draw's argmax in worker/sampling.py). False
# runs the torch code a GPU runs, on a CPU: tests check that both give the same tokens, `make bench-host
# ARGS=--device-path` counts a GPU step's operations.
NUMPY_ON_CPU = True


def numpy_path(tensor: torch.Tensor) -> bool:
    """Whether work on `tensor` goes through NumPy (a CPU tensor, NUMPY_ON_CPU) or stays in torch."""
    return NUMPY_ON_CPU and tensor.device.type == "cpu"


LOW = 0xFFFFFFFF   # a key's low 32 bits: LOW - token id, so that a lower id sorts first among ties
SIGN = 0x7FFFFFFF  # flipping these bits of a negative float's int32 pattern makes int32 order float order


def shortlist(scores: torch.Tensor, n: int, ids: torch.Tensor | None = None, sort_all: bool = False) -> Shortlist:
    """The n best tokens of every row of `scores` ([rows, vocab] float32), in exact order. `ids`
    ([rows, vocab]): the token id of each column, when the columns are not the vocabulary itself.
    `sort_all`: the rows are already a window of a few dozen candidates, so all of each is put in
    exact order by the key sort, with no `topk` first (at [1,024, 58] on a CPU the sort of all 58
    costs less than the `topk` of 6 alone)."""
    rows, vocab = scores.shape
    n = min(n, vocab)
    take = vocab if sort_all else min(n + 1, vocab)  # at least one more: its score is the fence
    if sort_all:
        values = scores
        ids = torch.arange(vocab, device=scores.device).expand(rows, vocab) if ids is None else ids
    else:
        values, columns = torch.topk(scores, take, dim=-1, sorted=False)  # the best `take`, ties in any order
        ids = columns if ids is None else ids.gather(1, columns)
    values, ids = in_exact_order(values, ids)
    # whatever topk left out scores at most the lowest score it took
    fence = values[:, n] if n < take else torch.full_like(values[:, 0], -float("inf"))
    return Shortlist(ids[:, :n], values[:, :n], fence)


def in_exact_order(values: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`values` (float32) and `ids` (int64 below 2**32), both [rows, n], each row reordered by (value
    descending, id ascending). -0.0 comes back as 0.0 (they tie, as in torch's comparisons); no NaN."""
    if numpy_path(values):
        ordered = _in_exact_order_numpy(values.numpy(), ids.numpy())
        return torch.from_numpy(ordered[0]), torch.from_numpy(ordered[1])
    return _in_exact_order_torch(values, ids)


def order_keys(values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """int64 keys whose ascending order is (value descending, id ascending): the complement of
    (the value's bits as an ordered int32, LOW - id)."""
    bits = (values + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into 0.0
    ordered = bits ^ ((bits >> 31) & SIGN)   # negative floats: reverse their magnitude bits
    return ~((ordered.long() << 32) | (LOW - ids))


def _in_exact_order_torch(values: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One `torch.sort` of the keys, then the scores and ids read back out of them."""
    keys = ~order_keys(values, ids).sort(dim=-1).values
    ordered = (keys >> 32).int()
    return (ordered ^ ((ordered >> 31) & SIGN)).view(torch.float32), LOW - (keys & LOW)


def _in_exact_order_numpy(values: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`order_keys` and its inverse in NumPy, in place where it can be: the same keys, the same order."""
    bits = (values + np.float32(0.0)).view(np.int32)
    bits ^= (bits >> np.int32(31)) & np.int32(SIGN)
    keys = bits.astype(np.int64)
    keys <<= np.int64(32)
    keys |= np.int64(LOW) - ids
    np.invert(keys, out=keys)
    keys.sort(axis=1)
    np.invert(keys, out=keys)
    ordered = (keys >> np.int64(32)).astype(np.int32)
    ordered ^= (ordered >> np.int32(31)) & np.int32(SIGN)
    return ordered.view(np.float32), np.int64(LOW) - (keys & np.int64(LOW))
