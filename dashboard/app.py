"""Decoding Lab dashboard: `streamlit run dashboard/app.py` (started for you by `make run`)."""

from pathlib import Path

import streamlit as st

from dashboard.common import SESSION_PARAM, instructor, language_picker, restore_session, student, tr, warm_up
from dashboard.metrics import dashboard_metrics

st.set_page_config(page_title="Decoding Lab", page_icon=":material/text_fields:", layout="wide")
warm_up()
dashboard_metrics()  # /metrics of this process, started once (docs/operations.md)
restore_session()  # a reload, a second tab or a restarted dashboard: still signed in (shared/services/sessions.py)
joined = student() is not None
views = Path(__file__).parent / "views"
# Material Symbols ship with Streamlit's frontend: emoji icons need an emoji font, which classroom
# Linux machines and projector PCs often lack (they showed as empty boxes in headless chromium).
pages = [
    st.Page(views / "join.py", title=tr("nav.join"), icon=":material/login:", default=not joined),
    st.Page(views / "decoding.py", title=tr("nav.decoding"), icon=":material/tune:", default=joined),
    st.Page(views / "ablation.py", title=tr("nav.ablation"), icon=":material/content_cut:"),
    st.Page(views / "gallery.py", title=tr("nav.gallery"), icon=":material/photo_library:"),
    st.Page(views / "instructor.py", title=tr("nav.instructor"), icon=":material/school:"),
    st.Page(views / "present.py", title=tr("nav.present"), icon=":material/slideshow:", url_path="present"),
]
current = st.navigation(pages, position="hidden")
# Our own links carry the session token: Streamlit's navigation drops query parameters, and after a
# dashboard dies the first thing a student does may be a click to another page on a new server.
session = {SESSION_PARAM: st.query_params[SESSION_PARAM]} if SESSION_PARAM in st.query_params else None
for page in pages[:-1] if instructor() is None else pages:  # presentation mode: the instructor's
    st.sidebar.page_link(page, query_params=session)
st.sidebar.divider()
language_picker()
current.run()
