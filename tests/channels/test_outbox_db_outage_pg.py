"""The outbox keeps sending after the database was unreachable for a moment (a restart, a
fail-over): its claim, on a connection of its own (`write_row_locked`), fails while the server
refuses connections, and the worker must try again at its next poll, not stop for the rest of
the process's life.

The outage is made on the test's own database: connections refused (ALLOW_CONNECTIONS false)
and every session of it ended, as a restart ends them; then allowed again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
from secure_msg.clock import FixedClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.services.core import Core
from secure_msg.storage.db import Database
from secure_msg.testing.twilio_server import RunningTwilioServer

from .test_outbox_lost_owner_pg import _notice
from .test_outbox_worker import worker_for

pytestmark = pytest.mark.postgresql


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _outage(dsn: str, *, on: bool) -> None:
    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not on).lower()}')
        if on:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = %s", (name,))


async def test_the_outbox_sends_again_after_the_database_was_away(
    db: Database, vault: Vault, pg_dsn: str, settings: TwilioSettings,
    twilio_server: RunningTwilioServer,
) -> None:
    clock = FixedClock(time.time_ns() // 1_000_000)
    single = replace(settings, max_attempts_per_send=1, max_inline_wait=0.0)
    worker = worker_for(Core(db, vault, clock, system_rng), TwilioSmsGateway(single),
                        idle_poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.3)  # claiming (nothing due) on its own connection
        _outage(pg_dsn, on=True)
        await asyncio.sleep(0.5)  # several claims meet the refusal
        _outage(pg_dsn, on=False)
        await _notice(db, vault, clock)
        for _ in range(200):  # up to 10 s
            if twilio_server.state.messages:
                break
            await asyncio.sleep(0.05)
        assert not task.done(), task.exception() if task.done() else None
        assert len(twilio_server.state.messages) == 1
    finally:
        _outage(pg_dsn, on=False)
        stop.set()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 15)
        await worker.aclose()
