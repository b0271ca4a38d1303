"""Decoding Lab dashboard: `streamlit run dashboard/app.py` (started for you by `make run`)."""

from pathlib import Path

import streamlit as st

from dashboard.auth import instructor, restore_session, save_session, session_params, student
from dashboard.common import lang, tr, warm_up
from dashboard.metrics import dashboard_metrics
from dashboard.state import Language

LANGUAGES = {"Español": "es", "English": "en"}  # plain options: AppTest cannot drive a format_func


def language_picker() -> None:
    current = lang()
    choice = st.sidebar.radio(tr("app.language"), list(LANGUAGES), index=list(LANGUAGES.values()).index(current),
                              horizontal=True, key=Language.PICKER.key)
    if LANGUAGES[choice] != current:
        Language.LANG.set(LANGUAGES[choice])
        save_session()
        st.rerun()


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
# Our own links carry the session token (auth.session_params says why).
session = session_params()
for page in pages[:-1] if instructor() is None else pages:  # presentation mode: the instructor's
    st.sidebar.page_link(page, query_params=session)
st.sidebar.divider()
language_picker()
current.run()
