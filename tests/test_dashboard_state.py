"""dashboard/state.py and dashboard/poll.py without a page: the session-state entries are named once, a
student's are listed, and the follow pace backs off as docs/dashboard.md says."""

import inspect

from dashboard import poll, state


def every_slot() -> list[state.Slot]:
    return [value for _, owner in inspect.getmembers(state, inspect.isclass)
            for value in vars(owner).values() if isinstance(value, state.Slot)]


def test_every_session_state_key_is_named_once():
    keys = [slot.key for slot in every_slot()]
    assert len(keys) == len(set(keys)), sorted(keys)
    assert len(keys) >= 30  # the dashboard's entries, not an empty registry


def test_a_student_who_leaves_takes_their_identity_and_their_submissions():
    assert {slot.key for slot in state.STUDENT} == {"class_code", "student", "student_label", "membership",
                                                    "current_submission", "ablation_submission", "explore_id",
                                                    "unconfirmed"}
    assert state.SignIn.INSTRUCTOR not in state.STUDENT  # an instructor sign-in in the same session stays


def test_a_submission_is_followed_every_second_then_less_often():
    assert [poll.follow_pace(s) for s in (0, 19.9, 20, 119.9, 120, 3600)] == [1.0, 1.0, 2.0, 2.0, 5.0, 5.0]


def test_every_pace_is_a_positive_number_of_seconds():
    paces = [*poll.WORKERS.values(), *poll.GALLERY.values(), *poll.CONSOLE.values(), *poll.LESSON.values(),
             poll.WHO_ANSWERED, poll.PRESENT, *(pace for _, pace in poll.FOLLOW_BACKOFF)]
    assert all(isinstance(p, float) and p > 0 for p in paces)
    assert poll.WORKERS[False] < poll.WORKERS[True] and poll.GALLERY[True] < poll.GALLERY[False]


def test_waiting_for_the_first_words_ends_before_the_next_tick_and_only_in_a_submissions_first_seconds():
    window, wait, look = poll.FIRST_WORDS
    first_pace = poll.follow_pace(0)
    assert 0 < look < wait < first_pace and window < poll.FOLLOW_BACKOFF[0][0]
