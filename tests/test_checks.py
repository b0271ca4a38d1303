"""shared/teaching/checks.py on hand-written texts that pass and that fail each check."""

import time

from shared.teaching.checks import (
    custom,
    has_example,
    no_jargon,
    not_an_echo,
    run_checks,
    three_bullets_at_end,
    topic_words,
    valid_json,
    validate_custom,
    word_limit,
)

TOPIC = "advantages of using Git in generative AI projects"


def test_three_bullets_at_the_end():
    good = "Git helps teams.\n\n- history of every change\n- easy rollback\n* shared branches"
    assert three_bullets_at_end(good).passed
    assert three_bullets_at_end("Intro\n1. one\n2. two\n3. three").passed
    four = good + "\n- a fourth"
    assert not three_bullets_at_end(four).passed and "4" in three_bullets_at_end(four).detail
    assert not three_bullets_at_end("- one\n- two\n- three\nThen a closing sentence.").passed
    assert not three_bullets_at_end("no bullets at all").passed


def test_valid_json_says_where_it_breaks():
    assert valid_json('{"advantages": ["history", "rollback"]}').passed
    assert valid_json('Here:\n```json\n{"a": 1}\n```').passed
    broken = valid_json('{"advantages": ["history", rollback]}')
    assert not broken.passed and "line 1 column 28" in broken.detail and "rollback" in broken.detail
    assert not valid_json("Git is great.").passed


def test_no_jargon_names_the_words_found():
    assert no_jargon("Keep every version of your work and go back when needed.").passed
    found = no_jargon("Use a CI/CD pipeline and merge each Branch.")
    assert not found.passed and found.detail == "branch, ci/cd, merge, pipeline"
    assert no_jargon("The pipe is fine", ("pipeline",)).passed  # whole words only


def test_concrete_example_markers():
    assert has_example("For example, a team can roll back a bad model.").passed
    assert has_example("It saved 3 hours a week.").passed
    assert not has_example("Git is useful for many things.").passed


def test_word_limit_and_topic_words():
    assert word_limit("one two three", 3).passed and not word_limit("one two three four", 3).passed
    assert topic_words("Git brings clear advantages to generative projects.", TOPIC).passed
    missing = topic_words("Version control is nice.", TOPIC)
    assert not missing.passed and missing.detail.startswith("0/")


def test_an_output_that_merely_repeats_the_prompt_fails():
    prompt = "Answer in a professional tone. Topic: advantages of using Git in generative AI projects."
    assert not not_an_echo("Answer in a professional tone. Topic: advantages of using Git in generative AI", prompt).passed
    assert not_an_echo("Teams keep each experiment reproducible and can compare runs side by side.", prompt).passed
    assert not not_an_echo("", prompt).passed


def test_custom_contains_and_regex_with_a_timeout():
    assert custom("Git keeps HISTORY", "contains", "history").passed
    assert custom("version 2.1 released", "regex", r"\d+\.\d+").detail == "matched «2.1»"
    assert not custom("nothing here", "regex", r"\d").passed
    start = time.monotonic()
    evil = custom("a" * 40 + "!", "regex", r"(a+)+$")
    assert not evil.passed and time.monotonic() - start < 5
    assert validate_custom("regex", "(unclosed") == "bad_custom_check"
    assert validate_custom("contains", "") == "bad_custom_check" and validate_custom("regex", r"\w+") is None


def test_run_checks_runs_every_listed_check():
    specs = [{"id": "three_bullets"}, {"id": "word_limit", "max_words": 5}, {"id": "custom", "kind": "contains",
                                                                             "pattern": "git"}]
    results = run_checks(specs, "Git.\n- a\n- b\n- c", "prompt", TOPIC)
    assert {k: v["passed"] for k, v in results.items()} == {"three_bullets": True, "word_limit": True, "custom": True}


def test_deeply_nested_json_is_a_clear_failure_not_an_exception():
    for text in ("[" * 995, "[" * 5000 + "]" * 5000, '{"a":' * 3000):
        result = valid_json(text)
        assert not result.passed and "not valid JSON" in result.detail


def test_a_check_never_raises_whatever_its_spec_or_text():
    specs = [{"id": "no_jargon", "jargon": 5}, {"id": "valid_json"}, {"id": "word_limit", "max_words": "x"}]
    results = run_checks(specs, "[" * 5000, "prompt", TOPIC)
    assert {k: v["passed"] for k, v in results.items()} == {"no_jargon": False, "valid_json": False,
                                                            "word_limit": False}
    assert "could not run" in results["no_jargon"]["detail"]


def test_check_specs_are_checked_for_shape_without_compiling():
    from shared.teaching.checks import check_shape_problem

    assert check_shape_problem({"id": "no_jargon", "jargon": ["api", "repo"]}) is None
    for bad in ({"id": "no_jargon", "jargon": "api"}, {"id": "no_jargon", "jargon": [1, 2]}, {"id": "nope"},
                {"id": "custom", "kind": "regex", "pattern": 7}, "not a dict", {"id": "word_limit", "max_words": True}):
        assert check_shape_problem(bad) == "bad_custom_check", bad


def test_a_bare_digit_in_noise_is_not_a_concrete_example():
    for noise in ("x 7 ) ; 3 the 9", "ends 2022.", "a1b2 c3 4 of"):
        assert not has_example(noise).passed, noise
    for example in ("It saved 3 hours a week.", "Teams grew 40% faster.", "It costs $5 a month.",
                    "Git stores 10 versions of each model."):
        assert has_example(example).passed, example
    assert has_example("Such as a rollback.").detail == "example marker: such as"


def test_topic_detail_names_the_words_looked_for_when_none_is_found():
    missing = topic_words("Version control is nice.", TOPIC)
    assert not missing.passed and not missing.detail.rstrip().endswith(":")
    assert missing.detail == "0/4: none of advantages, generative, git, projects"
    assert topic_words("Git helps.", TOPIC).detail == "1/4: git"


def test_check_details_are_said_in_the_readers_language():
    from shared.teaching.checks import check_detail

    stored = word_limit("one two three four", 3).to_dict()
    assert set(stored) == {"passed", "detail", "key", "params"}
    assert stored["detail"] == "4 words (limit 3)"  # English stays in "detail" for older readers
    assert check_detail(stored, "es") == "4 palabras (límite 3)"
    assert check_detail(stored, "en") == "4 words (limit 3)"
    assert check_detail({"passed": True, "detail": "stored before keys"}, "es") == "stored before keys"
    es = check_detail(valid_json('{"a": 1').to_dict(), "es")
    assert es.startswith("JSON no válido en la línea 1")


def test_the_custom_check_says_something_different_when_it_fails():
    passed, failed = custom("Git keeps HISTORY", "contains", "history"), custom("nothing", "contains", "history")
    assert passed.passed and not failed.passed and passed.detail != failed.detail
    assert failed.detail == "does not contain «history»"


def test_only_the_instructions_the_prompt_contains_are_checked():
    from shared.teaching.ablation import PromptParts, check_specs

    notebook = [s["id"] for s in check_specs(PromptParts())]
    assert notebook == ["three_bullets", "topic_words", "not_an_echo"]
    bare = [s["id"] for s in check_specs(PromptParts(summary=None, tone=None))]
    assert bare == ["topic_words", "not_an_echo"]
    extras = check_specs(PromptParts(extras=["json", "words"], word_limit=30))
    assert [s["id"] for s in extras] == ["three_bullets", "topic_words", "not_an_echo", "valid_json", "word_limit"]
    assert extras[-1]["max_words"] == 30
