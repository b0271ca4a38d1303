"""One-click sweeps from the notebook's activity (exercise 1.2): config rows for the decoding page."""

from __future__ import annotations

from shared.contract.decoding import GREEDY, PRESETS, SAMPLING, DecodingConfig

SWEEP_NAMES = ("presets", "temperature", "top_k_top_p", "repetition", "seeds")


def sweep(name: str, max_new_tokens: int = 80, seed: int = 42) -> list[dict]:
    """Config rows (DecodingConfig fields, plus `seed` where the sweep varies it)."""
    if name == "presets":
        return [{**p.to_dict(), "max_new_tokens": max_new_tokens} for p in PRESETS.values()]
    if name == "temperature":  # activity 2: 0.1 / 0.7 / 1.5, the rest fixed
        return [_row(SAMPLING, temperature=t, top_k=50, max_new_tokens=max_new_tokens) for t in (0.1, 0.7, 1.5)]
    if name == "top_k_top_p":  # activity 3: a small grid; top_k 0 = no top-k cut
        return [_row(SAMPLING, top_k=k, top_p=p, max_new_tokens=max_new_tokens)
                for k in (5, 50, 0) for p in (0.5, 0.9, 1.0)]
    if name == "repetition":  # activity 4: 1.0 -> 1.5; greedy, so only the penalty changes the text
        return [_row(GREEDY, repetition_penalty=r, max_new_tokens=max_new_tokens)
                for r in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)]
    if name == "seeds":  # one config, five seeds: how much is chance?
        return [{**_row(SAMPLING, top_k=50, max_new_tokens=max_new_tokens), "seed": seed + i} for i in range(5)]
    raise ValueError(f"unknown sweep {name!r}")


def _row(strategy: str, **fields) -> dict:
    return DecodingConfig(strategy=strategy, **fields).to_dict()
