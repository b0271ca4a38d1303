"""What the engine's token choice computes, written plainly: the tests (and the benchmarks) compare
the engine against it. The engine itself never calls this module.

- `apply_repetition_penalty`: transformers' `RepetitionPenaltyLogitsProcessor` on a copy.
- `sampling_distribution`: the whole [rows, vocab] distribution each row draws from, through the same
  window and whole-vocabulary paths as the engine's sampler (worker/sampling.py), which only ever
  builds it on a row's few candidates.
"""

from __future__ import annotations

import torch

from worker.sampling import RowParams, _decide, _window, penalize_


def apply_repetition_penalty(scores: torch.Tensor, history: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """Penalize every token id in `history` (prompt and output so far), as transformers does:
    gather those scores, divide positive ones (multiply negative ones) by the penalty, scatter back."""
    scores = scores.clone()
    penalize_(scores, history, penalty)
    return scores


def sampling_distribution(scores: torch.Tensor, history: torch.Tensor, params: RowParams) -> torch.Tensor:
    """[rows, vocab] the distribution each row draws from (0 = removed), through the same window and
    whole-vocabulary paths as the engine's token choice; greedy rows: the softmax after the penalty."""
    scores = scores.clone()
    keys = torch.zeros(len(scores), dtype=torch.long, device=scores.device)
    window = _window(scores, history, params, 0)  # penalizes `scores`
    decision = _decide(window.values, window.ids, params, keys, complete=False)
    out = torch.zeros_like(scores).scatter_(1, window.ids, decision.probs)
    redo = _rows_to_redo(params, decision.spilled | window.short)
    if len(redo):
        values, index = scores[redo].sort(dim=-1, descending=True, stable=True)
        full = _decide(values, index, params.rows(redo), keys[redo], complete=True)
        out[redo] = torch.zeros_like(values).scatter_(1, index, full.probs)
    greedy = ~params.do_sample
    return torch.where(greedy[:, None], scores.softmax(dim=-1), out)


def _rows_to_redo(params: RowParams, undecided: torch.Tensor) -> torch.Tensor:
    """Rows the window cannot decide (`undecided`: ties running past its end, or a window that is not
    provably the row's best tokens), and those with no or a very large top-k."""
    if len(params.full_rows):
        undecided = undecided.index_fill(0, params.full_rows, True)
    return undecided.nonzero().flatten()
