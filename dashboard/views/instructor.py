"""Instructor console: log in with the password from the environment, open and close classes."""

import streamlit as st
from rq import Queue

from dashboard.common import check_password, get_settings, get_store, is_instructor, redis_ok, tr
from shared.classes import close_class, list_classes, open_class
from shared.problems import Problem
from shared.workers import served_models

st.header(tr("instructor.header"))
store, settings = get_store(), get_settings()
if not settings.instructor_password:
    st.warning(tr("instructor.no_password"))
    st.stop()
if not redis_ok(store):
    st.stop()

if not is_instructor():
    with st.form("login"):
        password = st.text_input(tr("instructor.password"), type="password")
        if st.form_submit_button(tr("instructor.login")):
            if check_password(password):
                st.session_state.instructor = True
                st.rerun()
            st.error(tr("instructor.wrong_password"))
    st.stop()

st.success(tr("instructor.logged_in"))
with st.form("new_class", clear_on_submit=True):
    new_code = st.text_input(tr("instructor.new_class"), max_chars=24)
    if st.form_submit_button(tr("instructor.create")):
        try:
            st.success(tr("instructor.created", code=open_class(store, new_code)))
        except Problem.Invalid:
            st.error(tr("instructor.bad_code"))

st.subheader(tr("instructor.classes"))
for row in list_classes(store):
    state = tr("instructor.open") if row["open"] else tr("instructor.closed")
    left, middle, right = st.columns([4, 1, 1])
    left.text(tr("instructor.class_row", code=row["code"], students=row["students"], outputs=row["outputs"],
                 state=state))
    if middle.button(tr("nav.gallery"), key=f"gallery-{row['code']}"):
        st.session_state.gallery_class = row["code"]
    if row["open"] and right.button(tr("instructor.close", code=row["code"]), key=f"close-{row['code']}"):
        close_class(store, row["code"])
        st.rerun()

for model in sorted(set(served_models(store)) | {settings.model}):
    queue = Queue(settings.queue_name(model), connection=store.redis)
    st.text(f"{model} · " + tr("instructor.queue", queued=queue.count, running=queue.started_job_registry.count,
                               failed=queue.failed_job_registry.count))
