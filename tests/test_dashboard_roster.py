"""The roster in the instructor console, the join page's answers, and sign-ins that end (AppTest, real Redis)."""

import time

from streamlit.testing.v1 import AppTest

from shared.services.classes import join_class
from shared.services.roster import on_roster
from tests.conftest import TEST_CLASS
from tests.test_dashboard import APP, app_env, joined_app, new_app  # noqa: F401 - app_env is a fixture


def console(settings, lang="en") -> AppTest:
    app = new_app(lang)
    app.switch_page("views/instructor.py").run()
    app.text_input(key="password").input(settings.instructor_password)
    app.button(key="login").click().run()
    return app


def button(app, label):
    return [b for b in app.button if b.label == label][0]


def reopen(token: str, page: str = "views/instructor.py") -> AppTest:
    """A new browser session opening `token`'s URL (a reload, or the browser's history)."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["session"] = token
    app.run()
    app.switch_page(page).run()
    return app


def test_the_instructor_locks_joining_and_sets_the_expected_size(app_env, store, settings):
    app = console(settings)
    button(app, "Lock joining").click().run()
    assert any("Joining locked" in w.value for w in app.warning)
    student = joined_app(name="Late", lang="en")
    assert "student" not in student.session_state
    assert any("closed to new students" in e.value for e in student.error)
    button(app, "Unlock joining").click().run()
    app.number_input(key=f"expected-size-{TEST_CLASS}").set_value(1)
    button(app, "Save size").click().run()
    assert "expected size: 1" in " ".join(c.value for c in app.caption)
    assert joined_app(name="First").session_state.student_label == "First"
    second = joined_app(name="Second", lang="es")
    assert any("ya tiene los 1 estudiantes" in e.value for e in second.error)


def test_the_instructor_removes_a_student_whose_session_then_ends(app_env, store, settings):
    eve = joined_app(name="Eve", lang="en")
    join_class(store, TEST_CLASS, "Ana")
    app = console(settings)
    roster = [d.value for d in app.dataframe if "id" in d.value.columns][0]
    assert list(roster["student"]) == ["Eve", "Ana"] and list(roster["id"]) == ["s1", "s2"]
    app.selectbox(key=f"roster-pick-{TEST_CLASS}").select("Eve (s1)").run()
    button(app, "Remove from the class").click().run()
    assert any("Remove Eve from the class?" in w.value for w in app.warning)
    assert on_roster(store, TEST_CLASS, "s1")  # nothing happens before the confirmation
    button(app, "Yes, remove").click().run()
    assert any("1 student(s) removed" in s.value for s in app.success)
    assert not on_roster(store, TEST_CLASS, "s1")
    token = eve.query_params["session"]
    eve.run()  # her open page, at its next run
    assert "student" not in eve.session_state
    assert any("removed you from class" in w.value for w in eve.warning)
    assert "student" not in reopen(token, "views/join.py").session_state  # her URL, reopened


def test_bulk_removal_asks_with_the_names_then_removes_the_recent_joins(app_env, store, settings):
    for name in ("bot1", "bot2", "bot3"):
        join_class(store, TEST_CLASS, name)
    app = console(settings)
    button(app, "Remove the 3 who joined in the last 10 min").click().run()
    assert any("Remove bot1, bot2, bot3 from the class?" in w.value for w in app.warning)
    join_class(store, TEST_CLASS, "latecomer")  # joined after the question: not in the answer
    button(app, "Yes, remove").click().run()
    assert [on_roster(store, TEST_CLASS, f"s{i}") for i in (1, 2, 3, 4)] == [False, False, False, True]
    assert any("Removed from the class: bot1, bot2, bot3" in c.value for c in app.caption)


def test_a_new_rejoin_code_is_shown_to_the_instructor_and_to_the_student(app_env, store, settings):
    student = joined_app(name="Ana", lang="en")
    app = console(settings)
    button(app, "New rejoin code").click().run()
    fresh = [s.value for s in app.success if "new rejoin code" in s.value][0].split(": ")[1].split(" ")[0]
    student.run()
    assert any(fresh in i.value for i in student.info)


def test_the_join_page_explains_a_malformed_rejoin_code(app_env, store):
    app = new_app("en")
    app.text_input(key="rejoin-class").input(TEST_CLASS)
    app.text_input(key="rejoin-code").input("²-AAAAAAAA")
    button(app, "Get back in").click().run()
    assert not app.exception
    assert any("looks like 17-K3QZ7M2A" in e.value for e in app.error)


def test_a_token_used_after_logout_gets_nothing(app_env, store, settings):
    app = console(settings)
    token = app.query_params["session"]
    assert reopen(token).session_state.instructor_token  # before logging out: the URL opens the console
    button(app, "Log out").click().run()
    assert any("no longer works" in i.value for i in app.info)
    after = reopen(token)
    assert "instructor_token" not in after.session_state
    assert any(t.label == "Contraseña" for t in after.text_input)  # the login form (and the default language)


def test_a_sign_in_ends_at_its_maximum_lifetime_however_often_it_is_renewed(app_env, store, settings, monkeypatch):
    monkeypatch.setenv("DECODELAB_INSTRUCTOR_SESSION_HOURS", "1")
    import streamlit as st
    st.cache_resource.clear()
    app = console(settings)
    expires = app.session_state.sign_in["expires"]
    assert time.time() + 3500 < expires <= time.time() + 3600
    app.switch_page("views/gallery.py").run()
    assert app.session_state.sign_in["expires"] == expires  # not stretched by use
    app.session_state.sign_in = {**app.session_state.sign_in, "expires": time.time() - 1}  # an hour later
    app.switch_page("views/instructor.py").run()
    assert "instructor_token" not in app.session_state


def test_a_student_who_leaves_ends_their_sign_in_for_every_url_of_it(app_env, store):
    app = joined_app(name="Sol", lang="en")
    token = app.query_params["session"]
    assert reopen(token, "views/join.py").session_state.student_label == "Sol"
    button(app, "Leave").click().run()
    assert "student" not in app.session_state
    assert "student" not in reopen(token, "views/join.py").session_state  # the shared PC's next user
