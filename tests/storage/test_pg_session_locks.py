"""Owner liveness and the scheduler's leader on PostgreSQL (storage/session_locks.py,
services/process_locks.py): each `SessionLocks` is one process's lock session.

A live owner is not gone to a peer; an owner whose session closed, or was ended by the server,
is gone at once (no lease to wait out); a probe does not keep the key. The leader is whoever
holds LEADER_KEY: one at a time, the other takes over when the leader's session ends, and a
leader whose connection broke knows it no longer leads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest

from secure_msg.services.process_locks import PgClaimOwner, PgLeader
from secure_msg.storage.session_locks import LEADER_KEY, SessionLocks, owner_key

pytestmark = pytest.mark.postgresql

A, B, C = "a" * 32, "b" * 32, "c" * 32
Open = Callable[[], Awaitable[SessionLocks]]


@pytest.fixture
async def open_locks(pg_dsn: str) -> AsyncIterator[Open]:
    opened: list[SessionLocks] = []

    async def make() -> SessionLocks:
        locks = await SessionLocks.open(pg_dsn)
        opened.append(locks)
        return locks

    yield make
    for locks in opened:
        await locks.close()


async def _soon(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> bool:
    """True once `check` is: a closed session's backend ends (and frees its locks) a moment
    after the client goes, not at once."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _terminate(dsn: str, locks: SessionLocks) -> None:
    """What a database restart or `pg_terminate_backend` by an operator does to a session."""
    pid = locks.backend_pid
    with psycopg.connect(dsn, autocommit=True) as admin:
        row: Any = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
        assert row[0] is True


async def test_a_live_owner_is_not_gone_and_a_closed_one_is(open_locks: Open) -> None:
    first = await PgClaimOwner.take(await open_locks(), A)
    second = await PgClaimOwner.take(await open_locks(), B)
    assert not await first.gone(B)
    assert not await second.gone(A)
    assert not await first.gone(A)  # ourselves: never gone
    assert not await second.gone(B)
    await second.close()  # the process ends: its session and every lock of it go
    assert await _soon(lambda: first.gone(B))
    assert await first.gone(B)  # the probe gave the key back: still provable
    third = await open_locks()
    assert await third.try_lock(owner_key(B))  # nobody kept it


async def test_an_owner_whose_session_the_server_ended_is_gone_until_it_reconnects(
    open_locks: Open, pg_dsn: str,
) -> None:
    watcher = await PgClaimOwner.take(await open_locks(), A)
    locks = await open_locks()
    owner = await PgClaimOwner.take(locks, C)
    _terminate(pg_dsn, locks)
    assert await _soon(lambda: watcher.gone(C))
    await owner.keep_alive()  # the worker's each second: reconnects, takes its key again
    assert locks.generation == 1
    assert not await watcher.gone(C)


async def test_one_leader_at_a_time_and_the_other_takes_over(
    open_locks: Open, pg_dsn: str,
) -> None:
    first, second = PgLeader(await open_locks()), PgLeader(await open_locks())
    assert await first.lead()
    assert not await second.lead()
    assert await first.lead()  # still, and only once: the key is not taken twice
    assert first.leading
    assert not second.leading
    _terminate(pg_dsn, first.locks)  # the leader's connection drops (or the process dies)
    assert await _soon(second.lead)
    assert not await first.lead()  # it noticed: lost with its session, now held by second
    assert not first.leading
    await second.locks.close()
    assert await _soon(first.lead)
    row: Any = None
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s AND objsubid = 1",
            (LEADER_KEY >> 32, LEADER_KEY & 0xFFFF_FFFF)).fetchone()
    assert row[0] == 1

