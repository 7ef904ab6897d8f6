"""The failed-attempt limiter's table stays bounded: keys are chosen by whoever is guessing."""

from __future__ import annotations

from secure_msg.clock import FixedClock
from secure_msg.services.rate_limit import FailureLimiter


def _limiter(clock: FixedClock, max_keys: int) -> FailureLimiter:
    return FailureLimiter(clock, max_failures=2, window_seconds=60, max_keys=max_keys)


def test_the_table_never_holds_more_than_max_keys() -> None:
    """A thousand distinct keys, each failing once, leave at most max_keys counted."""
    limiter = _limiter(FixedClock(), max_keys=100)
    for i in range(1000):
        limiter.fail(f"user{i}".encode())
    assert len(limiter._failures) <= 100


def test_expired_keys_go_before_live_ones() -> None:
    """When the table is full, keys whose failures have expired are dropped first: a blocked
    key with recent failures keeps its block."""
    clock = FixedClock()
    limiter = _limiter(clock, max_keys=10)
    limiter.fail(b"old")
    clock.advance(30)
    limiter.fail(b"blocked")
    limiter.fail(b"blocked")
    for i in range(8):
        limiter.fail(f"stale{i}".encode())
    clock.advance(31)  # "old" has expired, the others have not
    limiter.fail(b"new")
    assert b"old" not in limiter._failures
    assert limiter.retry_after(b"blocked") is not None
    assert len(limiter._failures) <= 10


def test_when_nothing_has_expired_the_oldest_keys_go() -> None:
    """With every key live, the oldest are evicted and the newest stay counted."""
    limiter = _limiter(FixedClock(), max_keys=10)
    for i in range(11):
        limiter.fail(f"k{i}".encode())
    assert b"k0" not in limiter._failures
    assert b"k10" in limiter._failures
    assert len(limiter._failures) == 10
