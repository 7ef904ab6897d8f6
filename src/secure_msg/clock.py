"""Time and randomness as parameters, so services and tests control them (DESIGN §2)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

# Same shape as crypto.rng.Rng: n -> n random bytes.
RandomSource = Callable[[int], bytes]


def system_random(n: int) -> bytes:
    """Bytes from the OS CSPRNG: the only production random source."""
    return os.urandom(n)


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time as Unix milliseconds (UTC); what the database stores."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for durations and rate limits."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, now_ms: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00:00Z
        self._now_ms = now_ms
        self._mono = 0.0

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now_ms += int(seconds * 1000)
        self._mono += seconds


def ms_to_iso(ms: int) -> str:
    """Unix milliseconds to an ISO-8601 UTC string, for humans and JSON."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
