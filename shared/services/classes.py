"""Class sessions: the instructor opens a class code, students join it with a display name."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass

from shared.contract.problems import Problem
from shared.services.store import Store

CLASS_CODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{3,24}$")
MAX_NAME_CHARS = 40
# Bidirectional embedding/override/isolate controls (and marks): shown to others, they reorder text and
# can make a name or a prompt read as something else (Trojan Source, CVE-2021-42574).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def normalize_code(code: str) -> str:
    return (code or "").strip().lower()


def valid_class_code(code: str) -> bool:
    return bool(CLASS_CODE_PATTERN.match(code or ""))


def clean_display_name(name: str) -> str:
    """A display name without control characters (bidirectional ones included: category Cf) or
    surrounding space; raises when unusable."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    if not text or len(text) > MAX_NAME_CHARS:
        raise Problem.Invalid([Problem("bad_name", limit=MAX_NAME_CHARS)])
    return text


def open_class(store: Store, code: str) -> str:
    """Open (or re-open) a class; returns its normalized code. Raises on a malformed code."""
    code = normalize_code(code)
    if not valid_class_code(code):
        raise Problem.Invalid([Problem("bad_class_code")])
    existing = class_info(store, code)
    created = existing["created_at"] if existing else time.time()
    store.redis.hset(store.keys.classes(), code, json.dumps({"created_at": created, "open": True}))
    return code


def open_class_once(store: Store, code: str) -> bool:
    """Open a class only if it was never opened (the demo class at start-up): a class the instructor
    closed stays closed across restarts. True when it was created now."""
    code = normalize_code(code)
    if not valid_class_code(code):
        raise Problem.Invalid([Problem("bad_class_code")])
    return bool(store.redis.hsetnx(store.keys.classes(), code, json.dumps({"created_at": time.time(), "open": True})))


def close_class(store: Store, code: str) -> None:
    """Students can no longer join or submit; everything the class made stays (reopen with open_class)."""
    info = class_info(store, code)
    if info:
        info["open"] = False
        info["closed_at"] = time.time()  # its data is deleted DECODELAB_RETENTION_DAYS later (services/retention)
        store.redis.hset(store.keys.classes(), code, json.dumps(info))


def class_info(store: Store, code: str) -> dict | None:
    raw = store.redis.hget(store.keys.classes(), normalize_code(code))
    return json.loads(raw) if raw else None


def list_classes(store: Store) -> list[dict]:
    rows = []
    for code, raw in store.redis.hgetall(store.keys.classes()).items():
        info = json.loads(raw)
        code = code.decode()
        rows.append({"code": code, **info, "students": store.redis.hlen(store.keys.students(code)),
                     "outputs": store.class_output_count(code)})
    return sorted(rows, key=lambda r: r["created_at"], reverse=True)


# A new student is created by every join. These bound how many one browser (or a script) can create,
# so that joining under new names does not multiply one person's submission limits.
JOINS_PER_BROWSER_PER_HOUR = 3
JOINS_PER_CLASS_PER_MINUTE = 600  # a class of 300 joining in its first minute
MAX_STUDENTS_PER_CLASS = 2000


@dataclass(frozen=True)
class Student:
    """A person in a class: `id` is who they are (results, limits, the gallery's "by student"); `label`
    is what others see: the display name, numbered when the name is taken ("María · 2")."""

    code: str
    id: str
    label: str

    @property
    def number(self) -> int:
        return int(self.id[1:])


def join_class(store: Store, code: str, name: str, browser: str | None = None) -> Student:
    """Join an open class as a new student. Refuses unknown codes, unusable names, and joins over the
    browser's or the class's allowance; a class the instructor closed is said to be closed
    ("class_closed"), so a student does not doubt the code."""
    code = normalize_code(code)
    info = class_info(store, code) if valid_class_code(code) else None
    problems = [] if info and info.get("open") else [Problem("class_closed" if info else "bad_class_code")]
    try:
        name = clean_display_name(name)
    except Problem.Invalid as invalid:
        problems += invalid.problems
    if problems:
        raise Problem.Invalid(problems)
    _count_join(store, code, browser)
    number = store.redis.incr(store.keys.student_seq(code))
    same_name = store.redis.hincrby(store.keys.student_names(code), name.casefold(), 1)
    student = Student(code, f"s{number}", name if same_name == 1 else f"{name} · {same_name}")
    store.redis.hset(store.keys.students(code), student.id,
                     json.dumps({"name": name, "label": student.label, "joined_at": time.time()}))
    return student


def _count_join(store: Store, code: str, browser: str | None) -> None:
    minute = store.keys.joins_in_minute(code, int(time.time() // 60))
    scopes = [(minute, 120, JOINS_PER_CLASS_PER_MINUTE)]  # (key, seconds it lives, limit)
    if browser:
        scopes.append((store.keys.joins_from_browser(code, browser), 3600, JOINS_PER_BROWSER_PER_HOUR))
    with store.redis.pipeline() as pipe:
        for key, ttl, _ in scopes:
            pipe.incr(key)
            pipe.expire(key, ttl, nx=True)
        pipe.hlen(store.keys.students(code))
        replies = pipe.execute()
    counts = replies[0:-1:2]
    if any(count > limit for count, (_, _, limit) in zip(counts, scopes)) or replies[-1] >= MAX_STUDENTS_PER_CLASS:
        raise Problem.Invalid([Problem("too_many_joins")])


def student_of(store: Store, code: str, student_id: str) -> Student | None:
    raw = store.redis.hget(store.keys.students(normalize_code(code)), student_id)
    if raw is None:
        return None
    return Student(normalize_code(code), student_id, json.loads(raw)["label"])


def is_open(store: Store, code: str) -> bool:
    info = class_info(store, code)
    return bool(info and info.get("open"))
