"""A press of Run, from the button to the results: carry a press over when the form changed with it,
submit it (idempotently across a Redis error), then follow the submission, polled while it is pending.

The lab pages (decoding, ablation, the explorer) call these three in this order inside their Run fragment:
`run_pressed` (was Run pressed?), `submit_press` (build, submit, follow under a `Work` slot), then
`follow` (the banner while pending; the finished view once, unpolled).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import poll
from dashboard.common import get_sandbox, lang, tr
from dashboard.metrics import dashboard_metrics
from dashboard.state import Press, Slot, Work
from shared.contract.problems import Problem
from shared.contract.records import Progress, Request
from shared.contract.settings import Settings
from shared.services.cancel import cancel
from shared.services.classes import Student
from shared.services.progress import awaits_first_words, progress, wait_for_first_words
from shared.services.store import Store
from shared.services.submit import submit
from shared.services.validation import new_request_id


def run_pressed(carried: Slot[bool], form_changed: Callable[[], bool]) -> bool:
    """The lab's Run button, drawn inside the fragment that holds it and the results: True when it was
    pressed. A press reruns only that fragment, with the request built from the form as the page last
    drew it; when the same message also changed the form above (`form_changed()`), the press is carried
    over (under `carried`) to a full run of the page, which reads the form anew, and is answered there."""
    pressed = st.button(tr("decoding.run"), type="primary", key="run")
    if carried.pop():
        return True  # a press that came with a changed form: this full run drew that form
    if pressed and form_changed():
        carried.set(True)
        st.rerun()  # the whole page: its form is what the press runs
    return pressed


def submit_press(store: Store, settings: Settings, following: Slot[str], build: Callable[[str], Request]) -> bool:
    """One press of a Run button: `build(request_id)` makes the request, which is then submitted and
    followed under `following`. Returns True when a submission is followed.

    Idempotent across an error: if Redis fails mid-submit, the press's id is kept as unconfirmed, and the
    next run of the page (or the next press) first looks whether it landed after all and follows it;
    otherwise the retry reuses the same id, so a submission is never stored twice.
    """
    pending = Work.UNCONFIRMED.get()
    request_id = pending["id"] if pending and pending["key"] == following.key else new_request_id()
    pressed_at = time.perf_counter()
    try:
        if follow_unconfirmed(store):
            return True
        request = build(request_id)
        submit(store, settings, request, sandbox=get_sandbox())
        dashboard_metrics().pressed(request.lab)
        Press.PRESSED_AT.set((request_id, pressed_at))  # for the press-to-banner figure
    except Problem.Invalid as invalid:
        Work.UNCONFIRMED.pop()
        for message in invalid.messages(lang()):
            st.error(message)
        return False
    except redis.exceptions.RedisError:
        Work.UNCONFIRMED.set({"id": request_id, "key": following.key})
        st.error(tr("app.submit_unsure"))
        return False
    following.set(request_id)
    Work.UNCONFIRMED.pop()
    return True


def follow_unconfirmed(store: Store) -> bool:
    """After a submit that raised: if it was stored after all, follow it (True); else keep waiting.
    Pages call it after their Run button, so a press in the same run is answered by this, not a copy."""
    pending = Work.UNCONFIRMED.get()
    if not pending or not store.exists(pending["id"]):
        return False
    st.session_state[pending["key"]] = pending["id"]
    Work.UNCONFIRMED.pop()
    return True


Banner = Callable[[Progress], object]


def follow(store: Store, settings: Settings, submission_id: str, banner: Banner,
           owner: Student | None = None) -> Progress | None:
    """A submission's progress, polled only while it is pending; returns its view once finished.

    While queued, running or being checked, a small fragment polls (at `poll.follow_pace`) and draws
    `banner`; when it sees the end it reruns the page once, and from then on the caller renders the
    results once, statically: a page showing finished results costs nothing while the student reads.
    `owner`: the student who may cancel it (a button under the banner).
    """
    view = progress(store, settings, submission_id)
    if view is None or not view.active:
        return view
    pace = poll.follow_pace(time.time() - view.created_at)
    Press.first_view(submission_id).set(view)  # the fragment's first draw needs no second read
    poll.poll(pace, _pending, store, settings, submission_id, pace, banner, owner)
    return None


def _pace(view: Progress | None) -> poll.Pace:
    """None once the submission has ended (the page then draws it, unpolled)."""
    return None if view is None or not view.active else poll.follow_pace(time.time() - view.created_at)


def _pending(store: Store, settings: Settings, submission_id: str, pace: float, banner: Banner,
             owner: Student | None) -> poll.Pace:
    view = Press.first_view(submission_id).pop() or progress(store, settings, submission_id)
    wanted = _pace(view)
    if view is None or wanted != pace:
        return wanted  # finished (drawn once, unpolled) or time to poll less often
    shown = st.empty()
    with shown.container():
        banner(view)
    pressed = Press.PRESSED_AT.get()
    if pressed and pressed[0] == submission_id:
        dashboard_metrics().banner_drawn(time.perf_counter() - pressed[1])
        Press.PRESSED_AT.pop()
    if owner and st.button(tr("decoding.cancel"), key=f"cancel-{submission_id}"):
        cancel(store, submission_id, owner.id)
        st.rerun()
    return _first_words(store, settings, submission_id, view, pace, banner, shown)


def _first_words(store: Store, settings: Settings, submission_id: str, view: Progress, pace: float,
                 banner: Banner, shown: DeltaGenerator) -> poll.Pace:
    """In a submission's first seconds, while no word is written: wait for the first words (poll.FIRST_WORDS)
    and draw them in this tick, the banner redrawn in its place; an end seen meanwhile reruns the page."""
    window, wait, look = poll.FIRST_WORDS
    if time.time() - view.created_at > window or not awaits_first_words(view):
        return pace
    if not wait_for_first_words(store, submission_id, wait, look):  # ends before the next tick (tested)
        return pace
    now = progress(store, settings, submission_id)
    wanted = _pace(now)
    if now is None or wanted != pace:
        return wanted
    with shown.container():
        banner(now)
    return pace
