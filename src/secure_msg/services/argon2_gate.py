"""A cap on concurrent Argon2id work (threat model §6): each computation holds `memlimit_bytes`
and a core for tens to hundreds of milliseconds, so unbounded concurrency lets anyone who can
reach /api/login slow every login down and grow the server's memory.

At most `max_running` computations run at once (in the default executor) and at most
`max_queued` wait for a turn; beyond that the request is refused at once with `Overloaded` (503
with Retry-After) instead of piling up. Counters are read by /metrics.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from secure_msg.crypto import verifier
from secure_msg.errors import Overloaded

T = TypeVar("T")
# How much one new duration moves the running mean that Retry-After is estimated from.
_SMOOTHING = 0.2


@dataclass
class GateStats:
    verifications: int = 0
    hashes: int = 0
    refused: int = 0


class Argon2Gate:
    def __init__(self, *, max_running: int, max_queued: int) -> None:
        self._max_running = max_running
        self._max_queued = max_queued
        self._slots = asyncio.Semaphore(max_running)
        self._queued = 0
        self._running = 0
        self._mean_seconds = 0.25  # until measured
        self.stats = GateStats()

    @property
    def in_use(self) -> int:
        """Computations running or waiting now."""
        return self._running + self._queued

    def retry_after(self) -> int:
        """Seconds until the work ahead is probably done: the queue over the slots."""
        rounds = (self._running + self._queued) / self._max_running
        return max(1, math.ceil(rounds * self._mean_seconds))

    async def verify(self, stored: bytes, secret: bytes) -> bool:
        return await self.run(verifier.check_secret, stored, secret, counter="verifications")

    async def hash(self, secret: bytes, params: verifier.Argon2Params) -> bytes:
        return await self.run(verifier.hash_secret, secret, params, counter="hashes")

    async def run(self, fn: Callable[..., T], *args: object,
                  counter: Literal["verifications", "hashes"] | None = None) -> T:
        """`fn(*args)` in the executor when a slot is free; Overloaded at once when the queue
        is full. `counter` names the GateStats field that counts it."""
        if self._running + self._queued >= self._max_running + self._max_queued:
            self.stats.refused += 1
            raise Overloaded(self.retry_after())
        if counter is not None:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self._queued += 1
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
        self._running += 1
        started = time.monotonic()

        def finished(_: object) -> None:
            self._running -= 1
            self._slots.release()
            took = time.monotonic() - started
            self._mean_seconds += _SMOOTHING * (took - self._mean_seconds)

        work = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        # The slot is free when the thread is, even if the request was cancelled meanwhile.
        work.add_done_callback(finished)
        return await asyncio.shield(work)
