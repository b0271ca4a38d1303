"""The dashboard's pages in Streamlit's AppTest, against the real Redis and a real worker process."""

import threading
import time
from pathlib import Path

import pytest
import streamlit as st
from rq import Queue
from streamlit import config
from streamlit.testing.v1 import AppTest

from shared.contract.records import PartialText
from shared.services.classes import open_class
from shared.services.gallery import publish
from tests.conftest import TEST_CLASS, settings_env

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture
def app_env(settings, store, monkeypatch):
    for name, value in settings_env(settings).items():
        if name.startswith(("REDIS_URL", "DECODELAB_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("DECODELAB_DEMO_CLASS", "")
    st.cache_resource.clear()
    # AppTest has no browser and so no `_streamlit_xsrf` cookie: it is a server with XSRF protection off,
    # where joining needs no cookie (tests/test_proxy.py runs the cookie check in a real server).
    xsrf = config.get_option("server.enableXsrfProtection")
    config.set_option("server.enableXsrfProtection", False)
    yield
    config.set_option("server.enableXsrfProtection", xsrf)
    st.cache_resource.clear()


def new_app(lang="es") -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state.lang = lang
    return app.run()


def joined_app(name="ana", code=TEST_CLASS, lang="es") -> AppTest:
    app = new_app(lang)
    app.text_input(key="join-name").input(name)
    app.text_input(key="join-class").input(code)
    app.button(key="join").click().run()
    return app


def texts(app) -> list[str]:
    return [t.value for t in app.text]


def test_join_refuses_an_unknown_class_and_accepts_an_open_one(app_env):
    app = joined_app(code="no-such-class")
    assert "class_code" not in app.session_state
    assert any("código de clase" in e.value for e in app.error)
    app = joined_app(name="  Ana  ")
    assert app.session_state.class_code == TEST_CLASS and app.session_state.student_label == "Ana"
    assert not app.exception


def test_decoding_page_needs_a_class_then_offers_the_notebook(app_env):
    app = new_app("en")
    app.switch_page("views/decoding.py").run()
    assert any("First join a class" in i.value for i in app.info)
    app = joined_app(lang="en")
    app.switch_page("views/decoding.py").run()
    assert app.text_area(key="prompt").value == "In a distant future, humans and AI"
    assert any("No worker is ready" in w.value for w in app.warning)


def test_bad_input_shows_a_message_in_the_students_language_and_enqueues_nothing(app_env, settings, connection):
    for lang, expected in (("es", "vacío"), ("en", "empty")):
        app = joined_app(lang=lang)
        app.switch_page("views/decoding.py").run()
        app.text_area(key="prompt").input("   ")
        app.button(key="run").click().run()
        assert any(expected in e.value for e in app.error), [e.value for e in app.error]
        assert "current_submission" not in app.session_state
    assert Queue(settings.queue_name(), connection=connection).count == 0


def test_whole_path_dashboard_to_worker_to_gallery(app_env, settings, store, connection, workers):
    app = joined_app(name="ana")
    app.switch_page("views/decoding.py").run()
    app.button(key="run").click().run()
    submission = app.session_state.current_submission
    assert Queue(settings.queue_name(), connection=connection).get_job_ids() == [submission]
    assert any("posición 1 de 1" in i.value for i in app.info)
    assert workers.start("--burst").wait(timeout=180) == 0, workers.log()
    app.run()
    outputs = store.submission_outputs(submission)
    assert len(outputs) == 3 and not app.exception
    shown = texts(app)
    assert all(o.text.strip() in shown for o in outputs)  # st.text trims the leading space
    assert "sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1 · 80 tok · random-tiny" in shown
    app.switch_page("views/gallery.py").run()
    assert all(o.text.strip() in texts(app) for o in outputs)
    groups = [d.value for d in app.dataframe if "configuración" in d.value.columns][0]
    assert len(groups) == 3 and list(groups["salidas"]) == [1, 1, 1]


def test_model_output_is_shown_as_plain_text_never_markdown(app_env, settings, store):
    from devtools.factories import make_output, store_outputs

    output = make_output(0, TEST_CLASS, student="<b>eve</b>", text="**bold** <script>alert(1)</script>",
                         model="random-tiny")
    store_outputs(store, [output])
    app = joined_app()
    app.switch_page("views/gallery.py").run()
    assert output.text.strip() in texts(app)
    assert not any("<script>" in m.value for m in app.markdown)
    assert any("<b>eve</b>" in t for t in texts(app))


def test_control_and_bidirectional_characters_in_model_text_are_shown_as_a_mark(app_env, settings, store):
    """A model's text can hold a terminal escape, a bell or a right-to-left override, which would reorder
    the rest of a projected card: the screen shows "�" in their place; the stored text is unchanged."""
    from dashboard.lab_widgets import plain, visible
    from devtools.factories import make_output, store_outputs

    raw = "left \u202eright\u202c \x1b[31mred\x07 tab\tand\nline"
    assert plain(raw) == "left \ufffdright\ufffd \ufffd[31mred\ufffd tab\tand\nline"
    assert visible(" \u2066x\n") == "␣\ufffdx⏎"
    assert plain("¿Qué tal? café – ünïcode ✓ 中文") == "¿Qué tal? café – ünïcode ✓ 中文"  # real text untouched
    output = make_output(0, TEST_CLASS, text=raw, model="random-tiny")
    store_outputs(store, [output])
    app = joined_app()
    app.switch_page("views/gallery.py").run()
    shown = "\n".join(texts(app))
    assert plain(raw) in shown and "\u202e" not in shown and "\x1b" not in shown
    assert store.outputs([output.id])[0].text == raw


def test_instructor_console_is_locked_without_password_and_checks_it(app_env, monkeypatch, store):
    monkeypatch.setenv("DECODELAB_INSTRUCTOR_PASSWORD", "")
    st.cache_resource.clear()
    app = new_app("en")
    app.switch_page("views/instructor.py").run()
    assert any("DECODELAB_INSTRUCTOR_PASSWORD" in w.value for w in app.warning)
    monkeypatch.setenv("DECODELAB_INSTRUCTOR_PASSWORD", "profe-secreto")
    st.cache_resource.clear()
    app = new_app("en")
    app.switch_page("views/instructor.py").run()
    app.text_input(key="password").input("wrong")
    app.button(key="login").click().run()
    assert any("Wrong password" in e.value for e in app.error)
    assert "instructor_token" not in app.session_state
    app.text_input(key="password").input("profe-secreto")
    app.button(key="login").click().run()
    assert len(app.session_state.instructor_token) == 64  # a token derived from the password, not a flag
    app.text_input(key="new-class").input("Clase-Martes")
    [b for b in app.button if b.label == "Create class"][0].click().run()
    assert any("clase-martes" in s.value for s in app.success)
    assert any(e.label.startswith("clase-martes · 0 student(s)") for e in app.expander)


def test_decoding_lab_sweep_token_view_explorer_and_run_again(app_env, settings, store, workers):
    from tests.conftest import wait_for

    workers.start()  # serves every request of this test
    app = joined_app(name="ana", lang="en")
    app.switch_page("views/decoding.py").run()
    app.selectbox(key="sweep").select("Temperature 0.1 / 0.7 / 1.5").run()
    app.button(key="run").click().run()
    submission = app.session_state.current_submission
    wait_for(lambda: store.submission(submission).status == "done", timeout=120, message="the sweep")
    app.run()
    outputs = store.submission_outputs(submission)
    assert [o.effective_config.temperature for o in outputs] == [0.1, 0.7, 1.5]
    shown = texts(app)
    assert any(t.startswith("perplexity ") and "distinct-2" in t for t in shown)
    assert "sampling · T 0.1 · top-k 50 · rep 1.1 · 80 tok · random-tiny" in shown  # effective, plainly
    assert not any("strategy=" in t for t in shown)  # no Python-style dump
    is_token_table = lambda d: list(d.value.columns) == ["token", "p model", "p sampled"]  # noqa: E731
    assert not [d for d in app.dataframe if is_token_table(d)]  # built only when opened
    for toggle in app.toggle:
        toggle.set_value(True)
    app.run()
    token_tables = [d.value for d in app.dataframe if is_token_table(d)]
    assert len(token_tables) == 3  # each token shaded by its probability
    tokens = token_tables[0]
    assert len(tokens) == outputs[0].new_tokens
    assert all(0 < p <= 1 for p in tokens["p model"])
    alternatives = [d.value for d in app.dataframe if list(d.value.columns) == ["token", "p"]]
    assert len(alternatives) == 6 and all(1 <= len(a) <= 5 for a in alternatives)  # top 5 before and after
    assert alternatives[0]["p"].is_monotonic_decreasing

    again = app.button(key=f"again-{outputs[1].id}")  # the second card's "Run again exactly"
    assert again.label == "Run again exactly"
    again.click().run()
    repeat = app.session_state.current_submission
    assert repeat != submission
    wait_for(lambda: store.submission(repeat).status == "done", timeout=60, message="the repeat")
    app.run()
    repeated = store.submission_outputs(repeat)[0]
    assert repeated.cached_from == outputs[1].id and repeated.text == outputs[1].text
    assert any("answered from the cache" in t for t in texts(app))

    [b for b in app.button if b.label == "Compute distribution"][0].click().run()
    explore = app.session_state.explore_id
    wait_for(lambda: store.submission(explore).status == "done", timeout=60, message="the explorer")
    app.run()
    stats = [t for t in texts(app) if t.startswith("tokens kept: ")]
    assert stats and stats[0].startswith("tokens kept: 50 ")  # top_k slider starts at 50
    top_k = [s for s in app.slider if s.label == "top_k"][0]
    top_k.set_value(5).run()
    assert [t for t in texts(app) if t.startswith("tokens kept: ")][0].startswith("tokens kept: 5 ")


def test_ablation_page_shows_variants_runs_them_and_draws_the_matrix(app_env, settings, store, workers):
    from tests.conftest import wait_for

    workers.start()
    app = joined_app(name="ana", lang="en")
    app.switch_page("views/ablation.py").run()
    variants = app.dataframe[0].value
    assert list(variants["variant"]) == ["full", "without_bullets", "without_tone", "topic_only"]
    assert variants["prompt"][3] == "Advantages of using Git in generative AI projects."
    app.multiselect(key="a-extras").select("avoid technical jargon").run()
    assert "only_jargon" in list(app.dataframe[0].value["variant"])
    app.multiselect(key="a-extras").unselect("avoid technical jargon").run()
    [n for n in app.number_input if n.label == "Samples per variant"][0].set_value(2).run()
    [n for n in app.number_input if n.label == "max_new_tokens"][0].set_value(10).run()
    app.button(key="run").click().run()
    submission = app.session_state.ablation_submission
    wait_for(lambda: store.submission(submission).status == "done", timeout=120, message="the ablation run")
    app.run()
    matrix = [d.value for d in app.dataframe if "3 bullets at the end" in d.value.columns][0]
    assert list(matrix["variant"]) == ["full", "without_bullets", "without_tone", "topic_only"]
    assert all(cell.split(" ")[0].endswith("/2") for cell in matrix["3 bullets at the end"])
    assert any(t.startswith(("✔ pass · mentions the topic", "✘ fail · mentions the topic")) for t in texts(app))


def test_students_cannot_reach_another_class_or_instructor_powers_by_editing_their_session(app_env, store, settings):
    from tests.test_gallery import make_output

    open_class(store, "otra-clase")
    from devtools.factories import store_outputs

    store_outputs(store, [make_output(1, text="only for the other class", class_code="otra-clase")])
    app = joined_app(name="eve", lang="en")
    app.session_state.class_code = "otra-clase"  # forged: the membership token was signed for TEST_CLASS
    app.session_state.instructor = True
    app.session_state.instructor_token = "0" * 64
    app.query_params["class"] = "otra-clase"
    app.switch_page("views/gallery.py").run()
    assert "only for the other class" not in texts(app)
    assert any("First join a class" in i.value for i in app.info)
    assert not [b for b in app.button if b.label in ("★ Star", "Hide from students")]
    app.switch_page("views/instructor.py").run()
    assert any(t.label == "Password" for t in app.text_input) and not app.get("download_button")


def test_instructor_stars_hides_and_comments_students_see_the_result(app_env, store, settings):
    from tests.test_gallery import make_output, store_outputs

    store_outputs(store, [make_output(i, text=f"text {i}") for i in range(3)])
    teacher = new_app("en")
    teacher.switch_page("views/instructor.py").run()
    teacher.text_input(key="password").input(settings.instructor_password)
    teacher.button(key="login").click().run()
    assert len(teacher.get("download_button")) == 2  # CSV and JSON of the class
    teacher.switch_page("views/gallery.py").run()
    star = [b for b in teacher.button if b.key == "star-s2:0"][0]
    star.click().run()
    [b for b in teacher.button if b.key == "hide-s1:0"][0].click().run()
    [t for t in teacher.text_input if t.key == "c-s2:0"][0].input("Mirad el bucle")
    [b for b in teacher.button if b.key == "save-s2:0"][0].click().run()
    assert "text 1" in texts(teacher) and "hidden from students" in texts(teacher)

    student = joined_app(name="bob", lang="en")
    student.switch_page("views/gallery.py").run()
    shown = texts(student)
    assert "text 2" in shown and "text 0" in shown and "text 1" not in shown
    assert "★ starred by the instructor" in shown and "✎ Mirad el bucle" in shown
    assert not [b for b in student.button if b.key and b.key.startswith(("star-", "hide-"))]
    assert "ana · seed 2" in shown and "ana · seed 0" not in shown  # the projector view: starred only


def test_a_dashboard_restart_loses_nothing_pending_results_still_arrive(app_env, settings, store, workers):
    from tests.conftest import wait_for

    app = joined_app(name="ana")
    app.switch_page("views/decoding.py").run()
    app.button(key="run").click().run()
    submission = app.session_state.current_submission
    session_token = app.query_params["session"]
    del app  # the dashboard goes away with the student's session; the submission is in Redis
    st.cache_resource.clear()
    workers.start()
    wait_for(lambda: store.submission(submission).status == "done", timeout=120, message="the worker")
    again = new_app()  # a new dashboard process: the student's URL session signs them back in
    again.query_params["session"] = session_token
    again.run()
    again.switch_page("views/decoding.py").run()
    assert again.session_state.current_submission == submission
    outputs = store.submission_outputs(submission)
    assert all(o.text.strip() in texts(again) for o in outputs)


def test_the_demo_class_is_opened_once_and_stays_closed_after_a_restart(app_env, store, monkeypatch):
    from shared.services.classes import close_class, is_open

    monkeypatch.setenv("DECODELAB_DEMO_CLASS", "demo")
    new_app()
    assert is_open(store, "demo")
    close_class(store, "demo")
    st.cache_resource.clear()  # a dashboard restart
    joined = joined_app(code="demo")
    assert not is_open(store, "demo") and "class_code" not in joined.session_state


def test_a_press_that_landed_despite_an_error_is_followed_not_duplicated(app_env, settings, store):
    from shared.contract.decoding import PRESETS
    from shared.services.submit import submit
    from shared.services.validation import build_request

    app = joined_app()
    app.switch_page("views/decoding.py").run()
    landed = build_request(settings, class_code=TEST_CLASS, student="ana", prompt="hello", seed=1,
                           configs=[PRESETS["greedy"].to_dict()], model=settings.model)
    submit(store, settings, landed)  # stored, but the page saw an error (Redis gone at the reply)
    app.session_state.unconfirmed = {"id": landed.id, "key": "current_submission"}
    app.button(key="run").click().run()  # the student presses Run again
    assert app.session_state.current_submission == landed.id
    assert store.student_submissions(TEST_CLASS, "ana") == [landed.id]


def test_a_second_browser_joining_with_the_same_name_is_another_student(app_env, settings, store):
    first = joined_app(name="Ana")
    first.switch_page("views/decoding.py").run()
    first.button(key="run").click().run()
    theirs = first.session_state.current_submission
    second = joined_app(name="Ana")
    assert second.session_state.student != first.session_state.student
    assert second.session_state.student_label == "Ana · 2"
    second.switch_page("views/decoding.py").run()
    assert "current_submission" not in second.session_state  # sees nothing of the first Ana's work
    assert store.student_submissions(TEST_CLASS, first.session_state.student) == [theirs]


def test_a_reload_keeps_the_student_the_instructor_and_the_language(app_env, settings, store):
    app = joined_app(name="Luz", lang="en")
    app.switch_page("views/instructor.py").run()
    app.text_input(key="password").input(settings.instructor_password)
    app.button(key="login").click().run()
    token = app.query_params["session"]
    reloaded = AppTest.from_file(APP, default_timeout=60)  # a reload: a new session, only the URL kept
    reloaded.query_params["session"] = token
    reloaded.run()
    assert reloaded.session_state.student_label == "Luz" and reloaded.session_state.lang == "en"
    reloaded.switch_page("views/instructor.py").run()
    assert len(reloaded.get("download_button")) >= 2  # still the instructor


def test_a_forged_or_expired_session_token_gets_nothing(app_env, settings, store):
    from shared.services.moderation import server_secret
    from shared.services.sessions import Session, issue

    secret = server_secret(store, settings)
    victim = joined_app(name="Vic")
    expired = issue(secret, Session(TEST_CLASS, victim.session_state.student, "Vic", False, "en", 1.0, ""))
    forged = issue(b"guessed-secret", Session(TEST_CLASS, victim.session_state.student, "Vic", True, "en",
                                                 4e9, ""))
    body = victim.query_params["session"].split(".")[0]
    tampered = body[:-3] + "AAA." + victim.query_params["session"].split(".")[1]
    for token in (expired, forged, tampered, "garbage"):
        app = AppTest.from_file(APP, default_timeout=60)
        app.query_params["session"] = token
        app.run()
        assert "student" not in app.session_state and "instructor_token" not in app.session_state, token
        app.switch_page("views/decoding.py").run()
        assert any("primero entra" in i.value.lower() for i in app.info)


def test_the_form_stays_as_the_student_left_it_under_their_results(app_env, settings, store):
    app = joined_app(name="Sol", lang="en")
    app.switch_page("views/decoding.py").run()
    app.number_input(key="seed").set_value(7).run()
    app.selectbox(key="sweep").select("Five seeds of one configuration").run()
    app.switch_page("views/ablation.py").run()
    app.number_input(key="a-samples").set_value(2).run()
    app.number_input(key="a-seed").set_value(9).run()
    app.switch_page("views/gallery.py").run()
    app.switch_page("views/decoding.py").run()
    assert app.number_input(key="seed").value == 7 and app.selectbox(key="sweep").value == "Five seeds of one configuration"
    app.switch_page("views/ablation.py").run()
    assert app.number_input(key="a-samples").value == 2 and app.number_input(key="a-seed").value == 9


def test_each_student_starts_from_their_own_seed(app_env):
    seeds = set()
    for name in ("Ana", "Bea", "Carla"):
        app = joined_app(name=name)
        app.switch_page("views/decoding.py").run()
        seeds.add(app.number_input(key="seed").value)
    assert len(seeds) == 3 and 42 not in seeds


def test_earlier_submissions_are_told_apart_and_their_status_is_current_and_translated(app_env, settings, store):
    app = joined_app(name="Ines")
    app.switch_page("views/decoding.py").run()
    app.button(key="run").click().run()
    app.selectbox(key="sweep").select("Temperatura 0.1 / 0.7 / 1.5").run()
    app.button(key="run").click().run()
    first, second = store.student_submissions(TEST_CLASS, app.session_state.student)[::-1]
    publish(store, store.submission(first).request, [])  # a worker finished it
    app.run()
    labels = app.selectbox(key="history").options
    assert len(labels) == 2 and labels[0] != labels[1]
    assert any("T 0.1" in label and "en cola" in label for label in labels)
    assert any("greedy" in label and "listo" in label for label in labels)
    assert not any(" done" in label or "queued" in label for label in labels)


def test_the_student_can_cancel_a_waiting_submission(app_env, settings, store):
    app = joined_app(name="Uma", lang="en")
    app.switch_page("views/decoding.py").run()
    app.button(key="run").click().run()
    submission = app.session_state.current_submission
    [b for b in app.button if b.label == "Cancel this submission"][0].click().run()
    record = store.submission(submission)
    assert record.status == "cancelled" and record.error.code == "cancelled"
    assert any("You cancelled this submission" in i.value for i in app.info) and not app.error


def test_first_words_written_while_the_press_is_answered_appear_in_that_answer(app_env, settings, store):
    """A worker that writes the first words a moment after the press: the press's own run shows them (with
    the cursor), not the queue banner left until the next poll a second later."""
    app = joined_app(name="Vera")
    app.switch_page("views/decoding.py").run()

    def worker_starts_writing():
        deadline = time.monotonic() + 30
        while not store.student_submissions(TEST_CLASS, app.session_state.student) and time.monotonic() < deadline:
            time.sleep(0.01)
        [submission_id] = store.student_submissions(TEST_CLASS, app.session_state.student)
        time.sleep(0.2)  # after the page drew the queue banner
        store.mark_running(submission_id, "w-test")
        store.set_progress({submission_id: 2}, {submission_id: [PartialText(0, "Había una", 2)]})

    writer = threading.Thread(target=worker_starts_writing)
    writer.start()
    app.button(key="run").click().run()
    writer.join()
    shown = texts(app)
    assert any(text.startswith("Había una ▍") for text in shown), shown
    assert not any("En cola" in info.value for info in app.info)  # the banner was redrawn in its place
