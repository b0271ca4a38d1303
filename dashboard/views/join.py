"""Join a class with a display name and the class code the instructor gave."""

import streamlit as st

from dashboard.common import get_store, redis_ok, remember_student, student, tr
from shared.classes import join_class
from shared.problems import Problem

st.header(tr("join.header"))
store = get_store()
if not redis_ok(store):
    st.stop()

joined = student()
if joined:
    st.success(tr("join.joined", code=joined[0], name=joined[1]))
    if st.button(tr("join.leave")):
        for key in ("class_code", "student", "membership", "current_submission"):
            st.session_state.pop(key, None)
        st.rerun()
    st.stop()

with st.form("join"):
    name = st.text_input(tr("join.name"), max_chars=40)
    code = st.text_input(tr("join.class_code"), max_chars=24)
    submitted = st.form_submit_button(tr("join.submit"))
if submitted:
    try:
        remember_student(*join_class(store, code, name))
        st.rerun()
    except Problem.Invalid as invalid:
        for message in invalid.messages(st.session_state.lang):
            st.error(message)
