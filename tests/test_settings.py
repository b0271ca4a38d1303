"""shared/settings.py: secrets never reach a log line."""

import pytest

from shared.settings import Settings, redact_url


def test_repr_masks_the_redis_password_and_leaves_secrets_out():
    settings = Settings(redis_url="redis://:s3cr3t-pw@redis:6379/0", instructor_password="profe", secret="sig")
    shown = repr(settings)
    assert "s3cr3t-pw" not in shown and "profe" not in shown and "sig'" not in shown
    assert "redis://***@redis:6379/0" in shown and "max_batch=0" in shown


def test_redact_url_keeps_urls_without_credentials():
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("rediss://user:pw@host/1") == "rediss://***@host/1"


def test_the_workers_cannot_reach_redis_message_hides_the_password():
    from worker.__main__ import connect

    with pytest.raises(SystemExit) as stopped:
        connect("redis://:hunter2-long@127.0.0.1:1/0", wait_seconds=0)
    assert "hunter2-long" not in str(stopped.value) and "***@127.0.0.1:1" in str(stopped.value)
