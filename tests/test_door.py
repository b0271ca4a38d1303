"""shared/services/door.py: the client's address is the connection's unless a trusted proxy vouches for it."""

from shared.services.door import LOOPBACK, Allowance, TrustedProxies, client_address, exhausted, knock

NGINX = TrustedProxies.parse("10.0.0.2, 172.18.0.0/16")


def test_headers_from_an_untrusted_peer_are_the_clients_own_word():
    forged = {"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "5.6.7.8"}
    assert client_address("192.168.1.50", forged, NGINX) == "192.168.1.50"
    assert client_address("192.168.1.50", forged, TrustedProxies.parse("")) == "192.168.1.50"


def test_a_trusted_proxy_names_the_client_from_the_right_of_the_chain():
    # nginx appends the address it saw: anything to its left was written by the client
    headers = {"X-Forwarded-For": "6.6.6.6, 192.168.1.50", "X-Real-IP": "192.168.1.50"}
    assert client_address("10.0.0.2", headers, NGINX) == "192.168.1.50"
    chained = {"x-forwarded-for": "6.6.6.6, 192.168.1.51, 172.18.0.9"}  # two proxies of ours
    assert client_address("172.18.0.3", chained, NGINX) == "192.168.1.51"
    assert client_address("10.0.0.2", {"X-Real-IP": "192.168.1.52"}, NGINX) == "192.168.1.52"
    assert client_address("10.0.0.2", {"X-Forwarded-For": "not-an-ip"}, NGINX) == "10.0.0.2"


def test_loopback_is_this_machine_and_host_names_are_trusted_by_their_address():
    assert client_address(None, {}, NGINX) == LOOPBACK and client_address("::1", {}, NGINX) == "::1"
    by_name = TrustedProxies.parse("localhost")
    assert client_address(None, {"X-Forwarded-For": "192.168.1.60"}, by_name) == "192.168.1.60"
    assert client_address("::ffff:10.0.0.2", {"X-Real-IP": "192.168.1.61"}, NGINX) == "192.168.1.61"


def test_knocks_are_counted_per_client_and_refused_over_the_allowance(store):
    allowance = Allowance("test", limit=3, seconds=60)
    assert [knock(store, allowance, "192.168.1.50") for _ in range(4)] == [True, True, True, False]
    assert exhausted(store, allowance, "192.168.1.50") and not exhausted(store, allowance, "192.168.1.51")
    assert 0 < store.redis.ttl(next(iter(store.redis.scan_iter(store.keys.door("test", "*"))))) <= 60
