"""shared/services/roster.py: the instructor locks joining, sets the class size, removes students (one or
everyone who joined in the last minutes) and renews rejoin codes; only the instructor may."""

import json
import time

import pytest

from devtools import factories
from shared.contract.decoding import PRESETS
from shared.contract.problems import Problem
from shared.services.classes import Knock, join_class, rejoin_class
from shared.services.gallery import GalleryQuery, query
from shared.services.moderation import NotAllowed, instructor_token, server_secret
from shared.services.roster import (
    joined_within,
    lock_joins,
    new_rejoin_code,
    on_roster,
    remove_joined_within,
    remove_students,
    removed,
    roster,
    set_expected_size,
)
from shared.services.sessions import rejoin_code
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS


@pytest.fixture
def teacher(settings):
    return instructor_token(settings, settings.instructor_password)


def refused(store, name, knock=None) -> str:
    with pytest.raises(Problem.Invalid) as refusal:
        join_class(store, TEST_CLASS, name, knock=knock)
    return refusal.value.problems[0].code


def test_a_locked_class_takes_no_one_new_and_says_so_in_both_languages(store, settings, teacher):
    join_class(store, TEST_CLASS, "Ana")
    lock_joins(store, settings, teacher, TEST_CLASS, True)
    assert refused(store, "Eve") == "class_locked"
    message = Problem("class_locked").message("es")
    assert "cerrada a nuevas incorporaciones" in message and "locked" in Problem("class_locked").message("en")
    lock_joins(store, settings, teacher, TEST_CLASS, False)
    assert join_class(store, TEST_CLASS, "Eve").label == "Eve"


def test_joins_stop_at_the_expected_class_size(store, settings, teacher):
    set_expected_size(store, settings, teacher, TEST_CLASS, 2)
    join_class(store, TEST_CLASS, "Ana"), join_class(store, TEST_CLASS, "Bea")
    assert refused(store, "Eve") == "class_full"
    assert "2" in Problem("class_full", limit=2).message("es")
    remove_students(store, settings, teacher, TEST_CLASS, ["s2"])  # room again for one
    join_class(store, TEST_CLASS, "Cris")


def test_a_removed_student_is_out_their_work_cancelled_hidden_and_their_code_void(store, settings, teacher):
    secret = server_secret(store, settings)
    eve, ana = join_class(store, TEST_CLASS, "Eve"), join_class(store, TEST_CLASS, "Ana")
    queued = submit(store, settings, build_request(settings, class_code=TEST_CLASS, student=eve.label,
                                                   student_id=eve.id, prompt="spam", seed=1, model=settings.model,
                                                   configs=[PRESETS["greedy"].to_dict()]))
    factories.store_outputs(store, [factories.make_output(1, TEST_CLASS, student="Eve", student_id=eve.id),
                                    factories.make_output(2, TEST_CLASS, student="Ana", student_id=ana.id)])
    eves_code = rejoin_code(secret, TEST_CLASS, eve.id)
    assert rejoin_class(store, secret, TEST_CLASS, eves_code).id == eve.id

    assert remove_students(store, settings, teacher, TEST_CLASS, [eve.id]) == 1
    assert not on_roster(store, TEST_CLASS, eve.id) and on_roster(store, TEST_CLASS, ana.id)
    assert [row.id for row in roster(store, TEST_CLASS)] == [ana.id] and removed(store, TEST_CLASS) == ["Eve"]
    assert store.submission(queued.id).error.code == "cancelled"
    shown, _ = query(store, TEST_CLASS, GalleryQuery())
    assert [o.student_id for o in shown] == [ana.id]                        # hidden from the class...
    everything, _ = query(store, TEST_CLASS, GalleryQuery(), include_hidden=True)
    assert len(everything) == 2                                              # ...kept for the instructor
    with pytest.raises(Problem.Invalid) as void:
        rejoin_class(store, secret, TEST_CLASS, eves_code)
    assert void.value.problems[0].code == "bad_rejoin_code"


def test_bulk_removal_puts_out_everyone_who_joined_in_the_last_minutes(store, settings, teacher):
    early = [join_class(store, TEST_CLASS, name) for name in ("Ana", "Bea")]
    for student in early:  # joined an hour ago
        key = store.keys.students(TEST_CLASS)
        record = json.loads(store.redis.hget(key, student.id))
        store.redis.hset(key, student.id, json.dumps({**record, "joined_at": time.time() - 3600}))
    flood = [join_class(store, TEST_CLASS, f"bot{i}") for i in range(5)]
    assert [row.id for row in joined_within(store, TEST_CLASS, 10)] == [s.id for s in flood]
    assert remove_joined_within(store, settings, teacher, TEST_CLASS, 10) == 5
    assert [row.label for row in roster(store, TEST_CLASS)] == ["Ana", "Bea"]


def test_a_new_rejoin_code_voids_the_old_one(store, settings, teacher):
    secret = server_secret(store, settings)
    ana = join_class(store, TEST_CLASS, "Ana")
    old = rejoin_code(secret, TEST_CLASS, ana.id)
    fresh = new_rejoin_code(store, settings, teacher, secret, TEST_CLASS, ana.id)
    assert fresh != old and fresh.startswith("1-")
    assert rejoin_class(store, secret, TEST_CLASS, fresh).id == ana.id
    with pytest.raises(Problem.Invalid):
        rejoin_class(store, secret, TEST_CLASS, old)


def test_only_the_instructor_owns_the_roster(store, settings):
    ana = join_class(store, TEST_CLASS, "Ana")
    for action in (lambda t: lock_joins(store, settings, t, TEST_CLASS, True),
                   lambda t: set_expected_size(store, settings, t, TEST_CLASS, 1),
                   lambda t: remove_students(store, settings, t, TEST_CLASS, [ana.id]),
                   lambda t: remove_joined_within(store, settings, t, TEST_CLASS, 60),
                   lambda t: new_rejoin_code(store, settings, t, b"s", TEST_CLASS, ana.id)):
        for forged in (None, "", "0" * 64):
            with pytest.raises(NotAllowed):
                action(forged)
    assert on_roster(store, TEST_CLASS, ana.id) and join_class(store, TEST_CLASS, "Bea")


def test_a_web_client_without_the_browser_cookie_cannot_join(store):
    assert refused(store, "Bot", Knock(browser="", address="192.168.1.9")) == "no_browser_cookie"
    assert "cookie" in Problem("no_browser_cookie").message("es")
    assert join_class(store, TEST_CLASS, "Ana", knock=Knock(browser="b1", address="192.168.1.9"))


def test_rotating_cookies_does_not_get_past_the_per_address_limit(store):
    for i in range(4):
        join_class(store, TEST_CLASS, f"alias{i}", knock=Knock(browser=f"fresh-cookie-{i}", address="192.168.1.9",
                                                              joins_per_address=4))
    assert refused(store, "alias4", Knock(browser="fresh-cookie-4", address="192.168.1.9",
                                          joins_per_address=4)) == "too_many_joins_here"
    join_class(store, TEST_CLASS, "a classmate", knock=Knock(browser="b", address="192.168.1.10", joins_per_address=4))
