"""Every session-state entry the dashboard keeps, named once, with its type and its owner.

Streamlit's `st.session_state` is one dict per browser session: pages, the sign-in and the submit path all
write to it. Here each entry is a `Slot` (its key and its value's type) in the class of the concern that
owns it, so a reader finds who writes what, and the student's leaving (`STUDENT`) is a list kept here, not
knowledge spread over the pages.

Widget keys are entries too (a widget's value lives under its key): those another module also writes
(the lesson prefills the decoding form) are named here; keys a single widget draws and nobody else
reads (a card's star button) stay where the widget is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, cast

import streamlit as st

T = TypeVar("T")


@dataclass(frozen=True)
class Slot(Generic[T]):
    """One session-state entry: `key` is its name in `st.session_state` (and a widget's `key=` where a
    widget holds it); `T` is the type of what it holds."""

    key: str

    def get(self) -> T | None:
        return cast("T | None", st.session_state.get(self.key))

    def get_or(self, default: T) -> T:
        return cast(T, st.session_state.get(self.key, default))

    def set(self, value: T) -> None:
        st.session_state[self.key] = value

    def pop(self) -> T | None:
        return cast("T | None", st.session_state.pop(self.key, None))

    def is_set(self) -> bool:
        return self.key in st.session_state


class SignInTimes(TypedDict):
    """A sign-in: its id and when it ends (epoch seconds), carried by every token of it (sessions.py)."""

    sid: str
    expires: float


class Unconfirmed(TypedDict):
    """A press whose submit raised: its request id and the slot that follows it once it is found."""

    id: str
    key: str


# --- who is signed in (dashboard/auth.py) -----------------------------------------------------------------
class Identity:
    """The student signed in in this browser session (the membership is the server's signature of it)."""

    CLASS_CODE: Slot[str] = Slot("class_code")
    STUDENT: Slot[str] = Slot("student")
    LABEL: Slot[str] = Slot("student_label")
    MEMBERSHIP: Slot[str] = Slot("membership")
    ALL = (CLASS_CODE, STUDENT, LABEL, MEMBERSHIP)


class SignIn:
    """The sign-in this session belongs to, the URL token last taken over, the instructor's token."""

    TIMES: Slot[SignInTimes] = Slot("sign_in")
    SEEN_TOKEN: Slot[str] = Slot("session_seen")        # the URL's token this session already took over
    INSTRUCTOR: Slot[str] = Slot("instructor_token")    # derived from the password, checked on every run
    LOGIN_SESSION: Slot[str] = Slot("login_session")    # the throttle's per-session id for a cookieless client
    REMOVED_FROM: Slot[str] = Slot("removed_from")      # the class that removed this student: said once on Join
    LOGGED_OUT: Slot[bool] = Slot("logged_out")          # said once on the console after a logout


class Language:
    LANG: Slot[str] = Slot("lang")                       # "es" or "en"
    PICKER: Slot[str] = Slot("language_choice")          # the sidebar's radio


# --- the student's submissions (dashboard/submit.py and the lab pages) -------------------------------------
class Work:
    """The submission each lab page follows, and a press not yet confirmed."""

    DECODING: Slot[str] = Slot("current_submission")
    ABLATION: Slot[str] = Slot("ablation_submission")
    EXPLORER: Slot[str] = Slot("explore_id")
    UNCONFIRMED: Slot[Unconfirmed] = Slot("unconfirmed")
    ALL = (DECODING, ABLATION, EXPLORER, UNCONFIRMED)


STUDENT = (*Identity.ALL, *Work.ALL)
"""What belongs to a student: a student who leaves, or is removed, takes all of it with them."""


class Press:
    """The submit path's own bookkeeping (dashboard/submit.py)."""

    PRESSED_AT: Slot[tuple[str, float]] = Slot("pressed-at")  # (submission id, perf_counter) until its banner
    DECODING_CARRIED: Slot[bool] = Slot("decoding:press")     # a press carried over to a full run of the page
    ABLATION_CARRIED: Slot[bool] = Slot("ablation:press")

    @staticmethod
    def first_view(submission_id: str) -> Slot[Any]:
        """The progress the page just read, handed to its polling fragment's first draw."""
        return Slot(f"follow-view:{submission_id}")


class History:
    """"My earlier submissions" (dashboard/lab_widgets.py)."""

    LABELS: Slot[dict[str, tuple[str, str, str, bool]]] = Slot("history-labels")  # id -> (lab, lang, label, final)
    PICKER: Slot[str] = Slot("history")


class Workers:
    FIRST_MODELS: Slot[dict[str, list[Any]]] = Slot("worker-status-models")  # the page's read, for its fragment


# --- the lab forms (dashboard/views/decoding.py, ablation.py; prefilled by dashboard/lesson_step.py) ---------
class DecodingForm:
    PROMPT: Slot[str] = Slot("prompt")
    SWEEP: Slot[str] = Slot("sweep")            # the selectbox's label, in the reader's language
    SWEEP_NAME: Slot[str] = Slot("kept:sweep_name")  # the sweep itself, across languages and page visits
    SEED: Slot[int] = Slot("seed")

    @staticmethod
    def editor(sweep: str, seed: object) -> str:
        """The configurations table's key: one table per sweep and seed."""
        return f"configs-{sweep}-{seed}"


class AblationForm:
    TOPIC: Slot[str] = Slot("a-topic")
    VARIANT: Slot[str] = Slot("ablation-variant")  # whose samples the results show
    # Every widget of the form, by key: a press of Run compares them with the form the page drew.
    KEYS = ("a-topic", "a-use-tone", "a-tone", "a-use-summary", "a-summary", "a-extras", "a-words", "a-structure",
            "a-custom", "a-custom-kind", "a-pattern", "a-samples", "a-seed", "a-temperature", "a-top-p", "a-tokens")


class Lesson:
    @staticmethod
    def prefilled(lab: str) -> Slot[str]:
        """The step (question key) whose task last filled `lab`'s form: once per step, then the edits are theirs."""
        return Slot(f"lesson-prefilled:{lab}")


# --- the instructor's pages ------------------------------------------------------------------------------
class Console:
    CONFIRM_CLOSE: Slot[str] = Slot("confirm_close")   # the class whose closing waits for a yes
    BUSY: Slot[bool] = Slot("console_busy")            # the live section's pace: the class is busy
    CONFIRM_REMOVE: Slot[tuple[str, list[str]]] = Slot("confirm_remove")  # (class code, student ids)
    REMOVED: Slot[tuple[str, str]] = Slot("roster_done")  # (class code, what the removal did), said once


class Gallery:
    COMPARE_LEFT: Slot[str] = Slot("cmp-a")
    COMPARE_RIGHT: Slot[str] = Slot("cmp-b")


# --- a form as the student left it (Streamlit forgets a widget's value once its page is left) ---------------
def kept(key: str) -> Slot[Any]:
    """The last value of widget `key`, kept across page visits."""
    return Slot(f"kept:{key}")


def kept_rows_slot(key: str) -> Slot[list[dict[str, Any]]]:
    """A data editor's rows as the student last edited them."""
    return Slot(f"kept-rows:{key}")


def kept_base_slot(key: str) -> Slot[list[dict[str, Any]]]:
    """The rows a living data editor was created with (its edits apply to them)."""
    return Slot(f"kept-base:{key}")


def remember(key: str, default: Any) -> None:
    """Give the widget `key` its last value when the student comes back to the page, or `default` the first
    time. Call it just before the widget, which then takes no `value=`."""
    if key not in st.session_state:
        st.session_state[key] = kept(key).get_or(default)
    kept(key).set(st.session_state[key])


def kept_rows(key: str, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The base rows of a data editor `key`: while it lives, the rows it was created with (its edits
    apply to them); when the student comes back, the rows as they last edited them."""
    base = kept_base_slot(key)
    if key not in st.session_state or not base.is_set():
        base.set(kept_rows_slot(key).get_or(fresh))
    return base.get_or(fresh)


def keep_rows(key: str, rows: list[dict[str, Any]]) -> None:
    kept_rows_slot(key).set(rows)
