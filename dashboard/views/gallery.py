"""The class gallery: every output of the class, grouped by effective configuration, newest first."""

import streamlit as st

from dashboard.common import get_store, is_instructor, redis_ok, student, tr
from dashboard.widgets import output_card

PER_GROUP = 12  # outputs shown per group; the newest ones

store = get_store()
joined = student()
if joined:
    code = joined[0]
elif is_instructor():
    code = st.session_state.get("gallery_class") or ""
else:
    st.header(tr("nav.gallery"))
    st.info(tr("join.need"))
    st.stop()
st.header(tr("gallery.header", code=code))
if not redis_ok(store):
    st.stop()


@st.fragment(run_every=3.0)
def gallery(code: str) -> None:
    """Polled every three seconds, so new results appear without reloading."""
    st.caption(tr("gallery.pending", count=store.pending_count(code)))
    groups = store.gallery_groups(code)
    if not groups:
        st.info(tr("gallery.empty"))
        return
    for group in groups:
        with st.expander(tr("gallery.group", label=group["label"], count=group["count"]), expanded=True):
            for output in store.group_outputs(code, group["key"], limit=PER_GROUP):
                output_card(output, show_student=True)


gallery(code)
