"""Who is signed in, across reloads and tabs: signed, expiring session tokens and students' rejoin codes.

A Streamlit session lives as long as its browser tab's WebSocket: a reload, a second tab or a
dashboard restart starts a new one. So the page carries a **session token** in its URL (`?session=`):
a signed, expiring statement of who this browser is (the student, and whether it holds the
instructor's rights) and its language. Every run of the page verifies it again (signature, expiry,
the browser it was issued to); rights are still checked by the server at every action.

Why the URL and not a cookie: Streamlit can read cookies but not set them (no response to attach a
`Set-Cookie` to; a script component would need `allow-same-origin` tricks). A URL parameter survives
a reload and travels to a duplicated tab. Because a URL can be seen (a projected screen, a shared
link), the token is bound to the browser it was issued to: it carries a hash of the browser's
`_streamlit_xsrf` cookie token (set by Streamlit's server, the same for every tab of that browser),
and a token pasted into another browser is refused. Where no such cookie exists (XSRF protection
off), tokens are bearer tokens: say so to whoever deploys it.

A **rejoin code** (`17-K3QZ7M2A`) lets a student get back in from another browser or device: the
student's number in the class and an HMAC of (class, student, generation) under the server secret, so
it can only be made by the server and is never just a name. The instructor can give a student a new
one (the generation goes up and the old code is void).

Every token carries the id of the **sign-in** it belongs to (`sid`) and that sign-in's end: a token
re-issued on a language change keeps both, so a session cannot be stretched past its maximum lifetime
(`DECODELAB_SESSION_HOURS`, `DECODELAB_INSTRUCTOR_SESSION_HOURS`), and logging out revokes the sign-in
in Redis (`revoke`): every token of it, the ones in the browser's history included, then gets nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

from shared.services.store import Store

REJOIN_MAC_CHARS = 8                    # base32: 40 bits, behind the join and rejoin limits
REJOIN_PATTERN = re.compile(rf"^([0-9]{{1,6}})-([A-Z2-7]{{{REJOIN_MAC_CHARS}}})$")


@dataclass(frozen=True)
class Session:
    code: str = ""            # class code of the signed-in student ("" = none)
    student: str = ""         # student id
    label: str = ""           # what others see of the student
    instructor: bool = False  # holds the instructor's rights (re-checked against the password's token)
    lang: str = ""
    expires: float = 0.0
    browser: str = ""         # hash of the browser's XSRF token; "" = not bound
    sid: str = ""             # the sign-in this token belongs to (revoked as a whole on logout)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: bytes, body: bytes) -> bytes:
    return hmac.new(secret, purpose + b"\0" + body, hashlib.sha256).digest()


def issue(secret: bytes, session: Session, instructor_token: str = "") -> str:
    """The URL token for `session`. The instructor's rights are signed together with the current
    instructor token, so changing the password ends every instructor session."""
    body = json.dumps([session.code, session.student, session.label, session.instructor, session.lang,
                       round(session.expires), session.browser, session.sid], separators=(",", ":")).encode()
    mac = _mac(secret, b"session" + instructor_token.encode(), body)
    return f"{_b64(body)}.{_b64(mac[:18])}"


def verify(secret: bytes, token: str | None, browser: str, instructor_token: str = "",
           now: float | None = None) -> Session | None:
    """The session in `token` if it is authentic, unexpired and issued to this browser; else None."""
    if not token or not isinstance(token, str) or token.count(".") != 1 or len(token) > 2000:
        return None
    body_text, mac_text = token.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
        fields = json.loads(body)
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(mac, _mac(secret, b"session" + instructor_token.encode(), body)[:18]):
        return None
    if not (isinstance(fields, list) and len(fields) == 8):
        return None
    session = Session(*fields)
    if session.expires < (now if now is not None else time.time()):
        return None
    if session.browser and session.browser != browser:
        return None
    return session


def browser_id(cookies) -> str:
    """A stable, non-secret id of this browser: a hash of the token inside Streamlit's `_streamlit_xsrf`
    cookie (Tornado's format 2|mask|masked token|time: the token is the masked bytes XOR the mask,
    the same in every tab and reload of that browser while the cookie lives). "" when absent."""
    raw = (cookies or {}).get("_streamlit_xsrf", "")
    parts = raw.split("|")
    try:
        if len(parts) == 4 and parts[0] == "2":
            mask, masked = binascii.unhexlify(parts[1]), binascii.unhexlify(parts[2])
            token = bytes(b ^ mask[i % 4] for i, b in enumerate(masked))
        elif raw:
            token = raw.encode()  # Tornado's version-1 cookie: the token itself
        else:
            return ""
    except (binascii.Error, IndexError, ValueError):
        return ""
    return hashlib.sha256(b"decodelab browser" + token).hexdigest()[:24]


def rejoin_code(secret: bytes, code: str, student_id: str, generation: int = 0) -> str:
    """The student's rejoin code; `generation` > 0 after the instructor gave them a new one."""
    named = f"{code}|{student_id}" + (f"|{generation}" if generation else "")
    mac = base64.b32encode(_mac(secret, b"rejoin", named.encode())).decode()
    return f"{student_id[1:]}-{mac[:REJOIN_MAC_CHARS]}"


def parse_rejoin(rejoin: str) -> str | None:
    """The student id a typed rejoin code claims ("17-k3qz 7m2a" -> "s17"), or None when it is not
    shaped like one (ASCII digits, a dash, 8 base32 letters): `1-É` or `²-AAAAAAAA` are not."""
    match = REJOIN_PATTERN.match(typed_rejoin(rejoin))
    return f"s{int(match.group(1))}" if match else None


def typed_rejoin(rejoin: str) -> str:
    return str(rejoin or "")[:40].strip().upper().replace(" ", "")


def rejoin_student_id(secret: bytes, code: str, rejoin: str, generation: int = 0) -> str | None:
    """The student id a rejoin code names, if the code is authentic for this class and generation."""
    student_id = parse_rejoin(rejoin)
    if student_id is None:
        return None
    expected = rejoin_code(secret, code, student_id, generation)
    return student_id if hmac.compare_digest(typed_rejoin(rejoin), expected) else None


# --- sign-ins and their revocation ---------------------------------------------------------------------------
def new_sign_in() -> str:
    return secrets.token_urlsafe(12)


def revoke(store: Store, sid: str, until: float) -> None:
    """End a sign-in: every token carrying `sid` is refused from now on (kept until its tokens expire)."""
    if sid:
        store.redis.set(_signed_out(store, sid), 1, exat=max(int(until), int(time.time())) + 60)


def is_revoked(store: Store, sid: str) -> bool:
    return bool(sid) and bool(store.redis.exists(_signed_out(store, sid)))


def _signed_out(store: Store, sid: str) -> str:
    return store.keys.signed_out(hashlib.sha256(sid.encode()).hexdigest()[:24])
