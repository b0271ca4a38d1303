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
    return sorted((consistent(w) for w in workers), key=lambda w: w.get("name", ""))


def consistent(worker: dict) -> dict:
    """A worker's entry as of one moment: its throughput is a moving average over its last busy
    heartbeats, so an idle worker would still announce it; with nothing in flight it generates 0."""
    if worker.get("in_flight") == "0":
        return {**worker, "tokens_per_s": "0"}
    return worker


def console_rows(workers: list[dict], now: float | None = None) -> list[dict]:
    """What the instructor's console shows of each worker: numbers as numbers, and how long ago it spoke."""
    moment = time.time() if now is None else now
    return [{"name": w.get("name", "?"), "host": w.get("host", "?"), "model": w.get("model", "?"),
             "device": f"{w.get('device', '?')} · {w.get('dtype', '?')}", "in_flight": _int(w.get("in_flight")),
             "tokens_per_s": _float(w.get("tokens_per_s")), "max_batch": _int(w.get("max_batch")),
             "seen_s": round(max(0.0, moment - (_float(w.get("seen_at")) or moment)))} for w in workers]


def _int(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def served_models(store: Store) -> dict[str, list[dict]]:
    """Model name -> its live workers."""
    models: dict[str, list[dict]] = {}
    for worker in live_workers(store):
        models.setdefault(worker.get("model", "?"), []).append(worker)
    return models
