"""What only the instructor may do (star, hide, comment, export, requeue) and who may see what.

Nothing here trusts a flag in the browser session. The instructor holds a token derived from the
password (HMAC); every instructor action checks it, in constant time, before touching Redis. A
student holds a membership token for (class, student id), signed with the server's secret, so editing the
session state to another class code shows nothing of that class.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import secrets
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from rq import Queue
from rq.registry import FailedJobRegistry

from shared.contract.records import FAILED, QUEUED, Output, Submission
from shared.contract.settings import Settings
from shared.services.store import Store

MAX_COMMENT_CHARS = 300
# Instructor login throttling, per browser (its XSRF cookie, else the page session) and per client address
# (services/door.client_address: behind a trusted proxy, the address the proxy saw). A school's NAT puts a
# whole class behind one address, so its allowance is larger. After `free` wrong passwords each further one
# makes the next attempt wait 2, 4, 8... seconds, up to `LOGIN_MAX_WAIT_SECONDS`; counts are forgotten
# after an hour without failures, and reset by a correct password. A browser the instructor logged in from
# before (within `KNOWN_BROWSER_SECONDS`) is held only to its own count, not its address's: a student's
# guesses from the same NAT do not lock the instructor out (OWASP's "device cookie").
LOGIN_FREE_FAILURES = {"session": 5, "address": 20}
LOGIN_MAX_WAIT_SECONDS = 15 * 60
LOGIN_MEMORY_SECONDS = 3600
KNOWN_BROWSER_SECONDS = 30 * 24 * 3600

log = logging.getLogger(__name__)


class NotAllowed(PermissionError):
    """An instructor action without a valid instructor token."""


def instructor_token(settings: Settings, password: str) -> str | None:
    """The session token for a correct password (constant-time compare); None otherwise."""
    expected = settings.instructor_password
    if not expected or not hmac.compare_digest(password.encode(), expected.encode()):
        return None
    return _instructor_token(expected)


def _instructor_token(password: str) -> str:
    return hmac.new(password.encode(), b"decodelab instructor", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LoginAttempt:
    token: str | None = None     # the instructor token when the password was right and not throttled
    wait_seconds: int = 0        # > 0: refused without looking at the password; try again after this


def log_in_instructor(store: Store, settings: Settings, password: str, session: str, address: str,
                      browser: str = "") -> LoginAttempt:
    """Check the password unless this browser (or session) or address must wait after repeated failures."""
    scopes = {"session": browser or session}
    if not (browser and _known_browser(store, browser)):
        scopes["address"] = address or "local"
    keys = {kind: store.keys.login_failures(kind, hashlib.sha256(value.encode()).hexdigest()[:24])
            for kind, value in scopes.items()}
    now_ = time.time()
    waits = [float(store.redis.hget(key, "until") or 0) - now_ for key in keys.values()]
    if max(waits) > 0:
        return LoginAttempt(wait_seconds=int(max(waits)) + 1)
    token = instructor_token(settings, password)
    if token:
        store.redis.delete(*keys.values())
        if browser:
            store.redis.zadd(store.keys.instructor_browsers(), {_browser_digest(browser): now_})
        return LoginAttempt(token=token)
    for kind, key in keys.items():
        failures = store.redis.hincrby(key, "failures", 1)
        store.redis.expire(key, LOGIN_MEMORY_SECONDS)
        over = failures - LOGIN_FREE_FAILURES[kind]
        if over > 0:
            store.redis.hset(key, "until", now_ + min(2 ** over, LOGIN_MAX_WAIT_SECONDS))
    log.warning("instructor login failed from %s (browser %s…)", address or "local", scopes["session"][:8])
    return LoginAttempt()


def _browser_digest(browser: str) -> str:
    return hashlib.sha256(b"instructor browser" + browser.encode()).hexdigest()[:24]


def _known_browser(store: Store, browser: str) -> bool:
    seen = store.redis.zscore(store.keys.instructor_browsers(), _browser_digest(browser))
    return seen is not None and time.time() - seen < KNOWN_BROWSER_SECONDS


def is_instructor(settings: Settings, token: str | None) -> bool:
    if not settings.instructor_password or not token:
        return False
    return hmac.compare_digest(str(token), _instructor_token(settings.instructor_password))


def require_instructor(settings: Settings, token: str | None) -> None:
    if not is_instructor(settings, token):
        raise NotAllowed("instructor password required")


def server_secret(store: Store, settings: Settings) -> bytes:
    """DECODELAB_SECRET, or one random secret kept in Redis and shared by every dashboard process."""
    if settings.secret:
        return settings.secret.encode()
    store.redis.set(store.keys.secret(), secrets.token_hex(32), nx=True)
    return store.redis.get(store.keys.secret())


def sign_membership(secret: bytes, code: str, student_id: str) -> str:
    return hmac.new(secret, json.dumps([code, student_id]).encode(), hashlib.sha256).hexdigest()


def membership_token(store: Store, settings: Settings, code: str, student_id: str) -> str:
    return sign_membership(server_secret(store, settings), code, student_id)


def holds_membership(secret: bytes, code: str, student_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), sign_membership(secret, code, student_id))


def is_member(store: Store, settings: Settings, code: str, student_id: str, token: str | None) -> bool:
    return holds_membership(server_secret(store, settings), code, student_id, token)


# --- instructor actions (each checks the token first) ----------------------------------------------
def set_star(store: Store, settings: Settings, token: str, code: str, output_id: str, starred: bool) -> None:
    require_instructor(settings, token)
    key = store.keys.starred(code)
    store.redis.zadd(key, {output_id: time.time()}) if starred else store.redis.zrem(key, output_id)


def set_hidden(store: Store, settings: Settings, token: str, code: str, output_id: str, hidden: bool) -> None:
    """Hide from students (kept, never deleted) or show again."""
    require_instructor(settings, token)
    score = store.redis.zscore(store.keys.outputs(code), output_id)
    if score is None:
        return
    with store.redis.pipeline() as pipe:
        if hidden:
            pipe.sadd(store.keys.hidden(code), output_id)
            pipe.zrem(store.keys.visible(code), output_id)
        else:
            pipe.srem(store.keys.hidden(code), output_id)
            pipe.zadd(store.keys.visible(code), {output_id: score})
        pipe.execute()


def set_comment(store: Store, settings: Settings, token: str, code: str, output_id: str, text: str) -> None:
    require_instructor(settings, token)
    text = "".join(ch for ch in (text or "") if ch.isprintable() or ch == "\n").strip()[:MAX_COMMENT_CHARS]
    key = store.keys.comments(code)
    store.redis.hset(key, output_id, text) if text else store.redis.hdel(key, output_id)


@dataclass(frozen=True)
class Note:
    """The instructor's marks on one output, as students and the instructor see them."""

    starred: bool = False
    hidden: bool = False   # out of the students' gallery (kept for the instructor and the export)
    comment: str = ""


