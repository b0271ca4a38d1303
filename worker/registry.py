"""What a worker tells the dashboard about itself (model, device, throughput)."""

from __future__ import annotations

import os

from shared.store import Store
from shared.workers import announce as announce_fields


def announce(store: Store, worker, ttl: int, pipeline=None) -> None:
    info = worker.loaded.describe()
    announce_fields(store, worker.name, {
        "name": worker.name, "model": info["model"], "device": info["device"], "dtype": info["dtype"],
        "host": info["host"], "pid": os.getpid(), "random_weights": int(info["random_weights"]),
        "demo_model": int(info["demo_model"]),
        "tokens_per_s": round(worker.tokens_per_second, 1), "max_batch": worker.max_batch,
        "in_flight": len(worker.inflight),
    }, ttl=ttl, pipeline=pipeline)
