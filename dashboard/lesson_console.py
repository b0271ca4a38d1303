"""The instructor's lesson controls, drawn on the console (dashboard/views/instructor.py) by one call.

Start a lesson for a class, see its steps, move to the next or previous one, open or close the step's
question, reveal; who answered, live; the export of answers and outputs; the link to presentation mode.
A lesson file that does not validate is listed with its error (file, line, field), never raised.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import poll
from dashboard.auth import session_params
from dashboard.common import lang, tr
from dashboard.lesson_views import step_text, tally_view
from shared.contract.problems import Problem
from shared.contract.settings import Settings
from shared.services import lessons
from shared.services.classes import list_classes
from shared.services.lesson_export import lesson_csv, lesson_markdown, lesson_rows
from shared.services.lessons import ClassLesson
from shared.services.store import Store
from shared.teaching.lessons import BUILT_IN_FOLDER, Lesson, LessonError, answer_text, load_folder


def lessons_folder(settings: Settings) -> Path:
    return Path(settings.lessons_dir) if settings.lessons_dir else BUILT_IN_FOLDER


def available_lessons(settings: Settings) -> tuple[list[Lesson], list[LessonError]]:
    return load_folder(lessons_folder(settings))


def lesson_console(store: Store, settings: Settings, token: str) -> None:
    st.subheader(tr("lesson.console"))
    found, errors = available_lessons(settings)
    if errors:
        st.error("\n\n".join([tr("lesson.file_errors"), *(f"- {e.message(lang())}" for e in errors)]))
    codes = [c.code for c in list_classes(store)]
    if not codes:
        return
    code = st.selectbox(tr("lesson.pick_class"), codes, key="lesson-class")
    running = lessons.current(store, code)
    if running is None:
        start_form(store, settings, token, code, found)
    else:
        controls(store, settings, token, running)
    exports(store, settings, token, code)


def start_form(store: Store, settings: Settings, token: str, code: str, found: list[Lesson]) -> None:
    if not found:
        return
    titles = {f"{lesson.title.get(lang())} ({lesson.file})": lesson for lesson in found}
    picked = st.selectbox(tr("lesson.pick", code=code), list(titles), key="lesson-pick")
    if st.button(tr("lesson.start"), type="primary", key="lesson-start"):
        lessons.start(store, settings, token, code, titles[picked])
        st.rerun()


def controls(store: Store, settings: Settings, token: str, running: ClassLesson) -> None:
    code, total = running.code, len(running.lesson.steps)
    st.caption(tr("lesson.banner", title=running.lesson.title.get(lang()), number=running.index + 1, total=total))
    st.dataframe(pd.DataFrame([{"#": ("▶ " if i == running.index else "") + str(i + 1),
                                tr("lesson.console"): step.title.get(lang()),
                                tr("lesson.question"): tr(f"lesson.kind.{step.question.kind}") if step.question else ""}
                               for i, step in enumerate(running.lesson.steps)]), hide_index=True)
    move_buttons(store, settings, token, running)
    with st.container(border=True):
        st.markdown(f"**{running.step.title.get(lang())}**")
        step_text(running)
    question_buttons(store, settings, token, running)
    st.page_link("views/present.py", label=tr("lesson.present"), icon=":material/slideshow:",
                 query_params={**(session_params() or {}), "class": code})
    if running.question is not None:
        pace = poll.WHO_ANSWERED if running.accepting else None  # live while the question is open
        poll.poll(pace, who_answered, store, code, pace)


def move_buttons(store: Store, settings: Settings, token: str, running: ClassLesson) -> None:
    previous, following, stop = st.columns(3)
    if previous.button(tr("lesson.previous"), disabled=running.index == 0, key="lesson-prev", width="stretch"):
        lessons.go_to(store, settings, token, running.code, running.index - 1)
        st.rerun()
    if following.button(tr("lesson.next"), disabled=running.index + 1 >= len(running.lesson.steps),
                        key="lesson-next", type="primary", width="stretch"):
        lessons.go_to(store, settings, token, running.code, running.index + 1)
        st.rerun()
    if stop.button(tr("lesson.stop"), key="lesson-stop", width="stretch"):
        lessons.stop(store, settings, token, running.code)
        st.rerun()


def question_buttons(store: Store, settings: Settings, token: str, running: ClassLesson) -> None:
    """Open / close the question and reveal, with the state they leave the step in."""
    question = tr(f"lesson.state.{running.question_state}") if running.question else tr("lesson.state.none")
    results = tr("lesson.results.hidden") if running.results_hidden else tr("lesson.results.shown")
    st.text(tr("lesson.state", question=question, results=results))
    ask, close, show = st.columns(3)
    if running.question and running.question_state != lessons.OPEN and ask.button(
            tr("lesson.open_question"), key="lesson-open", width="stretch"):
        try:
            lessons.open_question(store, settings, token, running.code)
            st.rerun()
        except Problem.Invalid as invalid:
            for message in invalid.messages(lang()):
                st.error(message)
    if running.accepting and close.button(tr("lesson.close_question"), key="lesson-close", width="stretch"):
        lessons.close_question(store, settings, token, running.code)
        st.rerun()
    if show.button(tr("lesson.unreveal") if running.revealed else tr("lesson.reveal"), key="lesson-reveal",
                   width="stretch"):
        lessons.reveal(store, settings, token, running.code, not running.revealed)
        st.rerun()


def who_answered(store: Store, code: str, pace: poll.Pace) -> poll.Pace:
    """Every student of the class with their answer (blank: not yet) and the tally."""
    running = lessons.current(store, code)
    if running is None or running.question is None:
        return pace
    found = lessons.answers(store, code, running.question_key)
    students = {k.decode(): v for k, v in store.redis.hgetall(store.keys.students(code)).items()}
    st.text(tr("lesson.answered_count", answered=len(found), students=len(students)))
    labels = running.step.task.config_labels() if running.step.task else []
    st.dataframe(pd.DataFrame([{tr("lesson.col.student"): student_label(raw),
                                tr("lesson.col.answer"): answer_text(running.question, found[i].value, lang(), labels)
                                if i in found else ""} for i, raw in students.items()],
                              columns=[tr("lesson.col.student"), tr("lesson.col.answer")]), hide_index=True)
    tally_view(running, lessons.class_tally(store, running))
    return pace


def student_label(raw: bytes) -> str:
    return json.loads(raw)["label"]


def exports(store: Store, settings: Settings, token: str, code: str) -> None:
    """Per student, answers and outputs: a CSV and a Markdown report. Built when asked (a big class's
    outputs are read once per click, not on every run of the console)."""
    if not st.toggle(tr("lesson.exports", code=code), key=f"lesson-exports-{code}"):
        return
    rows = lesson_rows(store, settings, token, code, lang())
    left, right = st.columns(2)
    left.download_button(tr("lesson.export_csv", code=code), lesson_csv(rows), file_name=f"decodelab-{code}-lesson.csv",
                         mime="text/csv", key=f"lesson-csv-{code}")
    headings = {k: tr(f"lesson.report.{k}") for k in ("answers", "outputs", "prompt", "none")}
    right.download_button(tr("lesson.export_md", code=code), lesson_markdown(store, settings, token, code, rows, headings),
                          file_name=f"decodelab-{code}-lesson.md", mime="text/markdown", key=f"lesson-md-{code}")
