"""Every text a browser can type into the dashboard is capped, and no page shows a Redis password
(issue 20: F11, F12). AppTest against the real Redis, every page under dashboard/views/."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from devtools.factories import make_output, store_outputs
from tests.conftest import TEST_CLASS
from tests.test_dashboard import app_env  # noqa: F401 - the fixture: env pointed at the test Redis, XSRF off (AppTest has no cookie)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
PAGES = sorted(f"views/{path.name}" for path in (ROOT / "dashboard" / "views").glob("*.py"))


def text_boxes(app: AppTest) -> list:
    return [*app.text_input, *app.text_area]


def every_page(app: AppTest) -> list:
    """The text boxes of every page, as `app`'s session sees them."""
    boxes = []
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, (page, app.exception)
        boxes += [(page, box) for box in text_boxes(app)]
    return boxes


def test_every_text_box_of_every_page_has_a_cap(app_env, settings, store):
    """F11: Streamlit keeps what a browser sends (25 MB a message by default) unless the widget has
    `max_chars`, which it enforces on the server too. Seen as a newcomer, a student and the instructor."""
    store_outputs(store, [make_output(1, TEST_CLASS, student="bea")])  # the gallery has a card to comment on
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state.lang = "en"
    app.run()
    seen = every_page(app)
    app.switch_page("views/join.py").run()
    name, code = app.text_input(key="join-name"), app.text_input(key="join-class")
    name.input("ana")
    code.input(TEST_CLASS)
    app.button(key="join").click().run()
    assert app.session_state.class_code == TEST_CLASS
    seen += every_page(app)
    app.switch_page("views/instructor.py").run()
    app.text_input(key="password").input(settings.instructor_password)
    app.button(key="login").click().run()
    assert app.session_state.instructor_token
    seen += every_page(app)
    labels = {box.label for _, box in seen}
    assert {"Prompt", "Password"} <= labels and any("variant" in label.lower() for label in labels), labels
    uncapped = [(page, box.label) for page, box in seen
                if not box.max_chars or box.max_chars > settings.max_prompt_chars]
    assert not uncapped, uncapped


def test_no_page_shows_the_redis_password_when_redis_is_down(app_env, monkeypatch):
    """F12: the "cannot reach Redis" line every page shows names the server, not its password, in
    whichever way the URL carries it."""
    for url in ("redis://127.0.0.1:1/0?password=s3cr3t-pw", "redis://:s3cr3t-pw@127.0.0.1:1/0"):
        monkeypatch.setenv("REDIS_URL", url)
        st.cache_resource.clear()
        app = AppTest.from_file(APP, default_timeout=60)
        app.session_state.lang = "en"
        app.run()
        shown = [m.value for m in [*app.error, *app.warning]]
        assert any("Cannot reach Redis" in m and "127.0.0.1:1" in m for m in shown), shown
        assert not any("s3cr3t" in m for m in shown), shown
