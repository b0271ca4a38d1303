"""Every row's best few tokens, found without sorting its whole vocabulary.

`shortlist(scores, n)` gives each row its n best token ids and their scores, in exact order (score
descending, ties by token id ascending: the order greedy ties and top-p cuts between tied tokens
follow), and a fence: every token left out scores at most `fence`. The n tokens are a row's true n
best whenever the n-th scores above the fence; callers decide a row for which that fails (a tie or a
near-tie at the cut) over its whole vocabulary instead (worker/sampling.py), so no result depends on
how the shortlist was found.

Two ways to find it, one contract:
- `torch.topk` (any device, any vocabulary): exact scores, descending, ties in any order; on a GPU
  the candidates are then always re-sorted by (score, id), on a CPU only the rows that need it.
- On a CPU with a vocabulary of at most 4,096 tokens, one vectorised NumPy sort of 32-bit keys: each
  score with its token id written over the low bits of the mantissa (12 bits or fewer, so 11 or more
  remain), which makes every key unique and lets the ids be read straight off the sorted keys. Keys
  order tokens by their score rounded towards zero to the remaining bits; what that cannot tell apart
  is caught by checking the order of the real scores (rows out of order are re-sorted exactly) and by
  the fence, the largest score the first key left out could stand for. CPU `topk` runs row by row at
  ~2-4 us a row; the NumPy sort of a [1,024, 256] batch costs ~0.3 ms in all. (GPT-2's 50,257 tokens
  would leave 7 mantissa bits, too coarse: such rows use `topk`, and on a CPU the model's own forward
  dwarfs the choice anyway.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

KEY_VOCAB_LIMIT = 4096  # vocabularies up to this size are shortlisted by sorting 32-bit keys on a CPU
_FLOAT_MAX = np.float32(np.finfo(np.float32).max)


@dataclass
class Shortlist:
    ids: torch.Tensor         # [rows, n] int64 token ids (column numbers), score descending
    values: torch.Tensor      # [rows, n] float32 their scores
    fence: torch.Tensor       # [rows] float32: every score outside `ids` is at most this
    sweeps: int = 1           # passes over [rows, vocab] it took (the key sort: clip, two bit ops, sort)


SPARE = 4  # columns taken past the n asked for: their exact scores make the fence tight


def shortlist(scores: torch.Tensor, n: int, ids: torch.Tensor | None = None) -> Shortlist:
    """The n best tokens of every row of `scores` ([rows, vocab] float32), in exact order. `ids`
    ([rows, vocab]): the token id of each column, when the columns are not the vocabulary itself."""
    rows, vocab = scores.shape
    n = min(n, vocab)
    take = min(n + SPARE, vocab)
    if scores.device.type == "cpu" and take < vocab <= KEY_VOCAB_LIMIT:
        return _by_sorting_keys(scores.numpy(), n, take, None if ids is None else ids.numpy())
    values, columns = torch.topk(scores, take, dim=-1)  # exact scores, descending, ties in any order
    ids = columns if ids is None else ids.gather(1, columns)
    if scores.device.type == "cpu":
        values, ids = (torch.from_numpy(a) for a in _in_exact_order(values.numpy(), ids.numpy(), n))
    else:  # on a GPU, always (checking first would wait for the device)
        values, ids = sort_exactly(values, ids)
    # whatever topk left out scores at most the last score it took
    fence = values[:, n:].amax(dim=-1) if n < take else torch.full_like(values[:, 0], -float("inf"))
    return Shortlist(ids[:, :n], values[:, :n], fence)


def _by_sorting_keys(scores: np.ndarray, n: int, take: int, column_ids: np.ndarray | None) -> Shortlist:
    rows, vocab = scores.shape
    low = np.int32((1 << max(1, (vocab - 1).bit_length())) - 1)  # the mantissa bits that hold the id
    keys = np.clip(scores, -_FLOAT_MAX, _FLOAT_MAX)  # a new array; no infinities (ids there: NaN)
    as_int = keys.view(np.int32)
    as_int &= ~low
    as_int |= np.arange(vocab, dtype=np.int32)
    keys.sort(axis=-1)  # ascending, in place: a vectorised sort of unique floats
    best = keys[:, :-take - 2:-1].view(np.int32)  # [rows, take + 1] descending: the keys taken, then the next
    ids = np.bitwise_and(best[:, :take], low, dtype=np.int64)
    flat = ids + (np.arange(rows, dtype=np.int64) * vocab)[:, None]
    values = np.take(scores.reshape(-1), flat, mode="clip")  # by flat index: NumPy's fastest gather
    if column_ids is not None:
        ids = np.take(column_ids.reshape(-1), flat, mode="clip")
    values, ids = _in_exact_order(values, ids, n)
    fence = _class_top(best[:, take], low)  # outside the first n: what was not taken, and the spare ones
    for spare in range(n, take):  # column by column: NumPy reduces along a short row one row at a time
        fence = np.maximum(fence, values[:, spare])
    return Shortlist(torch.from_numpy(ids[:, :n]), torch.from_numpy(values[:, :n]), torch.from_numpy(fence), sweeps=4)


def _class_top(key: np.ndarray, low: np.int32) -> np.ndarray:
    """The largest score that rounds to each key's class (its column bits cleared): rounding was
    towards zero, so a positive class reaches up to all-ones low bits, a negative one to all zeros."""
    top = np.where(key >= 0, key | low, key & ~low).view(np.float32)
    return np.where(top == _FLOAT_MAX, np.float32(np.inf), top)  # the class of a clipped infinity


def _in_exact_order(values: np.ndarray, ids: np.ndarray, n: int):
    """Put the first n entries in exact order (score descending, id ascending). Rows whose first n + 1
    scores strictly descend already are (anything after them scoring higher shows in the fence); the
    others (a tie, or two scores the keys could not tell apart: rare with float32 logits) are re-sorted
    exactly."""
    head = min(n + 1, values.shape[1])
    out_of_order = np.flatnonzero(values[:, 1:head] >= values[:, :head - 1])  # flat: one pass, no per-row reduce
    rows = np.unique(out_of_order // (head - 1))
    if len(rows):
        fixed = sort_exactly(torch.from_numpy(values[rows]), torch.from_numpy(ids[rows]))
        values, ids = values.copy(), ids.copy()
        values[rows], ids[rows] = (f.numpy() for f in fixed)
    return values, ids


def sort_exactly(values: torch.Tensor, ids: torch.Tensor, *carried: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """`values` and `ids` ([rows, n]) and any `carried` tensors of the same shape, reordered by
    (value descending, id ascending)."""
    by_id = ids.argsort(dim=-1, stable=True)
    by_score = values.gather(1, by_id).argsort(dim=-1, descending=True, stable=True)
    order = by_id.gather(1, by_score)
    return tuple(t.gather(1, order) for t in (values, ids, *carried))
