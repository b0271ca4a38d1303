"""shared/contract/settings.py: secrets never reach a log line."""

import re
from pathlib import Path

import pytest

from shared.contract.settings import Settings, redact_url


def test_repr_masks_the_redis_password_and_leaves_secrets_out():
    settings = Settings(redis_url="redis://:s3cr3t-pw@redis:6379/0", instructor_password="profe", secret="sig")
    shown = repr(settings)
    assert "s3cr3t-pw" not in shown and "profe" not in shown and "sig'" not in shown
    assert "redis://***@redis:6379/0" in shown and "max_batch=0" in shown


def test_redact_url_keeps_urls_without_credentials():
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("rediss://user:pw@host/1") == "rediss://***@host/1"


SECRET_URLS = ["redis://host/0?password=s3cr3t-pw", "redis://:s3cr3t-pw@host:6379/0",
               "rediss://user:s3cr3t-pw@host/1?ssl_cert_reqs=none", "redis://host/0?socket_timeout=5&Password=s3cr3t-pw",
               "redis://host/0?db=1&auth_token=s3cr3t-pw#s3cr3t-pw", "redis://:s3cr3t%2Dpw@host/0",
               "unix:///run/redis.sock?password=s3cr3t-pw&db=0", "redis://:s3cr3t-pw@[::1]:6390/0"]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_a_password_anywhere_in_the_url_is_masked_in_repr_and_on_screen(url):
    """F12: `?password=` is as good a password as `:pw@` (redis-py logs in with either)."""
    shown = redact_url(url)
    assert "s3cr3t" not in shown and "***" in shown, shown
    assert "s3cr3t" not in repr(Settings(redis_url=url))


def test_masking_keeps_what_an_operator_needs_to_find_the_server():
    assert redact_url("redis://host/0?password=x&socket_timeout=5") == "redis://host/0?password=***&socket_timeout=5"
    assert redact_url("redis://:pw@[::1]:6390/0") == "redis://***@[::1]:6390/0"
    assert redact_url("unix:///run/redis.sock?db=0") == "unix:///run/redis.sock?db=0"


def test_the_workers_cannot_reach_redis_message_hides_the_password():
    from worker.__main__ import connect

    with pytest.raises(SystemExit) as stopped:
        connect("redis://:hunter2-long@127.0.0.1:1/0", wait_seconds=0)
    assert "hunter2-long" not in str(stopped.value) and "***@127.0.0.1:1" in str(stopped.value)


# --- every setting in one place (issue #11) ------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def test_every_field_reads_its_own_variable_and_a_blank_one_keeps_the_default():
    from dataclasses import fields

    from shared.contract.settings import Settings as S

    env = {f.metadata["env"]: ("7" if f.type == "int" else f"value-{f.name}") for f in fields(S)}
    settings = S.from_env(env)
    for spec in fields(S):
        assert getattr(settings, spec.name) == (7 if spec.type == "int" else f"value-{spec.name}"), spec.name
    blank = S.from_env({f.metadata["env"]: " " for f in fields(S)})
    assert blank.model == "distilgpt2" and blank.max_batch == 0 and blank.demo_class == ""  # "" = no demo class


def test_a_setting_that_is_not_a_number_is_named_in_the_error():
    with pytest.raises(ValueError, match="DECODELAB_MAX_BATCH"):
        Settings.from_env({"DECODELAB_MAX_BATCH": "lots"})


def test_the_readme_configuration_table_is_the_one_the_settings_generate():
    from shared.contract.settings import markdown_table

    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate it: python -m shared.contract.settings"


def test_no_process_reads_a_decodelab_variable_that_settings_does_not_know():
    from dataclasses import fields

    known = {f.metadata["env"] for f in fields(Settings)}
    read = set()
    for folder in ("shared", "dashboard", "worker", "scripts", "devtools"):
        for path in (ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"DECODELAB_[A-Z_]+", path.read_text()))
    assert read <= known, read - known
