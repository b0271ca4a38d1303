"""The top of a lab page (decoding, ablation): title, the joined student, Redis reachable, the intro, and
the model to submit to with the line that says whether a worker serves it (polled, `poll.WORKERS`)."""

from __future__ import annotations

import streamlit as st

from dashboard import poll
from dashboard.auth import require_student
from dashboard.common import get_settings, get_store, redis_ok, tr
from dashboard.state import Workers
from shared.contract.records import WorkerInfo
from shared.contract.settings import Settings
from shared.services.classes import Student
from shared.services.store import Store
from shared.services.workers import served_models


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


def model_picker(store: Store) -> str:
    """The model to submit to: one with live workers if any; says so when none is ready."""
    settings = get_settings()
    models = served_models(store)
    options = sorted(models) or [settings.model]
    default = settings.model if settings.model in options else options[0]
    model = st.selectbox(tr("workers.model"), options, index=options.index(default),
                         key="model") if len(options) > 1 else default
    worker_status(store, model, models)
    return model


def worker_status(store: Store, model: str, models: dict[str, list[WorkerInfo]] | None = None) -> None:
    """Says whether a worker serves `model`; polls often only while none does, to say when one comes up.
    `models`: served_models() as the caller just read it (the page's run reads it once, not three times)."""
    models = served_models(store) if models is None else models
    Workers.FIRST_MODELS.set(models)  # for the fragment's first draw, in this same run
    pace = poll.WORKERS[bool(models.get(model))]
    poll.poll(pace, _worker_status, store, model, pace)


def _worker_status(store: Store, model: str, pace: float) -> poll.Pace:
    models = Workers.FIRST_MODELS.pop()
    live = (served_models(store) if models is None else models).get(model, [])
    if poll.WORKERS[bool(live)] != pace:
        return poll.WORKERS[bool(live)]  # a worker came or went: the page polls at the other pace
    if not live:
        st.warning(tr("workers.none", model=model))
        return pace
    st.caption(tr("workers.ready", count=len(live), model=model, device=live[0].device or "?"))
    if any(w.random_weights for w in live):
        st.caption("⚠ " + tr("app.random_weights"))
    if any(w.demo_model for w in live):
        st.caption("ℹ " + tr("app.demo_model"))
    return pace
