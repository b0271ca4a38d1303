"""Presentation mode: what the projector shows of the class's current step, in large type, without the
sidebar or any filter. The step's text, its question with the live tally, the blind comparison and its
reveal, the spotlighted outputs with their prompts. The instructor moves with the arrow keys (the ◀ ▶
buttons' shortcuts) or the buttons; the console and this page move the same lesson.
"""

import streamlit as st

from dashboard import poll
from dashboard.auth import instructor
from dashboard.common import get_settings, get_store, lang, redis_ok, tr
from dashboard.lesson_views import blind_texts, outputs_with_prompts, step_text, tally_view
from shared.contract.problems import Problem
from shared.services import lessons
from shared.services.classes import list_classes
from shared.services.lessons import ClassLesson
from shared.services.moderation import spotlight

SPOTLIGHT_SHOWN = 3         # outputs a projected page has room for

# Static CSS (no user text in it): hide Streamlit's chrome and the sidebar, use the whole width, large type.
st.html("""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"] {display: none !important;}
[data-testid="stMainBlockContainer"] {max-width: 100% !important; padding: 1rem 2.5rem 2rem 2.5rem !important;}
.st-key-present p, .st-key-present li {font-size: 1.45rem !important; line-height: 1.45 !important;}
.st-key-present h1 {font-size: 2.4rem !important;}
.st-key-present h3 {font-size: 1.8rem !important;}
.st-key-present [data-testid="stText"], .st-key-present [data-testid="stText"] * {font-size: 1.3rem !important;
  line-height: 1.4;}
</style>""")

store = get_store()
if not redis_ok(store):
    st.stop()
token = instructor()
if not token:
    st.info(tr("lesson.need_instructor"))
    st.stop()


def class_to_show() -> str:
    """The class named in the URL (the console's link), else the first with a running lesson."""
    codes = [c.code for c in list_classes(store)]
    asked = st.query_params.get("class", "")
    if asked in codes:
        return asked
    return next((c for c in codes if lessons.version(store, c)), codes[0] if codes else "")


def move(running: ClassLesson) -> None:
    """◀ and ▶ (the arrow keys), open/close the question (Q) and reveal (V)."""
    st.caption(tr("lesson.banner", title=running.lesson.title.get(lang()), number=running.index + 1,
                  total=len(running.lesson.steps)))
    back, ask, show, forward = st.columns([1, 2, 2, 1], vertical_alignment="center")
    if back.button("◀", shortcut="Left", disabled=running.index == 0, key="present-prev", width="stretch"):
        lessons.go_to(store, get_settings(), token, running.code, running.index - 1)
        st.rerun()
    if running.question and ask.button(tr("lesson.close_question") if running.accepting else tr("lesson.open_question"),
                                       shortcut="Q", key="present-ask", width="stretch"):
        toggle_question(running)
    if show.button(tr("lesson.unreveal") if running.revealed else tr("lesson.reveal"), shortcut="V",
                   key="present-reveal", width="stretch"):
        lessons.reveal(store, get_settings(), token, running.code, not running.revealed)
        st.rerun()
    if forward.button("▶", shortcut="Right", disabled=running.index + 1 >= len(running.lesson.steps),
                      key="present-next", width="stretch"):
        lessons.go_to(store, get_settings(), token, running.code, running.index + 1)
        st.rerun()


def toggle_question(running: ClassLesson) -> None:
    try:
        if running.accepting:
            lessons.close_question(store, get_settings(), token, running.code)
        else:
            lessons.open_question(store, get_settings(), token, running.code)
    except Problem.Invalid as invalid:
        for message in invalid.messages(lang()):
            st.error(message)
        return
    st.rerun()


def live(code: str, seen: int) -> poll.Pace:
    """Polled: the question's answers as they come (count and tally), the blind texts and the reveal.
    When the lesson moved (console or keys), the whole page follows."""
    running = lessons.current(store, code)
    if running is None or running.version != seen:
        st.rerun()
    students = store.redis.hlen(store.keys.students(code))
    tally = lessons.class_tally(store, running)
    if tally is not None and running.question is not None:
        st.markdown(f"### {running.question.text.get(lang())}")
        st.markdown(f"**{tr('lesson.answered_count', answered=tally.answered, students=students)}**")
    if running.blind:
        blind_texts(running, lessons.blind_outputs(store, running), tally, side_by_side=True)
    tally_view(running, tally, big=True)
    return poll.PRESENT


def outputs(running: ClassLesson) -> None:
    """Spotlighted outputs with their prompts, where the step shows them and its results are not hidden."""
    if running.results_hidden or running.step.projector not in ("outputs", "spotlight"):
        return
    starred = spotlight(store, running.code, limit=SPOTLIGHT_SHOWN)
    st.markdown(f"### {tr('lesson.spotlight')}")
    if not starred:
        st.info(tr("spotlight.empty"))
    outputs_with_prompts(starred)


code = class_to_show()
current = lessons.current(store, code) if code else None
if current is None:
    st.info(tr("lesson.none_running", code=code or "—"))
    st.stop()
with st.container(key="present"):
    move(current)
    st.title(current.step.title.get(lang()))
    if not (current.question and current.question_state):
        step_text(current)  # once the question is asked, the projector gives the question the room
    poll.poll(poll.PRESENT, live, code, current.version)
    outputs(current)
