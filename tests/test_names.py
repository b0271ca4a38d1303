"""shared/services/names.py: names that look alike on the projector are one name; invisible ones are refused."""

import pytest

from shared.contract.problems import Problem
from shared.services.classes import join_class
from shared.services.names import clean_display_name, name_keys
from tests.conftest import TEST_CLASS


def refusal(name: str) -> Problem:
    with pytest.raises(Problem.Invalid) as refused:
        clean_display_name(name)
    return refused.value.problems[0]


def test_look_alike_names_join_as_numbered_students_not_as_copies(store):
    first = join_class(store, TEST_CLASS, "María")
    cyrillic = join_class(store, TEST_CLASS, "M\u0430ría")      # a Cyrillic а
    capital = join_class(store, TEST_CLASS, "\u041caría")       # a Cyrillic М
    shouting = join_class(store, TEST_CLASS, "MARÍA")
    assert first.label == "María"
    assert [cyrillic.label, capital.label, shouting.label] == ["M\u0430ría · 2", "\u041caría · 3", "MARÍA · 4"]
    assert join_class(store, TEST_CLASS, "Maria").label == "Maria"  # the accent shows: another name


def test_invisible_fillers_are_refused_with_their_code_point(store):
    for filler in ("\u3164", "\u2800", "\u115f", "\u1160", "\uffa0", "\u200b", "\u2060", "\ufe0f", "\u034f",
                   "\u202e", "\U000e0100", "\u2028"):
        problem = refusal(f"María{filler}")
        assert problem.code == "invisible_name_characters"
        assert problem.params["codepoint"] == f"U+{ord(filler):04X}"
        assert f"U+{ord(filler):04X}" in problem.message("es") and "invisible" in problem.message("en")
    with pytest.raises(Problem.Invalid):
        join_class(store, TEST_CLASS, "María\u3164")
    assert store.redis.hlen(store.keys.students(TEST_CLASS)) == 0


def test_visible_names_are_kept_as_typed_with_plain_single_spaces():
    assert clean_display_name("  Ana\u00a0 María\u3000López ") == "Ana María López"
    assert clean_display_name("Nguyễn Thị") == "Nguyễn Thị"
    assert clean_display_name("김민준") == "김민준"  # Hangul syllables are letters, not fillers
    assert refusal("   ").code == "bad_name" and refusal("x" * 41).code == "bad_name"


def test_the_skeleton_keys_relate_only_look_alikes():
    assert name_keys("Pepe") & name_keys("\u0420epe")            # Cyrillic Р
    assert name_keys("ana") & name_keys("ANA")
    assert not name_keys("Ana") & name_keys("Ona")
    assert not name_keys("José") & name_keys("Jose")
