"""Which app processes are alive, and which one leads the scheduler, when several share one
database.

- `PgClaimOwner`: an outbox owner on PostgreSQL (the `ClaimOwner` of channels/claim_owner.py,
  whose `FileClaimOwner` does the same with lock files on SQLite). It holds a session-level
  advisory lock on a key derived from its id for its life; a peer on any machine proves it gone
  when that key is free, and takes its claims at once instead of waiting out their lease.
- `Leader`: the scheduler's ticks (reminders, periods, retention, caregiver expiry, pending
  uploads) run in one process. `PgLeader` holds the session lock `LEADER_KEY`; the others try
  to take it each interval, so when the leader dies (its connection drops and the lock with it)
  another leads within one interval. `FileLeader` does the same with a flock beside an SQLite
  database; `Always` leads alone (no lock to share).

A leader that loses its lock connection (the database restarted) stops leading at its next
check and takes the lock again if it is free. Two leaders can overlap for at most the check's
round trip before a tick; the ticks queue each notice once anyway (services/scheduler.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from secure_msg.logging import get_logger, log_event
from secure_msg.storage.session_locks import LEADER_KEY, SessionLocks, owner_key

log = get_logger(__name__)


class PgClaimOwner:
    """This process as an outbox owner on PostgreSQL; open with `take`, `close` at shutdown."""

    def __init__(self, locks: SessionLocks, owner_id: str) -> None:
        self.locks = locks
        self.id = owner_id

    @classmethod
    async def take(cls, locks: SessionLocks, owner_id: str) -> PgClaimOwner:
        """Hold our key before making any claim: until then nobody can see us alive."""
        await locks.hold(owner_key(owner_id))
        return cls(locks, owner_id)

    async def gone(self, owner_id: str) -> bool:
        if owner_id == self.id:  # our own key is reentrant on our session: it looks free
            return False
        return await self.locks.is_free(owner_key(owner_id))

    def sweep(self) -> None:
        """Nothing to remove: a gone owner's key is simply free."""

    async def keep_alive(self) -> None:
        """A round trip on our lock session: if the database dropped it (a restart), reconnect
        and take our key again, so that peers stop seeing us gone within a second."""
        await self.locks.check()

    @property
    def generation(self) -> int:
        return self.locks.generation

    async def unbroken_since(self, generation: int) -> bool:
        """A round trip on our lock session: the database dropped it (and our key with it)
        since `generation` if it reconnects now or did before."""
        return await self.locks.check() == generation

    async def close(self) -> None:
        await self.locks.close()


class Leader(Protocol):
    @property
    def leading(self) -> bool: ...

    async def lead(self) -> bool:
        """Whether this process leads now: checks a lock it holds, or tries to take it."""
        ...

    async def close(self) -> None: ...


class Always:
    """The only process: it always leads."""

    leading = True

    async def lead(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class PgLeader:
    """Leads while it holds `LEADER_KEY` on its session (`locks`, shared with the owner)."""

    def __init__(self, locks: SessionLocks) -> None:
        self.locks = locks
        self._generation: int | None = None  # of the session that holds the lock, if any

    @property
    def leading(self) -> bool:
        return self._generation is not None and self._generation == self.locks.generation

    async def lead(self) -> bool:
        was = self._generation is not None
        try:
            generation = await self.locks.check()
            if self._generation != generation:  # never held, or lost with its connection
                self._generation = None
                if await self.locks.try_lock(LEADER_KEY):
                    self._generation = self.locks.generation
        except Exception:  # the database is unreachable: nobody can be sure to lead
            self._generation = None
            log.exception("scheduler: checking leadership failed")
        if was != self.leading:
            log_event(log, logging.WARNING if was else logging.INFO,
                      "scheduler.leader_lost" if was else "scheduler.leader_acquired")
        return self.leading

    async def close(self) -> None:
        """The lock goes with the connection, which `PgClaimOwner.close` closes."""
        self._generation = None


class FileLeader:
    """Leads while it holds a flock on `path` (the processes of one SQLite database)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self._fd: int | None = None

    @property
    def leading(self) -> bool:
        return self._fd is not None

    async def lead(self) -> bool:
        if self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            log_event(log, logging.INFO, "scheduler.leader_acquired")
        return True

    async def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
