"""Reproducible randomness for sampling: a Gumbel number per (seed, step, token id), from a hash.

Sampling uses the Gumbel-max trick (worker/sampling.py): token = argmax(logit / T + g), with g a
Gumbel number drawn from a counter-based hash of (seed, step, token id). Nothing depends on which other
rows share the batch or on the order candidates come in, so the same prompt + config + seed gives the
same tokens alone or in any batch. Gumbel-max is also robust to the last-bit differences a different
batch size makes in the logits (a different BLAS blocking): a token changes only if the two best
perturbed scores are within ~1e-6 of each other, where inverse-CDF sampling over a flat 50k-token
distribution flips every few hundred steps. (The tokens differ from `torch.multinomial` under
`torch.manual_seed`, which cannot be made batch-independent; the distribution is the same.)

On a CPU the hash runs in NumPy's uint32 (the same bits as the int64 torch version, tested).
"""

from __future__ import annotations

import numpy as np
import torch

from worker.candidates import numpy_path

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
    if numpy_path(keys):  # the same bits in NumPy's uint32, which wraps as the masks do
        top_bits = torch.from_numpy(_hash_top_bits(keys.numpy(), token_ids.numpy()))
    else:
        top_bits = hash32((keys[:, None] + token_ids * 0x9E3779B1) & _MASK32) >> 9
    uniform = top_bits.to(torch.float32).mul_(2.0**-23).add_(2.0**-24)
    return uniform.log_().neg_().log_().neg_()  # -log(-log(u)), in place: the same arithmetic, no copies


def _hash_top_bits(keys: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
    """`hash32(key + id * 0x9E3779B1) >> 9` in uint32 arithmetic (products wrap mod 2**32, exactly what
    the int64 version's masks do): a third of the operations, each on half the bytes. int32 out."""
    shape = np.broadcast_shapes((len(keys), 1), token_ids.shape)  # as torch broadcasts keys[:, None] + ids
    x = np.broadcast_to(token_ids, shape).astype(np.uint32)  # a copy of its own: the steps below are in place
    x *= np.uint32(0x9E3779B1)
    x += keys.astype(np.uint32)[:, None]
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x21F0AAAD)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x735A2D97)
    x ^= x >> np.uint32(15)
    x >>= np.uint32(9)
    return x.view(np.int32)
