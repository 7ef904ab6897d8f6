"""The client address that per-client login limits count against (threat model §6).

The socket's peer, unless the peer is a trusted reverse proxy (`server.trusted_proxies`): then
X-Forwarded-For is read from the right, past every trusted hop, and the first other address is
the client. Entries left of it were written by the client itself and are never believed, so
without a trusted proxy the header changes nothing. An IPv6 client is counted by its /64, which
one subscriber usually holds whole.

The default trusts loopback, the documented set-up (a proxy on the same machine). A proxy that
sends no X-Forwarded-For, or one that is not trusted, makes all its clients one address to the
limits: each is logged once, without addresses (they are personal data).
"""

from __future__ import annotations

import functools
import ipaddress
import logging

from aiohttp import web

from secure_msg.logging import get_logger, log_event
from secure_msg.web.services import services

log = get_logger(__name__)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def trusted_networks(text: str) -> tuple[Network, ...]:
    """`server.trusted_proxies` parsed (config.py has validated it)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


def _ip(text: str | None) -> IpAddress | None:
    try:
        ip = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    # A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped or ip


def _bucket(ip: IpAddress) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(peer: str | None, forwarded_for: list[str],
                   trusted: tuple[Network, ...]) -> str:
    """The address to count: `peer` is the socket's, `forwarded_for` every X-Forwarded-For
    header value in order."""
    hop = _ip(peer)
    if hop is None:
        return peer or "unknown"  # a Unix socket; one client as far as we can tell
    hops = [h for value in forwarded_for for h in value.split(",")]
    while hops and any(hop in network for network in trusted):
        forwarded = _ip(hops.pop())
        if forwarded is None:  # not an address: keep the last hop we can name
            break
        hop = forwarded
    return _bucket(hop)


def of_request(request: web.Request) -> str:
    trusted = trusted_networks(services(request).config.server.trusted_proxies)
    forwarded = request.headers.getall("X-Forwarded-For", [])
    _warn_once_if_misconfigured(request.remote, forwarded, trusted)
    return client_address(request.remote, forwarded, trusted)


@functools.cache
def _warn_once(event: str, hint: str) -> None:
    log_event(log, logging.WARNING, event, hint=hint)


def _warn_once_if_misconfigured(peer: str | None, forwarded: list[str],
                                trusted: tuple[Network, ...]) -> None:
    ip = _ip(peer)
    by_proxy = ip is not None and any(ip in network for network in trusted)
    if forwarded and not by_proxy:
        _warn_once("client_address.untrusted_forwarded_for",
                   "X-Forwarded-For from a peer not in server.trusted_proxies is ignored; "
                   "if that peer is your reverse proxy, add it there")
    elif by_proxy and not forwarded:
        _warn_once("client_address.proxy_without_forwarded_for",
                   "a login came through a trusted proxy without X-Forwarded-For: its clients "
                   "share one per-client limit; make the proxy send it (docs/operations.md)")
