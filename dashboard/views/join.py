"""Join a class with a display name and the class code the instructor gave, or get back in with a rejoin code."""

import streamlit as st

from dashboard.common import (
    browser,
    forget_student,
    get_secret,
    get_store,
    lang,
    redis_ok,
    remember_student,
    student,
    tr,
)
from dashboard.lesson_step import lesson_pointer
from shared.contract.problems import Problem
from shared.services.classes import join_class, normalize_code, student_of
from shared.services.sessions import rejoin_code, rejoin_student_id

st.header(tr("join.header"))
store = get_store()
if not redis_ok(store):
    st.stop()

joined = student()
if joined:
    st.success(tr("join.joined", code=joined.code, name=joined.label))
    lesson_pointer(store, joined)  # what to do now: the class's current step, and a link to it
    st.info(tr("join.rejoin_code", rejoin=rejoin_code(get_secret(), joined.code, joined.id)))
    if st.button(tr("join.leave")):
        forget_student()
        st.rerun()
    st.stop()

with st.form("join"):
    name = st.text_input(tr("join.name"), max_chars=40)
    code = st.text_input(tr("join.class_code"), max_chars=24)
    submitted = st.form_submit_button(tr("join.submit"))
if submitted:
    try:
        remember_student(join_class(store, code, name, browser()))
        st.rerun()
    except Problem.Invalid as invalid:
        for message in invalid.messages(lang()):
            st.error(message)

with st.expander(tr("join.rejoin_header")):
    with st.form("rejoin"):
        again_code = st.text_input(tr("join.rejoin_class"), max_chars=24, key="rejoin-class")
        again = st.text_input(tr("join.rejoin_input"), max_chars=40, key="rejoin-code")
        back = st.form_submit_button(tr("join.rejoin_submit"))
    if back:
        code = normalize_code(again_code)
        student_id = rejoin_student_id(get_secret(), code, again)
        found = student_of(store, code, student_id) if student_id else None
        if found:
            remember_student(found)
            st.rerun()
        st.error(Problem("bad_rejoin_code").message(lang()))
