"""Session-level advisory locks on PostgreSQL: which processes are alive, and who leads.

A process holds one dedicated connection for its life (`SessionLocks`), apart from the writer
and the readers: a session lock lives exactly as long as its connection, and the server drops
the connection when the process dies however it dies (kill -9, a crash, its host cut off once
TCP keepalive gives up), from any machine. So:

- an outbox owner holds `pg_advisory_lock(owner_key(id))` for its life, and a peer proves it
  gone when `pg_try_advisory_lock` on that key succeeds (released again at once): the dead
  process's claims are taken without waiting out their lease (channels/claim_owner.py);
- the scheduler's leader is whoever holds `LEADER_KEY`; the others try each interval.

The keys are single 64-bit values (the writers' `WRITE_LOCK` and the migrations' lock are too,
storage/pg_db.py): an owner's is derived from its random id, so it meets no fixed key.

If the connection breaks (the database restarted, an operator ended the session), every lock on
it is gone with it. The next call reconnects, counts a new `generation` and takes the keys held
with `hold` again; a caller that took a lock with `try_lock` (the leader) sees the generation
move and knows it lost the lock. A held key that someone else had at that moment (a peer's
probe) is tried again at each later call; when it is taken, the generation moves once more.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from secure_msg.logging import get_logger, log_event

if TYPE_CHECKING:  # psycopg is installed only for this backend: imported when connecting
    import psycopg

log = get_logger(__name__)
T = TypeVar("T")

# The scheduler's leader (services/leader.py); beside WRITE_LOCK 0x5EC0_0002.
LEADER_KEY = 0x5EC0_0010


def owner_key(owner_id: str) -> int:
    """The signed 64-bit advisory key of an outbox owner (its id is 32 random hex digits)."""
    digest = hashlib.sha256(b"secure-msg outbox owner\x00" + owner_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _connect(dsn: str) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(dsn, autocommit=True, application_name="secure-msg locks")


class SessionLocks:
    """One connection in a thread of its own; every method is one round trip or two."""

    def __init__(self, dsn: str, conn: psycopg.Connection[Any], thread: ThreadPoolExecutor
                 ) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = conn
        self._thread = thread
        self._held: set[int] = set()  # kept across reconnects
        self._missing: set[int] = set()  # held keys not taken again yet after a reconnect
        self.generation = 0  # +1 at each reconnect: every lock taken before is gone

    @classmethod
    async def open(cls, dsn: str) -> SessionLocks:
        """Connect (the DSN of the process's database, storage/pg_db.py)."""
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-locks")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(thread, _connect, dsn)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(dsn, conn, thread)

    @property
    def backend_pid(self) -> int | None:
        """The server process of our session now (for operators and tests)."""
        return self._conn.info.backend_pid if self._conn is not None else None

    async def _run(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self._in_thread, fn)

    def _in_thread(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("session locks are closed")
        import psycopg

        if not (conn.broken or conn.closed):
            try:
                if self._missing:
                    missing = {key for key in self._missing if not _try(conn, key)}
                    if missing != self._missing:
                        # Held again only now: peers may have judged us gone meanwhile,
                        # so whatever was done while a key was missing is of no generation
                        # that held it (services/process_locks.py `unbroken_since`).
                        self.generation += 1
                    self._missing = missing
                return fn(conn)
            except psycopg.OperationalError:
                if not conn.broken:
                    raise
        # The server dropped us: every lock of that session went with it.
        conn.close()
        self._conn = conn = _connect(self._dsn)
        self.generation += 1
        self._missing = {key for key in self._held if not _try(conn, key)}
        log_event(log, logging.WARNING, "db.locks_reconnected", generation=self.generation,
                  held_again=len(self._held) - len(self._missing), missing=len(self._missing))
        return fn(conn)

    async def hold(self, key: int) -> None:
        """Take `key` for the life of this object, waiting for it; taken again after a
        reconnect."""
        await self._run(lambda c: c.execute("SELECT pg_advisory_lock(%s::bigint)", (key,)))
        self._held.add(key)

    async def try_lock(self, key: int) -> bool:
        """Take `key` if free (reentrant: do not take a key twice); it stays ours until the
        connection closes or breaks (watch `generation`)."""
        return await self._run(lambda c: _try(c, key))

    async def is_free(self, key: int) -> bool:
        """True when no session holds `key` (taken and given back at once to know). Never
        ask about a key this session holds: the lock is reentrant, so it would look free."""

        def probe(conn: psycopg.Connection[Any]) -> bool:
            if not _try(conn, key):
                return False
            conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (key,))
            return True

        return await self._run(probe)

    async def check(self) -> int:
        """A round trip on the connection (reconnecting if it broke); the generation after."""
        await self._run(lambda c: c.execute("SELECT 1"))
        return self.generation

    async def close(self) -> None:
        """Close the connection (the server frees every lock of it); safe twice."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
            self._thread.shutdown(wait=False)


def _try(conn: psycopg.Connection[Any], key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s::bigint)", (key,)).fetchone()
    return bool(row and row[0])

