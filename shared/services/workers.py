"""Live workers as the dashboard sees them: each announces a `WorkerInfo` under an expiring key."""

from __future__ import annotations

import json
import time

from shared.contract.records import WorkerInfo
from shared.services.store import Store


def announce(store: Store, info: WorkerInfo, ttl: int, pipeline=None) -> None:
    """Say "I am alive and serve this model"; the entry vanishes `ttl` seconds after the last call."""
    target = pipeline if pipeline is not None else store.redis
    target.set(store.keys.worker(info.name), json.dumps({**info.to_dict(), "seen_at": time.time()}), ex=ttl)
    target.sadd(store.keys.workers(), info.name)


def live_workers(store: Store) -> list[WorkerInfo]:
    """Every worker whose announcement has not expired, as of one moment, by name."""
    names = sorted(n.decode() for n in store.redis.smembers(store.keys.workers()))
    replies = store.redis.mget([store.keys.worker(name) for name in names]) if names else []
    workers, dead = [], []
    for name, raw in zip(names, replies, strict=True):
        try:
            workers.append(WorkerInfo.from_dict(json.loads(raw)).consistent())
        except (TypeError, ValueError):  # expired (None), or an entry from an older worker
            dead.append(name)
    if dead:
        store.redis.srem(store.keys.workers(), *dead)
    return workers


def console_rows(workers: list[WorkerInfo], now: float | None = None) -> list[dict]:
    """What the instructor's console shows of each worker, and how long ago it spoke."""
    moment = time.time() if now is None else now
    return [{"name": w.name, "host": w.host, "model": w.model, "device": f"{w.device} · {w.dtype}",
             "in_flight": w.in_flight, "tokens_per_s": w.tokens_per_s, "max_batch": w.max_batch,
             "seen_s": round(max(0.0, moment - (w.seen_at or moment)))} for w in workers]


def served_models(store: Store) -> dict[str, list[WorkerInfo]]:
    """Model name -> its live workers."""
    models: dict[str, list[WorkerInfo]] = {}
    for worker in live_workers(store):
        models.setdefault(worker.model, []).append(worker)
    return models
