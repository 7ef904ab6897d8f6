"""Time as a parameter, so services and tests control it (DESIGN §2); randomness is
crypto.rng.Rng, passed the same way."""

from __future__ import annotations

import functools
import time
from datetime import date, timedelta
from typing import Protocol


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


_DAY_MS = 86_400_000
_EPOCH_DAY = date(1970, 1, 1)
# What ms_to_iso can write (years 1-9999, as `date` allows). Stored times outside it (an old
# entry's created_at is its author's claim, checked only since) are written clamped.
MIN_ISO_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_ISO_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@functools.lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    return (_EPOCH_DAY + timedelta(days=day)).isoformat()


def ms_to_iso(ms: int) -> str:
    """Unix milliseconds to an ISO-8601 UTC string, for humans and JSON, exactly as
    `datetime.isoformat(timespec="milliseconds")` writes it: "2026-01-01T08:05:09.123+00:00".

    Integer arithmetic and a cached date: a page of entries carries 100 of these, and through
    `datetime` they were a quarter of the page's encoding time. Never raises: a time outside
    years 1-9999 is written as the nearest end of that range."""
    day, rest = divmod(min(max(ms, MIN_ISO_MS), MAX_ISO_MS), _DAY_MS)
    seconds, milli = divmod(rest, 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{_iso_day(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}+00:00"
