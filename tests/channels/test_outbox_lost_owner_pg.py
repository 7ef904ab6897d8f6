"""An outbox owner whose lock session the database dropped (it restarted, an operator ended
the session) must not send what it claimed before: meanwhile a peer may have proved it "gone"
by its free key, released its claims and sent them itself (channels/outbox.py, `recover`).

Two workers on one PostgreSQL database, each with its own lock session as two processes have;
the local Twilio server counts what leaves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from secure_msg.channels.outbox import OutboxWorker, TokenBucket
from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
from secure_msg.clock import FixedClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import NewNotice
from secure_msg.services.core import Core
from secure_msg.services.process_locks import PgClaimOwner
from secure_msg.storage import notices as store
from secure_msg.storage.db import Database
from secure_msg.storage.session_locks import SessionLocks, owner_key
from secure_msg.storage.txn import Txn
from secure_msg.testing.twilio_server import RunningTwilioServer

from .test_outbox_worker import HOUR, TO, worker_for

pytestmark = pytest.mark.postgresql
A, B = "a" * 32, "b" * 32


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
async def workers(db: Database, vault: Vault, settings: TwilioSettings, pg_dsn: str,
                  twilio_server: RunningTwilioServer,
                  ) -> AsyncIterator[tuple[OutboxWorker, OutboxWorker, FixedClock]]:
    clock = FixedClock(time.time_ns() // 1_000_000)
    single = replace(settings, max_attempts_per_send=1, max_inline_wait=0.0)
    made = []
    for owner_id in (A, B):
        worker = worker_for(Core(db, vault, clock, system_rng), TwilioSmsGateway(single))
        worker.owner = await PgClaimOwner.take(await SessionLocks.open(pg_dsn), owner_id)
        made.append(worker)
    yield made[0], made[1], clock
    for worker in made:
        await worker.aclose()


async def _notice(db: Database, vault: Vault, clock: FixedClock) -> int:
    start = clock.now_ms() + 48 * HOUR
    n = NewNotice("n1", Channel.SMS, TO, NoticeKind.CANCELLED_BY_THERAPIST, Language.FI,
                  {"date": start, "time": start}, clock.now_ms())

    def txn(conn: Txn) -> int:
        store.enqueue_txn(conn, vault, n, clock.now_ms())
        return store.notice_id_txn(conn, "n1")

    return await db.write(txn)


def _wait_gone(dsn: str, pid: int) -> None:
    """Until the backend `pid` has exited: only then has the server freed its locks."""
    deadline = time.monotonic() + 10
    with psycopg.connect(dsn, autocommit=True) as admin:
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone() is not None:
            assert time.monotonic() < deadline, f"backend {pid} did not exit"
            time.sleep(0.02)


def _end_session(dsn: str, worker: OutboxWorker) -> None:
    """What a database restart does to the worker's lock session (the rest reconnect)."""
    assert isinstance(worker.owner, PgClaimOwner)
    pid = worker.owner.locks.backend_pid
    assert pid is not None
    with psycopg.connect(dsn, autocommit=True) as admin:
        row: Any = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
        assert row[0] is True
    _wait_gone(dsn, pid)


async def test_a_claim_made_before_the_lock_session_dropped_is_not_sent_by_its_owner(
    db: Database, vault: Vault, pg_dsn: str, twilio_server: RunningTwilioServer,
    workers: tuple[OutboxWorker, OutboxWorker, FixedClock],
) -> None:
    first, second, clock = workers
    nid = await _notice(db, vault, clock)
    first._bucket = TokenBucket(1000)  # as `run` makes it
    [claimed] = await first._claim(1)  # then it waits its turn (rate, concurrency)
    _end_session(pg_dsn, first)  # the server frees the session's locks as the backend exits

    # The peer finds the first one's key free, takes its claim and, after reconciling (nothing
    # at Twilio yet), sends it.
    assert await second.recover() == 1
    clock.advance(2)  # the reconcile delay
    async with asyncio.timeout(10):
        await second.drain()
    assert len(twilio_server.state.messages) == 1

    # The first one gets to its claim only now: it must not send it again.
    async with asyncio.timeout(10):
        await first._process(claimed)
    assert len(twilio_server.state.messages) == 1
    row = await db.read(lambda c: c.execute(
        "SELECT status, attempts FROM notices WHERE id = ?", (nid,)).fetchone())
    assert tuple(row) == ("sent", 1)
    assert (first.stats.sent, second.stats.sent) == (0, 1)


async def test_a_claim_made_while_our_key_was_someone_else_s_is_not_sent(
    db: Database, vault: Vault, pg_dsn: str, twilio_server: RunningTwilioServer,
    workers: tuple[OutboxWorker, OutboxWorker, FixedClock],
) -> None:
    """After the drop, the first one reconnects while a peer's probe (`is_free`) holds its key
    for a moment: its key is not taken again yet, so peers may judge it gone, and a claim it
    makes then is not safely its own either."""
    first, second, clock = workers
    assert isinstance(first.owner, PgClaimOwner)
    await _notice(db, vault, clock)
    _end_session(pg_dsn, first)
    probe = await SessionLocks.open(pg_dsn)
    probe_pid = probe.backend_pid
    assert probe_pid is not None
    try:
        assert await probe.try_lock(owner_key(A))  # a peer's probe, at the wrong moment
        await first.owner.keep_alive()  # reconnects; its key stays to take again
        first._bucket = TokenBucket(1000)
        [claimed] = await first._claim(1)
    finally:
        await probe.close()
    _wait_gone(pg_dsn, probe_pid)

    assert await second.recover() == 1  # the key is free: the first one looks gone
    clock.advance(2)
    async with asyncio.timeout(10):
        await second.drain()
        await first._process(claimed)  # takes its key again, then must not send
    assert len(twilio_server.state.messages) == 1
    assert (first.stats.sent, second.stats.sent) == (0, 1)
