"""What every page shares: one Redis client per process, the settings, the language and its texts.

Pages stay short scripts; the logic they call lives in `shared/`. The dashboard's own modules, one job
each: `auth.py` (who is signed in), `state.py` (session-state entries), `poll.py` (polled fragments),
`submit.py` (a press of Run), `lab_page.py` (the top of a lab page), `texts.py` (page copy). This module
never imports torch or transformers, so the dashboard's image stays small.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
import streamlit as st

from dashboard.state import Language
from dashboard.texts import t
from shared.contract.settings import Settings, redact_url
from shared.contract.tokens import count_gpt2_tokens
from shared.services.classes import Student, open_class_once
from shared.services.names import name_keys
from shared.services.store import Store, redis_client
from shared.teaching.pattern_sandbox import ChildSlots

F = TypeVar("F", bound=Callable[..., Any])


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
    """The page's language: the session's choice, the server's default until one is made (one
    session-state read: every text of every page asks)."""
    chosen = Language.LANG.get()
    if chosen is None:
        chosen = get_settings().default_language
        Language.LANG.set(chosen)
    return chosen


def tr(key: str, **params: Any) -> str:
    return t(key, lang(), **params)


def default_seed(me: Student) -> int:
    """Each student's own starting seed (shown, editable): a class's presets then differ from student
    to student instead of filling the gallery with copies of seed 42."""
    return int(hashlib.sha256(f"{me.code}|{me.id}".encode()).hexdigest()[:8], 16) % 100_000


def say_redis_down() -> None:
    st.warning(tr("app.redis_down", url=redact_url(get_settings().redis_url)))


def redis_tolerant(render: F) -> F:
    """For a part of a page that reads Redis on its own (inside a fragment): while Redis is away, say so;
    the next run tries again. (Polled fragments get the same from `poll.poll`.)"""
    @functools.wraps(render)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return render(*args, **kwargs)
        except redis.exceptions.ConnectionError:
            say_redis_down()
            return None
    return cast(F, guarded)


def redis_ok(store: Store) -> bool:
    try:
        store.redis.ping()
        return True
    except redis.exceptions.ConnectionError:
        st.error(tr("app.redis_down", url=redact_url(get_settings().redis_url)))
        return False
