"""devtools/embedded_redis.py: a real server whose append-only file survives a restart."""

import redis

from devtools.embedded_redis import EmbeddedRedis


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
