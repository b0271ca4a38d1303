"""Class sessions: the instructor opens a class code, students join it with a display name."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import NoReturn

from shared.contract.problems import Problem
from shared.contract.records import ClassInfo, StudentInfo
from shared.services import door
from shared.services.names import MAX_NAME_CHARS, clean_display_name, name_keys
from shared.services.sessions import parse_rejoin, rejoin_student_id
from shared.services.store import Store

__all__ = ["MAX_NAME_CHARS", "clean_display_name"]  # re-exported: the name rules live in services/names

log = logging.getLogger(__name__)
CLASS_CODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{3,24}$")
# Bidirectional embedding/override/isolate controls (and marks): shown to others, they reorder text and
# can make a name or a prompt read as something else (Trojan Source, CVE-2021-42574).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def normalize_code(code: str) -> str:
    return (code or "").strip().lower()


def valid_class_code(code: str) -> bool:
    return bool(CLASS_CODE_PATTERN.match(code or ""))


def open_class(store: Store, code: str) -> str:
    """Open (or re-open) a class; returns its normalized code. Raises on a malformed code."""
    code = normalize_code(code)
    if not valid_class_code(code):
        raise Problem.Invalid([Problem("bad_class_code")])
    existing = class_info(store, code) or ClassInfo(created_at=time.time(), open=True)
    _save(store, code, replace(existing, open=True))  # lock, size kept
    return code


def open_class_once(store: Store, code: str) -> bool:
    """Open a class only if it was never opened (the demo class at start-up): a class the instructor
    closed stays closed across restarts. True when it was created now."""
    code = normalize_code(code)
    if not valid_class_code(code):
        raise Problem.Invalid([Problem("bad_class_code")])
    info = ClassInfo(created_at=time.time(), open=True)
    return bool(store.redis.hsetnx(store.keys.classes(), code, json.dumps(info.to_dict())))


def close_class(store: Store, code: str) -> None:
    """Students can no longer join or submit; everything the class made stays (reopen with open_class)
    until DECODELAB_RETENTION_DAYS after this moment (shared/services/retention.py)."""
    update_class(store, code, open=False, closed_at=time.time())


def update_class(store: Store, code: str, **changes) -> None:
    """Change fields of a class's `ClassInfo` (open, locked, expected, closed_at); nothing when it does
    not exist."""
    info = class_info(store, code)
    if info:
        _save(store, normalize_code(code), replace(info, **changes))


def _save(store: Store, code: str, info: ClassInfo) -> None:
    store.redis.hset(store.keys.classes(), code, json.dumps(info.to_dict()))


def class_info(store: Store, code: str) -> ClassInfo | None:
    raw = store.redis.hget(store.keys.classes(), normalize_code(code))
    return ClassInfo.from_dict(json.loads(raw)) if raw else None


@dataclass(frozen=True)
class ClassRow:
    """One class as the instructor's console and the class pickers list it."""

    code: str
    info: ClassInfo
    students: int   # on the roster now
    outputs: int    # in its gallery, hidden ones included


def list_classes(store: Store) -> list[ClassRow]:
    """Every class, newest first."""
    rows = []
    for code, raw in store.redis.hgetall(store.keys.classes()).items():
        code = code.decode()
        rows.append(ClassRow(code, ClassInfo.from_dict(json.loads(raw)), store.redis.hlen(store.keys.students(code)),
                             store.class_output_count(code)))
    return sorted(rows, key=lambda r: r.info.created_at, reverse=True)


# A new student is created by every join. These bound how many one browser, one client address (see
# services/door.py) or a script can create, so that joining under new names does not multiply one
# person's submission limits, and nobody fills a class. The instructor's own bounds (lock, expected size)
# are in the class info (services/roster.py).
JOINS_PER_BROWSER_PER_HOUR = 3
JOINS_PER_CLASS_PER_MINUTE = 600  # a class of 300 joining in its first minute
MAX_STUDENTS_PER_CLASS = 2000
UNKNOWN_CODES = door.Allowance("unknown_code", limit=10, seconds=600)   # typos happen; enumeration does not
REJOINS_PER_ADDRESS = door.Allowance("rejoin", limit=10, seconds=600)   # failed rejoin codes from one address
REJOINS_PER_CLASS = door.Allowance("rejoin_class", limit=60, seconds=600)  # ... into one class, from anywhere


@dataclass(frozen=True)
class Student:
    """A person in a class: `id` is who they are (results, limits, the gallery's "by student"); `label`
    is what others see: the display name, numbered when a name that looks the same is taken ("María · 2")."""

    code: str
    id: str
    label: str

    @property
    def number(self) -> int:
        return int(self.id[1:])


@dataclass(frozen=True)
class Knock:
    """Who asks to join, as far as the server can tell. None (the default) for callers that are not a web
    client (benchmarks, scripts), which no per-client limit applies to."""

    browser: str | None = None        # the browser id (its XSRF cookie); "" = a web client that sent none
    address: str | None = None        # the client address (services/door.client_address)
    joins_per_address: int = 60       # DECODELAB_JOINS_PER_ADDRESS_PER_HOUR


