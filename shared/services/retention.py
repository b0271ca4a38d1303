"""A class's lifetime: once closed, its data is kept `retention_days` (DECODELAB_RETENTION_DAYS), then deleted.

The instructor console shows each closed class's deletion date beside its CSV/JSON export buttons, so the
export is offered before the data goes. Workers run `purge_expired_classes` with their registry sweeps
(every DECODELAB_MAINTENANCE_SECONDS); it deletes, in batches: the outputs and their token details, the
submissions, every class-scoped key (`{p}:class:{code}:*`, `{p}:student:{code}:*`), the cache entries that
answered with the class's outputs, and finally the class itself (its code can be opened anew).
Reopening a class before its date keeps everything (`open_class` clears the closing time).
"""

from __future__ import annotations

import json
import logging
import time

from shared.contract.records import ClassInfo
from shared.contract.settings import Settings
from shared.services.store import Store

DAY_SECONDS = 24 * 3600
DELETE_BATCH = 500  # keys per UNLINK

log = logging.getLogger(__name__)


def deletion_time(info: ClassInfo, settings: Settings) -> float | None:
    """When a class's data is deleted (epoch seconds), or None: open, no closing time, or kept forever."""
    if info.open or not info.closed_at or settings.retention_days <= 0:
        return None
    return info.closed_at + settings.retention_days * DAY_SECONDS


def purge_expired_classes(store: Store, settings: Settings, now: float | None = None) -> list[str]:
    """Delete every class whose retention has run out; returns their codes."""
    moment = time.time() if now is None else now
    purged = []
    for code, raw in store.redis.hgetall(store.keys.classes()).items():
        when = deletion_time(ClassInfo.from_dict(json.loads(raw)), settings)
        if when is not None and when <= moment:
            delete_class(store, code.decode())
            purged.append(code.decode())
    if purged:
        log.info("retention: deleted the data of %d closed class(es): %s", len(purged), ", ".join(purged))
    return purged


def delete_class(store: Store, code: str) -> None:
    """Everything a class made, then the class itself."""
    keys = store.keys
    output_ids = {raw.decode() for raw in store.redis.zrange(keys.outputs(code), 0, -1)}
    submission_ids = set()
    for student_key in store.redis.scan_iter(match=keys.student_submissions_pattern(code), count=1000):
        submission_ids |= {raw.decode() for raw in store.redis.zrange(student_key, 0, -1)}
    _unlink(store, [keys.output(i) for i in output_ids] + [keys.token_details(i) for i in output_ids]
            + [keys.submission(i) for i in submission_ids])
    _unlink(store, list(store.redis.scan_iter(match=keys.student_submissions_pattern(code), count=1000)))
    _unlink(store, list(store.redis.scan_iter(match=keys.class_pattern(code), count=1000)))
    _forget_cached(store, output_ids)
    store.redis.hdel(keys.classes(), code)


def _forget_cached(store: Store, output_ids: set[str]) -> None:
    """Cache entries (identical requests answered once) that point at the deleted outputs."""
    if not output_ids:
        return
    cache_keys = list(store.redis.scan_iter(match=store.keys.cache_pattern(), count=1000))
    for start in range(0, len(cache_keys), DELETE_BATCH):
        batch = cache_keys[start:start + DELETE_BATCH]
        answers = store.redis.mget(batch)
        _unlink(store, [key for key, answer in zip(batch, answers) if answer and answer.decode() in output_ids])


def _unlink(store: Store, names: list) -> None:
    for start in range(0, len(names), DELETE_BATCH):
        store.redis.unlink(*names[start:start + DELETE_BATCH])
