"""Instructor console: classes, who joined, queue and workers, failed submissions, exports."""

import pandas as pd
import streamlit as st
from rq import Queue

from dashboard.common import get_settings, get_store, instructor, lang, log_in, log_out, redis_ok, tr
from shared.classes import close_class, list_classes, open_class
from shared.moderation import (export_csv, export_json, export_rows, failed_submissions, requeue_failed,
                               students_overview)
from shared.problems import Problem
from shared.workers import live_workers, served_models

st.header(tr("instructor.header"))
store, settings = get_store(), get_settings()
if not settings.instructor_password:
    st.warning(tr("instructor.no_password"))
    st.stop()
if not redis_ok(store):
    st.stop()

token = instructor()
if not token:
    with st.form("login"):
        password = st.text_input(tr("instructor.password"), type="password")
        if st.form_submit_button(tr("instructor.login")):
            attempt = log_in(password)
            if attempt.token:
                st.rerun()
            if attempt.wait_seconds:
                st.error(tr("instructor.login_wait", seconds=attempt.wait_seconds))
            else:
                st.error(tr("instructor.wrong_password"))
    st.stop()

st.success(tr("instructor.logged_in"))
if st.button(tr("instructor.logout")):
    log_out()
    st.rerun()
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
    with st.expander(tr("instructor.class_row", code=row["code"], students=row["students"], outputs=row["outputs"],
                        state=state)):
        st.text(tr("instructor.students", code=row["code"]))
        st.dataframe(pd.DataFrame(students_overview(store, row["code"])), hide_index=True)
        rows = export_rows(store, settings, token, row["code"])
        left, middle, right = st.columns(3)
        left.download_button(tr("instructor.export_csv", code=row["code"]), export_csv(rows),
                             file_name=f"decodelab-{row['code']}.csv", mime="text/csv", key=f"csv-{row['code']}")
        middle.download_button(tr("instructor.export_json", code=row["code"]), export_json(rows),
                               file_name=f"decodelab-{row['code']}.json", mime="application/json",
                               key=f"json-{row['code']}")
        if row["open"] and right.button(tr("instructor.close", code=row["code"]), key=f"close-{row['code']}"):
            close_class(store, row["code"])
            st.rerun()

st.subheader(tr("instructor.workers"))
workers = live_workers(store)
if workers:
    st.dataframe(pd.DataFrame(workers)[["name", "host", "model", "device", "dtype", "tokens_per_s", "in_flight",
                                        "max_batch"]], hide_index=True)
else:
    st.info(tr("instructor.no_workers"))
for model in sorted(set(served_models(store)) | {settings.model}):
    queue = Queue(settings.queue_name(model), connection=store.redis)
    st.text(f"{model} · " + tr("instructor.queue", queued=queue.count, running=queue.started_job_registry.count,
                               failed=queue.failed_job_registry.count))
    failed = failed_submissions(store, settings, model)
    if failed:
        st.text(tr("instructor.failed"))
        st.dataframe(pd.DataFrame([{"student": f["request"]["student"], "lab": f["request"]["lab"],
                                    "error": Problem.from_dict(f["error"]).message(lang())
                                    if f["error"] else "?"} for f in failed]), hide_index=True)
        if st.button(tr("instructor.requeue", model=model), key=f"requeue-{model}"):
            st.success(tr("instructor.requeued", count=requeue_failed(store, settings, token, model)))
