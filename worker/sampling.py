"""Choosing the next token for every row of a batch at once, each row with its own decoding config.

The arithmetic follows transformers' processors, in transformers' order:
`RepetitionPenaltyLogitsProcessor` -> `TemperatureLogitsWarper` -> `TopKLogitsWarper` ->
`TopPLogitsWarper` -> sample; greedy rows take the argmax right after the repetition penalty.

Randomness: sampling uses the Gumbel-max trick, token = argmax(logit / T + g), with g a Gumbel
number drawn from a counter-based hash of (seed, step, token id). Nothing depends on which other rows
share the batch or on the order candidates come in, so the same prompt + config + seed gives the same
tokens alone or in any batch. Gumbel-max is also robust to the last-bit differences a different
batch size makes in the logits (a different BLAS blocking): a token changes only if the two best
perturbed scores are within ~1e-6 of each other, where inverse-CDF sampling over a flat 50k-token
distribution flips every few hundred steps. (The tokens differ from `torch.multinomial` under
`torch.manual_seed`, which cannot be made batch-independent; the distribution is the same.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_MASK32 = 0xFFFFFFFF


def row_keys(seeds: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """A 32-bit key per row for (seed, step): splitmix64 of both, folded to 32 bits (as int64)."""
    with np.errstate(over="ignore"):
        x = seeds.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + steps.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return ((x ^ (x >> np.uint64(32))) & np.uint64(_MASK32)).astype(np.int64)


def hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (lowbias32-style) on int64 tensors holding values below 2**32.

    Multipliers are below 2**31, so no product leaves int64: the same bits on every device.
    """
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & _MASK32
    return x ^ (x >> 15)


def gumbel_noise(keys: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) numbers, float32, one per (row key, token id); 23-bit uniforms inside (0, 1)."""
    bits = hash32((keys[:, None] + token_ids * 0x9E3779B1) & _MASK32)
    uniform = (bits >> 9).to(torch.float32) * 2.0**-23 + 2.0**-24
    return -torch.log(-torch.log(uniform))


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


def apply_repetition_penalty(scores: torch.Tensor, history: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """Penalize every token id in `history` (prompt and output so far), as transformers does:
    gather those scores, divide positive ones (multiply negative ones) by the penalty, scatter back."""
    picked = scores.gather(1, history)
    column = penalty[:, None]
    picked = torch.where(picked < 0, picked * column, picked / column)
    return scores.scatter(1, history, picked)


@dataclass
class Choice:
    """The tokens chosen for a batch, with what the token view shows when asked for (`top` > 0)."""

    tokens: torch.Tensor                     # [rows] chosen token ids
    top_ids: torch.Tensor | None = None      # [rows, top] most likely tokens after the config's processors
    top_probs: torch.Tensor | None = None    # [rows, top] their probabilities (the distribution sampled from)
    chosen_probs: torch.Tensor | None = None  # [rows] probability of the chosen token in that distribution


def choose_tokens(scores: torch.Tensor, history: torch.Tensor, params: RowParams, keys: torch.Tensor,
                  top: int = 0) -> Choice:
    """Next token of every row. `scores` are float32 logits; `keys` one (seed, step) key per row.

    Sampling works on each row's candidates in descending score order (`torch.topk`): only the
    top_k largest can survive top-k, so when every sampling row has a top_k the rest of the
    vocabulary is never sorted. Top-p is computed exactly as `TopPLogitsWarper` does (ascending
    cumulative softmax), which gives the same kept set as transformers' warpers over the whole
    vocabulary (tests/test_sampling.py). The Gumbel noise is keyed by token id, not position, so neither
    the other rows nor the candidates' order can change a row's token.

    With `top`, also returns each row's `top` most likely tokens in the distribution it sampled from
    (greedy rows: the softmax after the repetition penalty) and the chosen token's probability there.
    """
    scores = apply_repetition_penalty(scores, history, params.repetition_penalty)
    sampling = params.do_sample
    greedy = None if bool(sampling.all()) else scores.argmax(dim=-1)
    if not bool(sampling.any()):
        return _with_detail(Choice(greedy), scores.softmax(-1), None, top) if top else Choice(greedy)
    vocab = scores.shape[-1]
    k = torch.where(params.top_k > 0, params.top_k.clamp(max=vocab), torch.full_like(params.top_k, vocab))
    # At least `top` candidates, so the token view gets `top` columns even when every sampling row
    # asks for fewer (top_k 1-4): rows' own k still decides what they keep.
    width = max(int(k[sampling].max()), min(top, vocab))
    values, index = torch.topk(scores / params.temperature[:, None], width, dim=-1)  # descending
    kth = values.gather(1, (k.clamp(max=width) - 1)[:, None])
    values = values.masked_fill(values < kth, -float("inf"))
    ascending = values.flip(-1)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - params.top_p[:, None])
    remove[:, -1] = False  # keep at least the best token
    values = values.masked_fill(remove.flip(-1), -float("inf"))
    pick = (values + gumbel_noise(keys, index)).argmax(dim=-1, keepdim=True)
    sampled = index.gather(1, pick).squeeze(1)
    if greedy is None:
        return _with_detail(Choice(sampled), values.softmax(-1), index, top) if top else Choice(sampled)
    choice = Choice(torch.where(sampling, sampled, greedy))
    if not top:
        return choice
    sampled_detail = _with_detail(Choice(sampled), values.softmax(-1), index, top)
    greedy_detail = _with_detail(Choice(greedy), scores.softmax(-1), None, top)
    column = sampling[:, None]
    choice.top_ids = torch.where(column, sampled_detail.top_ids, greedy_detail.top_ids)
    choice.top_probs = torch.where(column, sampled_detail.top_probs, greedy_detail.top_probs)
    choice.chosen_probs = torch.where(sampling, sampled_detail.chosen_probs, greedy_detail.chosen_probs)
    return choice


def _with_detail(choice: Choice, probs: torch.Tensor, index: torch.Tensor | None, top: int) -> Choice:
    """Fill `choice`'s top-`top` tokens from `probs` over candidates `index` (None = whole vocabulary)."""
    if not top:
        return choice
    top_probs, positions = torch.topk(probs, min(top, probs.shape[-1]), dim=-1)
    if index is None:
        choice.top_ids, where = positions, choice.tokens[:, None]
    else:
        choice.top_ids = index.gather(1, positions)
        where = (index == choice.tokens[:, None]).float().argmax(dim=-1, keepdim=True)
    choice.top_probs = top_probs
    choice.chosen_probs = probs.gather(1, where).squeeze(1)
    return choice
