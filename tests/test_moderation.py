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


INVISIBLE_LEADS = ["\u200b", "\ufeff", "\u00a0", "\u2060", "\u200e", "\u3164", "\u2800", "\u3000",
                   "\u200b\ufeff\u00a0 "]


def test_formulas_behind_invisible_characters_are_neutralised():
    """F17: a zero-width space, BOM, NBSP, word joiner, bidi mark or blank filler in front of `=`, `+`,
    `-`, `@` (in any width), a tab or a CR hides the formula from a check of the first character."""
    starts = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\uff1d1+1", "\ufe661+1",
              "\u22121+1"]
    cells = [lead + start for lead in INVISIBLE_LEADS for start in starts]
    rows = [{"id": f"s{i}:0", "student": cell, "text": cell} for i, cell in enumerate(cells)]
    parsed = list(csv.DictReader(io.StringIO(export_csv(rows), newline="")))
    for row, cell in zip(parsed, cells, strict=True):
        assert row["student"] == "'" + cell and row["text"] == "'" + cell, repr(cell)
    harmless = [{"id": "s0:0", "text": "\u200bHola = mundo", "student": "Ana\u00a0-1"}]
    row = next(csv.DictReader(io.StringIO(export_csv(harmless), newline="")))
    assert row["text"] == "\u200bHola = mundo" and row["student"] == "Ana\u00a0-1"


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
