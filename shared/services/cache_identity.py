"""Which generations are the same: the identity under which a result is cached and found again.

The worker looks a generation up by this key before running it (`Keys.cache(digest)` holds the output
id that answered it) and stores it after; a student pressing Run twice with the same prompt, config and
seed gets the first output back instead of a second generation.
"""

from __future__ import annotations

import hashlib
import json

from shared.contract.decoding import DecodingConfig


def cache_key(class_code: str, model: str, prompt: str, config: DecodingConfig, seed: int) -> str:
    """Identity of a generation's result: model + prompt + effective config + seed (any seed for greedy,
    which does not sample). Scoped to the class: "cached" never tells a student what another class ran."""
    effective = config.effective()
    draw = str(seed) if effective.do_sample else "greedy"
    return hashlib.sha256(json.dumps([class_code, model, prompt, effective.group_key(), draw]).encode()).hexdigest()
