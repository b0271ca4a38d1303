"""What the engine's token choice computes, written plainly, and what it costs: the tests and the
benchmarks compare the engine against these. The engine itself never calls this module.

- `apply_repetition_penalty`: transformers' `RepetitionPenaltyLogitsProcessor`, on a copy.
- `sampling_distribution`: the whole [rows, vocab] distribution each row draws from, through the same
  window and whole-vocabulary paths as the engine's `Sampler` (worker/sampling.py), which only ever
  builds it on a row's few candidates.
- `vocab_passes`: how many times one `Sampler` call sweeps a [rows, vocab] tensor, from the rows'
  parameters: what `make bench-host` checks aten's own count against (bench/host.py counts them with
  a wrapper around the engine's sampler, so the engine never counts them itself).
"""

from __future__ import annotations

import torch

from worker.sampling import RowParams, Sampler, decide_among, penalize_

# log_normalizer's kernels over [rows, vocab]: amax, subtract, exp, sum
NORMALIZER_PASSES = 4


def apply_repetition_penalty(scores: torch.Tensor, history: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """Penalize every token id in `history` (prompt and output so far), as transformers does:
    gather those scores, divide positive ones (multiply negative ones) by the penalty, scatter back."""
    scores = scores.clone()
    penalize_(scores, history, penalty)
    return scores


def sampling_distribution(scores: torch.Tensor, history: torch.Tensor, params: RowParams) -> torch.Tensor:
    """[rows, vocab] the distribution each row draws from (0 = removed), through the same steps as the
    engine's `Sampler` (penalize, shortlist, decide on the window or the whole vocabulary); greedy
    rows: the softmax after the penalty."""
    scores = scores.clone()
    keys = torch.zeros(len(scores), dtype=torch.long, device=scores.device)
    sampler = Sampler()
    window = sampler.shortlist(scores, params, sampler.penalize(scores, history, params))  # penalizes `scores`
    decision = decide_among(window.values, window.ids, params, keys, complete=False)
    out = torch.zeros_like(scores).scatter_(1, window.ids, decision.probs)
    redo = _rows_to_redo(params, decision.spilled | window.short)
    if len(redo):
        values, index = scores[redo].sort(dim=-1, descending=True, stable=True)
        full = decide_among(values, index, params.rows(redo), keys[redo], complete=True)
        out[redo] = torch.zeros_like(values).scatter_(1, index, full.probs)
    greedy = ~params.do_sample
    return torch.where(greedy[:, None], scores.softmax(dim=-1), out)


def _rows_to_redo(params: RowParams, undecided: torch.Tensor) -> torch.Tensor:
    """Rows the window cannot decide (`undecided`: ties running past its end, or a window that is not
    provably the row's best tokens), and those with no or a very large top-k."""
    if len(params.full_rows):
        undecided = undecided.index_fill(0, params.full_rows, True)
    return undecided.nonzero().flatten()


def vocab_passes(params: RowParams, recording: bool, recounted_rows: int) -> int:
    """Passes over [rows, vocab] of one `Sampler` call on rows `params` (`recording`: with a record;
    `recounted_rows`: its `Choice.recounted_rows`), step by step."""
    passes = NORMALIZER_PASSES if recording else 0  # the model's normalizer, before the penalty
    passes += int(params.any_penalty and recording)  # penalize: the scores kept from before the penalty
    passes += 1  # shortlist: one `topk`
    in_full = int(len(params.full_rows) > 0) + int(recounted_rows > 0)
    passes += in_full * (2 + int(params.any_top_p or recording))  # decide in full: a copy, a sort, Gumbel noise
    passes += int(recording and params.any_penalty and len(params.greedy_rows) > 0)  # record: greedy normalizer
    return passes
