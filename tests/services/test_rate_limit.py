"""The in-memory failure log stays bounded: keys are chosen by whoever is guessing."""

from __future__ import annotations

from secure_msg.clock import FixedClock
from secure_msg.services.rate_limit import FailureLimiter, MemoryFailures

LIMITER = FailureLimiter("test", max_failures=2, window_seconds=60)


def _book(clock: FixedClock, max_keys: int) -> MemoryFailures:
    return MemoryFailures(clock, max_keys=max_keys)


def test_the_table_never_holds_more_than_max_keys() -> None:
    """A thousand distinct keys, each failing once, leave at most max_keys counted."""
    book = _book(FixedClock(), max_keys=100)
    for i in range(1000):
        LIMITER.fail(book.log, f"user{i}".encode())
    assert len(book.log("test").keys()) <= 100


def test_expired_keys_go_before_live_ones() -> None:
    """When the table is full, keys whose failures have expired are dropped first: a blocked
    key with recent failures keeps its block."""
    clock = FixedClock()
    book = _book(clock, max_keys=10)
    LIMITER.fail(book.log, b"old")
    clock.advance(30)
    LIMITER.fail(book.log, b"blocked")
    LIMITER.fail(book.log, b"blocked")
    for i in range(8):
        LIMITER.fail(book.log, f"stale{i}".encode())
    clock.advance(31)  # "old" has expired, the others have not
    LIMITER.fail(book.log, b"new")
    keys = book.log("test").keys()
    assert b"old" not in keys
    assert LIMITER.retry_after(book.log, b"blocked") is not None
    assert len(keys) <= 10


def test_when_nothing_has_expired_the_oldest_keys_go() -> None:
    """With every key live, the oldest are evicted and the newest stay counted."""
    book = _book(FixedClock(), max_keys=10)
    for i in range(11):
        LIMITER.fail(book.log, f"k{i}".encode())
    keys = book.log("test").keys()
    assert b"k0" not in keys
    assert b"k10" in keys
    assert len(keys) == 10


def test_limiters_of_different_names_count_apart() -> None:
    book = _book(FixedClock(), max_keys=10)
    other = FailureLimiter("other", max_failures=2, window_seconds=60)
    LIMITER.fail(book.log, b"k")
    LIMITER.fail(book.log, b"k")
    assert LIMITER.retry_after(book.log, b"k") == 60
    assert other.retry_after(book.log, b"k") is None