def join_class(store: Store, code: str, name: str, browser: str | None = None, knock: Knock | None = None) -> Student:
    """Join an open class as a new student. Only a complete join is answered: a bad name is refused before
    the code is looked at (so an empty name does not tell whether a code exists), unknown codes count
    against the client's address (refused for a while after too many), and a class the instructor closed,
    locked or filled says so. Then the browser's, the address's and the class's allowances."""
    knock = knock or Knock(browser=browser)
    name = clean_display_name(name)  # raises alone: nothing about the code is said
    code = normalize_code(code)
    if knock.address is not None and door.exhausted(store, UNKNOWN_CODES, knock.address):
        raise Problem.Invalid([Problem("too_many_attempts", minutes=UNKNOWN_CODES.seconds // 60)])
    info = class_info(store, code) if valid_class_code(code) else None
    if info is None:
        _unknown_code(store, code, knock)
    _check_door(info, knock)
    _count_join(store, code, info, knock)
    number = store.redis.incr(store.keys.student_seq(code))
    with store.redis.pipeline() as pipe:
        for key in sorted(name_keys(name)):
            pipe.hincrby(store.keys.student_names(code), key, 1)
        same_look = max(pipe.execute())
    student = Student(code, f"s{number}", name if same_look == 1 else f"{name} · {same_look}")
    store.redis.hset(store.keys.students(code), student.id,
                     json.dumps(StudentInfo(name=name, label=student.label, joined_at=time.time()).to_dict()))
    return student


def _unknown_code(store: Store, code: str, knock: Knock) -> NoReturn:
    if knock.address is not None:
        door.knock(store, UNKNOWN_CODES, knock.address)
        log.warning("join with an unknown class code %r from %s", code[:24], knock.address)
    raise Problem.Invalid([Problem("bad_class_code")])


def _check_door(info: ClassInfo, knock: Knock) -> None:
    """The class's own state: closed by the instructor, joining locked; then the browser's cookie."""
    if not info.open:
        raise Problem.Invalid([Problem("class_closed")])
    if info.locked:
        raise Problem.Invalid([Problem("class_locked")])
    if knock.browser == "":
        raise Problem.Invalid([Problem("no_browser_cookie")])


def _count_join(store: Store, code: str, info: ClassInfo, knock: Knock) -> None:
    minute = store.keys.joins_in_minute(code, int(time.time() // 60))
    scopes = [(minute, 120, JOINS_PER_CLASS_PER_MINUTE, "too_many_joins")]  # (key, seconds it lives, limit, why)
    if knock.browser:
        scopes.append((store.keys.joins_from_browser(code, knock.browser), 3600, JOINS_PER_BROWSER_PER_HOUR,
                       "too_many_joins"))
    if knock.address is not None:
        per_address = door.Allowance("join", knock.joins_per_address, 3600)
        scopes.append((door.counter_key(store, per_address, knock.address), 3600, knock.joins_per_address,
                       "too_many_joins_here"))
    with store.redis.pipeline() as pipe:
        for key, ttl, _, _ in scopes:
            pipe.incr(key)
            pipe.expire(key, ttl, nx=True)
        pipe.hlen(store.keys.students(code))
        replies = pipe.execute()
    for count, (_, _, limit, why) in zip(replies[0:-1:2], scopes):
        if count > limit:
            raise Problem.Invalid([Problem(why)])
    expected = info.expected
    if expected and replies[-1] >= expected:
        raise Problem.Invalid([Problem("class_full", limit=expected)])
    if replies[-1] >= MAX_STUDENTS_PER_CLASS:
        raise Problem.Invalid([Problem("too_many_joins")])


def rejoin_class(store: Store, secret: bytes, code: str, rejoin: str, address: str | None = None) -> Student:
    """The student a rejoin code names in this class. A code not shaped like one gets a message saying what
    one looks like; wrong codes count against the client's address and the class, and are refused
    without being checked after too many (40 bits of code behind them: guessing one takes years)."""
    if parse_rejoin(rejoin) is None:
        raise Problem.Invalid([Problem("bad_rejoin_format")])
    code = normalize_code(code)
    who = address if address is not None else door.LOCAL
    if door.exhausted(store, REJOINS_PER_ADDRESS, who) or door.exhausted(store, REJOINS_PER_CLASS, code):
        raise Problem.Invalid([Problem("too_many_attempts", minutes=REJOINS_PER_ADDRESS.seconds // 60)])
    found = _rejoining(store, secret, code, rejoin) if valid_class_code(code) else None
    if found is None:
        door.knock(store, REJOINS_PER_ADDRESS, who)
        door.knock(store, REJOINS_PER_CLASS, code)
        log.warning("wrong rejoin code for class %r from %s", code[:24], who)
        raise Problem.Invalid([Problem("bad_rejoin_code")])
    return found


def _rejoining(store: Store, secret: bytes, code: str, rejoin: str) -> Student | None:
    claimed = parse_rejoin(rejoin)
    raw = store.redis.hget(store.keys.students(code), claimed) if claimed else None
    if raw is None:
        return None  # no such student, or removed: a removed student's code is void
    record = StudentInfo.from_dict(json.loads(raw))
    student_id = rejoin_student_id(secret, code, rejoin, record.rejoin)
    return Student(code, student_id, record.label) if student_id else None


def student_records(store: Store, code: str, removed: bool = False) -> dict[str, StudentInfo]:
    """Student id -> record of everyone in the class, in the order they joined; `removed`: of the
    students the instructor removed (services/roster) instead."""
    key = store.keys.removed_students(code) if removed else store.keys.students(code)
    rows = {k.decode(): StudentInfo.from_dict(json.loads(v)) for k, v in store.redis.hgetall(key).items()}
    return dict(sorted(rows.items(), key=lambda item: (item[1].joined_at, item[0])))


def student_of(store: Store, code: str, student_id: str) -> Student | None:
    raw = store.redis.hget(store.keys.students(normalize_code(code)), student_id)
    if raw is None:
        return None
    return Student(normalize_code(code), student_id, StudentInfo.from_dict(json.loads(raw)).label)


def is_open(store: Store, code: str) -> bool:
    info = class_info(store, code)
    return bool(info and info.open)