def annotations(store: Store, code: str, output_ids: list[str]) -> dict[str, Note]:
    """Star, hidden flag and comment of each output (what both students and the instructor see)."""
    with store.redis.pipeline(transaction=False) as pipe:
        for output_id in output_ids:
            pipe.zscore(store.keys.starred(code), output_id)
            pipe.sismember(store.keys.hidden(code), output_id)
            pipe.hget(store.keys.comments(code), output_id)
        replies = pipe.execute()
    return {output_id: Note(starred=replies[3 * i] is not None, hidden=bool(replies[3 * i + 1]),
                            comment=(replies[3 * i + 2] or b"").decode())
            for i, output_id in enumerate(output_ids)}


def spotlight(store: Store, code: str, limit: int = 20) -> list[Output]:
    """Starred outputs still visible, newest star first: the projector view."""
    ids = [i.decode() for i in store.redis.zrevrange(store.keys.starred(code), 0, limit - 1)]
    hidden = {h.decode() for h in store.redis.smembers(store.keys.hidden(code))}
    return store.outputs([i for i in ids if i not in hidden])


EXPORT_FIELDS = ["id", "student", "lab", "variant", "model", "random_weights", "prompt", "text", "strategy",
                 "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "seed", "new_tokens",
                 "finish_reason", "perplexity", "distinct_1", "distinct_2", "repeated_3gram_share", "loop", "checks",
                 "starred", "hidden", "comment", "cached_from", "finished_at"]


