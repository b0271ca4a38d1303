"""worker/isolation.py: the order in which suspects run alone after the engine raised."""

from worker.isolation import Isolation


def everyone_has_rows(submission: str) -> bool:
    return True


def culprit_found(submissions: list[str], culprit: str) -> tuple[list[list[str]], list[str]]:
    """Run isolation as the worker does, with an engine that raises whenever `culprit` has rows in it:
    returns the groups run alone, in order, and the submissions failed."""
    isolation: Isolation[str] = Isolation()
    groups: list[list[str]] = []
    failed = isolation.failed(submissions, everyone_has_rows) if culprit in submissions else []
    ended = failed if len(failed) == 1 else []
    while isolation.active:
        group = isolation.next_group(alive=lambda s: s not in ended)
        if not group:
            break
        groups.append(group)
        if culprit in group:
            crashed = isolation.failed(submissions, everyone_has_rows)
            assert crashed == group  # only the group had rows in the engine
            if len(crashed) == 1:
                ended += crashed
    return groups, ended


def test_the_culprit_is_found_by_halving_and_everyone_else_runs_once_more():
    groups, ended = culprit_found(["a", "b", "c", "d", "e"], "d")
    assert ended == ["d"]
    assert groups == [["a", "b"], ["c", "d", "e"], ["c"], ["d", "e"], ["d"], ["e"]]
    reruns = [s for group in groups for s in group if s != "d"]
    assert sorted(set(reruns)) == ["a", "b", "c", "e"]


def test_one_submission_alone_in_the_engine_is_the_culprit_at_once():
    isolation: Isolation[str] = Isolation()
    assert isolation.failed(["a"], everyone_has_rows) == ["a"]
    assert not isolation.active


def test_only_submissions_with_rows_are_suspects():
    isolation: Isolation[str] = Isolation()
    checking = {"b", "c"}  # generated already: their checks run, they had no rows
    assert isolation.failed(["a", "b", "c", "d"], lambda s: s not in checking) == ["a", "d"]
    assert isolation.active
    assert isolation.next_group(alive=lambda s: True) == ["a"]
    assert isolation.next_group(alive=lambda s: True) == ["d"]
    assert isolation.next_group(alive=lambda s: True) == []
    assert not isolation.active


def test_groups_whose_submissions_all_left_are_skipped():
    isolation: Isolation[str] = Isolation()
    isolation.failed(["a", "b", "c", "d"], everyone_has_rows)
    assert isolation.next_group(alive=lambda s: s not in {"a", "b"}) == ["c", "d"]


def test_a_new_split_runs_before_the_groups_still_waiting():
    isolation: Isolation[str] = Isolation()
    isolation.failed(["a", "b", "c", "d"], everyone_has_rows)
    assert isolation.next_group(alive=lambda s: True) == ["a", "b"]
    isolation.failed(["a", "b", "c", "d"], everyone_has_rows)  # a or b broke it again
    assert [isolation.next_group(alive=lambda s: True) for _ in range(3)] == [["a"], ["b"], ["c", "d"]]
