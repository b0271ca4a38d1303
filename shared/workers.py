"""Live workers as the dashboard sees them: each announces itself with an expiring hash."""

from __future__ import annotations

import time

from shared.store import Store


def announce(store: Store, name: str, fields: dict, ttl: int, pipeline=None) -> None:
    """Say "I am alive and serve this model"; the entry vanishes `ttl` seconds after the last call."""
    target = pipeline if pipeline is not None else store.redis
    key = store.key("worker", name)
    target.hset(key, mapping={**{k: str(v) for k, v in fields.items()}, "seen_at": time.time()})
    target.expire(key, ttl)
    target.sadd(store.key("workers"), name)


def live_workers(store: Store) -> list[dict]:
    names = [n.decode() for n in store.redis.smembers(store.key("workers"))]
    with store.redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(store.key("worker", name))
        replies = pipe.execute()
    workers, dead = [], []
    for name, raw in zip(names, replies):
        if raw:
            workers.append({k.decode(): v.decode() for k, v in raw.items()})
        else:
            dead.append(name)
    if dead:
        store.redis.srem(store.key("workers"), *dead)
    return sorted(workers, key=lambda w: w.get("name", ""))


def served_models(store: Store) -> dict[str, list[dict]]:
    """Model name -> its live workers."""
    models: dict[str, list[dict]] = {}
    for worker in live_workers(store):
        models.setdefault(worker.get("model", "?"), []).append(worker)
    return models