def export_rows(store: Store, settings: Settings, token: str, code: str) -> list[dict]:
    """Every output of the class, hidden ones included, flat: for CSV and JSON downloads."""
    require_instructor(settings, token)
    ids = [i.decode() for i in store.redis.zrange(store.keys.outputs(code), 0, -1)]
    notes = annotations(store, code, ids)
    rows = []
    for output in store.outputs(ids):
        flat = output.flat()
        flat["finished_at"] = iso_time(output.finished_at)
        rows.append({**{name: flat.get(name) for name in EXPORT_FIELDS}, **asdict(notes[output.id])})
    return rows


def iso_time(seconds: float) -> str:
    """A moment as a spreadsheet and a person read it: ISO 8601 in the server's zone, with its offset."""
    return datetime.fromtimestamp(seconds, tz=UTC).astimezone().isoformat(timespec="seconds")


FORMULA_STARTS = ("=", "+", "-", "@", "\u2212")  # what a spreadsheet reads as a formula (\u2212: minus sign)
CONTROL_STARTS = ("\t", "\r", "\n")                # OWASP: a leading tab or line break, whatever follows
# Characters that show nothing: they hide what a cell starts with, and spreadsheets skip or strip some of
# them (LibreOffice trims NBSP; Sheets ignores a leading BOM), so "\u200b=HYPERLINK(...)" still runs.
BLANK_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # Hangul fillers, the braille blank


def _shows_nothing(ch: str) -> bool:
    """Whitespace, format characters (zero-width, BOM, bidi marks), controls and blank fillers."""
    return ch.isspace() or ch in BLANK_FILLERS or unicodedata.category(ch) in ("Cf", "Cc", "Zs", "Zl", "Zp")


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet could run `text`: among the characters that show nothing at its start there
    is a tab or line break, or its first visible character is (in any width: NFKC folds \uff1d and
    \ufe66 to "=") one that starts a formula."""
    hidden = 0
    while hidden < len(text) and _shows_nothing(text[hidden]):
        hidden += 1
    if any(ch in CONTROL_STARTS for ch in text[:hidden]):
        return True
    return hidden < len(text) and unicodedata.normalize("NFKC", text[hidden]).startswith(FORMULA_STARTS)


def spreadsheet_safe(value):
    """A cell a spreadsheet shows as text, never runs (OWASP CSV injection): text that starts like a
    formula, behind any invisible characters, gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and starts_like_formula(value):
        return "'" + value
    return value


def export_csv(rows: list[dict], fields: list[str] | None = None) -> str:
    """`rows` as a CSV a spreadsheet opens safely; `fields`: the columns (the class export's by default)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields or EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return buffer.getvalue()


def export_json(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=1)


# --- queue ----------------------------------------------------------------------------------------
def failed_submissions(store: Store, settings: Settings, model: str) -> list[Submission]:
    """Submissions of `model` that failed. RQ's failed registry also holds the jobs their students
    cancelled (a worker ends a cancelled job as failed, without retry): those are not failures."""
    registry = FailedJobRegistry(settings.queue_name(model), connection=store.redis)
    records = [store.submission(job_id) for job_id in registry.get_job_ids()]
    return [r for r in records if r and r.status == FAILED]


def requeue_failed(store: Store, settings: Settings, token: str, model: str) -> int:
    """Put every failed submission of `model` back in its queue; returns how many."""
    require_instructor(settings, token)
    queue = Queue(settings.queue_name(model), connection=store.redis)
    registry = FailedJobRegistry(queue=queue)
    count = 0
    for job_id in registry.get_job_ids():
        record = store.submission(job_id)
        if record is not None and record.status != FAILED:
            continue  # cancelled by its student (or already done): never run again
        registry.requeue(job_id)
        if record:
            with store.redis.pipeline() as pipe:
                pipe.hset(store.keys.submission(job_id), mapping={"status": QUEUED, "error": ""})
                pipe.sadd(store.keys.pending(record.request.class_code), job_id)
                pipe.execute()
        count += 1
    return count
