"""The next-token explorer: how temperature, top-k, top-p and the repetition penalty reshape one
next-token distribution. NumPy only (the dashboard has no torch); the arithmetic and the order are
transformers' (`RepetitionPenaltyLogitsProcessor` -> `TemperatureLogitsWarper` -> `TopKLogitsWarper`
-> `TopPLogitsWarper`), tested against those classes on the same logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Reshaped:
    model_probs: np.ndarray   # softmax of the raw logits: what the model believes
    probs: np.ndarray         # the distribution a sampler would draw from after every processor
    kept: np.ndarray          # bool: tokens that survive top-k and top-p
    before_cuts: np.ndarray   # after penalty and temperature, before top-k/top-p: what a removed token had
    mass_kept: float          # probability (after penalty and temperature) of the kept tokens
    entropy_model: float      # bits
    entropy: float            # bits, of `probs`


def softmax(scores: np.ndarray) -> np.ndarray:
    finite = np.isfinite(scores)
    shifted = np.where(finite, scores - scores[finite].max(), -np.inf)
    exp = np.exp(shifted, dtype=np.float64)
    return (exp / exp.sum()).astype(np.float32)


def entropy_bits(probs: np.ndarray) -> float:
    p = probs[probs > 0].astype(np.float64)
    return float(-(p * np.log2(p)).sum())


def repetition_penalty(scores: np.ndarray, history: list[int], penalty: float) -> np.ndarray:
    scores = scores.copy()
    ids = np.asarray(history, dtype=np.int64)
    picked = scores[ids]
    scores[ids] = np.where(picked < 0, picked * np.float32(penalty), picked / np.float32(penalty))
    return scores


def top_k_cut(scores: np.ndarray, top_k: int) -> np.ndarray:
    if not top_k:
        return scores
    kth = np.partition(scores, -min(top_k, scores.size))[-min(top_k, scores.size)]
    return np.where(scores < kth, -np.inf, scores).astype(np.float32)


def top_p_cut(scores: np.ndarray, top_p: float) -> np.ndarray:
    if top_p >= 1.0:
        return scores
    # Ascending, as TopPLogitsWarper sorts; among equal scores the higher id first, so a cut between
    # tied tokens keeps the lower ids, as the engine does (transformers' own sort is unstable there).
    order = np.lexsort((-np.arange(scores.size), scores))
    # torch's CPU cumsum adds float32 in double; the threshold is 1 - top_p in double, then float32.
    cumulative = np.cumsum(softmax(scores[order]), dtype=np.float64).astype(np.float32)
    remove = cumulative <= np.float32(1.0 - float(top_p))
    remove[-1] = False
    scores = scores.copy()
    scores[order[remove]] = -np.inf
    return scores


def reshape(logits: np.ndarray, history: list[int], *, temperature: float = 1.0, top_k: int = 0,
            top_p: float = 1.0, repetition_penalty_value: float = 1.0) -> Reshaped:
    logits = np.asarray(logits, dtype=np.float32)
    scores = repetition_penalty(logits, history, repetition_penalty_value)
    if temperature != 1.0:
        scores = scores / np.float32(temperature)
    before_cuts = softmax(scores)
    scores = top_p_cut(top_k_cut(scores, top_k), top_p)
    kept = np.isfinite(scores)
    probs = softmax(scores)
    model_probs = softmax(logits)
    return Reshaped(model_probs=model_probs, probs=probs, kept=kept, before_cuts=before_cuts,
                    mass_kept=float(before_cuts[kept].sum()), entropy_model=entropy_bits(model_probs),
                    entropy=entropy_bits(probs))


def top_table(reshaped: Reshaped, token_text, count: int = 30) -> list[dict]:
    """The `count` tokens the model finds most likely, with their fate under the current settings."""
    order = np.argsort(-reshaped.model_probs, kind="stable")[:count]
    return [{"token": token_text(int(i)), "id": int(i), "model": float(reshaped.model_probs[i]),
             "after": float(reshaped.probs[i]), "kept": bool(reshaped.kept[i]),
             "before_cut": float(reshaped.before_cuts[i])} for i in order]
