"""Metrics shown beside every output and summarized in the gallery. Pure functions, no model needed.

Diversity and repetition are measured on lower-cased words (what a student reads), perplexity on the
model's tokens. distinct-n = distinct n-grams / all n-grams (Li et al., 2016): 1.0 = nothing repeats.
"""

from __future__ import annotations

import math
import re

WORD = re.compile(r"\w+(?:'\w+)?", re.UNICODE)
# A loop is repetition a reader sees: a short block said again and again back to back ("I think that I
# think that I think that"), or a passage said a second time anywhere (greedy decoding's typical loop: a
# whole sentence, then the same sentence again). Eight words in the same order do not recur by chance.
LOOP_MIN_REPEATS = 3       # a block of 1..8 words back to back this many times
LOOP_PASSAGE_WORDS = 8     # or any passage of this many words that appears twice


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text or "")]


def ngrams(items: list, n: int) -> list[tuple]:
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


def distinct_n(items: list, n: int) -> float | None:
    grams = ngrams(items, n)
    return len(set(grams)) / len(grams) if grams else None


def repeated_share(items: list, n: int = 3) -> float:
    """Share of n-grams that already appeared earlier in the text."""
    grams = ngrams(items, n)
    if not grams:
        return 0.0
    seen, repeats = set(), 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def longest_run(items: list, max_period: int = 8) -> tuple[int, int]:
    """(period, repeats) of the longest back-to-back repetition of a 1..max_period-item block."""
    best = (0, 1)
    for period in range(1, max_period + 1):
        for start in range(len(items) - period):
            repeats = 1
            while items[start + repeats * period: start + (repeats + 1) * period] == items[start:start + period]:
                repeats += 1
            if repeats > best[1] or (repeats == best[1] and repeats > 1 and period > best[0]):
                best = (period, repeats)
    return best


def looping(items: list) -> bool:
    _, repeats = longest_run(items)
    return repeats >= LOOP_MIN_REPEATS or repeated_share(items, LOOP_PASSAGE_WORDS) > 0


def log_prob_summary(token_logprobs: list[float]) -> dict:
    """Mean log-probability of the continuation under the model, and its perplexity exp(-mean)."""
    if not token_logprobs:
        return {"mean_logprob": None, "perplexity": None}
    mean = sum(token_logprobs) / len(token_logprobs)
    return {"mean_logprob": round(mean, 4), "perplexity": round(math.exp(-mean), 3)}


def output_metrics(text: str, new_tokens: int, finish_reason: str, token_logprobs: list[float]) -> dict:
    tokens = words(text)
    return {
        "tokens": new_tokens, "words": len(tokens), "stopped_by": finish_reason,
        **log_prob_summary(token_logprobs),
        "distinct_1": _round(distinct_n(tokens, 1)), "distinct_2": _round(distinct_n(tokens, 2)),
        "repeated_3gram_share": round(repeated_share(tokens, 3), 3), "loop": looping(tokens),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
