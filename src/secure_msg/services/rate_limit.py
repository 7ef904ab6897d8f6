"""Failed-attempt limiter for login, recovery and inbound SMS/calls: pure rules over a log.

`FailureLimiter` holds the rule (at most `max_failures` within `window_seconds`); where the
failures are kept is a `FailureLog`, handed in per call:

- `MemoryFailures` (here): in this process's memory, on the monotonic clock. A restart forgets
  failures, and each process of several counts on its own;
- `SharedFailures` (services/shared_limits.py): rows in the database, on the wall clock, so
  every process on one database sees the same counts and a restart forgets nothing.

Both are reached through a `FailureBook`: `write(fn)` runs `fn` with the logs where a check and
a reservation cannot be split by another attempt (on the event loop for memory; in one write
transaction, under PostgreSQL's global write lock, for the database). `logs(conn)` gives the
logs inside a transaction that is already open (inbound webhooks).

Keys are attacker-chosen (login names, sender numbers), so memory is bounded: past `max_keys`
it first drops keys whose failures have all expired, then the oldest keys. Evicting means an
attacker who fills the table with fresh keys resets the oldest counts; the alternative, refusing
keys it has never seen, would lock everyone out instead.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from secure_msg.clock import Clock
from secure_msg.storage.txn import Txn

T = TypeVar("T")
MAX_KEYS = 50_000  # ≈ 40 MB at most for one limiter


class FailureLog(Protocol):
    """One limiter's failures: times in seconds on the log's own clock."""

    def now(self) -> float: ...

    def times(self, key: bytes, since: float) -> list[float]:
        """The key's failures after `since`, oldest first."""
        ...

    def add(self, key: bytes, at: float, until: float) -> None:
        """Record a failure at `at`; it may be forgotten from `until` on."""
        ...

    def remove(self, key: bytes, at: float) -> None:
        """Forget one failure recorded at `at`; nothing if there is none."""
        ...

    def clear(self, key: bytes) -> None: ...


Logs = Callable[[str], FailureLog]  # a limiter's name → its log


class FailureBook(Protocol):
    """Where every limiter's failures are kept (see the module docstring)."""

    def logs(self, conn: Txn | None) -> Logs: ...

    def write(self, fn: Callable[[Logs], T]) -> Awaitable[T]: ...

    def read(self, fn: Callable[[Logs], T]) -> Awaitable[T]: ...


class FailureLimiter:
    def __init__(self, name: str, *, max_failures: int, window_seconds: float) -> None:
        self.name = name
        self._max = max_failures
        self._window = window_seconds

    def retry_after(self, logs: Logs, key: bytes) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        log = logs(self.name)
        now = log.now()
        times = log.times(key, now - self._window)
        if len(times) < self._max:
            return None
        return max(1, math.ceil(self._window - (now - times[0])))

    def fail(self, logs: Logs, key: bytes) -> float:
        """Count a failure now. Returns its time, for `release` when it was counted up front
        (a reservation) and the attempt then succeeded or never ran."""
        log = logs(self.name)
        stamp = log.now()
        log.add(key, stamp, stamp + self._window)
        return stamp

    def release(self, logs: Logs, key: bytes, stamp: float) -> None:
        """Un-count one failure counted at `stamp`; if it expired or was evicted, nothing."""
        logs(self.name).remove(key, stamp)

    def reset(self, logs: Logs, key: bytes) -> None:
        logs(self.name).clear(key)


class _MemoryLog:
    def __init__(self, clock: Clock, max_keys: int) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[bytes, deque[float]] = {}
        self._until: dict[bytes, float] = {}  # when each key's newest failure expires

    def now(self) -> float:
        return self._clock.monotonic()

    def times(self, key: bytes, since: float) -> list[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= since:
            times.popleft()
        if not times:
            self._drop(key)
        return list(times)

    def add(self, key: bytes, at: float, until: float) -> None:
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._make_room(at)
        self._failures.setdefault(key, deque()).append(at)
        self._until[key] = until

    def remove(self, key: bytes, at: float) -> None:
        times = self._failures.get(key)
        if times is None:
            return
        with contextlib.suppress(ValueError):
            times.remove(at)
        if not times:
            self._drop(key)

    def clear(self, key: bytes) -> None:
        self._drop(key)

    def keys(self) -> list[bytes]:
        return list(self._failures)

    def _drop(self, key: bytes) -> None:
        self._failures.pop(key, None)
        self._until.pop(key, None)

    def _make_room(self, now: float) -> None:
        """Drop expired keys; if that frees less than a tenth of the table, the oldest keys
        too (dicts keep insertion order), so a sweep is paid once per many new keys."""
        for key in [k for k, until in self._until.items() if until <= now]:
            self._drop(key)
        excess = len(self._failures) - self._max_keys * 9 // 10
        for key in list(itertools.islice(self._failures, max(excess, 0))):
            self._drop(key)


class MemoryFailures:
    """A FailureBook in this process's memory: one bounded table per limiter name."""

    def __init__(self, clock: Clock, *, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._logs: dict[str, _MemoryLog] = {}

    def log(self, name: str) -> _MemoryLog:
        log = self._logs.get(name)
        if log is None:
            log = self._logs[name] = _MemoryLog(self._clock, self._max_keys)
        return log

    def logs(self, conn: Txn | None) -> Logs:
        return self.log

    async def write(self, fn: Callable[[Logs], T]) -> T:
        return fn(self.log)  # on the loop: nothing awaits between a check and a reservation

    async def read(self, fn: Callable[[Logs], T]) -> T:
        return fn(self.log)
