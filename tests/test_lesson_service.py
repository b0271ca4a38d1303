"""shared/services/lessons.py and lesson_export.py against a real Redis: the instructor moves the class,
students answer once each, closed and foreign questions are refused, the blind comparison, the export."""

import csv
import io

import pytest
import redis

from shared.contract.problems import Problem
from shared.services import lessons
from shared.services.classes import join_class, open_class
from shared.services.lesson_export import lesson_csv, lesson_markdown, lesson_rows
from shared.services.moderation import NotAllowed, instructor_token
from shared.services.store import Store
from shared.teaching.lessons import BUILT_IN_FOLDER, load_folder
from tests.conftest import TEST_CLASS
from tests.test_gallery import make_output, store_outputs


@pytest.fixture
def notebook():
    found, _ = load_folder(BUILT_IN_FOLDER)
    return next(lesson for lesson in found if lesson.id == "decoding")


@pytest.fixture
def token(settings):
    return instructor_token(settings, settings.instructor_password)


def step_index(lesson, step_id):
    return [s.id for s in lesson.steps].index(step_id)


def at_question(store, settings, token, lesson, step_id, code=TEST_CLASS):
    lessons.start(store, settings, token, code, lesson)
    lessons.go_to(store, settings, token, code, step_index(lesson, step_id))
    return lessons.current(store, code)


def test_only_the_instructor_moves_the_class(store, settings, notebook):
    with pytest.raises(NotAllowed):
        lessons.start(store, settings, "forged", TEST_CLASS, notebook)
    assert lessons.current(store, TEST_CLASS) is None


def test_the_class_follows_the_steps_and_a_restarted_dashboard_reads_the_same_state(store, settings, token,
                                                                                      notebook, redis_url):
    lessons.start(store, settings, token, TEST_CLASS, notebook)
    first = lessons.current(store, TEST_CLASS)
    assert first.index == 0 and first.step.id == "intro"
    lessons.go_to(store, settings, token, TEST_CLASS, 1)
    lessons.go_to(store, settings, token, TEST_CLASS, 99)  # past the end: the last step
    other_process = Store(redis.Redis.from_url(redis_url), settings.key_prefix)
    now = lessons.current(other_process, TEST_CLASS)
    assert now.index == len(notebook.steps) - 1 and now.version > first.version


def test_one_answer_per_student_changeable_until_closed_then_refused(store, settings, token, notebook):
    running = at_question(store, settings, token, notebook, "1.2-predict")
    ana = join_class(store, TEST_CLASS, "ana")
    with pytest.raises(Problem.Invalid) as raised:
        lessons.answer(store, ana, running.question_key, 1)
    assert raised.value.problems[0].code == "question_closed"  # not opened yet
    lessons.open_question(store, settings, token, TEST_CLASS)
    for value in (0, 1, 1, 1):  # a change, then retries of the same answer
        lessons.answer(store, ana, running.question_key, value)
    assert lessons.answers(store, TEST_CLASS, running.question_key)[ana.id].value == 1
    assert lessons.class_tally(store, lessons.current(store, TEST_CLASS)).counts == [0, 1, 0, 0]
    lessons.close_question(store, settings, token, TEST_CLASS)
    with pytest.raises(Problem.Invalid) as raised:
        lessons.answer(store, ana, running.question_key, 2)
    assert raised.value.problems[0].code == "question_closed"
    assert lessons.own_answer(store, ana, running.question_key) == 1


def test_another_class_question_a_stale_question_and_a_long_answer_are_refused(store, settings, token, notebook):
    open_class(store, "otra")
    running = at_question(store, settings, token, notebook, "1.2-activity")
    lessons.open_question(store, settings, token, TEST_CLASS)
    stranger = join_class(store, "otra", "eve")
    with pytest.raises(Problem.Invalid) as raised:
        lessons.answer(store, stranger, running.question_key, "hello")  # her class runs no lesson
    assert raised.value.problems[0].code == "no_lesson"
    lessons.start(store, settings, token, "otra", notebook)  # now it does, on another step
    with pytest.raises(Problem.Invalid) as raised:
        lessons.answer(store, stranger, running.question_key, "hello")
    assert raised.value.problems[0].code == "not_current_question"
    ana = join_class(store, TEST_CLASS, "ana")
    with pytest.raises(Problem.Invalid) as raised:
        lessons.answer(store, ana, running.question_key, "x" * 401)
    assert raised.value.problems[0].code == "answer_too_long"
    assert lessons.answers(store, TEST_CLASS, running.question_key) == {}
    assert lessons.answers(store, "otra", running.question_key) == {}


