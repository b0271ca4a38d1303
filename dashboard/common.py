"""What every page shares: one Redis client per process, the settings, the language, who is logged in.

Pages stay short scripts; the logic they call lives in `shared/`. This module never imports torch or
transformers, so the dashboard's image stays small.
"""

from __future__ import annotations

import functools

import redis
import streamlit as st

from shared.classes import open_class
from shared.i18n import t
from shared.moderation import instructor_token, is_instructor, is_member, membership_token
from shared.settings import Settings
from shared.store import Store, redis_client
from shared.workers import served_models


@st.cache_resource
def get_settings() -> Settings:
    return Settings.from_env()


@st.cache_resource
def get_store() -> Store:
    settings = get_settings()
    client = redis_client(settings.redis_url)
    store = Store(client, settings.key_prefix)
    if settings.demo_class:
        try:
            open_class(store, settings.demo_class)
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
        st.rerun()


def student() -> tuple[str, str] | None:
    """(class code, name) of the student in this browser session, if joined and still signed."""
    code, name = st.session_state.get("class_code"), st.session_state.get("student")
    if not (code and name):
        return None
    if not is_member(get_store(), get_settings(), code, name, st.session_state.get("membership")):
        return None
    return code, name


def remember_student(code: str, name: str) -> None:
    st.session_state.class_code, st.session_state.student = code, name
    st.session_state.membership = membership_token(get_store(), get_settings(), code, name)


def require_student() -> tuple[str, str]:
    joined = student()
    if joined is None:
        st.info(tr("join.need"))
        st.stop()
    return joined


def log_in(password: str) -> bool:
    """Constant-time compare; the session keeps a token derived from the password, not a flag."""
    token = instructor_token(get_settings(), password)
    if token:
        st.session_state.instructor_token = token
    return token is not None


def instructor() -> str | None:
    """The instructor token of this session, if it is valid."""
    token = st.session_state.get("instructor_token")
    return token if is_instructor(get_settings(), token) else None


def redis_tolerant(render):
    """For polled fragments: while Redis is away, say so and try again at the next tick."""
    @functools.wraps(render)
    def guarded(*args, **kwargs):
        try:
            return render(*args, **kwargs)
        except redis.exceptions.ConnectionError:
            st.warning(tr("app.redis_down", url=get_settings().redis_url.split("@")[-1]))
    return guarded


def redis_ok(store: Store) -> bool:
    try:
        store.redis.ping()
        return True
    except redis.exceptions.ConnectionError:
        st.error(tr("app.redis_down", url=get_settings().redis_url.split("@")[-1]))
        return False


def model_picker(store: Store) -> str:
    """The model to submit to: one with live workers if any; says so when none is ready."""
    settings = get_settings()
    models = served_models(store)
    options = sorted(models) or [settings.model]
    default = settings.model if settings.model in options else options[0]
    model = st.selectbox(tr("workers.model"), options, index=options.index(default)) if len(options) > 1 else default
    worker_status(store, model)
    return model


@st.fragment(run_every=5.0)
@redis_tolerant
def worker_status(store: Store, model: str) -> None:
    """Polled: says when no worker serves `model`, and when one comes up."""
    live = served_models(store).get(model, [])
    if not live:
        st.warning(tr("workers.none", model=model))
        return
    st.caption(tr("workers.ready", count=len(live), model=model, device=live[0].get("device", "?")))
    if any(w.get("random_weights") == "1" for w in live):
        st.caption("⚠️ " + tr("app.random_weights"))
    if any(w.get("demo_model") == "1" for w in live):
        st.caption("ℹ️ " + tr("app.demo_model"))


def lab_page(title_key: str, intro_key: str) -> tuple[str, str, Store, Settings, str]:
    """The top of a lab page: title, the joined student (or stop), Redis reachable (or stop), intro,
    and the model to submit to. Returns (class code, name, store, settings, model)."""
    st.header(tr(title_key))
    code, name = require_student()
    store, settings = get_store(), get_settings()
    if not redis_ok(store):
        st.stop()
    st.caption(tr(intro_key))
    return code, name, store, settings, model_picker(store)
