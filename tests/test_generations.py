"""worker/generations.py: who leads and who follows among identical generations in flight."""

from worker.generations import SharedGenerations

KEY = "cache-key-of-the-greedy-preset"


def shared_with(alive: set[str]) -> SharedGenerations:
    """Generations of the submissions in `alive` are still held (the set can change under it)."""
    return SharedGenerations(alive=lambda key: key[0] in alive)


def test_the_first_identical_generation_leads_and_the_others_follow_its_result():
    shared = shared_with({"a", "b", "c"})
    assert shared.lead_or_follow(KEY, ("a", 0)) is True
    assert shared.lead_or_follow(KEY, ("b", 0)) is False
    assert shared.lead_or_follow(KEY, ("c", 2)) is False
    assert shared.lead_or_follow("another prompt", ("c", 0)) is True
    assert shared.finished(KEY, ("a", 0)) == [("b", 0), ("c", 2)]
    assert shared.finished(KEY, ("a", 0)) == []  # answered once


def test_after_the_leaders_result_the_next_identical_generation_runs_anew():
    shared = shared_with({"a", "b"})
    shared.lead_or_follow(KEY, ("a", 0))
    shared.finished(KEY, ("a", 0))
    assert shared.lead_or_follow(KEY, ("b", 0)) is True


def test_two_identical_items_of_one_submission_run_once():
    shared = shared_with({"a"})
    assert shared.lead_or_follow(KEY, ("a", 0)) is True
    assert shared.lead_or_follow(KEY, ("a", 1)) is False
    assert shared.finished(KEY, ("a", 0)) == [("a", 1)]


def test_a_leader_whose_submission_left_is_not_followed():
    alive = {"a", "b"}
    shared = shared_with(alive)
    shared.lead_or_follow(KEY, ("a", 0))
    alive.discard("a")
    assert shared.lead_or_follow(KEY, ("b", 0)) is True


def test_a_leader_leaving_unfinished_hands_the_lead_to_its_first_follower_still_here():
    alive = {"a", "b", "c", "d"}
    shared = shared_with(alive)
    shared.lead_or_follow(KEY, ("a", 0))
    for follower in ("b", "c", "d"):
        shared.lead_or_follow(KEY, (follower, 0))
    alive -= {"a", "b"}  # a is cancelled; b timed out before it
    assert shared.leave(KEY, ("a", 0)) == ("c", 0)
    assert shared.lead_or_follow(KEY, ("e", 0)) is False  # the heir leads newcomers too
    assert shared.finished(KEY, ("c", 0)) == [("d", 0), ("e", 0)]


def test_a_leader_leaving_with_nobody_waiting_hands_nothing_over():
    alive = {"a", "b"}
    shared = shared_with(alive)
    shared.lead_or_follow(KEY, ("a", 0))
    alive.discard("a")
    assert shared.leave(KEY, ("a", 0)) is None
    assert shared.lead_or_follow(KEY, ("b", 0)) is True


def test_followers_show_their_running_leaders_progress():
    shared = shared_with({"a", "b", "c"})
    shared.lead_or_follow(KEY, ("a", 0))
    shared.lead_or_follow(KEY, ("b", 1))
    shared.lead_or_follow("waiting", ("c", 0))
    shared.lead_or_follow("waiting", ("c", 1))
    running = {("a", 0): [5, 6, 7]}  # c's leader has no row yet
    shared.show_leaders(running)
    assert running == {("a", 0): [5, 6, 7], ("b", 1): [5, 6, 7]}


def test_clearing_after_an_engine_crash_leaves_everyone_to_run_on_their_own():
    shared = shared_with({"a", "b"})
    shared.lead_or_follow(KEY, ("a", 0))
    shared.lead_or_follow(KEY, ("b", 0))
    shared.clear()
    assert shared.finished(KEY, ("a", 0)) == []
    assert shared.lead_or_follow(KEY, ("b", 0)) is True
