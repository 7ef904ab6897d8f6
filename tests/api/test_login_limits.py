"""Login and recovery limits per address, the owner's way in, and the cap on Argon2id work
(issue 14, defects 1 and 2; docs/threat-model.md §6).

The app trusts 127.0.0.1 (the test server's peer) as its reverse proxy, so X-Forwarded-For
stands for the client's address, as nginx would send it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from secure_msg.client import Client, ClientError, Profile
from secure_msg.client.http import b64e
from secure_msg.config import AccountsConfig, Config, with_overrides
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World, derive

WRONG = b64e(b"\x07" * 32)
DEFAULTS = AccountsConfig()
STRANGER, HOME = "203.0.113.7", "198.51.100.10"


@pytest.fixture
def config(config: Config, request: pytest.FixtureRequest) -> Config:
    """Behind a proxy at 127.0.0.1, unless a test's parameter says otherwise."""
    sections: dict[str, dict[str, Any]] = {"server": {"trusted_proxies": "127.0.0.1"}}
    for section, values in getattr(request, "param", {}).items():
        sections[section] = {**sections.get(section, {}), **values}
    return with_overrides(config, **sections)


@pytest.fixture
async def home(world: World) -> AsyncIterator[aiohttp.ClientSession]:
    """The owner's own connection, from their home address."""
    async with aiohttp.ClientSession(headers={"X-Forwarded-For": HOME}) as http:
        yield http


def _client(world: World, http: aiohttp.ClientSession) -> Client:
    client = Client(Profile(server=world.base), http)
    client.derive = derive
    client.now_ms = world.clock.now_ms
    return client


async def _attempt(world: World, path: str, login: str, source: str) -> int:
    """A wrong auth key (login) or recovery key (recovery bundle) from `source`."""
    field = "recovery_auth_key" if "recovery" in path else "auth_key"
    async with world.http.post(path, json={"login": login, field: WRONG},
                               headers={"X-Forwarded-For": source}) as resp:
        body = await resp.json()
        if resp.status in (429, 503):
            assert int(resp.headers["Retry-After"]) > 0
            assert body["type"] == {429: "rate-limited", 503: "overloaded"}[resp.status]
        return resp.status


async def _burst(world: World, path: str, logins: list[str], sources: list[str]) -> Counter[int]:
    return Counter(await asyncio.gather(
        *(_attempt(world, path, login, source) for login, source in zip(logins, sources,
                                                                        strict=True))))


async def test_a_stranger_cannot_lock_the_owner_out(
    world: World, home: aiohttp.ClientSession
) -> None:
    """Wrong keys from a stranger's address block that address only: the owner logs in from
    home at once, and the stranger still waits."""
    await world.therapist("kohde")
    limit = DEFAULTS.login_max_failures
    assert await _burst(world, "/api/login", ["kohde"] * (limit + 1),
                        [STRANGER] * (limit + 1)) == {401: limit, 429: 1}
    await _client(world, home).login(world.base, "kohde", PASSWORD)
    assert await _attempt(world, "/api/login", "kohde", STRANGER) == 429


async def test_one_address_cannot_try_many_names(world: World) -> None:
    """Twenty names from one address, all at once: client_max_failures are checked, the rest
    429; another address is not affected."""
    names = [f"nimi{i}" for i in range(20)]
    limit = DEFAULTS.client_max_failures
    assert await _burst(world, "/api/login", names, [STRANGER] * 20) == {401: limit,
                                                                        429: 20 - limit}
    assert await _attempt(world, "/api/login", "nimi19", "203.0.113.8") == 401


@pytest.mark.parametrize("config", [{"server": {"trusted_proxies": ""}}], indirect=True)
async def test_forwarded_for_from_an_untrusted_peer_changes_nothing(world: World) -> None:
    """Without a trusted proxy a client cannot pose as many addresses to escape the limit."""
    sources = [f"203.0.113.{i}" for i in range(10)]
    limit = DEFAULTS.login_max_failures
    assert await _burst(world, "/api/login", ["kohde"] * 10, sources) == {401: limit,
                                                                        429: 10 - limit}


async def test_concurrent_wrong_recovery_keys_cost_at_most_the_limit(
    world: World, home: aiohttp.ClientSession
) -> None:
    """Recovery has the login's shape: 50 wrong recovery keys at once from one address cost
    login_max_failures verifications; the owner recovers from home all the same."""
    owner = world.new_client()
    recovery_key = await owner.enroll(await world.staff_link(), "unohtaja", PASSWORD)
    gate = world.http.app[SERVICES].accounts.gate
    before = gate.stats.verifications
    limit = DEFAULTS.login_max_failures
    assert await _burst(world, "/api/recovery/bundle", ["unohtaja"] * 50,
                        [STRANGER] * 50) == {401: limit, 429: 50 - limit}
    assert gate.stats.verifications - before == limit
    recovered = _client(world, home)
    await recovered.recover(world.base, "unohtaja", recovery_key, "palautettu 2026")
    assert recovered.keys == owner.keys


@pytest.mark.parametrize("config", [{"accounts": {"argon2_max_queued": 64}}], indirect=True)
async def test_after_recovery_the_new_password_works_at_once(
    world: World, home: aiohttp.ClientSession
) -> None:
    """Guessing from many addresses locks the name's password login for everyone; the owner
    recovers, and the new password is accepted without waiting for the window."""
    owner = world.new_client()
    recovery_key = await owner.enroll(await world.staff_link(), "kohde", PASSWORD)
    limit = DEFAULTS.login_name_max_failures
    sources = [f"203.0.113.{i}" for i in range(limit)]
    assert await _burst(world, "/api/login", ["kohde"] * limit, sources) == {401: limit}
    with pytest.raises(ClientError) as err:
        await _client(world, home).login(world.base, "kohde", PASSWORD)
    assert err.value.status == 429
    await _client(world, home).recover(world.base, "kohde", recovery_key, "uusi salasana")
    await _client(world, home).login(world.base, "kohde", "uusi salasana")


@pytest.mark.parametrize(
    "config", [{"accounts": {"argon2_max_running": 1, "argon2_max_queued": 1}}], indirect=True)
async def test_saturated_argon2_answers_503_and_serves_valid_logins_when_free(
    world: World, home: aiohttp.ClientSession
) -> None:
    """With the one slot busy and the one queue place taken, a login is refused at once with
    503 and Retry-After, and is not counted as a failure; once the work is done a valid login
    gets in, and a wrong one is checked (401), not refused."""
    await world.therapist("kohde")
    release = threading.Event()
    try:
        await _saturate_then_free(world, home, release)
    finally:
        release.set()  # never leave an executor thread waiting


async def _saturate_then_free(world: World, home: aiohttp.ClientSession,
                              release: threading.Event) -> None:
    gate = world.http.app[SERVICES].accounts.gate
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()

    def hold() -> None:
        loop.call_soon_threadsafe(entered.set)
        release.wait()

    busy = [asyncio.ensure_future(gate.run(hold))]
    await entered.wait()  # the slot is taken
    busy.append(asyncio.ensure_future(gate.run(release.wait)))
    await asyncio.sleep(0)  # its first step takes the queue place
    assert gate.in_use == 2
    for _ in range(DEFAULTS.login_max_failures + 2):  # a refused check leaves no failure behind
        assert await _attempt(world, "/api/login", "kohde", STRANGER) == 503
    release.set()
    await asyncio.gather(*busy)
    await _client(world, home).login(world.base, "kohde", PASSWORD)
    assert await _attempt(world, "/api/login", "kohde", STRANGER) == 401
