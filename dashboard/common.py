"""What every page shares: one Redis client per process, the settings, the language, who is logged in.

Pages stay short scripts; the logic they call lives in `shared/`. This module never imports torch or
transformers, so the dashboard's image stays small.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time

import redis
import streamlit as st

from dashboard.metrics import dashboard_metrics
from shared.contract.i18n import t
from shared.contract.problems import Problem
from shared.contract.settings import Settings, redact_url
from shared.contract.tokens import count_gpt2_tokens
from shared.services.cancel import cancel
from shared.services.classes import Knock, Student, open_class_once, student_of
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
from shared.services.names import name_keys
from shared.services.progress import progress
from shared.services.roster import on_roster
from shared.services.sessions import Session, browser_id, is_revoked, issue, new_sign_in, revoke, verify
from shared.services.store import Store, redis_client
from shared.services.submit import submit
from shared.services.validation import new_request_id
from shared.services.workers import served_models
from shared.teaching.pattern_sandbox import ChildSlots


@st.cache_resource
def get_settings() -> Settings:
    return Settings.from_env()


@st.cache_resource
def warm_up() -> None:
    """Load what the first press of Run would otherwise wait for (the GPT-2 tokenizer that counts a
    prompt's tokens: ~0.7 s; the confusables table a join compares names with: ~0.5 s), once per process,
    when the first visitor opens a page."""
    count_gpt2_tokens("warm up")
    name_keys("warm up")


@st.cache_resource
def get_sandbox() -> ChildSlots:
    """The sandboxed children this dashboard process may run at once, shared by every session it serves
    (DECODELAB_SANDBOX_CHILDREN): each press of Run with a custom regex compiles it in one."""
    return ChildSlots(get_settings().sandbox_children)


@st.cache_resource
def get_store() -> Store:
    settings = get_settings()
    client = redis_client(settings.redis_url)
    store = Store(client, settings.key_prefix)
    if settings.demo_class:
        try:
            open_class_once(store, settings.demo_class)  # once: a closed demo class stays closed
        except redis.exceptions.ConnectionError:
            pass  # Redis still starting; the page says so and the next run retries
    return store


def lang() -> str:
    if "lang" not in st.session_state:
        st.session_state.lang = get_settings().default_language
    return st.session_state.lang


def tr(key: str, **params) -> str:
    return t(key, lang(), **params)


def language_picker() -> None:
    labels = {"Español": "es", "English": "en"}  # plain options: AppTest cannot drive a format_func
    current = lang()
    names = list(labels)
    choice = st.sidebar.radio(tr("app.language"), names, index=list(labels.values()).index(current),
                              horizontal=True, key="language_choice")
    if labels[choice] != current:
        st.session_state.lang = labels[choice]
        save_session()
        st.rerun()


STUDENT_STATE = ("class_code", "student", "student_label", "membership", "current_submission",
                 "ablation_submission", "explore_id", "unconfirmed")


def student() -> Student | None:
    """The student signed in in this browser session, if joined, still signed, and still on the class's
    roster (the instructor may have removed them: then this session ends here)."""
    code, student_id = st.session_state.get("class_code"), st.session_state.get("student")
    if not (code and student_id) or _sign_in_over():
        return None
    if not holds_membership(get_secret(), code, student_id, st.session_state.get("membership")):
        return None
    if not _still_on_roster(code, student_id):
        st.session_state.removed_from = code
        for key in STUDENT_STATE:  # no revocation: an instructor sign-in in the same session stays
            st.session_state.pop(key, None)
        save_session()
        return None
    return Student(code, student_id, st.session_state.get("student_label") or student_id)


def _still_on_roster(code: str, student_id: str) -> bool:
    try:
        return on_roster(get_store(), code, student_id)
    except redis.exceptions.RedisError:
        return True  # Redis away: the page says so; the roster is checked again at the next run


def remember_student(joined: Student) -> None:
    st.session_state.class_code, st.session_state.student = joined.code, joined.id
    st.session_state.student_label = joined.label
    st.session_state.membership = sign_membership(get_secret(), joined.code, joined.id)
    save_session()


def forget_student() -> None:
    """The student leaves (or was removed): this sign-in's tokens, in the history too, get nothing more."""
    for key in STUDENT_STATE:
        st.session_state.pop(key, None)
    end_sign_in()
    save_session()


def remember(key: str, default) -> None:
    """Give the widget `key` its last value when the student comes back to the page (Streamlit forgets
    a widget's state once its page is left), or `default` the first time. Call it just before the
    widget, which then takes no `value=`."""
    kept = f"kept:{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, default)
    st.session_state[kept] = st.session_state[key]


def kept_rows(key: str, fresh: list[dict]) -> list[dict]:
    """The base rows of a data editor `key`: while it lives, the rows it was created with (its edits
    apply to them); when the student comes back, the rows as they last edited them."""
    base = f"kept-base:{key}"
    if key not in st.session_state or base not in st.session_state:
        st.session_state[base] = st.session_state.get(f"kept-rows:{key}", fresh)
    return st.session_state[base]


def keep_rows(key: str, rows: list[dict]) -> None:
    st.session_state[f"kept-rows:{key}"] = rows


def default_seed(me: Student) -> int:
    """Each student's own starting seed (shown, editable): a class's presets then differ from student
    to student instead of filling the gallery with copies of seed 42."""
    return int(hashlib.sha256(f"{me.code}|{me.id}".encode()).hexdigest()[:8], 16) % 100_000


def require_student() -> Student:
    joined = student()
    if joined is None:
        st.info(tr("join.need"))
        st.stop()
    return joined


# --- the session in the URL (shared/services/sessions.py says why the URL) ---------------------------------
SESSION_PARAM = "session"


@st.cache_resource
def get_secret() -> bytes:
    """The server secret, read from Redis once per process (every page run checks the membership)."""
    return server_secret(get_store(), get_settings())


def _instructor_signature() -> str:
    settings = get_settings()
    return instructor_token(settings, settings.instructor_password) or "" if settings.instructor_password else ""


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


# A sign-in: {"sid": id, "expires": epoch seconds}. Set when a student joins or the instructor logs in, taken
# over from the URL's token on a reload; every token of this browser session carries it (sessions.py).
SIGN_IN = "sign_in"


def start_sign_in(hours: int) -> None:
    st.session_state[SIGN_IN] = {"sid": new_sign_in(), "expires": time.time() + hours * 3600}


def end_sign_in() -> None:
    """Revoke this sign-in in Redis (every token of it), and start none: the next join or login will."""
    current = st.session_state.pop(SIGN_IN, None)
    if current:
        try:
            revoke(get_store(), current["sid"], current["expires"])
        except redis.exceptions.RedisError:
            pass  # the tokens still expire on their own; the page says Redis is away
    st.session_state.pop("session_seen", None)


def _sign_in_over() -> bool:
    """The sign-in reached its maximum lifetime: the student or instructor must sign in again."""
    current = st.session_state.get(SIGN_IN)
    if current and current["expires"] < time.time():
        for key in ("class_code", "student", "student_label", "membership", "instructor_token", SIGN_IN):
            st.session_state.pop(key, None)
        return True
    return False


def restore_session() -> None:
    """At the top of every run: a valid URL session token signs this browser session back in."""
    token = st.query_params.get(SESSION_PARAM)
    if token and st.session_state.get("session_seen") != token:
        st.session_state.session_seen = token
        try:
            session = verify(get_secret(), token, browser(), _instructor_signature())
            if session is None or is_revoked(get_store(), session.sid):
                return
        except redis.exceptions.RedisError:
            return
        if session.lang:
            st.session_state.lang = session.lang
        st.session_state[SIGN_IN] = {"sid": session.sid, "expires": session.expires}
        if session.instructor and _instructor_signature():
            st.session_state.instructor_token = _instructor_signature()
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
    if SIGN_IN not in st.session_state:
        settings = get_settings()
        start_sign_in(settings.instructor_session_hours if is_teacher else settings.student_session_hours)
    sign_in = st.session_state[SIGN_IN]
    wanted = Session(joined.code if joined else "", joined.id if joined else "", joined.label if joined else "",
                     is_teacher, lang(), float(round(sign_in["expires"])), browser(), sign_in["sid"])
    current = verify(get_secret(), st.query_params.get(SESSION_PARAM), browser(), _instructor_signature())
    if current == wanted:
        return
    token = issue(get_secret(), wanted, _instructor_signature())
    st.query_params[SESSION_PARAM] = token
    st.session_state.session_seen = token


def log_in(password: str) -> LoginAttempt:
    """Constant-time compare, throttled per browser and client address (shared/services/moderation.py); the
    session keeps a token derived from the password, not a flag. A new sign-in, with the instructor's
    (shorter) lifetime."""
    if "login_session" not in st.session_state:
        st.session_state.login_session = secrets.token_hex(16)
    # The per-browser count: the browser's cookie; a client that sends none where Streamlit sets one (a
    # script) shares one count with every such client of its address, so a new session starts no fresh one.
    cookieless = f"no cookie from {client()}" if st.get_option("server.enableXsrfProtection") else ""
    attempt = log_in_instructor(get_store(), get_settings(), password,
                                browser() or cookieless or st.session_state.login_session, client(), browser())
    if attempt.token:
        st.session_state.instructor_token = attempt.token
        end_sign_in()
        start_sign_in(get_settings().instructor_session_hours)
        save_session()
    return attempt


def log_out() -> None:
    """The instructor logs out: the sign-in is revoked server-side, so this URL, and every one of it in the
    browser's history, opens nothing. A student identity in the same browser session stays, under a new
    sign-in."""
    st.session_state.pop("instructor_token", None)
    end_sign_in()
    save_session()


def instructor() -> str | None:
    """The instructor token of this session, if it is valid and its sign-in was not ended elsewhere (a
    logout in another tab of the same sign-in)."""
    token = st.session_state.get("instructor_token")
    if not is_instructor(get_settings(), token) or _sign_in_over():
        return None
    sign_in = st.session_state.get(SIGN_IN)
    try:
        if sign_in and is_revoked(get_store(), sign_in["sid"]):
            st.session_state.pop("instructor_token", None)
            return None
    except redis.exceptions.RedisError:
        pass
    return token


def redis_tolerant(render):
    """For polled fragments: while Redis is away, say so and try again at the next tick."""
    @functools.wraps(render)
    def guarded(*args, **kwargs):
        try:
            return render(*args, **kwargs)
        except redis.exceptions.ConnectionError:
            st.warning(tr("app.redis_down", url=redact_url(get_settings().redis_url)))
    return guarded


def run_pressed(carry_key: str, form_changed) -> bool:
    """The lab's Run button, drawn inside the fragment that holds it and the results: True when it was
    pressed. A press reruns only that fragment, with the request built from the form as the page last
    drew it; when the same message also changed the form above (`form_changed()`), the press is carried
    over (under `carry_key`) to a full run of the page, which reads the form anew, and is answered there."""
    pressed = st.button(tr("decoding.run"), type="primary")
    if st.session_state.pop(carry_key, False):
        return True  # a press that came with a changed form: this full run drew that form
    if pressed and form_changed():
        st.session_state[carry_key] = True
        st.rerun()  # the whole page: its form is what the press runs
    return pressed


def submit_press(store: Store, settings: Settings, state_key: str, build) -> bool:
    """One press of a Run button: `build(request_id)` makes the request, which is then submitted and
    followed under `st.session_state[state_key]`. Returns True when a submission is followed.

    Idempotent across an error: if Redis fails mid-submit, the press's id is kept as unconfirmed, and the
    next run of the page (or the next press) first looks whether it landed after all and follows it;
    otherwise the retry reuses the same id, so a submission is never stored twice.
    """
    pending = st.session_state.get("unconfirmed")
    request_id = pending["id"] if pending and pending["key"] == state_key else new_request_id()
    pressed_at = time.perf_counter()
    try:
        if follow_unconfirmed(store):
            return True
        request = build(request_id)
        submit(store, settings, request, sandbox=get_sandbox())
        dashboard_metrics().pressed(request.lab)
        st.session_state[PRESSED] = (request_id, pressed_at)  # for the press-to-banner figure
    except Problem.Invalid as invalid:
        st.session_state.pop("unconfirmed", None)
        for message in invalid.messages(lang()):
            st.error(message)
        return False
    except redis.exceptions.RedisError:
        st.session_state.unconfirmed = {"id": request_id, "key": state_key}
        st.error(tr("app.submit_unsure"))
        return False
    st.session_state[state_key] = request_id
    st.session_state.pop("unconfirmed", None)
    return True


def follow_unconfirmed(store: Store) -> bool:
    """After a submit that raised: if it was stored after all, follow it (True); else keep waiting.
    Pages call it after their Run button, so a press in the same run is answered by this, not a copy."""
    pending = st.session_state.get("unconfirmed")
    if not pending or not store.exists(pending["id"]):
        return False
    st.session_state[pending["key"]] = pending["id"]
    st.session_state.pop("unconfirmed", None)
    return True


def redis_ok(store: Store) -> bool:
    try:
        store.redis.ping()
        return True
    except redis.exceptions.ConnectionError:
        st.error(tr("app.redis_down", url=redact_url(get_settings().redis_url)))
        return False


def model_picker(store: Store) -> str:
    """The model to submit to: one with live workers if any; says so when none is ready."""
    settings = get_settings()
    models = served_models(store)
    options = sorted(models) or [settings.model]
    default = settings.model if settings.model in options else options[0]
    model = st.selectbox(tr("workers.model"), options, index=options.index(default)) if len(options) > 1 else default
    worker_status(store, model, models)
    return model


# How often a page polls what it waits for: every second at first, then less often (seconds waited,
# seconds between polls). A page with nothing pending does not poll at all.
POLL_BACKOFF = ((20.0, 1.0), (120.0, 2.0), (float("inf"), 5.0))
WORKERS_POLL_SECONDS = {False: 5.0, True: 60.0}  # no worker ready yet / some ready: just a sanity check


def poll_interval(waited_seconds: float) -> float:
    return next(interval for limit, interval in POLL_BACKOFF if waited_seconds < limit)


def worker_status(store: Store, model: str, models: dict[str, list[dict]] | None = None) -> None:
    """Says whether a worker serves `model`; polls often only while none does, to say when one comes up.
    `models`: served_models() as the caller just read it (the page's run reads it once, not three times)."""
    models = served_models(store) if models is None else models
    live = bool(models.get(model))
    st.session_state[FIRST_MODELS] = models  # for the fragment's first draw, in this same run
    st.fragment(run_every=WORKERS_POLL_SECONDS[live])(_worker_status)(store, model, live)


FIRST_MODELS = "worker-status-models"


@redis_tolerant
def _worker_status(store: Store, model: str, was_live: bool) -> None:
    models = st.session_state.pop(FIRST_MODELS, None)
    live = (served_models(store) if models is None else models).get(model, [])
    if bool(live) != was_live:
        st.rerun()  # a worker came or went: the page polls at the other pace
    if not live:
        st.warning(tr("workers.none", model=model))
        return
    st.caption(tr("workers.ready", count=len(live), model=model, device=live[0].device or "?"))
    if any(w.random_weights for w in live):
        st.caption("⚠ " + tr("app.random_weights"))
    if any(w.demo_model for w in live):
        st.caption("ℹ " + tr("app.demo_model"))


def follow(store: Store, settings: Settings, submission_id: str, banner, owner: Student | None = None) -> dict | None:
    """A submission's progress, polled only while it is pending; returns its view once finished.

    While queued, running or being checked, a small fragment polls (with backoff) and draws `banner`;
    when it sees the end it reruns the page once, and from then on the caller renders the results
    once, statically: a page showing finished results costs nothing while the student reads.
    `owner`: the student who may cancel it (a button under the banner).
    """
    view = progress(store, settings, submission_id)
    if view is None or not view.active:
        return view
    interval = poll_interval(time.time() - view.created_at)
    st.session_state[f"{FIRST_VIEW}{submission_id}"] = view  # the fragment's first draw needs no second read
    st.fragment(run_every=interval)(_pending)(store, settings, submission_id, interval, banner, owner)
    return None


FIRST_VIEW = "follow-view:"
PRESSED = "pressed-at"  # (submission id, perf_counter) of the last press, until its first banner


@redis_tolerant
def _pending(store: Store, settings: Settings, submission_id: str, interval: float, banner,
             owner: Student | None) -> None:
    view = st.session_state.pop(f"{FIRST_VIEW}{submission_id}", None) or progress(store, settings, submission_id)
    if view is None or not view.active or poll_interval(time.time() - view.created_at) != interval:
        st.rerun()  # finished (render it once, unpolled) or time to poll less often
    banner(view)
    if st.session_state.get(PRESSED, ("",))[0] == submission_id:
        dashboard_metrics().banner_drawn(time.perf_counter() - st.session_state.pop(PRESSED)[1])
    if owner and st.button(tr("decoding.cancel"), key=f"cancel-{submission_id}"):
        cancel(store, submission_id, owner.id)
        st.rerun()


def lab_page(title_key: str, intro_key: str) -> tuple[Student, Store, Settings, str]:
    """The top of a lab page: title, the joined student (or stop), Redis reachable (or stop), intro,
    and the model to submit to. Returns (student, store, settings, model)."""
    st.header(tr(title_key))
    joined = require_student()
    store, settings = get_store(), get_settings()
    if not redis_ok(store):
        st.stop()
    st.caption(tr(intro_key))
    return joined, store, settings, model_picker(store)
