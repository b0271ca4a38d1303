"""shared/services/classes.py: a student is a person, not a display name."""

import pytest

from shared.contract.decoding import PRESETS
from shared.contract.problems import Problem
from shared.services.classes import JOINS_PER_BROWSER_PER_HOUR, close_class, join_class
from shared.services.submissions import build_request, submit
from tests.conftest import TEST_CLASS


def request_of(settings, student, seed):
    return build_request(settings, class_code=TEST_CLASS, student=student.label, student_id=student.id,
                         prompt=f"hello {seed}", configs=[PRESETS["greedy"].to_dict()], seed=seed,
                         model=settings.model)


def test_two_students_with_the_same_name_are_two_students_shown_apart(store):
    first, second, other = (join_class(store, TEST_CLASS, n) for n in ("María", "maría", "Ana"))
    assert first.id != second.id and first.label == "María" and second.label == "maría · 2"
    assert other.label == "Ana"


def test_each_student_has_their_own_limits_and_results(store, settings):
    first, second = join_class(store, TEST_CLASS, "María"), join_class(store, TEST_CLASS, "María")
    for seed in range(settings.max_active_per_student):
        submit(store, settings, request_of(settings, first, seed))
    with pytest.raises(Problem.Invalid) as refused:
        submit(store, settings, request_of(settings, first, 99))
    assert refused.value.problems[0].code == "too_many_active"
    submit(store, settings, request_of(settings, second, 100))  # the other María is not blocked by her
    assert len(store.student_submissions(TEST_CLASS, first.id)) == settings.max_active_per_student
    assert len(store.student_submissions(TEST_CLASS, second.id)) == 1


def test_one_browser_cannot_multiply_its_limits_by_joining_under_new_names(store):
    for i in range(JOINS_PER_BROWSER_PER_HOUR):
        join_class(store, TEST_CLASS, f"alias{i}", browser="same-browser")
    with pytest.raises(Problem.Invalid) as refused:
        join_class(store, TEST_CLASS, "yet another", browser="same-browser")
    assert refused.value.problems[0].code == "too_many_joins"
    join_class(store, TEST_CLASS, "a classmate", browser="another-browser")


def test_students_of_a_closed_class_are_told_it_is_closed(store):
    close_class(store, TEST_CLASS)
    with pytest.raises(Problem.Invalid) as refused:
        join_class(store, TEST_CLASS, "late")
    assert refused.value.problems[0].code == "class_closed"
    with pytest.raises(Problem.Invalid) as unknown:
        join_class(store, "no-such-class", "late")
    assert unknown.value.problems[0].code == "bad_class_code"