def test_results_stay_hidden_until_the_reveal(store, settings, token, notebook):
    running = at_question(store, settings, token, notebook, "1.2-predict")
    assert running.results_hidden
    lessons.open_question(store, settings, token, TEST_CLASS)
    lessons.reveal(store, settings, token, TEST_CLASS)
    after = lessons.current(store, TEST_CLASS)
    assert not after.results_hidden and after.question_state == lessons.CLOSED  # the reveal closes it
    lessons.go_to(store, settings, token, TEST_CLASS, after.index + 1)
    assert lessons.current(store, TEST_CLASS).results_hidden  # the next step hides its own again


def test_a_blind_comparison_shows_one_class_output_per_configuration_and_scores_guesses(store, settings, token,
                                                                                         notebook):
    running = at_question(store, settings, token, notebook, "1.2-blind")
    with pytest.raises(Problem.Invalid) as raised:
        lessons.open_question(store, settings, token, TEST_CLASS)
    assert raised.value.problems[0].code == "blind_no_outputs"
    store_outputs(store, [make_output(i, temperature=t) for i, t in enumerate((0.1, 0.7, 1.5, 0.7))])
    lessons.open_question(store, settings, token, TEST_CLASS)
    running = lessons.current(store, TEST_CLASS)
    shown = lessons.blind_outputs(store, running)
    assert len(shown) == 3 and sorted(running.blind.truth) == [0, 1, 2]
    assert [o.config.temperature for o in shown] == [(0.1, 0.7, 1.5)[i] for i in running.blind.truth]
    ana, bob = join_class(store, TEST_CLASS, "ana"), join_class(store, TEST_CLASS, "bob")
    lessons.answer(store, ana, running.question_key, list(running.blind.truth))
    lessons.answer(store, bob, running.question_key, [0, 0, 0])
    with pytest.raises(Problem.Invalid):
        lessons.answer(store, bob, running.question_key, [0, 0])  # one guess per text
    tally = lessons.class_tally(store, running)
    assert tally.answered == 2 and all(right >= 1 for right in tally.correct)


def test_the_export_gives_each_student_answers_and_outputs(store, settings, token, notebook):
    running = at_question(store, settings, token, notebook, "1.2-predict")
    lessons.open_question(store, settings, token, TEST_CLASS)
    ana = join_class(store, TEST_CLASS, "ana")
    join_class(store, TEST_CLASS, "*bob*")  # answers nothing, makes nothing
    lessons.answer(store, ana, running.question_key, 1)
    store_outputs(store, [make_output(0, student="ana", student_id=ana.id, text="```not markdown")])
    with pytest.raises(NotAllowed):
        lesson_rows(store, settings, "forged", TEST_CLASS)
    rows = lesson_rows(store, settings, token, TEST_CLASS, "en")
    table = list(csv.DictReader(io.StringIO(lesson_csv(rows))))
    answer = next(r for r in table if r["kind"] == "answer")
    assert answer["student"] == "ana" and answer["answer"] == "More varied, and sometimes incoherent"
    assert "T = 1.5" in answer["question"]
    assert any(r["kind"] == "output" and r["text"] == "```not markdown" for r in table)
    report = lesson_markdown(store, settings, token, TEST_CLASS, rows,
                             {"answers": "Answers", "outputs": "Outputs", "prompt": "Prompt", "none": "none"})
    assert "## ana" in report and "## \\*bob\\*" in report  # bob answered nothing: still listed
    assert "````text\n```not markdown\n````" in report
