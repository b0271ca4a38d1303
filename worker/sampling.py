"""Choosing the next token for every row of a batch at once, each row with its own decoding config.

The arithmetic follows transformers' processors, in transformers' order:
`RepetitionPenaltyLogitsProcessor` -> `TemperatureLogitsWarper` -> `TopKLogitsWarper` ->
`TopPLogitsWarper` -> sample; greedy rows take the argmax right after the repetition penalty.

Randomness: each row draws one uniform number per step from a counter-based hash of
(seed, step), and samples by inverse CDF over the filtered distribution. A row's draw never depends
on which other rows share the batch, so the same prompt + config + seed gives the same tokens alone
or in any batch. (The tokens differ from `torch.multinomial` under `torch.manual_seed`, which cannot
be made batch-independent; the distribution sampled is the same.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def uniforms(seeds: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """One float64 in [0, 1) per row: splitmix64(seed * golden + step), top 53 bits."""
    with np.errstate(over="ignore"):
        x = seeds.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + steps.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


@dataclass
class RowParams:
    """Per-row decoding parameters as tensors on the model's device (one entry per row)."""

    do_sample: torch.Tensor          # bool
    temperature: torch.Tensor        # float32; 1.0 = no change
    top_k: torch.Tensor              # int64; 0 = no cut
    top_p: torch.Tensor              # float32; 1.0 = no cut
    repetition_penalty: torch.Tensor  # float32; 1.0 = no penalty

    @classmethod
    def from_configs(cls, configs, device) -> "RowParams":
        def column(values, dtype):
            return torch.tensor(values, dtype=dtype, device=device)

        return cls(
            do_sample=column([c.do_sample for c in configs], torch.bool),
            temperature=column([c.temperature for c in configs], torch.float32),
            top_k=column([c.top_k or 0 for c in configs], torch.int64),
            top_p=column([c.top_p for c in configs], torch.float32),
            repetition_penalty=column([c.repetition_penalty for c in configs], torch.float32),
        )

    def select(self, index: torch.Tensor) -> "RowParams":
        return RowParams(*(getattr(self, name)[index] for name in self.__dataclass_fields__))

    @staticmethod
    def concat(first: "RowParams", second: "RowParams") -> "RowParams":
        return RowParams(*(torch.cat([getattr(first, n), getattr(second, n)]) for n in first.__dataclass_fields__))


def apply_repetition_penalty(scores: torch.Tensor, seen: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """Penalize every token already in the prompt or the output (transformers' formula)."""
    column = penalty[:, None]
    penalized = torch.where(scores < 0, scores * column, scores / column)
    return torch.where(seen, penalized, scores)


def apply_warpers(scores: torch.Tensor, params: RowParams) -> torch.Tensor:
    """Temperature, then top-k, then top-p; removed tokens get -inf. Rows are independent."""
    scores = scores / params.temperature[:, None]
    vocab = scores.shape[-1]
    k = torch.where(params.top_k > 0, params.top_k.clamp(max=vocab), torch.full_like(params.top_k, vocab))
    kth_largest = torch.topk(scores, int(k.max()), dim=-1).values.gather(1, (k - 1)[:, None])
    scores = scores.masked_fill(scores < kth_largest, -float("inf"))
    sorted_scores, sorted_index = torch.sort(scores, descending=False)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - params.top_p[:, None])
    remove_sorted[:, -1] = False  # keep at least one token
    remove = remove_sorted.scatter(1, sorted_index, remove_sorted)
    return scores.masked_fill(remove, -float("inf"))


def choose_tokens(scores: torch.Tensor, seen: torch.Tensor, params: RowParams, draws: torch.Tensor) -> torch.Tensor:
    """Next token of every row. `scores` are float32 logits; `draws` one uniform in [0, 1) per row."""
    scores = apply_repetition_penalty(scores, seen, params.repetition_penalty)
    greedy = scores.argmax(dim=-1)
    if not bool(params.do_sample.any()):
        return greedy
    probs = apply_warpers(scores, params).softmax(dim=-1)
    cdf = probs.cumsum(dim=-1)
    target = draws.to(cdf.dtype)[:, None] * cdf[:, -1:]
    sampled = torch.searchsorted(cdf, target, right=True).squeeze(1).clamp(max=scores.shape[-1] - 1)
    return torch.where(params.do_sample, sampled, greedy)
