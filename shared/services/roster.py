"""The instructor owns the roster: who is in the class, who may still join, and who is put out.

What every classroom tool offers (Kahoot's lock and kick): lock joining, an expected class size (joins
stop there), remove a student or everyone who joined in the last minutes (a flood from a leaked code),
and give one student a new rejoin code (a code seen over a shoulder). Each action checks the
instructor's token first, as every instructor action does (services/moderation.py).

A removed student's record moves from the class's students to its removed students: they no longer count,
their pending submissions are cancelled, their outputs are hidden (kept for the export), their rejoin code
is void (it names a student who is no longer there) and every session of theirs ends: the dashboard signs
a browser in only while its student is on the roster.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

from shared.contract.records import StudentInfo
from shared.contract.settings import Settings
from shared.services.cancel import cancel
from shared.services.classes import class_info, student_records, update_class
from shared.services.moderation import require_instructor
from shared.services.sessions import rejoin_code
from shared.services.store import Store


@dataclass(frozen=True)
class RosterRow:
    """One student as the instructor's roster shows them."""

    id: str             # "s17": who they are to the server (and the number in their rejoin code)
    label: str          # what the class sees ("María · 2")
    joined_at: float    # epoch seconds
    submissions: int    # how many they sent


def roster(store: Store, code: str) -> list[RosterRow]:
    """Everyone in the class, in the order they joined."""
    joined = student_records(store, code)
    with store.redis.pipeline(transaction=False) as pipe:
        for student_id in joined:
            pipe.zcard(store.keys.student_submissions(code, student_id))
        counts = pipe.execute()
    return [RosterRow(student_id, row.label, row.joined_at, count)
            for (student_id, row), count in zip(joined.items(), counts)]


def removed(store: Store, code: str) -> list[str]:
    """Labels of the students removed from the class, earliest removal first."""
    rows = student_records(store, code, removed=True).values()
    return [row.label for row in sorted(rows, key=lambda r: r.removed_at or 0)]


def on_roster(store: Store, code: str, student_id: str) -> bool:
    """Whether the student is still in the class (a removed one's sessions get nothing)."""
    return bool(store.redis.hexists(store.keys.students(code), student_id))


# --- who may still join ----------------------------------------------------------------------------------
def lock_joins(store: Store, settings: Settings, token: str, code: str, locked: bool) -> None:
    """Locked: no one new joins (those in stay in, rejoin codes still work)."""
    require_instructor(settings, token)
    update_class(store, code, locked=bool(locked))


def set_expected_size(store: Store, settings: Settings, token: str, code: str, size: int) -> None:
    """Joins stop once the class has `size` students; 0: no limit but the service's own."""
    require_instructor(settings, token)
    update_class(store, code, expected=max(0, int(size)))


def door_state(store: Store, code: str) -> tuple[bool, int]:
    """(joining locked, expected size or 0)."""
    info = class_info(store, code)
    return (info.locked, info.expected) if info else (False, 0)


# --- putting students out --------------------------------------------------------------------------------
def remove_students(store: Store, settings: Settings, token: str, code: str, student_ids: list[str]) -> int:
    """Remove each of `student_ids` from the class; returns how many were there."""
    require_instructor(settings, token)
    return sum(_remove(store, code, student_id) for student_id in student_ids)


def joined_within(store: Store, code: str, minutes: float) -> list[RosterRow]:
    """Those who joined in the last `minutes` (what a bulk removal would put out)."""
    since = time.time() - minutes * 60
    return [row for row in roster(store, code) if row.joined_at >= since]


def remove_joined_within(store: Store, settings: Settings, token: str, code: str, minutes: float) -> int:
    """Everyone who joined in the last `minutes`: the answer to a flood of joins from a leaked code."""
    require_instructor(settings, token)
    return remove_students(store, settings, token, code, [row.id for row in joined_within(store, code, minutes)])


def _remove(store: Store, code: str, student_id: str) -> bool:
    raw = store.redis.hget(store.keys.students(code), student_id)
    if raw is None:
        return False
    with store.redis.pipeline() as pipe:
        record = replace(StudentInfo.from_dict(json.loads(raw)), removed_at=time.time())
        pipe.hset(store.keys.removed_students(code), student_id, json.dumps(record.to_dict()))
        pipe.hdel(store.keys.students(code), student_id)
        pipe.execute()
    for submission_id in store.redis.zrange(store.keys.student_submissions(code, student_id), 0, -1):
        cancel(store, submission_id.decode(), student_id)  # no-op for finished ones
    _hide_outputs(store, code, student_id)
    return True


def _hide_outputs(store: Store, code: str, student_id: str) -> None:
    """Out of the students' gallery; kept for the instructor and the export."""
    output_ids = store.redis.zrange(store.keys.index(code, "student", student_id), 0, -1)
    if not output_ids:
        return
    with store.redis.pipeline() as pipe:
        pipe.sadd(store.keys.hidden(code), *output_ids)
        pipe.zrem(store.keys.visible(code), *output_ids)
        pipe.execute()


# --- rejoin codes ----------------------------------------------------------------------------------------
def new_rejoin_code(store: Store, settings: Settings, token: str, secret: bytes, code: str,
                    student_id: str) -> str | None:
    """A new rejoin code for one student (the old one is void from now on); None when not in the class."""
    require_instructor(settings, token)
    key = store.keys.students(code)
    raw = store.redis.hget(key, student_id)
    if raw is None:
        return None
    record = StudentInfo.from_dict(json.loads(raw))
    record = replace(record, rejoin=record.rejoin + 1)
    store.redis.hset(key, student_id, json.dumps(record.to_dict()))
    return rejoin_code(secret, code, student_id, record.rejoin)


def current_rejoin_code(store: Store, secret: bytes, code: str, student_id: str) -> str | None:
    """The rejoin code that works now for a student in the class (what their join page shows)."""
    raw = store.redis.hget(store.keys.students(code), student_id)
    if raw is None:
        return None
    return rejoin_code(secret, code, student_id, StudentInfo.from_dict(json.loads(raw)).rejoin)
