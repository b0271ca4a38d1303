"""Every row's best few tokens, found without sorting its whole vocabulary.

`shortlist(scores, n)` gives each row its n best token ids and their scores, in exact order (score
descending, ties by token id ascending: the order greedy ties and top-p cuts between tied tokens
follow), and a fence: every token left out scores at most `fence`. The n tokens are a row's true n
best whenever the n-th scores above the fence; callers decide a row for which that fails (a tie or a
near-tie at the cut) over its whole vocabulary instead (worker/sampling.py), so no result depends on
how the shortlist was found.

It is found with one `torch.topk` (exact scores, descending, ties in any order), `SPARE` columns wider
than asked so the fence is tight; on a GPU the candidates are then always re-sorted by (score, id), on a
CPU only the rows that need it (a tie among the first n + 1). One shortlist serves the config's top-k,
top-p and the token view's top 5.

(A CPU-only variant that sorted 32-bit keys with NumPy was tried: it only works for vocabularies of a
few thousand tokens, so it sped up `make bench-host`'s 256-token stand-in and no real model; it was
left out, and the benchmark measures the path GPT-2's 50,257 tokens take.)
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


SPARE = 4  # columns taken past the n asked for: their exact scores make the fence tight


def shortlist(scores: torch.Tensor, n: int, ids: torch.Tensor | None = None) -> Shortlist:
    """The n best tokens of every row of `scores` ([rows, vocab] float32), in exact order. `ids`
    ([rows, vocab]): the token id of each column, when the columns are not the vocabulary itself."""
    rows, vocab = scores.shape
    n = min(n, vocab)
    take = min(n + SPARE, vocab)
    values, columns = torch.topk(scores, take, dim=-1)  # exact scores, descending, ties in any order
    ids = columns if ids is None else ids.gather(1, columns)
    if scores.device.type == "cpu":
        values, ids = (torch.from_numpy(a) for a in _in_exact_order(values.numpy(), ids.numpy(), n))
    else:  # on a GPU, always (checking first would wait for the device)
        values, ids = sort_exactly(values, ids)
    # whatever topk left out scores at most the last score it took
    fence = values[:, n:].amax(dim=-1) if n < take else torch.full_like(values[:, 0], -float("inf"))
    return Shortlist(ids[:, :n], values[:, :n], fence)


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
