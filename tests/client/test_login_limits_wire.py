"""Login limits under concurrency, on the real server over HTTP (issue 14, defects 1 and 2).

The server trusts 127.0.0.1 as its reverse proxy here, so each request's X-Forwarded-For stands
for a different client address, as nginx would send it. Every 401 from /api/login follows one
Argon2id verification (a wrong key and an unknown name cost the same work) and a 429 follows
none, so counting statuses counts verifications; the server's own counter is checked too.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable

import aiohttp
import pytest

from secure_msg.client import Client, ClientError, Profile
from secure_msg.client.http import b64e
from secure_msg.config import AccountsConfig
from secure_msg.testing.server_process import ServerProcess

from .conftest import PASSWORD, admin_invite

pytestmark = pytest.mark.slow

BEHIND_PROXY = {"SECURE_MSG_SERVER_TRUSTED_PROXIES": "127.0.0.1"}
WRONG_KEY = b64e(b"\x07" * 32)
DEFAULTS = AccountsConfig()
LOGIN_NAME_MAX_FAILURES = 20
_VERIFICATIONS = re.compile(r"^secure_msg_argon2_verifications_total ([\d.e+]+)$", re.MULTILINE)


async def _verifications(http: aiohttp.ClientSession, server: ServerProcess) -> int:
    async with http.get(server.url("/metrics")) as resp:
        match = _VERIFICATIONS.search(await resp.text())
    assert match, "the server does not count its Argon2id verifications"
    return int(float(match[1]))


async def _wrong_login(http: aiohttp.ClientSession, server: ServerProcess, login: str,
                       source: str) -> int:
    async with http.post(server.url("/api/login"), json={"login": login, "auth_key": WRONG_KEY},
                         headers={"X-Forwarded-For": source}) as resp:
        body = await resp.json(content_type=None)
        if resp.status == 429:
            assert body["type"] == "rate-limited"
            assert int(resp.headers["Retry-After"]) > 0
        return resp.status


async def _enroll_owner(server: ServerProcess, http: aiohttp.ClientSession) -> tuple[Client, str]:
    owner = Client(Profile(), http)
    recovery_key = await owner.enroll(admin_invite(server, "Owner"), "kohde", PASSWORD)
    return owner, recovery_key


def _from(address: str) -> aiohttp.ClientSession:
    """A person's own HTTP session, arriving through the proxy from `address`."""
    return aiohttp.ClientSession(headers={"X-Forwarded-For": address})


async def test_fifty_concurrent_wrong_logins_cost_at_most_the_limit(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """50 simultaneous wrong keys for one name from one address: exactly login_max_failures
    verifications, 45 answers 429 with Retry-After, and the owner logs in from home at once."""
    server = server_factory(env=BEHIND_PROXY)
    async with aiohttp.ClientSession() as http, _from("198.51.100.10") as home:
        await _enroll_owner(server, home)
        statuses = Counter(await asyncio.gather(
            *(_wrong_login(http, server, "kohde", "203.0.113.7") for _ in range(50))))
        limit = DEFAULTS.login_max_failures
        assert statuses == {401: limit, 429: 50 - limit}
        assert await _verifications(http, server) == limit  # enrolling hashes, never verifies
        again = Client(Profile(), home)
        await again.login(server.base_url, "kohde", PASSWORD)


async def test_guessing_from_many_addresses_locks_the_name_and_recovery_gets_the_owner_in(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """50 simultaneous wrong keys for one name from 50 addresses: at most
    login_name_max_failures verifications; then the password is refused for everyone, and the
    owner gets in with the recovery key and can log in with the new password right away."""
    server = server_factory(env={**BEHIND_PROXY, "SECURE_MSG_ACCOUNTS_ARGON2_MAX_QUEUED": "64",
                                 "SECURE_MSG_ACCOUNTS_LOGIN_NAME_MAX_FAILURES":
                                     str(LOGIN_NAME_MAX_FAILURES)})
    async with aiohttp.ClientSession() as http, _from("198.51.100.10") as home:
        _, recovery_key = await _enroll_owner(server, home)
        statuses = Counter(await asyncio.gather(
            *(_wrong_login(http, server, "kohde", f"203.0.113.{i}") for i in range(1, 51))))
        limit = LOGIN_NAME_MAX_FAILURES
        assert statuses == {401: limit, 429: 50 - limit}
        assert await _verifications(http, server) == limit
        with pytest.raises(ClientError) as err:
            await Client(Profile(), home).login(server.base_url, "kohde", PASSWORD)
        assert err.value.status == 429
        recovered = Client(Profile(), home)
        await recovered.recover(server.base_url, "kohde", recovery_key, "uusi salasana 2026")
        fresh = Client(Profile(), home)
        await fresh.login(server.base_url, "kohde", "uusi salasana 2026")
        assert fresh.keys == recovered.keys
