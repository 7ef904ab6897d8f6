"""PostgreSQL's writers of several processes take turns (storage/pg_db.py, WRITE_LOCK): a
write reads the chain head only once another process's open transaction has committed.

The other process here is a plain connection that holds the lock, as another app process's
writer does, and appends to the audit chain: the app's write must wait for it and then extend
its event, not read the same head and fail on the primary key (tests/test_two_processes_pg.py
shows the same with two real servers)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from secure_msg.storage import audit as audit_store
from secure_msg.storage.db import DATABASE_URL_ENV, Database
from secure_msg.storage.pg_db import WRITE_LOCK, PgDatabase
from secure_msg.storage.pg_txn import PgTxn, configure
from secure_msg.storage.txn import Txn

pytestmark = pytest.mark.postgresql


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def other_process(db: Database) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(os.environ[DATABASE_URL_ENV], autocommit=True)
    configure(conn)
    yield conn
    conn.close()


def _holds_write_lock(t: Txn) -> bool:
    row = t.execute(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid = pg_backend_pid() AND classid = ? AND objid = ? AND objsubid = 1",
        (WRITE_LOCK >> 32, WRITE_LOCK & 0xFFFF_FFFF),
    ).fetchone()
    return bool(row and row[0] == 1)


async def test_every_write_transaction_holds_the_lock(db: Database) -> None:
    assert isinstance(db, PgDatabase)
    assert await db.write(_holds_write_lock)
    assert not await db.read(_holds_write_lock)  # readers never take it


async def test_a_write_waits_for_another_process_and_extends_its_chain(
    db: Database, other_process: psycopg.Connection[Any],
) -> None:
    other_process.execute("BEGIN")
    other_process.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    theirs = audit_store.append_audit_txn(PgTxn(other_process), at_ms=1, actor="system",
                                          action="test.other")
    mine = asyncio.ensure_future(db.write(functools.partial(
        audit_store.append_audit_txn, at_ms=2, actor="system", action="test.mine")))
    await asyncio.sleep(0.3)
    assert not mine.done()
    other_process.execute("COMMIT")
    event = await asyncio.wait_for(mine, timeout=10)
    assert (event.seq, event.prev_hash) == (theirs.seq + 1, theirs.hash)
    report = await audit_store.verify(db)
    assert report.ok, report.reason
