"""shared/services/moderation.py: exports a spreadsheet cannot execute, and an instructor login that resists guessing."""

import csv
import io

from shared.services.moderation import export_csv, log_in_instructor


def test_csv_cells_that_look_like_formulas_are_neutralised():
    rows = [{"id": "s0:0", "student": '=HYPERLINK("http://evil","clic")', "prompt": "=cmd|' /C calc'!A0",
             "text": "+1+1", "variant": "@SUM(A1)", "model": "-2+3", "comment": "\tx", "seed": -5,
             "perplexity": -1.5, "checks": {"valid_json": True}}]
    parsed = next(csv.DictReader(io.StringIO(export_csv(rows))))
    for field in ("student", "prompt", "text", "variant", "model", "comment"):
        assert parsed[field].startswith("'"), (field, parsed[field])
    assert parsed["student"] == """'=HYPERLINK("http://evil","clic")"""
    assert parsed["seed"] == "-5" and parsed["perplexity"] == "-1.5"  # numbers stay numbers
    assert parsed["checks"] == '{"valid_json": true}'


def test_repeated_wrong_passwords_lock_the_session_out_even_from_the_right_one(store, settings):
    outcomes = [log_in_instructor(store, settings, f"guess-{i}", "session-a", "10.0.0.7") for i in range(151)]
    refused_without_checking = [o for o in outcomes if o.wait_seconds]
    assert len(refused_without_checking) >= 140 and not any(o.token for o in outcomes)
    right = log_in_instructor(store, settings, settings.instructor_password, "session-a", "10.0.0.7")
    assert right.token is None and right.wait_seconds > 0


def test_a_new_session_from_the_same_address_is_throttled_too(store, settings):
    for i in range(30):
        log_in_instructor(store, settings, "wrong", f"fresh-session-{i}", "10.0.0.8")  # a reload each time
    later = log_in_instructor(store, settings, settings.instructor_password, "another-fresh-one", "10.0.0.8")
    assert later.token is None and later.wait_seconds > 0


def test_a_few_typos_cost_nothing_and_the_right_password_resets_the_count(store, settings):
    for _ in range(3):
        assert log_in_instructor(store, settings, "typo", "session-b", "10.0.0.9").wait_seconds == 0
    assert log_in_instructor(store, settings, settings.instructor_password, "session-b", "10.0.0.9").token
    assert not store.redis.keys(f"{settings.key_prefix}:login:*")
    other = log_in_instructor(store, settings, settings.instructor_password, "session-c", "10.0.0.10")
    assert other.token  # another address and session are not affected by anyone's failures
