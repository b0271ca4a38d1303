"""The lesson on a student's pages: the current step's banner, its question, the lab prefilled with the
step's task, and the pointer to what to do now. Each lab page calls `lesson_step` once under its header;
without a running lesson it draws nothing and the labs work as they always did.

The page follows the class: a small fragment polls the lesson's version (one Redis read) and reruns the
page when the instructor moves, so the banner, the question and the prefilled form change by themselves.
"""

from __future__ import annotations

import math

import redis
import streamlit as st

from dashboard import poll
from dashboard.auth import session_params
from dashboard.common import default_seed, lang, tr
from dashboard.lesson_views import blind_texts, config_labels, step_text
from dashboard.state import AblationForm, DecodingForm, Lesson, Slot, kept, kept_base_slot, kept_rows_slot
from shared.contract.problems import Problem
from shared.services import lessons
from shared.services.classes import Student
from shared.services.lessons import ClassLesson
from shared.services.store import Store
from shared.teaching.lessons import LabTask, answer_text

DECODING_COLUMNS = ["strategy", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "seed"]
LAB_PAGES = {"decoding": "views/decoding.py", "ablation": "views/ablation.py"}


def running_lesson(store: Store, code: str) -> ClassLesson | None:
    try:
        return lessons.current(store, code)
    except redis.exceptions.RedisError:
        return None  # the page itself says Redis is away


def lesson_step(store: Store, me: Student, lab: str) -> ClassLesson | None:
    """The banner of the current step on the lab page `lab`, its question, and (once per step) the lab's
    form prefilled with the step's task. Call it before the page draws its form."""
    running = running_lesson(store, me.code)
    follow_class(store, me.code, running.version if running else 0)
    if running is None:
        return None
    with st.container(border=True, key="lesson-banner"):
        st.caption(tr("lesson.banner", title=running.lesson.title.get(lang()), number=running.index + 1,
                      total=len(running.lesson.steps)))
        st.subheader(running.step.title.get(lang()))
        step_text(running)
        task = running.step.task
        if task and task.lab != lab:
            lab_link(task.lab)
        question_box(store, me, running)
    if running.step.task:
        prefill(me, running, running.step.task, lab)
    return running


def follow_class(store: Store, code: str, seen: int) -> None:
    """Looks whether the instructor moved: often while a lesson runs (the step is pushed within
    `poll.LESSON`), rarely when none does (only to notice that one started)."""
    poll.poll(poll.LESSON[seen > 0], _watch, store, code, seen)


def _watch(store: Store, code: str, seen: int) -> poll.Pace:
    if lessons.version(store, code) != seen:
        st.rerun()  # the instructor moved: the whole page, so the banner and the form follow
    return poll.LESSON[seen > 0]


def lab_link(lab: str) -> None:
    st.page_link(LAB_PAGES[lab], label=tr("lesson.go_to_lab", lab=tr(f"nav.{lab}")), icon=":material/arrow_forward:",
                 query_params=session_params())


def lesson_pointer(store: Store, me: Student) -> None:
    """Right after joining: where the class is and a link to it (the join page)."""
    running = running_lesson(store, me.code)
    follow_class(store, me.code, running.version if running else 0)
    if running is None:
        st.info(tr("lesson.no_lesson_now"))
        return
    st.info(tr("lesson.what_now", step=running.step.title.get(lang())))
    lab_link(running.step.task.lab if running.step.task else "decoding")


def results_hidden(store: Store, me: Student) -> bool:
    """True (and says so) while the current step keeps the class's results hidden until the reveal."""
    running = running_lesson(store, me.code)
    if running is None or not running.results_hidden:
        return False
    st.info(tr("lesson.hidden"))
    return True


