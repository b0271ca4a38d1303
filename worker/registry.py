"""What a worker tells the dashboard about itself (model, device, throughput)."""

from __future__ import annotations

import os

from shared.contract.records import WorkerInfo
from shared.services.store import Store
from shared.services.workers import announce as announce_info


def announce(store: Store, worker, ttl: int, pipeline=None) -> None:
    where = worker.loaded.provenance()
    announce_info(store, WorkerInfo(
        name=worker.name, model=where.model, device=where.device, dtype=where.dtype, host=where.host,
        pid=os.getpid(), random_weights=where.random_weights, demo_model=where.demo_model,
        tokens_per_s=round(worker.tokens_per_second, 1), max_batch=worker.max_batch,
        in_flight=len(worker.inflight)), ttl=ttl, pipeline=pipeline)
