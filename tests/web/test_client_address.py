"""The address per-client limits count: X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

import logging

import pytest

from secure_msg.web import client_address as client_address_module
from secure_msg.web.client_address import client_address, trusted_networks

PROXY = trusted_networks("127.0.0.1, 10.0.0.0/8")


def test_without_a_trusted_proxy_the_header_is_ignored() -> None:
    """A client cannot pick its own address by sending X-Forwarded-For."""
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"
    assert client_address("203.0.113.7", ["198.51.100.1"], PROXY) == "203.0.113.7"


def test_through_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    """Entries the client wrote itself (left of the proxy's) are not believed."""
    assert client_address("127.0.0.1", ["203.0.113.7"], PROXY) == "203.0.113.7"
    assert client_address("127.0.0.1", ["6.6.6.6, 203.0.113.7, 10.1.2.3"], PROXY) == "203.0.113.7"
    assert client_address("127.0.0.1", ["6.6.6.6", "203.0.113.7"], PROXY) == "203.0.113.7"


def test_odd_headers_fall_back_to_the_last_hop_we_can_name() -> None:
    assert client_address("127.0.0.1", [], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", ["not-an-ip"], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", ["10.0.0.1, 10.0.0.2"], PROXY) == "10.0.0.1"
    assert client_address(None, ["203.0.113.7"], PROXY) == "unknown"


def test_ipv6_clients_count_by_their_slash_64_and_mapped_ipv4_as_ipv4() -> None:
    """One subscriber holds a whole /64; a dual-stack socket shows IPv4 as ::ffff:a.b.c.d."""
    a = client_address("2001:db8:1:2::1", [], ())
    b = client_address("2001:db8:1:2:ffff::9", [], ())
    assert a == b == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:3::1", [], ()) != a
    assert client_address("::ffff:127.0.0.1", ["203.0.113.7"], PROXY) == "203.0.113.7"


def test_a_proxy_set_up_wrong_is_logged_once_without_addresses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A trusted proxy without X-Forwarded-For, or the header from an untrusted peer, makes
    all clients one address to the limits: the operator is told once, with no address."""
    client_address_module._warn_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            client_address_module._warn_once_if_misconfigured("127.0.0.1", [], PROXY)
            client_address_module._warn_once_if_misconfigured("203.0.113.7", ["1.2.3.4"], PROXY)
            client_address_module._warn_once_if_misconfigured("127.0.0.1", ["1.2.3.4"], PROXY)
    events = [r.getMessage() for r in caplog.records]
    assert events == ["client_address.proxy_without_forwarded_for",
                      "client_address.untrusted_forwarded_for"]
    assert not any(ip in caplog.text for ip in ("127.0.0.1", "203.0.113.7", "1.2.3.4"))
