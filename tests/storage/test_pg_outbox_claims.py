"""The outbox's claim on PostgreSQL (services/outbox.claim → storage/notices.claim_due_txn): one
statement whose rows are locked `FOR UPDATE SKIP LOCKED`, in a transaction of its own that does
not take the writers' lock (storage/pg_db.py `write_row_locked`).

The other process here is a plain connection, as another app process's: while it holds the
writers' lock (a write batch of its own) a claim still goes through; while it holds a row (its
own claim, not committed yet) the claim takes the other due notices and leaves that one, and
nothing is claimed twice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import NewNotice
from secure_msg.services import outbox
from secure_msg.services.core import Core
from secure_msg.storage import notices as store
from secure_msg.storage.db import DATABASE_URL_ENV, Database
from secure_msg.storage.pg_db import WRITE_LOCK, PgDatabase
from secure_msg.storage.txn import Txn

pytestmark = pytest.mark.postgresql
TO = "+358401112222"


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def other_process(db: Database) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(os.environ[DATABASE_URL_ENV], autocommit=True)
    yield conn
    conn.close()


async def _queue(db: Database, vault: Vault, now: int, count: int) -> list[int]:
    def txn(t: Txn) -> list[int]:
        ids = []
        for i in range(count):
            start = now + 86_400_000 + i * 60_000
            store.enqueue_txn(t, vault, NewNotice(
                f"k{i}", Channel.SMS, TO, NoticeKind.CANCELLED_BY_THERAPIST, Language.FI,
                {"date": start, "time": start}, now), now)
            ids.append(store.notice_id_txn(t, f"k{i}"))
        return ids

    return await db.write(txn)


async def test_a_claim_does_not_wait_for_another_process_s_writes(
    db: Database, vault: Vault, other_process: psycopg.Connection[Any],
) -> None:
    clock = FixedClock()
    core = Core(db, vault, clock, system_rng)
    await _queue(db, vault, clock.now_ms(), 3)
    other_process.execute("BEGIN")
    other_process.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    claimed = await asyncio.wait_for(
        outbox.claim(core, clock.now_ms(), 10, 60_000, ["sms"], "a" * 32), timeout=5)
    assert len(claimed) == 3
    other_process.execute("COMMIT")


async def test_a_claim_skips_the_rows_another_claim_holds(
    db: Database, vault: Vault, other_process: psycopg.Connection[Any],
) -> None:
    clock = FixedClock()
    core = Core(db, vault, clock, system_rng)
    first, *rest = await _queue(db, vault, clock.now_ms(), 4)
    other_process.execute("BEGIN")
    other_process.execute("SELECT id FROM notices WHERE id = %s FOR UPDATE", (first,))
    claimed = await asyncio.wait_for(
        outbox.claim(core, clock.now_ms(), 10, 60_000, ["sms"], "a" * 32), timeout=5)
    assert [n.id for n in claimed] == rest  # in the order they are due
    assert all(n.address == TO and not n.reconcile for n in claimed)
    other_process.execute("ROLLBACK")
    [last] = await outbox.claim(core, clock.now_ms(), 10, 60_000, ["sms"], "b" * 32)
    assert last.id == first
    assert await outbox.claim(core, clock.now_ms(), 10, 60_000, ["sms"], "b" * 32) == []
    owners = await outbox.claim_owners(core)
    assert owners == ["a" * 32, "b" * 32]


async def test_two_processes_claiming_at_once_never_take_one_notice_twice(
    db: Database, vault: Vault,
) -> None:
    """Two databases (two processes' connections) claim 5 at a time as fast as they can, at
    once, until nothing is due: every notice is claimed exactly once."""
    clock = FixedClock()
    ids = await _queue(db, vault, clock.now_ms(), 200)
    other = await PgDatabase.open_dsn(os.environ[DATABASE_URL_ENV])
    try:
        async def drain(database: Database, owner: str) -> list[int]:
            core = Core(database, vault, clock, system_rng)
            got: list[int] = []
            while claimed := await outbox.claim(core, clock.now_ms(), 5, 60_000, ["sms"],
                                                owner):
                got += [n.id for n in claimed]
            return got

        mine, theirs = await asyncio.gather(drain(db, "a" * 32), drain(other, "b" * 32))
    finally:
        await other.close()
    assert sorted(mine + theirs) == ids
    assert mine
    assert theirs
