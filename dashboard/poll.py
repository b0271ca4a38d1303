"""How a page watches what changes without the student touching it: one polled fragment, `poll`.

Streamlit fixes a fragment's `run_every` when the page draws it, so a fragment cannot slow down or speed
up by itself. A polled fragment here draws what it watches and returns the pace it wants now (seconds
between polls; None: no more polling); when that is not the pace it runs at (the class turned busy, a
worker came up, a submission finished or has waited long enough to be polled less often), `poll` reruns
the whole page once, which draws the fragment again at the new pace. A tick that sees the page itself
must change (the lesson moved) calls `st.rerun()`. While Redis is away, the fragment says so and tries
again at its next tick, at the same pace.

Every pace the dashboard polls at is here, so "how often does X refresh" has one answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import redis
import streamlit as st

from dashboard.common import say_redis_down

Pace = float | None
"""Seconds between two polls of a fragment; None: drawn once, not polled."""

# A submission being followed (queued, running, checking): every second at first, then less often.
# (seconds waited since it was made, pace while under it)
FOLLOW_BACKOFF = ((20.0, 1.0), (120.0, 2.0), (float("inf"), 5.0))
# A submission whose page shows no words yet, in its first seconds: a tick (the first draw included) waits
# for them, looking at Redis every FIRST_WORDS_LOOK seconds for at most FIRST_WORDS_WAIT (less than the
# pace, so a tick ends before the next), and draws them the moment they are there instead of at the next
# tick: the press to the first words is what a student waits through. (seconds since made, wait, look)
FIRST_WORDS = (3.0, 0.8, 0.1)
WORKERS = {False: 5.0, True: 60.0}       # the lab's worker line: none ready yet / some ready (a sanity check)
GALLERY = {True: 3.0, False: 30.0}       # the gallery's fingerprint: the class has work pending / none
CONSOLE = {True: 2.0, False: 15.0}       # the console's queues and workers: anything queued or running / idle
LESSON = {True: 3.0, False: 20.0}        # a student's page watching the lesson: one runs / none does
WHO_ANSWERED = 3.0                       # the console's answers while the question is open
PRESENT = 1.0                            # the projector's tally (at most this old, plus a page run)


def follow_pace(waited_seconds: float) -> float:
    """The pace a submission is followed at, `waited_seconds` after it was made."""
    return next(pace for limit, pace in FOLLOW_BACKOFF if waited_seconds < limit)


def poll(pace: Pace, tick: Callable[..., Pace], *args: Any, **kwargs: Any) -> None:
    """Draw `tick(*args, **kwargs)` in a fragment run every `pace` seconds; rerun the page when the pace it
    returns is another. The fragment is named after `tick`, as if `tick` itself were the fragment."""
    st.fragment(run_every=pace)(_polled(pace, tick))(*args, **kwargs)


def _polled(pace: Pace, tick: Callable[..., Pace]) -> Callable[..., None]:
    @functools.wraps(tick)  # the fragment's id is the tick's name and place: two polls never share one
    def polled(*args: Any, **kwargs: Any) -> None:
        try:
            wanted = tick(*args, **kwargs)
        except redis.exceptions.ConnectionError:
            say_redis_down()
            return
        if wanted != pace:
            st.rerun()  # the page draws the fragment again at the pace it wants
    return polled
