"""shared/services/sessions.py: URL session tokens and rejoin codes only the server can make, bound and expiring."""

import binascii
import time

from shared.services.sessions import Session, browser_id, issue, rejoin_code, rejoin_student_id, verify

SECRET = b"k" * 32


def ana(**changes) -> Session:
    fields = dict(code="clase", student="s3", label="Ana", instructor=False, lang="en",
                  expires=time.time() + 60, browser="b1")
    return Session(**{**fields, **changes})


def test_a_token_round_trips_and_keeps_the_language():
    session = verify(SECRET, issue(SECRET, ana()), "b1")
    assert session.student == "s3" and session.label == "Ana" and session.lang == "en"


def test_forged_expired_or_foreign_tokens_get_nothing():
    token = issue(SECRET, ana())
    body, mac = token.split(".")
    forged = issue(b"x" * 32, ana(student="s1"))
    assert verify(SECRET, forged, "b1") is None                       # signed with another secret
    assert verify(SECRET, forged.split(".")[0] + "." + mac, "b1") is None  # someone else's body, Ana's mac
    assert verify(SECRET, token[:-2] + "AA", "b1") is None
    assert verify(SECRET, issue(SECRET, ana(expires=time.time() - 1)), "b1") is None
    assert verify(SECRET, token, "another-browser") is None           # a URL pasted into another browser
    for junk in (None, "", "a.b.c", "%%%.%%%", "x" * 5000, "e30.AAAA", "W10.AAAA"):
        assert verify(SECRET, junk, "b1") is None


def test_instructor_sessions_end_when_the_password_changes():
    token = issue(SECRET, ana(instructor=True), instructor_token="token-of-old-password")
    assert verify(SECRET, token, "b1", "token-of-old-password").instructor
    assert verify(SECRET, token, "b1", "token-of-new-password") is None


def test_rejoin_codes_name_one_student_of_one_class():
    code = rejoin_code(SECRET, "clase", "s17")
    assert code.startswith("17-") and len(code) == 11
    assert rejoin_student_id(SECRET, "clase", code) == "s17"
    assert rejoin_student_id(SECRET, "clase", code.lower()) == "s17"  # typed in lower case
    assert rejoin_student_id(SECRET, "otra-clase", code) is None
    assert rejoin_student_id(SECRET, "clase", "18" + code[2:]) is None
    assert rejoin_student_id(SECRET, "clase", "Ana") is None


def test_malformed_rejoin_codes_are_none_never_an_exception():
    for typed in ("1-É", "²-AAAAAAAA", "٣-AAAAAAAA", "1-ÉÉÉÉÉÉÉÉ", None, "9" * 50):
        assert rejoin_student_id(SECRET, "clase", typed) is None


def test_a_new_generation_of_rejoin_code_voids_the_old_one():
    old, new = rejoin_code(SECRET, "clase", "s4"), rejoin_code(SECRET, "clase", "s4", generation=1)
    assert old != new and rejoin_student_id(SECRET, "clase", new, generation=1) == "s4"
    assert rejoin_student_id(SECRET, "clase", old, generation=1) is None


def test_a_revoked_sign_in_is_revoked_for_every_token_of_it(store):
    from shared.services.sessions import is_revoked, new_sign_in, revoke

    sid, other = new_sign_in(), new_sign_in()
    assert sid != other and not is_revoked(store, sid)
    revoke(store, sid, until=time.time() + 3600)
    assert is_revoked(store, sid) and not is_revoked(store, other) and not is_revoked(store, "")
    assert 3600 <= store.redis.ttl(next(iter(store.redis.scan_iter(store.keys.signed_out("*"))))) <= 3700


def test_browser_id_reads_tornados_xsrf_cookie_the_same_whatever_the_mask():
    token = b"0123456789abcdef"

    def cookie(mask: bytes) -> str:
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
        return f"2|{binascii.hexlify(mask).decode()}|{binascii.hexlify(masked).decode()}|1700000000"

    first, second = browser_id({"_streamlit_xsrf": cookie(b"\x01\x02\x03\x04")}), \
        browser_id({"_streamlit_xsrf": cookie(b"\xaa\xbb\xcc\xdd")})
    assert first and first == second
    assert browser_id({}) == "" and browser_id({"_streamlit_xsrf": "2|zz|zz|1"}) == ""
