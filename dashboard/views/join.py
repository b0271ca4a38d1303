"""Join a class with a display name and the class code the instructor gave, or get back in with a rejoin code."""

import streamlit as st

from dashboard.auth import client, forget_student, get_secret, join_knock, remember_student, student
from dashboard.common import get_store, lang, redis_ok, tr
from dashboard.lesson_step import lesson_pointer
from dashboard.state import SignIn
from shared.contract.problems import Problem
from shared.services.classes import join_class, rejoin_class
from shared.services.roster import current_rejoin_code

st.header(tr("join.header"))
store = get_store()
if not redis_ok(store):
    st.stop()

joined = student()
if joined:
    st.success(tr("join.joined", code=joined.code, name=joined.label))
    lesson_pointer(store, joined)  # what to do now: the class's current step, and a link to it
    st.info(tr("join.rejoin_code", rejoin=current_rejoin_code(store, get_secret(), joined.code, joined.id)))
    if st.button(tr("join.leave"), key="leave"):
        forget_student()
        st.rerun()
    st.stop()
removed_from = SignIn.REMOVED_FROM.pop()
if removed_from:
    st.warning(tr("join.removed", code=removed_from))


def show(invalid: Problem.Invalid) -> None:
    for message in invalid.messages(lang()):
        st.error(message)


with st.form("join"):
    name = st.text_input(tr("join.name"), max_chars=40, key="join-name")
    code = st.text_input(tr("join.class_code"), max_chars=24, key="join-class")
    submitted = st.form_submit_button(tr("join.submit"), key="join")
if submitted:
    try:
        remember_student(join_class(store, code, name, knock=join_knock()))
        st.rerun()
    except Problem.Invalid as invalid:
        show(invalid)

with st.expander(tr("join.rejoin_header")):
    with st.form("rejoin"):
        again_code = st.text_input(tr("join.rejoin_class"), max_chars=24, key="rejoin-class")
        again = st.text_input(tr("join.rejoin_input"), max_chars=40, key="rejoin-code")
        back = st.form_submit_button(tr("join.rejoin_submit"), key="rejoin")
    if back:
        try:
            remember_student(rejoin_class(store, get_secret(), again_code, again, client()))
            st.rerun()
        except Problem.Invalid as invalid:
            show(invalid)
