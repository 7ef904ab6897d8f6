"""Login limits reserve before the Argon2id work and count per name, per address and per both."""

from __future__ import annotations

import pytest

from secure_msg.clock import FixedClock
from secure_msg.errors import RateLimited
from secure_msg.services.login_limits import LoginLimits, LoginLimitSettings, Purpose
from secure_msg.services.rate_limit import FailureLimiter

SETTINGS = LoginLimitSettings(per_name_and_client=3, per_name=5, per_client=4, window_seconds=60)
LOGIN, RECOVERY = Purpose.LOGIN, Purpose.RECOVERY


def _refused(limits: LoginLimits, purpose: Purpose, login: str, client: str) -> int:
    with pytest.raises(RateLimited) as err:
        limits.begin(purpose, login, client)
    return err.value.retry_after_seconds


def test_attempts_are_counted_before_they_finish() -> None:
    """Attempts still in flight count: the fourth concurrent one is refused, with the wait."""
    limits = LoginLimits(FixedClock(), SETTINGS)
    in_flight = [limits.begin(LOGIN, "kohde", "203.0.113.7") for _ in range(3)]
    assert _refused(limits, LOGIN, "kohde", "203.0.113.7") == 60
    in_flight[0].abandoned()  # never verified (503): no longer counted
    limits.begin(LOGIN, "kohde", "203.0.113.7")


def test_success_uncounts_itself_and_the_pairs_earlier_failures() -> None:
    """The owner's own typos from their address are forgotten after a success; the per-name
    and per-address counts keep theirs."""
    clock = FixedClock()
    limits = LoginLimits(clock, SETTINGS)
    limits.begin(LOGIN, "kohde", "198.51.100.1")  # a typo (kept: failed)
    limits.begin(LOGIN, "kohde", "198.51.100.1")
    limits.begin(LOGIN, "kohde", "198.51.100.1").succeeded()
    for _ in range(2):  # the pair is clear again; the address has 2 of 4 left
        limits.begin(LOGIN, "kohde", "198.51.100.1")
    assert _refused(limits, LOGIN, "toinen", "198.51.100.1") > 0


def test_a_stranger_fills_only_their_own_pair() -> None:
    """Three failures from one address block that address for that name, not the owner's."""
    limits = LoginLimits(FixedClock(), SETTINGS)
    for _ in range(3):
        limits.begin(LOGIN, "kohde", "203.0.113.7")
    _refused(limits, LOGIN, "kohde", "203.0.113.7")
    limits.begin(LOGIN, "kohde", "198.51.100.1").succeeded()


def test_many_addresses_lock_the_name_for_passwords_but_not_for_recovery() -> None:
    """Five failures from five addresses lock password login for the name everywhere;
    recovery is not counted per name, and a recovery clears the name's password count."""
    limits = LoginLimits(FixedClock(), SETTINGS)
    for i in range(5):
        limits.begin(LOGIN, "kohde", f"203.0.113.{i}")
    _refused(limits, LOGIN, "kohde", "198.51.100.1")
    limits.begin(RECOVERY, "kohde", "198.51.100.1").succeeded()
    limits.recovered("kohde", "198.51.100.1")
    limits.begin(LOGIN, "kohde", "198.51.100.1").succeeded()


def test_one_address_cannot_try_many_names() -> None:
    """The per-address count spans names and purposes."""
    limits = LoginLimits(FixedClock(), SETTINGS)
    for i in range(3):
        limits.begin(LOGIN, f"name{i}", "203.0.113.7")
    limits.begin(RECOVERY, "name9", "203.0.113.7")
    _refused(limits, LOGIN, "name5", "203.0.113.7")
    _refused(limits, RECOVERY, "name6", "203.0.113.7")
    limits.begin(LOGIN, "name5", "203.0.113.8")


def test_counts_expire_with_the_window() -> None:
    clock = FixedClock()
    limits = LoginLimits(clock, SETTINGS)
    for _ in range(3):
        limits.begin(LOGIN, "kohde", "203.0.113.7")
    clock.advance(59)
    assert _refused(limits, LOGIN, "kohde", "203.0.113.7") == 1
    clock.advance(1)
    limits.begin(LOGIN, "kohde", "203.0.113.7")


def test_release_after_expiry_or_eviction_changes_nothing() -> None:
    """Un-counting a failure that is already gone leaves the others alone."""
    clock = FixedClock()
    limiter = FailureLimiter(clock, max_failures=2, window_seconds=60)
    stamp = limiter.fail(b"k")
    clock.advance(61)
    limiter.fail(b"k")
    limiter.release(b"k", stamp)  # expired: the recent one stays
    limiter.fail(b"k")
    assert limiter.retry_after(b"k") is not None
    limiter.release(b"gone", 0.0)
