"""The engine's tuning constants, in one place.

None of them changes which tokens come out: greedy rows stay transformers' argmax, sampled rows stay
seeded and batch-invariant whatever these are. Each trades speed, memory or latency against
something else (said above it). What a deployment chooses (rows per batch, a student's fair share)
comes from `shared/contract/settings.py` and is given to the `Engine` apart; `batch_size_for` and the
fair share fall back on the automatic values here when those settings are 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineConfig:
    # --- the batch (worker/engine.py, worker/fair_share.py) ---
    # automatic rows per batch on a CPU: past ~64 on 2-8 cores, more rows add latency, not throughput
    cpu_batch: int = 64
    # automatic cap on a GPU: distilgpt2 on an H100 still gains up to here; more rows hold more KV memory
    gpu_batch: int = 1024
    # share of free GPU memory the batch plans for: more rows vs. room for fragmentation and the allocator
    memory_headroom: float = 0.8
    # admit waiting rows once this share of the batch is free: fewer prefills and cache writes vs. their wait
    admit_fraction: float = 0.25
    # clean steps after an out-of-memory halving before the batch may double: rows back vs. another OOM
    regrow_after_steps: int = 500
    # automatic fair share is the batch / this: a small job's latency vs. a big job's throughput
    fair_rows_divisor: int = 8
    # --- the token view's record (worker/token_record.py) ---
    # alternatives recorded per token: what the token view shows vs. the record's size and the window's width
    record_top: int = 5
    # tokens added past the longest request when the record book grows: fewer copies vs. memory
    record_spare_tokens: int = 64
    # --- token choice (worker/sampling.py) ---
    # a top_k above this is decided over the whole sorted vocabulary: a narrow window vs. more full sorts
    window_limit: int = 256
    # candidates past the batch's largest top_k: fewer rows redone for ties at the cut vs. a wider window
    tie_margin: int = 8
    # --- per-row buffers (worker/columns.py, worker/kv_cache.py, worker/batch_state.py) ---
    # columns added when the attention mask or penalty history fills: fewer copies vs. memory
    spare_columns: int = 64
    # KV columns added when a cache buffer must grow past what was reserved: fewer moves vs. memory
    kv_spare_columns: int = 64
    # unused leading KV columns are dropped from this many (and a quarter of the width): fewer shifts vs.
    # attention over dead columns
    drop_columns_at_least: int = 32
    # a KV shift in more chunks than this goes through one temporary copy: fewer kernels vs. no extra memory
    max_shift_chunks: int = 8


DEFAULT_CONFIG = EngineConfig()
