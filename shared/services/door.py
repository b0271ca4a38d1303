"""The door of the class: who is knocking (the client's address) and how often they may knock.

Every limit here is keyed on something the client cannot choose. A cookie, a session or a name is the
client's own word; the address its TCP connection comes from is not. Behind a reverse proxy every
connection comes from the proxy, so the client's address is read from the proxy's headers, but only
when the connection really comes from a proxy the operator named (`DECODELAB_TRUSTED_PROXIES`): a
client talking to the dashboard directly could write any X-Forwarded-For it likes.

The counters are fixed windows in Redis (one INCR and one EXPIRE), shared by every dashboard process.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

from shared.services.store import Store

log = logging.getLogger(__name__)

LOCAL = "local"  # the client of a caller that knows no address (a script on the server itself)
LOOPBACK = "127.0.0.1"  # what Streamlit reports as no address: a client on the dashboard's own machine
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed: addresses, networks and host names
    (a compose service name such as `proxy`, looked up again at most once a minute)."""

    networks: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        networks, hosts = [], []
        for item in (part.strip() for part in (text or "").split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.append(item)
        return cls(tuple(networks), tuple(hosts))

    def trusts(self, address: str | None) -> bool:
        ip = _ip(address)
        if ip is None:
            return False
        if any(ip in network for network in self.networks if network.version == ip.version):
            return True
        return any(str(ip) in _resolved(host, int(time.time() // 60)) for host in self.hosts)


def _ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:10.0.0.7 is 10.0.0.7
    return mapped or ip


@functools.lru_cache(maxsize=64)
def _resolved(host: str, minute: int) -> frozenset[str]:
    """The addresses of a trusted proxy's host name during one minute (the cache key), so a restarted
    proxy container with a new address is trusted again within a minute."""
    try:
        return frozenset(info[4][0] for info in socket.getaddrinfo(host, None))
    except OSError:
        return frozenset()


def client_address(peer: str | None, headers: Mapping[str, str], trusted: TrustedProxies) -> str:
    """The address a request really comes from. `peer`: the connection's address (None when it is this
    machine's loopback, as Streamlit reports it); `headers`: the request's. Only when the peer is a
    trusted proxy are its headers read: X-Forwarded-For from the right (each proxy appends the address it
    saw; anything to the left of the last trusted hop was written by the client), then X-Real-IP."""
    peer = peer or LOOPBACK
    if not trusted.trusts(peer):
        return _canonical(peer)
    hops = [hop.strip() for hop in _header(headers, "x-forwarded-for").split(",") if hop.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:
            break  # garbage in the chain: nothing to its left can be believed
        if not trusted.trusts(hop):
            return _canonical(hop)
    real = _header(headers, "x-real-ip").strip()
    return _canonical(real) if _ip(real) else _canonical(peer)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return ""


def _canonical(address: str) -> str:
    ip = _ip(address)
    return str(ip) if ip is not None else LOCAL


# --- counting knocks --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Allowance:
    """How many attempts of one kind one client (or one class) may make in a window of time."""

    kind: str         # what is counted: "join", "unknown_code", "rejoin", "rejoin_class"
    limit: int        # attempts allowed per window
    seconds: int      # the window


def counter_key(store: Store, allowance: Allowance, who: str) -> str:
    """The counter of `who`'s attempts (the address is hashed: keys name no one)."""
    digest = hashlib.sha256(f"{allowance.kind}|{who}".encode()).hexdigest()[:24]
    return store.keys.door(allowance.kind, digest)


def exhausted(store: Store, allowance: Allowance, who: str) -> bool:
    """True when `who` already used every attempt of this window (read only: nothing is counted)."""
    return int(store.redis.get(counter_key(store, allowance, who)) or 0) >= allowance.limit


def knock(store: Store, allowance: Allowance, who: str) -> bool:
    """Count one attempt by `who`; False when it is over the allowance (the attempt must be refused)."""
    counter = counter_key(store, allowance, who)
    with store.redis.pipeline() as pipe:
        pipe.incr(counter)
        pipe.expire(counter, allowance.seconds, nx=True)
        count = pipe.execute()[0]
    if count == allowance.limit + 1:
        log.warning("%s: %s used its %d attempts of %d s", allowance.kind, who, allowance.limit, allowance.seconds)
    return count <= allowance.limit
