"""Failed-attempt limiter for login and recovery: pure, clock-driven, in memory.

A restart forgets failures, which only helps an attacker who can also restart the server; the
Argon2id verifier is the real defence against guessing and this keeps online guessing slow.

Keys are attacker-chosen (login names, sender numbers), so the table is bounded: past `max_keys`
it first drops keys whose failures have all expired, then the oldest keys. Evicting means an
attacker who fills the table with fresh keys resets the oldest counts; the alternative, refusing
keys it has never seen, would lock everyone out instead.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import deque

from secure_msg.clock import Clock

MAX_KEYS = 50_000  # ≈ 40 MB at most for one limiter


class FailureLimiter:
    def __init__(self, clock: Clock, *, max_failures: int, window_seconds: float,
                 max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window_seconds
        self._max_keys = max_keys
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

    def fail(self, key: bytes) -> float:
        """Count a failure now. Returns its time, for `release` when it was counted up front
        (a reservation) and the attempt then succeeded or never ran."""
        self._recent(key)
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._make_room()
        stamp = self._clock.monotonic()
        self._failures.setdefault(key, deque()).append(stamp)
        return stamp

    def release(self, key: bytes, stamp: float) -> None:
        """Un-count one failure counted at `stamp`; if it expired or was evicted, nothing."""
        times = self._failures.get(key)
        if times is None:
            return
        with contextlib.suppress(ValueError):
            times.remove(stamp)
        if not times:
            del self._failures[key]

    def _make_room(self) -> None:
        """Drop expired keys; if that frees less than a tenth of the table, the oldest keys
        too (dicts keep insertion order), so a sweep is paid once per many new keys."""
        now = self._clock.monotonic()
        self._failures = {k: t for k, t in self._failures.items() if now - t[-1] < self._window}
        excess = len(self._failures) - self._max_keys * 9 // 10
        for key in list(itertools.islice(self._failures, max(excess, 0))):
            del self._failures[key]

    def reset(self, key: bytes) -> None:
        self._failures.pop(key, None)
