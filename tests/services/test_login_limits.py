"""Login limits reserve before the Argon2id work and count per name, per address and per both.

Each test runs on every FailureBook: in memory, and in the database on SQLite and PostgreSQL
(services/shared_limits.py), always with the fixed clock."""

from __future__ import annotations

import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.vault import Vault
from secure_msg.errors import RateLimited
from secure_msg.services.login_limits import LoginLimits, LoginLimitSettings, Purpose
from secure_msg.services.rate_limit import FailureBook, FailureLimiter, Logs, MemoryFailures
from secure_msg.services.shared_limits import SharedFailures
from secure_msg.storage.db import Database

SETTINGS = LoginLimitSettings(per_name_and_client=3, per_name=5, per_client=4, window_seconds=60)
LOGIN, RECOVERY = Purpose.LOGIN, Purpose.RECOVERY



@pytest.fixture(params=["memory", "sqlite",
                        pytest.param("postgresql", marks=pytest.mark.postgresql)])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(where: str) -> str:
    return "sqlite" if where == "memory" else where


@pytest.fixture
def book(where: str, db: Database, clock: FixedClock, vault: Vault) -> FailureBook:
    return MemoryFailures(clock) if where == "memory" else SharedFailures(db, clock, vault)


async def _refused(limits: LoginLimits, purpose: Purpose, login: str, client: str) -> int:
    with pytest.raises(RateLimited) as err:
        await limits.begin(purpose, login, client)
    return err.value.retry_after_seconds


async def test_attempts_are_counted_before_they_finish(
        book: FailureBook, clock: FixedClock) -> None:
    """Attempts still in flight count: the fourth concurrent one is refused, with the wait."""
    limits = LoginLimits(book, SETTINGS)
    in_flight = [await limits.begin(LOGIN, "kohde", "203.0.113.7") for _ in range(3)]
    assert await _refused(limits, LOGIN, "kohde", "203.0.113.7") == 60
    await in_flight[0].abandoned()  # never verified (503): no longer counted
    await limits.begin(LOGIN, "kohde", "203.0.113.7")


async def test_success_uncounts_itself_and_the_pairs_earlier_failures(
        book: FailureBook, clock: FixedClock) -> None:
    """The owner's own typos from their address are forgotten after a success; the per-name
    and per-address counts keep theirs."""
    limits = LoginLimits(book, SETTINGS)
    await limits.begin(LOGIN, "kohde", "198.51.100.1")  # a typo (kept: failed)
    await limits.begin(LOGIN, "kohde", "198.51.100.1")
    await (await limits.begin(LOGIN, "kohde", "198.51.100.1")).succeeded()
    for _ in range(2):  # the pair is clear again; the address has 2 of 4 left
        await limits.begin(LOGIN, "kohde", "198.51.100.1")
    assert await _refused(limits, LOGIN, "toinen", "198.51.100.1") > 0


async def test_a_stranger_fills_only_their_own_pair(
        book: FailureBook, clock: FixedClock) -> None:
    """Three failures from one address block that address for that name, not the owner's."""
    limits = LoginLimits(book, SETTINGS)
    for _ in range(3):
        await limits.begin(LOGIN, "kohde", "203.0.113.7")
    await _refused(limits, LOGIN, "kohde", "203.0.113.7")
    await (await limits.begin(LOGIN, "kohde", "198.51.100.1")).succeeded()


async def test_many_addresses_lock_the_name_for_passwords_but_not_for_recovery(
        book: FailureBook, clock: FixedClock) -> None:
    """Five failures from five addresses lock password login for the name everywhere;
    recovery is not counted per name, and a recovery clears the name's password count."""
    limits = LoginLimits(book, SETTINGS)
    for i in range(5):
        await limits.begin(LOGIN, "kohde", f"203.0.113.{i}")
    await _refused(limits, LOGIN, "kohde", "198.51.100.1")
    await (await limits.begin(RECOVERY, "kohde", "198.51.100.1")).succeeded()
    await limits.recovered("kohde", "198.51.100.1")
    await (await limits.begin(LOGIN, "kohde", "198.51.100.1")).succeeded()


async def test_one_address_cannot_try_many_names(
        book: FailureBook, clock: FixedClock) -> None:
    """The per-address count spans names and purposes."""
    limits = LoginLimits(book, SETTINGS)
    for i in range(3):
        await limits.begin(LOGIN, f"name{i}", "203.0.113.7")
    await limits.begin(RECOVERY, "name9", "203.0.113.7")
    await _refused(limits, LOGIN, "name5", "203.0.113.7")
    await _refused(limits, RECOVERY, "name6", "203.0.113.7")
    await limits.begin(LOGIN, "name5", "203.0.113.8")


async def test_counts_expire_with_the_window(
        book: FailureBook, clock: FixedClock) -> None:
    limits = LoginLimits(book, SETTINGS)
    for _ in range(3):
        await limits.begin(LOGIN, "kohde", "203.0.113.7")
    clock.advance(59)
    assert await _refused(limits, LOGIN, "kohde", "203.0.113.7") == 1
    clock.advance(1)
    await limits.begin(LOGIN, "kohde", "203.0.113.7")


async def test_release_after_expiry_or_eviction_changes_nothing(
        book: FailureBook, clock: FixedClock) -> None:
    """Un-counting a failure that is already gone leaves the others alone."""
    limiter = FailureLimiter("test", max_failures=2, window_seconds=60)

    def run(logs: Logs) -> None:
        stamp = limiter.fail(logs, b"k")
        clock.advance(61)
        limiter.fail(logs, b"k")
        limiter.release(logs, b"k", stamp)  # expired: the recent one stays
        limiter.fail(logs, b"k")
        assert limiter.retry_after(logs, b"k") is not None
        limiter.release(logs, b"gone", 0.0)
    await book.write(run)
