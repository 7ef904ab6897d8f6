"""This process's roles among the processes of one database: an outbox claim owner whose death
others can prove, and a candidate to lead the scheduler (services/process_locks.py).

PostgreSQL: both ride one session of their own (advisory locks), so they hold across machines.
SQLite: lock files in `<database>.owners/` beside the database (its processes share a machine).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from secure_msg.channels.claim_owner import ClaimOwner, FileClaimOwner, owners_dir
from secure_msg.config import Config
from secure_msg.services.process_locks import FileLeader, Leader, PgClaimOwner, PgLeader
from secure_msg.storage.db import Database
from secure_msg.web.metrics import Gauge
from secure_msg.web.middleware import METRICS


@dataclass
class SchedulerRole:
    """Runs the scheduler's tick only while this process leads; counts what it ran."""

    leader: Leader
    ticks: int = 0  # ticks this process ran as the leader

    def led(self, tick: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            if not await self.leader.lead():
                return 0
            self.ticks += 1
            return await tick()

        return run


async def open_roles(cfg: Config, db: Database) -> tuple[ClaimOwner, SchedulerRole]:
    """The claim owner and the scheduler role of this process; close the owner at shutdown
    (on PostgreSQL that closes the leader's lock session too)."""
    # A random id from the OS: it must differ between processes even when tests seed the
    # service's random source.
    owner_id = os.urandom(16).hex()
    locks = await db.open_session_locks()
    if locks is None:
        directory = owners_dir(cfg.storage.database_path)
        return (FileClaimOwner(directory, owner_id),
                SchedulerRole(FileLeader(directory / "leader.lock")))
    try:
        owner = await PgClaimOwner.take(locks, owner_id)
    except BaseException:
        await locks.close()
        raise
    return owner, SchedulerRole(PgLeader(locks))


def register_metrics(app: web.Application, role: SchedulerRole) -> None:
    app[METRICS].register(Gauge(
        "secure_msg_scheduler_leader",
        "1 while this process leads the scheduler (runs reminders, periods, retention).",
        lambda: int(role.leader.leading)))
    app[METRICS].register(Gauge(
        "secure_msg_scheduler_ticks_total",
        "Scheduler ticks this process ran as the leader (a counter).", lambda: role.ticks))
