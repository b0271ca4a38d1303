"""Who is signed in: the student's membership, the instructor's login, and the session token in the URL
that keeps either signed in across reloads, tabs and a restarted dashboard (shared/services/sessions.py
says why the URL).

Every page run starts with `restore_session()` (app.py); pages ask `student()` / `instructor()`, which
check the signatures, the sign-in's lifetime and revocation, and the roster, on every run.
"""

from __future__ import annotations

import secrets
import time

import redis
import streamlit as st

from dashboard.common import get_settings, get_store, lang, tr
from dashboard.state import STUDENT, Identity, Language, SignIn, SignInTimes
from shared.services.classes import Knock, Student, student_of
from shared.services.door import TrustedProxies, client_address
from shared.services.moderation import (
    LoginAttempt,
    holds_membership,
    instructor_token,
    is_instructor,
    log_in_instructor,
    server_secret,
    sign_membership,
)
from shared.services.roster import on_roster
from shared.services.sessions import Session, browser_id, is_revoked, issue, new_sign_in, revoke, verify

SESSION_PARAM = "session"


@st.cache_resource
def get_secret() -> bytes:
    """The server secret, read from Redis once per process (every page run checks the membership)."""
    return server_secret(get_store(), get_settings())


def session_params() -> dict[str, str] | None:
    """The URL's session token, for our own links: Streamlit's navigation drops query parameters, and after
    a dashboard dies the first thing a student does may be a click to another page on a new server."""
    return {SESSION_PARAM: st.query_params[SESSION_PARAM]} if SESSION_PARAM in st.query_params else None


# --- the browser and its address --------------------------------------------------------------------------
def browser() -> str:
    return browser_id(st.context.cookies)


@st.cache_resource
def trusted_proxies() -> TrustedProxies:
    return TrustedProxies.parse(get_settings().trusted_proxies)


def client() -> str:
    """The client's address (services/door.py): the connection's, or what a trusted proxy says it saw."""
    return client_address(st.context.ip_address, st.context.headers, trusted_proxies())


def join_knock() -> Knock:
    """Who asks to join. The browser's cookie is required when Streamlit sets one (its XSRF protection is on,
    the default): a client without it is a script, not a browser."""
    requires_cookie = bool(st.get_option("server.enableXsrfProtection"))
    return Knock(browser=browser() if requires_cookie else None, address=client(),
                 joins_per_address=get_settings().joins_per_address_per_hour)


# --- the student ----------------------------------------------------------------------------------------
def student() -> Student | None:
    """The student signed in in this browser session, if joined, still signed, and still on the class's
    roster (the instructor may have removed them: then this session ends here)."""
    code, student_id = Identity.CLASS_CODE.get(), Identity.STUDENT.get()
    if not (code and student_id) or _sign_in_over():
        return None
    if not holds_membership(get_secret(), code, student_id, Identity.MEMBERSHIP.get()):
        return None
    if not _still_on_roster(code, student_id):
        SignIn.REMOVED_FROM.set(code)
        for slot in STUDENT:  # no revocation: an instructor sign-in in the same session stays
            slot.pop()
        save_session()
        return None
    return Student(code, student_id, Identity.LABEL.get() or student_id)


def _still_on_roster(code: str, student_id: str) -> bool:
    try:
        return on_roster(get_store(), code, student_id)
    except redis.exceptions.RedisError:
        return True  # Redis away: the page says so; the roster is checked again at the next run


def remember_student(joined: Student) -> None:
    Identity.CLASS_CODE.set(joined.code)
    Identity.STUDENT.set(joined.id)
    Identity.LABEL.set(joined.label)
    Identity.MEMBERSHIP.set(sign_membership(get_secret(), joined.code, joined.id))
    save_session()


def forget_student() -> None:
    """The student leaves (or was removed): this sign-in's tokens, in the history too, get nothing more."""
    for slot in STUDENT:
        slot.pop()
    end_sign_in()
    save_session()


def require_student() -> Student:
    joined = student()
    if joined is None:
        st.info(tr("join.need"))
        st.stop()
    return joined


# --- the sign-in ------------------------------------------------------------------------------------------
# Set when a student joins or the instructor logs in, taken over from the URL's token on a reload; every
# token of this browser session carries it (sessions.py).
def start_sign_in(hours: int) -> SignInTimes:
    times = SignInTimes(sid=new_sign_in(), expires=time.time() + hours * 3600)
    SignIn.TIMES.set(times)
    return times


