"""shared/services/classes.py: a student is a person, not a display name."""

import pytest

from shared.contract.decoding import PRESETS
from shared.contract.problems import Problem
from shared.services.classes import JOINS_PER_BROWSER_PER_HOUR, close_class, join_class
from shared.services.submit import submit
from shared.services.validation import build_request
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


# --- issue 20: only complete joins are answered; guesses are throttled per client address -------------------
def join_problems(store, code, name, address="192.168.1.9"):
    from shared.services.classes import Knock

    with pytest.raises(Problem.Invalid) as refused:
        join_class(store, code, name, knock=Knock(browser="b1", address=address))
    return [p.code for p in refused.value.problems]


def test_a_join_without_a_name_does_not_tell_whether_the_code_exists(store):
    close_class(store, TEST_CLASS)
    answers = {code: join_problems(store, code, "") for code in (TEST_CLASS, "no-such-class", "x")}
    assert answers == {TEST_CLASS: ["bad_name"], "no-such-class": ["bad_name"], "x": ["bad_name"]}


def test_unknown_codes_are_throttled_and_logged_per_client_address(store, caplog):
    from shared.services.classes import UNKNOWN_CODES

    for i in range(UNKNOWN_CODES.limit):
        assert join_problems(store, f"guess-{i}", "Eve") == ["bad_class_code"]
    assert "unknown class code 'guess-0' from 192.168.1.9" in caplog.text
    assert join_problems(store, TEST_CLASS, "Eve") == ["too_many_attempts"]  # even the right code, for a while
    assert join_class(store, TEST_CLASS, "Ana").label == "Ana"               # another client is not held up


def test_rejoin_guesses_are_throttled_per_address_and_per_class_and_logged(store, settings, caplog):
    from shared.services.classes import REJOINS_PER_ADDRESS, REJOINS_PER_CLASS, rejoin_class
    from shared.services.moderation import server_secret
    from shared.services.sessions import rejoin_code

    secret = server_secret(store, settings)
    ana = join_class(store, TEST_CLASS, "Ana")
    right = rejoin_code(secret, TEST_CLASS, ana.id)

    def attempt(text, address):
        try:
            return rejoin_class(store, secret, TEST_CLASS, text, address).id
        except Problem.Invalid as refused:
            return refused.problems[0].code

    guesses = [attempt(f"1-{'A' * 7}{c}", "192.168.1.9") for c in "BCDEFGHIJK"[:REJOINS_PER_ADDRESS.limit]]
    assert set(guesses) == {"bad_rejoin_code"} and "wrong rejoin code" in caplog.text
    assert attempt(right, "192.168.1.9") == "too_many_attempts"   # no more checking from there
    assert attempt(right, "192.168.1.10") == ana.id
    for i in range(REJOINS_PER_CLASS.limit):                       # a guesser spread over many addresses
        attempt(f"1-{'B' * 8}", f"10.0.{i // 200}.{i % 200}")
    assert attempt(right, "192.168.1.11") == "too_many_attempts"


def test_malformed_rejoin_codes_get_a_message_not_an_exception(store, settings):
    from shared.services.classes import rejoin_class
    from shared.services.moderation import server_secret

    secret = server_secret(store, settings)
    for typed in ("1-É", "²-AAAAAAAA", "١-AAAAAAAA", "1-AAAAAAA\u0130", "", "x" * 500, "17", "-AAAAAAAA"):
        with pytest.raises(Problem.Invalid) as refused:
            rejoin_class(store, secret, TEST_CLASS, typed, "192.168.1.9")
        assert refused.value.problems[0].code == "bad_rejoin_format", typed
    assert "17-K3QZ7M2A" in Problem("bad_rejoin_format").message("es")
