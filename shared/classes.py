"""Class sessions: the instructor opens a class code, students join it with a display name."""

from __future__ import annotations

import json
import re
import time
import unicodedata

from shared.problems import Problem
from shared.store import Store

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
    store.redis.hset(store.key("classes"), code, json.dumps({"created_at": created, "open": True}))
    return code


def open_class_once(store: Store, code: str) -> bool:
    """Open a class only if it was never opened (the demo class at start-up): a class the instructor
    closed stays closed across restarts. True when it was created now."""
    code = normalize_code(code)
    if not valid_class_code(code):
        raise Problem.Invalid([Problem("bad_class_code")])
    return bool(store.redis.hsetnx(store.key("classes"), code, json.dumps({"created_at": time.time(), "open": True})))


def close_class(store: Store, code: str) -> None:
    """Students can no longer join or submit; everything the class made stays (reopen with open_class)."""
    info = class_info(store, code)
    if info:
        info["open"] = False
        store.redis.hset(store.key("classes"), code, json.dumps(info))


def class_info(store: Store, code: str) -> dict | None:
    raw = store.redis.hget(store.key("classes"), normalize_code(code))
    return json.loads(raw) if raw else None


def list_classes(store: Store) -> list[dict]:
    rows = []
    for code, raw in store.redis.hgetall(store.key("classes")).items():
        info = json.loads(raw)
        code = code.decode()
        rows.append({"code": code, **info, "students": store.redis.hlen(store.class_key(code, "students")),
                     "outputs": store.class_output_count(code)})
    return sorted(rows, key=lambda r: r["created_at"], reverse=True)


def join_class(store: Store, code: str, name: str) -> tuple[str, str]:
    """Join an open class; returns (code, cleaned name). Refuses unknown codes, and says so when the
    class exists but the instructor closed it ("class_closed"), so a student does not doubt the code."""
    code = normalize_code(code)
    info = class_info(store, code) if valid_class_code(code) else None
    problems = [] if info and info.get("open") else [Problem("class_closed" if info else "bad_class_code")]
    try:
        name = clean_display_name(name)
    except Problem.Invalid as invalid:
        problems += invalid.problems
    if problems:
        raise Problem.Invalid(problems)
    store.redis.hsetnx(store.class_key(code, "students"), name, time.time())
    return code, name


def is_open(store: Store, code: str) -> bool:
    info = class_info(store, code)
    return bool(info and info.get("open"))
