"""Issue 23 in Streamlit's AppTest (real Redis): the console leads the lesson, the students' pages follow
the step (banner, prefilled lab, question), presentation mode, and a broken lesson file in the console."""

import pytest

from shared.services import lessons
from shared.services.moderation import instructor_token
from shared.teaching.lessons import BUILT_IN_FOLDER, load_folder
from tests.conftest import TEST_CLASS
from tests.test_dashboard import app_env, joined_app, new_app, texts  # noqa: F401 - app_env is a fixture
from tests.test_dashboard_lesson import console
from tests.test_gallery import make_output, store_outputs


@pytest.fixture
def token(settings):
    return instructor_token(settings, settings.instructor_password)


@pytest.fixture
def notebook():
    return next(lesson for lesson in load_folder(BUILT_IN_FOLDER)[0] if lesson.id == "decoding")


def go(store, settings, token, lesson, step_id):
    lessons.go_to(store, settings, token, TEST_CLASS, [s.id for s in lesson.steps].index(step_id))


def markdown(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def test_the_console_starts_the_lesson_and_moves_the_class(app_env, store, settings):
    app = console(settings)
    app.selectbox(key="lesson-class").select(TEST_CLASS).run()
    app.button(key="lesson-start").click().run()
    running = lessons.current(store, TEST_CLASS)
    assert running.lesson.id == "decoding" and running.index == 0
    steps = [d.value for d in app.dataframe if "Lesson" in d.value.columns][0]
    assert len(steps) == len(running.lesson.steps) and steps["#"][0] == "▶ 1"
    app.button(key="lesson-next").click().run()
    app.button(key="lesson-next").click().run()
    assert lessons.current(store, TEST_CLASS).step.id == "1.2-predict"
    app.button(key="lesson-open").click().run()
    assert lessons.current(store, TEST_CLASS).question_state == "open"
    assert any("0 of 0 answered" in t for t in texts(app))
    app.button(key="lesson-prev").click().run()
    assert lessons.current(store, TEST_CLASS).step.id == "1.1"
    assert not app.exception


def test_a_student_lands_on_the_step_with_the_lab_prefilled_and_answers(app_env, store, settings, token, notebook):
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    go(store, settings, token, notebook, "1.2-predict")
    app = joined_app(name="ana", lang="en")
    assert any("What to do now: 1.2. Predict before you run" in i.value for i in app.info)  # right after joining
    app.switch_page("views/decoding.py").run()
    assert "Before running" in markdown(app)
    assert app.selectbox(key="sweep").value == "Temperature 0.1 / 0.7 / 1.5"  # the step's sweep, prefilled
    assert any("opens when the instructor" in c.value for c in app.caption)
    lessons.open_question(store, settings, token, TEST_CLASS)
    app.run()
    app.radio(key="q-decoding/1.2-predict").set_value("More varied, and sometimes incoherent")
    submit = [b for b in app.button if b.label == "Send answer"][0]
    submit.click().run()
    assert any("Answer saved" in s.value for s in app.success)
    key = lessons.current(store, TEST_CLASS).question_key
    assert list(lessons.answers(store, TEST_CLASS, key).values())[0].value == 1
    lessons.close_question(store, settings, token, TEST_CLASS)
    app.run()
    assert any("The question is closed" in c.value for c in app.caption)
    assert not app.exception


def test_the_ablation_lab_is_prefilled_with_the_steps_topic(app_env, store, settings, token, notebook):
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    go(store, settings, token, notebook, "2.3")
    app = joined_app(name="bob", lang="es")
    app.switch_page("views/ablation.py").run()
    assert app.text_input(key="a-topic").value == "ethical risks of generative AI."
    assert "2.3. Actividad" in [s.value for s in app.subheader]
    app.text_input(key="a-topic").input("MLOps best practices").run()
    app.run()  # the student's own edit stays: the step prefills once
    assert app.text_input(key="a-topic").value == "MLOps best practices"


def test_without_a_lesson_the_labs_are_as_before(app_env):
    app = joined_app(name="ana", lang="en")
    app.switch_page("views/decoding.py").run()
    assert app.text_area(key="prompt").value == "In a distant future, humans and AI"
    assert not any("Lesson:" in c.value for c in app.caption)


def test_hidden_results_keep_the_gallery_closed_for_students_until_the_reveal(app_env, store, settings, token,
                                                                                 notebook):
    store_outputs(store, [make_output(0)])
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    go(store, settings, token, notebook, "1.2-predict")
    app = joined_app(name="eve", lang="en").switch_page("views/gallery.py").run()
    assert any("hidden until the instructor reveals" in i.value for i in app.info)
    assert "output number 0" not in texts(app)
    lessons.reveal(store, settings, token, TEST_CLASS)
    app.run()
    assert "output number 0" in texts(app)


def test_presentation_mode_is_the_instructors_and_shows_the_live_tally(app_env, store, settings, token, notebook):
    from shared.services.classes import join_class

    app = new_app("en").switch_page("views/present.py").run()
    assert any("log in on the console" in i.value for i in app.info)
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    go(store, settings, token, notebook, "1.2-predict")
    lessons.open_question(store, settings, token, TEST_CLASS)
    lessons.answer(store, join_class(store, TEST_CLASS, "ana"), "decoding/1.2-predict", 1)
    app = console(settings).switch_page("views/present.py").run()
    assert "1.2. Predict before you run: temperature 1.5" in [t.value for t in app.title]
    assert "1 of 1 answered" in markdown(app)
    assert app.get("vega_lite_chart")  # the tally, as bars
    app.button(key="present-next").click().run()
    assert lessons.current(store, TEST_CLASS).step.id == "1.2-blind"
    assert not app.exception


def test_a_malformed_lesson_file_is_an_error_in_the_console_not_a_crash(app_env, store, settings, tmp_path,
                                                                         monkeypatch):
    (tmp_path / "good.toml").write_text((BUILT_IN_FOLDER / "tokens.toml").read_text())
    (tmp_path / "bad.toml").write_text('id = "bad"\n[[steps]]\nid = "x"\nkind = \n')
    monkeypatch.setenv("DECODELAB_LESSONS_DIR", str(tmp_path))
    app = console(settings)
    errors = " ".join(e.value for e in app.error)
    assert "bad.toml, line 4" in errors
    app.selectbox(key="lesson-class").select(TEST_CLASS).run()
    app.button(key="lesson-start").click().run()
    assert lessons.current(store, TEST_CLASS).lesson.id == "tokens"
    assert not app.exception


def test_a_blind_comparison_is_guessed_on_the_page_and_revealed_beside_the_guesses(app_env, store, settings, token,
                                                                                  notebook):
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    go(store, settings, token, notebook, "1.2-blind")
    store_outputs(store, [make_output(i, temperature=t, text=f"text at T {t}") for i, t in enumerate((0.1, 0.7, 1.5))])
    lessons.open_question(store, settings, token, TEST_CLASS)
    running = lessons.current(store, TEST_CLASS)
    labels = running.step.task.config_labels()
    app = joined_app(name="ana", lang="en").switch_page("views/decoding.py").run()
    shown = [t for t in texts(app) if t.startswith("text at T")]
    assert shown == [f"text at T {(0.1, 0.7, 1.5)[i]}" for i in running.blind.truth]
    assert not any(label in " ".join(texts(app)) for label in labels)  # no configuration beside a text
    for number, truth in enumerate(running.blind.truth):
        app.radio(key=f"q-{running.question_key}-{number}").set_value(labels[truth])
    [b for b in app.button if b.label == "Send answer"][0].click().run()
    assert list(lessons.answers(store, TEST_CLASS, running.question_key).values())[0].value == list(running.blind.truth)
    lessons.reveal(store, settings, token, TEST_CLASS)
    app.run()
    assert f"Made by: {labels[running.blind.truth[0]]}" in texts(app)
    assert "The class got it right 1 of 1 times" in texts(app)


def test_the_console_exports_answers_and_outputs_per_student(app_env, store, settings, token, notebook):
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    app = console(settings)
    app.selectbox(key="lesson-class").select(TEST_CLASS).run()
    app.toggle(key=f"lesson-exports-{TEST_CLASS}").set_value(True).run()
    labels = [d.proto.label for d in app.get("download_button")]
    assert f"Answers and outputs of {TEST_CLASS} (CSV)" in labels and f"Report of {TEST_CLASS} by student (Markdown)" in labels