# --- the question ----------------------------------------------------------------------------------
def question_box(store: Store, me: Student, running: ClassLesson) -> None:
    question = running.question
    if question is None:
        return
    st.markdown(f"**{tr('lesson.question')}:** {question.text.get(lang())}")
    key = running.question_key
    mine = lessons.own_answer(store, me, key)
    if running.question.kind == "blind" and running.blind:
        shown_tally = lessons.class_tally(store, running) if running.revealed else None  # the class's guesses
        blind_texts(running, lessons.blind_outputs(store, running), shown_tally)
    if not running.question_state:
        st.caption(tr("lesson.waiting_question"))
        return
    if mine is not None:
        st.success(tr("lesson.answered", answer=answer_text(question, mine, lang(), config_labels(running))))
    if running.question_state != lessons.OPEN:
        st.caption(tr("lesson.closed"))
        return
    with st.form(f"answer-{key}"):
        value = answer_input(running, key, mine)
        sent = st.form_submit_button(tr("lesson.send"), type="primary")
    if sent:
        send_answer(store, me, key, value)


def answer_input(running: ClassLesson, key: str, mine):
    question = running.question
    assert question is not None
    label = tr("lesson.your_answer")
    if question.kind == "choice":
        options = [o.get(lang()) for o in question.options]
        picked = st.radio(label, options, index=mine if isinstance(mine, int) else None, key=f"q-{key}")
        return options.index(picked) if picked is not None else None
    if question.kind == "number":
        start = mine if isinstance(mine, (int, float)) else question.low
        return st.slider(label, question.low, question.high, float(start), question.step, key=f"q-{key}")
    if question.kind == "text":
        return st.text_area(label, value=mine if isinstance(mine, str) else "", max_chars=question.max_chars,
                            key=f"q-{key}")
    labels = config_labels(running)
    guesses = []
    for number in range(len(running.blind.output_ids) if running.blind else 0):
        kept = mine[number] if isinstance(mine, list) and number < len(mine) else None
        # radios, not select boxes: a select box's open list closes when the page's poll reruns
        picked = st.radio(tr("lesson.which_config", number=number + 1), labels, index=kept, key=f"q-{key}-{number}")
        guesses.append(labels.index(picked) if picked is not None else None)
    return guesses


def send_answer(store: Store, me: Student, key: str, value) -> None:
    try:
        lessons.answer(store, me, key, value)
    except Problem.Invalid as invalid:
        for message in invalid.messages(lang()):
            st.error(message)
        return
    except redis.exceptions.RedisError:
        st.error(tr("app.submit_unsure"))
        return
    st.success(tr("lesson.saved"))


# --- the lab, prefilled --------------------------------------------------------------------------
def prefill(me: Student, running: ClassLesson, task: LabTask, lab: str) -> None:
    """Once per step and lab: the step's prompt, sweep or configurations, or topic, in the lab's form
    (the student's edits after that are theirs)."""
    done = Lesson.prefilled(lab)
    if task.lab != lab or done.get() == running.question_key:
        return
    done.set(running.question_key)
    if lab == "decoding":
        prefill_decoding(me, task)
    elif task.topic:
        AblationForm.TOPIC.set(task.topic)
        kept(AblationForm.TOPIC.key).set(task.topic)


def prefill_decoding(me: Student, task: LabTask) -> None:
    """The decoding page's form (state.DecodingForm): its prompt, its sweep choice, and the rows of the
    table it draws for that sweep and the student's seed."""
    if task.prompt:
        DecodingForm.PROMPT.set(task.prompt)
        kept(DecodingForm.PROMPT.key).set(task.prompt)
    sweep = task.sweep or "presets"
    DecodingForm.SWEEP.set(tr(f"sweep.{sweep}"))
    DecodingForm.SWEEP_NAME.set(sweep)
    seed = DecodingForm.SEED.get_or(kept(DecodingForm.SEED.key).get_or(default_seed(me)))
    editor = DecodingForm.editor(sweep, seed)
    Slot(editor).pop()  # the table's own widget state: drawn anew from the rows below
    kept_base_slot(editor).pop()
    kept_rows_slot(editor).pop()
    if task.configs:
        kept_rows_slot(editor).set([
            {c: math.nan if config.get(c) is None else config.get(c) for c in DECODING_COLUMNS}
            for config in task.configs])
