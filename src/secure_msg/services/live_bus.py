"""Live events across the app processes that share one PostgreSQL database.

The process that makes a change fans it out to its own sockets as before (services/live.py),
then relays it: the hub hands the fan-out to `LiveBus`, which sends it as ids-only text, sealed
under a key of the server's keys/ (services/live_wire.py), on the database's LISTEN/NOTIFY
channel (storage/pg_notify.py), with this process's random id. Every process listens on the
channel, skips its own payloads, and applies the others' to its local sockets with `Hub.apply`:
no observers there, so a new-entry ping is queued by the one process that took the post,
however many there are.

On SQLite there is one process and no bus: the hub has no relay, and nothing changes.
A payload that does not open or decode is logged (its length and why, not its text) and skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from secure_msg.crypto.vault import Vault
from secure_msg.logging import get_logger, log_event
from secure_msg.services import live_wire
from secure_msg.services.live import Fanout, Hub
from secure_msg.storage.db import Database

if TYPE_CHECKING:
    from secure_msg.storage.pg_notify import PgChannel

log = get_logger(__name__)


def wall_ms() -> int:
    """The payloads' time: the wall clock, which the processes' hosts keep in step (NTP)."""
    return time.time_ns() // 1_000_000


class LiveBus:
    """What joins this process's hub to the others' (module docstring). `received` and
    `relay` are pure but for the hub and the channel, so tests drive them without a server."""

    def __init__(self, hub: Hub, sealer: live_wire.Sealer,
                 now_ms: Callable[[], int] = wall_ms) -> None:
        self.hub = hub
        self.sealer = sealer
        self._now_ms = now_ms
        self._own = live_wire.origin_prefix(sealer.origin)
        # Made before the channel listens: what was sealed earlier was not sent to us, unless
        # a listener recorded it to play it back (live_wire's docstring).
        self._since_ms = now_ms() - live_wire.START_SKEW_MS
        self.channel: PgChannel | None = None
        self.applied = 0  # fan-outs from other processes applied here
        self.rejected = 0  # payloads that did not open or decode

    def received(self, payload: str) -> None:
        """A payload from the channel: another process's fan-out, applied here; ours, skipped."""
        if payload.startswith(self._own):
            return
        try:
            _, fanout = self.sealer.open(payload, self._now_ms(), self._since_ms)
        except ValueError as exc:
            self.rejected += 1
            log_event(log, logging.WARNING, "live.bad_payload", reason=str(exc),
                      length=len(payload))
            return
        self.applied += 1
        self.hub.apply(fanout)

    def relay(self, fanout: Fanout) -> None:
        if self.channel is not None:
            now = self._now_ms()
            for body in live_wire.encode(fanout):
                self.channel.send(self.sealer.seal(body, now))

    async def aclose(self) -> None:
        """Stop relaying, send what is queued, stop listening (at shutdown)."""
        if self.hub.relay == self.relay:
            self.hub.relay = None
        if self.channel is not None:
            await self.channel.aclose()


async def start(hub: Hub, db: Database, backend: str, vault: Vault) -> LiveBus | None:
    """Relay `hub`'s fan-outs to the other processes on `db`, and theirs to it; None (and no
    cost) on SQLite. The process id comes from the OS: it must differ between processes even
    when tests seed the service's random source."""
    if backend != "postgresql":
        return None
    from secure_msg.storage import pg_notify  # psycopg is needed only for this backend

    bus = LiveBus(hub, live_wire.Sealer(live_wire.live_key(vault), os.urandom(8)))
    bus.channel = await pg_notify.open_for(db, bus.received)
    if bus.channel is None:
        return None
    hub.relay = bus.relay
    return bus
