"""Failed-attempt limiter for login and recovery: pure, clock-driven, in memory.

A restart forgets failures, which only helps an attacker who can also restart the server; the
Argon2id verifier is the real defence against guessing and this keeps online guessing slow.
"""

from __future__ import annotations

import math
from collections import deque

from secure_msg.clock import Clock


class FailureLimiter:
    def __init__(self, clock: Clock, *, max_failures: int, window_seconds: float) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window_seconds
        self._failures: dict[bytes, deque[float]] = {}

    def _recent(self, key: bytes) -> deque[float]:
        now = self._clock.monotonic()
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self._window:
            times.popleft()
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def retry_after(self, key: bytes) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        times = self._recent(key)
        if len(times) < self._max:
            return None
        wait = self._window - (self._clock.monotonic() - times[0])
        return max(1, math.ceil(wait))

    def fail(self, key: bytes) -> None:
        self._recent(key)
        self._failures.setdefault(key, deque()).append(self._clock.monotonic())

    def reset(self, key: bytes) -> None:
        self._failures.pop(key, None)
