"""Instructor console: classes, who joined, queue and workers (live), failed submissions, exports."""

import time

import pandas as pd
import streamlit as st
from rq import Queue

from dashboard import poll
from dashboard.auth import instructor, log_in, log_out
from dashboard.common import get_settings, get_store, lang, redis_ok, tr
from dashboard.lesson_console import lesson_console
from dashboard.roster_console import keeps_open, roster_section
from dashboard.state import Console, SignIn
from dashboard.widgets import readable_table
from shared.contract.problems import Problem
from shared.services.classes import ClassRow, close_class, list_classes, open_class
from shared.services.moderation import (
    export_csv,
    export_json,
    export_rows,
    failed_submissions,
    requeue_failed,
)
from shared.services.retention import deletion_time
from shared.services.workers import console_rows, live_workers, served_models

LAB_NAMES = {"decoding": "nav.decoding", "ablation": "nav.ablation"}  # else the explorer's one forward pass
WORKER_COLUMNS = ("name", "host", "model", "device", "in_flight", "tokens_per_s", "max_batch", "seen_s")

st.header(tr("instructor.header"))
store, settings = get_store(), get_settings()
if not settings.instructor_password:
    st.warning(tr("instructor.no_password"))
    st.stop()
if not redis_ok(store):
    st.stop()

token = instructor()
if not token:
    if SignIn.LOGGED_OUT.pop():
        st.info(tr("instructor.logged_out"))
    with st.form("login"):
        password = st.text_input(tr("instructor.password"), type="password", max_chars=settings.max_prompt_chars,
                                 key="password")
        if st.form_submit_button(tr("instructor.login"), key="login"):
            attempt = log_in(password)
            if attempt.token:
                st.rerun()
            if attempt.wait_seconds:
                st.error(tr("instructor.login_wait", seconds=attempt.wait_seconds))
            else:
                st.error(tr("instructor.wrong_password"))
    st.stop()

st.success(tr("instructor.logged_in"))
if st.button(tr("instructor.logout"), key="logout"):
    log_out()  # revoked server-side: this URL, in the history too, opens nothing more
    SignIn.LOGGED_OUT.set(True)
    st.rerun()
with st.form("new_class", clear_on_submit=True):
    new_code = st.text_input(tr("instructor.new_class"), max_chars=24, key="new-class")
    if st.form_submit_button(tr("instructor.create"), key="create-class"):
        try:
            st.success(tr("instructor.created", code=open_class(store, new_code)))
        except Problem.Invalid:
            st.error(tr("instructor.bad_code"))


def open_or_close(row: ClassRow, column) -> None:
    """Closing asks first (students of the class can no longer join or submit); reopening does not."""
    code = row.code
    if not row.info.open:
        if column.button(tr("instructor.reopen", code=code), key=f"reopen-{code}"):
            open_class(store, code)
            st.rerun()
        return
    if Console.CONFIRM_CLOSE.get() != code:
        if column.button(tr("instructor.close", code=code), key=f"close-{code}"):
            Console.CONFIRM_CLOSE.set(code)
            st.rerun()
        return
    st.warning(tr("instructor.close_confirm", code=code))
    yes, no = st.columns(2)
    if yes.button(tr("instructor.close_yes", code=code), key=f"close-yes-{code}", type="primary"):
        close_class(store, code)
        Console.CONFIRM_CLOSE.pop()
        st.rerun()
    if no.button(tr("instructor.close_no"), key=f"close-no-{code}"):
        Console.CONFIRM_CLOSE.pop()
        st.rerun()


def class_section(row: ClassRow) -> None:
    state = tr("instructor.open") if row.info.open else tr("instructor.closed")
    with st.expander(tr("instructor.class_row", code=row.code, students=row.students, outputs=row.outputs,
                        state=state), expanded=Console.CONFIRM_CLOSE.get() == row.code
                     or keeps_open(row.code)):
        roster_section(store, settings, token, row.code)  # who is in, lock, size, remove (dashboard/roster_console.py)
        rows = export_rows(store, settings, token, row.code)
        deleted_at = deletion_time(row.info, settings)  # offered the export before the data goes
        if deleted_at:
            st.caption(tr("instructor.retention", date=time.strftime("%Y-%m-%d", time.localtime(deleted_at)),
                          days=settings.retention_days))
        left, middle, right = st.columns(3)
        left.download_button(tr("instructor.export_csv", code=row.code), export_csv(rows),
                             file_name=f"decodelab-{row.code}.csv", mime="text/csv", key=f"csv-{row.code}")
        middle.download_button(tr("instructor.export_json", code=row.code), export_json(rows),
                               file_name=f"decodelab-{row.code}.json", mime="application/json",
                               key=f"json-{row.code}")
        open_or_close(row, right)


st.subheader(tr("instructor.classes"))
for class_row in list_classes(store):
    class_section(class_row)


def workers_table(workers: list[dict]) -> None:
    frame = pd.DataFrame(console_rows(workers), columns=list(WORKER_COLUMNS))
    st.dataframe(readable_table(frame.rename(columns={c: tr(f"col.worker.{c}") for c in WORKER_COLUMNS})),
                 hide_index=True)


def queue_section(model: str) -> bool:
    """One model's queue line and failed submissions; True when something is queued or running."""
    queue = Queue(settings.queue_name(model), connection=store.redis)
    queued, running = queue.count, queue.started_job_registry.count
    failed = failed_submissions(store, settings, model)  # not the ones their students cancelled
    st.text(tr("instructor.model_queue", model=model, queued=queued, running=running, failed=len(failed)))
    if failed:
        st.text(tr("instructor.failed"))
        st.dataframe(pd.DataFrame([{tr("col.student"): f.request.student, tr("gallery.lab"): tr(LAB_NAMES.get(f.request.lab, "explorer.header")),
                                    tr("col.error"): f.error.message(lang()) if f.error else "?"}
                                   for f in failed]), hide_index=True)
        if st.button(tr("instructor.requeue", model=model), key=f"requeue-{model}"):
            st.success(tr("instructor.requeued", count=requeue_failed(store, settings, token, model)))
    return bool(queued or running)


def live_status(busy: bool) -> poll.Pace:
    """Workers and queues as of now, redrawn quickly while anything is queued or running, slowly when the
    class is idle (a few Redis reads), so the numbers on the projector are never a stale snapshot; when
    the class turns busy or idle, the page reruns to poll at the other pace."""
    st.caption(tr("instructor.live", seconds=int(poll.CONSOLE[busy]), time=time.strftime("%H:%M:%S")))
    workers = live_workers(store)
    if workers:
        workers_table(workers)
    else:
        st.info(tr("instructor.no_workers"))
    models = sorted(set(served_models(store)) | {settings.model})
    now_busy = any([queue_section(model) for model in models]) or any(w.in_flight for w in workers)
    Console.BUSY.set(now_busy)
    return poll.CONSOLE[now_busy]


lesson_console(store, settings, token)  # the lesson the instructor leads (dashboard/lesson_console.py)

st.subheader(tr("instructor.workers"))
busy_now = Console.BUSY.get_or(False)
poll.poll(poll.CONSOLE[busy_now], live_status, busy_now)
