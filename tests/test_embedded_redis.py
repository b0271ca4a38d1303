"""devtools/embedded_redis.py: a real server whose append-only file survives a restart."""

import stat

import pytest
import redis

from devtools.embedded_redis import EmbeddedRedis, free_port
from scripts.run import embedded_redis


def test_data_survives_stop_and_start_on_the_same_port(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        client.set("kept", "yes")
        port = server.port
        server.stop()
        assert not server.ping()
        server.start()
        assert server.port == port and client.get("kept") == b"yes"
    finally:
        server.stop()


def test_make_runs_server_has_a_kept_password_only_its_owner_can_read(tmp_path):
    """F13: on a shared machine any local account reaches 127.0.0.1; without a password it reads
    `dl:secret` and computes every rejoin code. `make run`'s server asks for one, kept with mode 0600."""
    data = tmp_path / "redis"
    server = embedded_redis(data, free_port()).start()
    try:
        password = (data / "password").read_text().strip()
        assert len(password) >= 32 and server.password == password and password in server.url
        for private in (data / "password", data / "valkey.conf"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port).get("dl:secret")
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port, password="guess").get("dl:secret")
        client = redis.Redis.from_url(server.url)
        client.set("kept", "yes")
        server.stop()
        again = embedded_redis(data, server.port).start()  # a second `make run`: the same password
        assert again.password == password and redis.Redis.from_url(again.url).get("kept") == b"yes"
        again.stop()
    finally:
        server.stop()
