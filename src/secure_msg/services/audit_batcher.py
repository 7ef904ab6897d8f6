"""Audit events that record a read, not a change (`entries.fetched`), written in batches.

A change's event commits in the change's own transaction. A read changes nothing, so its event
has no transaction to join; writing one per page read made every read cost a commit (an fsync
and writer time: ≈ 1 ms of CPU per page, a third of the read path; docs/performance.md). Events
are queued here in order and appended to the chain by one write every `interval` seconds, or at
once when `max_events` are waiting, and on shutdown. A crash loses the read records not yet
committed (normally the last interval's; more if the writer was slow to take them), and a batch
whose write fails is lost (logged); never a change's record. A batch is chained when written, so
its events can follow later ones in `seq` order with earlier `at_ms`. docs/threat-model.md §3.6
says so.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from secure_msg.logging import get_logger, log_event
from secure_msg.model.audit import DetailValue, check_event_fields, encode_detail
from secure_msg.storage import audit as audit_store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

log = get_logger(__name__)


@dataclass(frozen=True)
class PendingEvent:
    at_ms: int
    actor: str
    action: str
    target: str
    detail: Mapping[str, DetailValue]


def _append_all_txn(conn: Txn, events: list[PendingEvent]) -> None:
    audit_store.append_audit_events_txn(
        conn, [(e.at_ms, e.actor, e.action, e.target, e.detail) for e in events])


class AuditBatcher:
    # Small and often: a batch of 512 once a second held the GIL ≈ 20 ms in the writer thread,
    # which was the read path's p99 at 500 pages/s (docs/performance.md, "Reading").
    def __init__(self, db: Database, *, interval: float = 0.1, max_events: int = 64) -> None:
        self._db = db
        self._interval = interval
        self._max_events = max_events
        self._pending: list[PendingEvent] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._closed = False

    def add(self, event: PendingEvent) -> None:
        """Queue an event; it is on disk within `interval` seconds (or at `close`)."""
        if self._closed:
            raise RuntimeError("audit batcher is closed")
        # Checked now, not at flush: a malformed event is the caller's bug, and must not
        # take the rest of its batch down with it.
        check_event_fields(event.actor, event.action, event.target)
        encode_detail(event.detail)
        self._pending.append(event)
        if len(self._pending) >= self._max_events:
            self._flush_now()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._flush_now)

    def pending(self) -> int:
        return len(self._pending)

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        events, self._pending = self._pending, []
        task = asyncio.ensure_future(self._write(events))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, events: list[PendingEvent]) -> None:
        try:
            # Up to 64 chained records (≈ 3 ms): in the writer thread, not on the loop.
            await self._db.write(functools.partial(_append_all_txn, events=events), inline=False)
        except Exception as exc:  # the read itself has been answered; say what was lost
            log_event(log, logging.ERROR, "audit.batch_failed", events=len(events),
                      error=type(exc).__name__)

    async def flush(self) -> None:
        """Write everything queued now, and return once it (and any earlier batch) is durable."""
        self._flush_now()
        if self._writes:
            await asyncio.gather(*self._writes)

    async def close(self) -> None:
        """Write everything queued, then refuse new events."""
        self._closed = True
        await self.flush()
