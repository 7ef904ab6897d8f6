"""The group-commit writer and the readers, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from secure_msg.storage.db import Database

CREATE = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE) STRICT"


def _insert_txn(value: str) -> object:
    def txn(conn: sqlite3.Connection) -> int:
        conn.execute(CREATE)
        cursor = conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    return txn


def _count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])


async def test_pragmas_are_wal_full_and_foreign_keys(db: Database) -> None:
    """The database runs in WAL with synchronous=FULL and foreign keys on."""
    assert db.path.exists()
    conn = sqlite3.connect(db.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    flags = await db.write(lambda c: (c.execute("PRAGMA synchronous").fetchone()[0],
                                      c.execute("PRAGMA foreign_keys").fetchone()[0]))
    assert flags == (2, 1)  # 2 = FULL


async def test_concurrent_writes_share_commits(db: Database) -> None:
    """Writes that arrive together are committed in fewer transactions than writes."""
    results = await asyncio.gather(*(db.write(_insert_txn(f"v{i}")) for i in range(200)))
    assert len(set(results)) == 200
    assert await db.read(_count) == 200
    assert db.stats.jobs >= 200
    assert db.stats.commits < 200


async def test_a_failing_function_does_not_poison_its_batch(db: Database) -> None:
    """One function raising rolls back only its own savepoint; the others commit."""
    await db.write(_insert_txn("taken"))

    def fails_midway(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES ('half-done')")
        conn.execute("INSERT INTO t (v) VALUES ('taken')")  # UNIQUE violation

    jobs = [db.write(_insert_txn(f"ok{i}")) for i in range(5)]
    jobs.insert(2, db.write(fails_midway))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert sum(isinstance(r, int) for r in results) == 5
    values = await db.read(lambda c: {row[0] for row in c.execute("SELECT v FROM t")})
    assert "half-done" not in values
    assert {f"ok{i}" for i in range(5)} <= values


async def test_acknowledged_write_is_visible_to_a_fresh_connection(db: Database) -> None:
    """After write() returns, another connection (another process) sees the row."""
    await db.write(_insert_txn("durable"))
    conn = sqlite3.connect(db.path)
    assert conn.execute("SELECT v FROM t").fetchall() == [("durable",)]
    conn.close()


async def test_reads_cannot_write(db: Database) -> None:
    """Reader connections are query-only: a write through read() fails and changes nothing."""
    await db.write(_insert_txn("a"))
    with pytest.raises(sqlite3.OperationalError):
        await db.read(lambda c: c.execute("INSERT INTO t (v) VALUES ('b')"))
    assert await db.read(_count) == 1


async def test_close_finishes_queued_writes(tmp_path: Path) -> None:
    """Writes queued before close() are committed, not dropped."""
    database = await Database.open(tmp_path / "x.db")
    pending = [asyncio.ensure_future(database.write(_insert_txn(f"q{i}"))) for i in range(50)]
    await asyncio.sleep(0)
    await database.close()
    assert all(isinstance(job.result(), int) for job in pending)
    conn = sqlite3.connect(tmp_path / "x.db")
    assert _count(conn) == 50
    conn.close()
    with pytest.raises(RuntimeError):
        await database.write(_insert_txn("late"))


async def test_ping_answers(db: Database) -> None:
    """ping() is what /readyz uses."""
    assert await db.ping() is True


async def test_read_now_sees_acknowledged_writes_in_one_snapshot(db: Database) -> None:
    """read_now runs on the loop's own connection: it sees every acknowledged write, and its
    statements share one snapshot even while the writer commits in between."""
    await db.write(_insert_txn("a"))
    assert db.read_now(_count) == 1
    seen: list[int] = []

    def two_counts(conn: sqlite3.Connection) -> None:
        seen.append(_count(conn))
        other = sqlite3.connect(db.path, isolation_level=None)  # a concurrent committer
        other.execute("INSERT INTO t (v) VALUES ('b')")
        other.close()
        seen.append(_count(conn))

    db.read_now(two_counts)
    assert seen == [1, 1]
    assert db.read_now(_count) == 2


async def test_read_now_cannot_write_and_refuses_after_close(tmp_path: Path) -> None:
    """The inline connection is query-only, and closed with the database."""
    database = await Database.open(tmp_path / "x.db")
    await database.write(_insert_txn("a"))
    with pytest.raises(sqlite3.OperationalError):
        database.read_now(lambda c: c.execute("INSERT INTO t (v) VALUES ('b')"))
    assert database.read_now(_count) == 1
    await database.close()
    with pytest.raises(RuntimeError):
        database.read_now(_count)


async def test_waiting_for_another_process_write_lock_does_not_block_the_loop(
    db: Database,
) -> None:
    """BEGIN IMMEDIATE waits in the writer's thread: while another process holds the write
    lock the event loop keeps serving, and the write lands once the lock is released."""
    await db.write(_insert_txn("first"))
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    pending = asyncio.ensure_future(db.write(_insert_txn("second")))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(20):  # 0.2 s of a responsive loop while the writer waits for the lock
        await asyncio.sleep(0.01)
    assert loop.time() - started < 2  # busy_timeout is 5 s: a blocked loop would show
    assert not pending.done()
    assert db.read_now(_count) == 1
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(pending, 5)
    assert db.read_now(_count) == 2
