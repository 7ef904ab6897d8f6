"""PostgreSQL LISTEN/NOTIFY on one channel: how the app processes that share a database tell
each other of the live hub's fan-outs (services/live_bus.py). Text in, text out: what the text
says is services/live_wire.py's business; this module only carries it.

Two connections of its own per process, on psycopg 3's async API on the event loop (no thread:
what arrives must reach the loop anyway, and closing is a cancellation, not a wait for a poll):

- The listener runs `LISTEN` and waits for notifications, handing each payload to
  `on_payload` on the loop. When its connection is lost (the server restarted, an operator
  ended the session) it says so in the log and connects again, at once and then with a growing
  delay (0.1 s doubling to 5 s, jittered), and says when it listens again. Notifications sent
  meanwhile are lost: a live event is a hint (docs/protocol.md §10.5), and the changes are in
  the database for the next read.
- The sender sends what `send` was given, in order, in as few statements as possible: while
  one `SELECT pg_notify(…)` is under way, later payloads queue and go together in the next
  (one transaction, one round trip, like the writer's group commit). A connection found broken
  is replaced once per batch; a batch that still fails is dropped and logged.

PostgreSQL delivers the notifications of one transaction in order, and those of different
transactions in commit order, so each sender's payloads arrive in the order it sent them.
Identical payloads in one transaction arrive once; a repeated fan-out changes nothing.
The DSN is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from secure_msg.logging import get_logger, log_event
from secure_msg.storage.db import Database

log = get_logger(__name__)

CHANNEL = "secure_msg_live"
MAX_BACKOFF = 5.0
MAX_BATCH = 500  # payloads per NOTIFY statement
MAX_PENDING = 10_000  # payloads waiting while the sender cannot reach the server; older dropped
CONNECT_TIMEOUT = 5  # seconds (psycopg's connect_timeout): an unreachable server is not waited on
_NOTIFY = "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p"


@dataclass
class ChannelStats:
    sent: int = 0  # payloads the server took
    received: int = 0  # payloads that arrived, this process's own included
    dropped: int = 0  # payloads lost on the sending side (the server could not be reached)
    reconnects: int = 0  # times the listener listened again after losing its connection


class PgChannel:
    """One LISTEN/NOTIFY channel; `open` it, `send` text, get text in `on_payload`, `aclose`."""

    def __init__(self, dsn: str, on_payload: Callable[[str], None], channel: str) -> None:
        self._dsn = dsn
        self._on_payload = on_payload
        self._channel = channel
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._sender: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = ChannelStats()

    @classmethod
    async def open(cls, dsn: str, on_payload: Callable[[str], None], *,
                   channel: str = CHANNEL) -> PgChannel:
        """Listening when this returns (a process that answers /readyz hears the others)."""
        self = cls(dsn, on_payload, channel)
        self._listener = await self._listen()
        self._task = asyncio.create_task(self._run(self._listener), name="live-listener")
        return self

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._dsn, autocommit=True, application_name="secure-msg",
            connect_timeout=CONNECT_TIMEOUT)

    async def _listen(self) -> psycopg.AsyncConnection[Any]:
        conn = await self._connect()
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            await conn.close()
            raise
        return conn

    # -- listening ----------------------------------------------------------------------------

    async def _run(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        delay = 0.0
        attempts = 0
        lost_at = 0.0
        while True:
            if conn is None:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(max(0.1, delay * 2), MAX_BACKOFF)
                attempts += 1
                try:
                    conn = self._listener = await self._listen()
                except Exception as exc:
                    if attempts == 1 or attempts % 10 == 0:
                        log_event(log, logging.WARNING, "live.listener_retry_failed",
                                  attempts=attempts, error=type(exc).__name__)
                    continue
                self.stats.reconnects += 1
                log_event(log, logging.WARNING, "live.listener_reconnected", attempts=attempts,
                          gap_ms=round((time.monotonic() - lost_at) * 1000))
                delay, attempts = 0.0, 0
            try:
                async for notify in conn.notifies():
                    self._deliver(notify.payload)
            except Exception as exc:
                lost_at = time.monotonic()
                log_event(log, logging.WARNING, "live.listener_lost", error=type(exc).__name__)
                await _close_quietly(conn)
                conn = self._listener = None

    def _deliver(self, payload: str) -> None:
        self.stats.received += 1
        try:
            self._on_payload(payload)
        except Exception as exc:  # one bad payload must not stop the listener
            log_event(log, logging.ERROR, "live.payload_failed", error=type(exc).__name__)

    # -- sending ------------------------------------------------------------------------------

    def send(self, payload: str) -> None:
        """Queue `payload` (under 8000 bytes) to every listener, this process's included."""
        if self._closed:
            return
        self._pending.append(payload)
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]
            self.stats.dropped += 1
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush(),
                                                                   name="live-sender")

    async def _flush(self) -> None:
        """Until nothing is pending; no await between finding the list empty and clearing
        `_flusher`, so a payload queued after that starts a new one."""
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._send_batch(batch)
        finally:
            self._flusher = None

    async def _send_batch(self, batch: list[str]) -> None:
        for attempt in (1, 2):
            fresh = self._sender is None
            try:
                if self._sender is None:
                    self._sender = await self._connect()
                await self._sender.execute(_NOTIFY, (self._channel, batch))
            except Exception as exc:
                if self._sender is not None:
                    await _close_quietly(self._sender)
                    self._sender = None
                if attempt == 1 and not fresh:  # a connection the server dropped meanwhile
                    continue
                self.stats.dropped += len(batch)
                log_event(log, logging.WARNING, "live.send_failed", error=type(exc).__name__,
                          payloads=len(batch))
                return
            self.stats.sent += len(batch)
            return

    async def aclose(self) -> None:
        """Send what is queued (for a moment at most), stop listening, close both."""
        self._closed = True
        if self._flusher is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._flusher), 2.0)
            if self._flusher is not None:
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conn in (self._listener, self._sender):
            if conn is not None:
                await _close_quietly(conn)
        self._listener = self._sender = None


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


async def open_for(db: Database, on_payload: Callable[[str], None]) -> PgChannel | None:
    """The channel on `db`'s server when it is PostgreSQL; None for SQLite (one process)."""
    from secure_msg.storage.pg_db import PgDatabase

    if not isinstance(db, PgDatabase):
        return None
    return await PgChannel.open(db.dsn, on_payload)