def end_sign_in() -> None:
    """Revoke this sign-in in Redis (every token of it), and start none: the next join or login will."""
    current = SignIn.TIMES.pop()
    if current:
        try:
            revoke(get_store(), current["sid"], current["expires"])
        except redis.exceptions.RedisError:
            pass  # the tokens still expire on their own; the page says Redis is away
    SignIn.SEEN_TOKEN.pop()


def _sign_in_over() -> bool:
    """The sign-in reached its maximum lifetime: the student or instructor must sign in again."""
    current = SignIn.TIMES.get()
    if current and current["expires"] < time.time():
        for slot in (*Identity.ALL, SignIn.INSTRUCTOR, SignIn.TIMES):
            slot.pop()
        return True
    return False


def _instructor_signature() -> str:
    settings = get_settings()
    return instructor_token(settings, settings.instructor_password) or "" if settings.instructor_password else ""


def restore_session() -> None:
    """At the top of every run: a valid URL session token signs this browser session back in."""
    token = st.query_params.get(SESSION_PARAM)
    if token and SignIn.SEEN_TOKEN.get() != token:
        SignIn.SEEN_TOKEN.set(token)
        try:
            session = verify(get_secret(), token, browser(), _instructor_signature())
            if session is None or is_revoked(get_store(), session.sid):
                return
        except redis.exceptions.RedisError:
            return
        if session.lang:
            Language.LANG.set(session.lang)
        SignIn.TIMES.set({"sid": session.sid, "expires": session.expires})
        if session.instructor and _instructor_signature():
            SignIn.INSTRUCTOR.set(_instructor_signature())
        known = session.code and student_of(get_store(), session.code, session.student)
        if known and student() is None:
            remember_student(known)
    save_session()


def save_session() -> None:
    """Keep the URL's session token in step with who is signed in (navigation drops query parameters)."""
    joined, is_teacher = student(), instructor() is not None
    if not joined and not is_teacher:
        if SESSION_PARAM in st.query_params:
            del st.query_params[SESSION_PARAM]
        return
    settings = get_settings()
    sign_in = SignIn.TIMES.get() or start_sign_in(settings.instructor_session_hours if is_teacher
                                                  else settings.student_session_hours)
    wanted = Session(joined.code if joined else "", joined.id if joined else "", joined.label if joined else "",
                     is_teacher, lang(), float(round(sign_in["expires"])), browser(), sign_in["sid"])
    current = verify(get_secret(), st.query_params.get(SESSION_PARAM), browser(), _instructor_signature())
    if current == wanted:
        return
    token = issue(get_secret(), wanted, _instructor_signature())
    st.query_params[SESSION_PARAM] = token
    SignIn.SEEN_TOKEN.set(token)


# --- the instructor ---------------------------------------------------------------------------------------
def log_in(password: str) -> LoginAttempt:
    """Constant-time compare, throttled per browser and client address (shared/services/moderation.py); the
    session keeps a token derived from the password, not a flag. A new sign-in, with the instructor's
    (shorter) lifetime."""
    if not SignIn.LOGIN_SESSION.is_set():
        SignIn.LOGIN_SESSION.set(secrets.token_hex(16))
    # The per-browser count: the browser's cookie; a client that sends none where Streamlit sets one (a
    # script) shares one count with every such client of its address, so a new session starts no fresh one.
    cookieless = f"no cookie from {client()}" if st.get_option("server.enableXsrfProtection") else ""
    attempt = log_in_instructor(get_store(), get_settings(), password,
                                browser() or cookieless or SignIn.LOGIN_SESSION.get_or(""), client(), browser())
    if attempt.token:
        SignIn.INSTRUCTOR.set(attempt.token)
        end_sign_in()
        start_sign_in(get_settings().instructor_session_hours)
        save_session()
    return attempt


def log_out() -> None:
    """The instructor logs out: the sign-in is revoked server-side, so this URL, and every one of it in the
    browser's history, opens nothing. A student identity in the same browser session stays, under a new
    sign-in."""
    SignIn.INSTRUCTOR.pop()
    end_sign_in()
    save_session()


def instructor() -> str | None:
    """The instructor token of this session, if it is valid and its sign-in was not ended elsewhere (a
    logout in another tab of the same sign-in)."""
    token = SignIn.INSTRUCTOR.get()
    if not is_instructor(get_settings(), token) or _sign_in_over():
        return None
    sign_in = SignIn.TIMES.get()
    try:
        if sign_in and is_revoked(get_store(), sign_in["sid"]):
            SignIn.INSTRUCTOR.pop()
            return None
    except redis.exceptions.RedisError:
        pass
    return token
