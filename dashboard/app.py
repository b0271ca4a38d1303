"""Decoding Lab dashboard: `streamlit run dashboard/app.py` (started for you by `make run`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `shared` and `dashboard` importable

import streamlit as st  # noqa: E402

from dashboard.common import language_picker, restore_session, student, tr  # noqa: E402

st.set_page_config(page_title="Decoding Lab", page_icon="🔤", layout="wide")
restore_session()  # a reload, a second tab or a restarted dashboard: still signed in (shared/sessions.py)
language_picker()
views = Path(__file__).parent / "views"
pages = [
    st.Page(views / "join.py", title=tr("nav.join"), icon="🚪", default=student() is None),
    st.Page(views / "decoding.py", title=tr("nav.decoding"), icon="🎛️", default=student() is not None),
    st.Page(views / "ablation.py", title=tr("nav.ablation"), icon="✂️"),
    st.Page(views / "gallery.py", title=tr("nav.gallery"), icon="🖼️"),
    st.Page(views / "instructor.py", title=tr("nav.instructor"), icon="🧑‍🏫"),
]
st.navigation(pages).run()
