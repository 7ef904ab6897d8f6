"""The group-commit writer and the readers, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from secure_msg.storage.db import Database


@pytest.fixture
def backend() -> str:
    """SQLite's writer, readers and pragmas; PostgreSQL's are tests/storage/test_pg_db.py."""
    return "sqlite"

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
    assert await db.read_now(_count) == 1
    seen: list[int] = []

    def two_counts(conn: sqlite3.Connection) -> None:
        seen.append(_count(conn))
        other = sqlite3.connect(db.path, isolation_level=None)  # a concurrent committer
        other.execute("INSERT INTO t (v) VALUES ('b')")
        other.close()
        seen.append(_count(conn))

    await db.read_now(two_counts)
    assert seen == [1, 1]
    assert await db.read_now(_count) == 2


async def test_read_now_cannot_write_and_refuses_after_close(tmp_path: Path) -> None:
    """The inline connection is query-only, and closed with the database."""
    database = await Database.open(tmp_path / "x.db")
    await database.write(_insert_txn("a"))
    with pytest.raises(sqlite3.OperationalError):
        await database.read_now(lambda c: c.execute("INSERT INTO t (v) VALUES ('b')"))
    assert await database.read_now(_count) == 1
    await database.close()
    with pytest.raises(RuntimeError):
        await database.read_now(_count)


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
    assert await db.read_now(_count) == 1
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(pending, 5)
    assert await db.read_now(_count) == 2


def _slow_insert_txn(value: str, seconds: float, threads: list[int]) -> object:
    def txn(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        time.sleep(seconds)  # stands for a bulk insert that takes a while
        return _insert_txn(value)(conn)  # type: ignore[operator, no-any-return]

    return txn


async def test_a_non_inline_write_runs_in_the_writer_thread_and_the_loop_keeps_serving(
    db: Database,
) -> None:
    """inline=False moves a slow function off the loop: the loop ticks while it runs, and it
    shares the batch's transaction with inline functions around it."""
    await db.write(_insert_txn("first"))
    threads: list[int] = []
    loop = asyncio.get_running_loop()
    slow = asyncio.ensure_future(db.write(_slow_insert_txn("slow", 0.3, threads), inline=False))
    fast = [asyncio.ensure_future(db.write(_insert_txn(f"f{i}"))) for i in range(3)]
    ticks = 0
    while not slow.done():
        before = loop.time()
        await asyncio.sleep(0.01)
        assert loop.time() - before < 0.2  # an inline sleep would stall the loop 0.3 s
        ticks += 1
    assert ticks >= 10
    assert threads
    assert threads[0] != threading.get_ident()
    await asyncio.gather(slow, *fast)
    assert await db.read_now(_count) == 5


async def test_a_failing_non_inline_function_fails_alone(db: Database) -> None:
    """A non-inline function that raises is rolled back to its savepoint like an inline one."""
    await db.write(_insert_txn("a"))
    bad = asyncio.ensure_future(db.write(_insert_txn("a"), inline=False))  # UNIQUE clash
    good = asyncio.ensure_future(db.write(_insert_txn("b"), inline=False))
    fine = asyncio.ensure_future(db.write(_insert_txn("c")))
    with pytest.raises(sqlite3.IntegrityError):
        await bad
    assert isinstance(await good, int)
    assert isinstance(await fine, int)
    assert await db.read_now(_count) == 3


def _lock_is_free(path: Path) -> bool:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_cancelling_the_writer_mid_batch_settles_every_caller_truthfully(
    tmp_path: Path,
) -> None:
    """A shutdown that cancels the writer while a batch runs: the batch still commits and its
    callers get their results, the write lock is released, and writes still queued fail
    without being written."""
    database = await Database.open(tmp_path / "x.db")
    await database.write(_insert_txn("setup"))
    threads: list[int] = []
    running = asyncio.ensure_future(
        database.write(_slow_insert_txn("running", 0.3, threads), inline=False))
    await asyncio.sleep(0.1)  # the batch has begun and its function sleeps in the thread
    queued = asyncio.ensure_future(database.write(_insert_txn("queued")))
    await asyncio.sleep(0)
    database._writer_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await database._writer_task
    assert isinstance(await running, int)
    with pytest.raises(RuntimeError, match="closed"):
        await queued
    assert _lock_is_free(database.path)
    conn = sqlite3.connect(database.path)
    assert [v for (v,) in conn.execute("SELECT v FROM t ORDER BY id")] == ["setup", "running"]
    conn.close()
    with pytest.raises(RuntimeError):
        await database.write(_insert_txn("late"))
    await database.close()  # still closes the connections


async def test_read_now_moves_to_a_reader_thread_when_the_database_is_busy(
    db: Database, tmp_path: Path,
) -> None:
    """When a read on the loop's connection meets a locked database it does not wait on the
    loop: the read runs again in a reader thread, which may wait, and answers once the lock is
    gone. (A WAL reader is busy too rarely to provoke here; the lock is a real one on a side
    file in rollback-journal mode that the function also reads.)"""
    await db.write(_insert_txn("a"))
    side = tmp_path / "side.db"
    setup = sqlite3.connect(side, isolation_level=None)
    setup.execute("CREATE TABLE s (x)")
    setup.close()
    holder = sqlite3.connect(side, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # nobody may read the side file until it ends
    loop_thread = threading.get_ident()
    calls: list[bool] = []

    def count_both(conn: sqlite3.Connection) -> int:
        on_loop = threading.get_ident() == loop_thread
        calls.append(on_loop)
        peek = sqlite3.connect(side, timeout=0.02 if on_loop else 5)
        try:
            peek.execute("SELECT COUNT(*) FROM s").fetchone()
        finally:
            peek.close()
        return _count(conn)

    loop = asyncio.get_running_loop()
    loop.call_later(0.3, holder.execute, "ROLLBACK")
    reading = asyncio.ensure_future(db.read_now(count_both))
    ticks = 0
    while not reading.done():
        before = loop.time()
        await asyncio.sleep(0.01)
        assert loop.time() - before < 0.2
        ticks += 1
    assert await reading == 1
    assert calls == [True, False]
    assert ticks >= 10
    holder.close()


async def test_a_cancel_while_begin_fails_on_a_lock_still_stops_the_writer(tmp_path: Path) -> None:
    """Cancelled while BEGIN IMMEDIATE waits on another process's lock, and BEGIN then times
    out: the caller gets the error, and the writer stops (it used to forget the cancel and keep
    accepting writes, so a shutdown waited for it forever)."""
    database = await Database.open(tmp_path / "x.db")
    await database.write(_insert_txn("setup"))
    await database._in_thread(lambda: database._writer.execute("PRAGMA busy_timeout=300"))
    other = sqlite3.connect(database.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    pending = asyncio.ensure_future(database.write(_insert_txn("blocked")))
    await asyncio.sleep(0.05)
    database._writer_task.cancel()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await pending
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(database._writer_task, 2)
    other.execute("ROLLBACK")
    other.close()
    with pytest.raises(RuntimeError, match="closed"):
        await database.write(_insert_txn("late"))
    await database.close()


class _SlowCommit:
    """The writer connection with a slow fsync: COMMIT takes 0.3 s in the writer's thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT":
            time.sleep(0.3)
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def test_an_event_loop_ending_mid_commit_settles_the_commit_and_returns(tmp_path: Path) -> None:
    """asyncio.run() ending with a COMMIT in flight cancels every task: the commit completes,
    the batch is settled as committed (not as failed), and asyncio.run() returns (it used to
    hang after queueing a ROLLBACK behind the COMMIT)."""
    path = tmp_path / "x.db"
    opened: list[Database] = []
    in_flight: list[asyncio.Future[object]] = []

    async def main() -> None:
        database = await Database.open(path)
        opened.append(database)
        await database.write(_insert_txn("setup"))
        database._writer = _SlowCommit(database._writer)  # type: ignore[assignment]
        in_flight.append(asyncio.ensure_future(database.write(_insert_txn("in flight"))))
        await asyncio.sleep(0.1)  # the COMMIT is running; return without close()

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
    stats = opened[0].stats
    assert (stats.commits, stats.jobs, stats.failed_jobs) == (2, 2, 0)
    conn = sqlite3.connect(path)
    assert [v for (v,) in conn.execute("SELECT v FROM t ORDER BY id")] == ["setup", "in flight"]
    conn.close()


class _NotAnException(BaseException):
    """Like pytest's Failed or Skipped: a BaseException that no caller owns."""


async def test_a_job_raising_a_base_exception_closes_the_database_instead_of_hanging(
    tmp_path: Path,
) -> None:
    """A write function raising a bare BaseException rolls its batch back, its caller hears
    "write aborted", and later writes fail at once rather than wait for a dead writer."""
    database = await Database.open(tmp_path / "x.db")
    await database.write(_insert_txn("setup"))

    def explode(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES ('half')")
        raise _NotAnException

    with pytest.raises(RuntimeError, match="aborted"):
        await database.write(explode)
    with pytest.raises(_NotAnException):
        await asyncio.wait_for(database._writer_task, 2)
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(database.write(_insert_txn("late")), 2)
    conn = sqlite3.connect(database.path)
    assert _count(conn) == 1
    conn.close()
    await database.close()


async def test_a_close_cancelled_halfway_still_closes_everything(tmp_path: Path) -> None:
    """close() cancelled (a shutdown timeout) while it waits for a batch: the batch still
    commits, closing goes on, and another close() returns only when every connection and
    thread is closed."""
    database = await Database.open(tmp_path / "x.db")
    running = asyncio.ensure_future(
        database.write(_slow_insert_txn("running", 0.3, []), inline=False))
    await asyncio.sleep(0.05)
    first = asyncio.ensure_future(database.close())
    await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await database.close()
    assert isinstance(await running, int)
    assert _lock_is_free(database.path)
    assert database._inline is None
    with pytest.raises(sqlite3.ProgrammingError):
        database._writer.execute("SELECT 1")
    for reader in database._readers:
        with pytest.raises(ValueError, match="no active connection"):
            await reader.execute("SELECT 1")


def test_an_event_loop_ending_during_close_still_closes_everything(tmp_path: Path) -> None:
    """A shutdown timeout cuts close() short and then asyncio.run() cancels every task, the
    closing one included: every connection still ends up closed, and a later close() is fine
    (it used to raise CancelledError and leave the reader threads keeping the process alive)."""
    opened: list[Database] = []

    async def main() -> None:
        database = await Database.open(tmp_path / "x.db")
        opened.append(database)
        running = asyncio.ensure_future(
            database.write(_slow_insert_txn("slow", 0.3, []), inline=False))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(database.close(), 0.1)
        assert not running.done()

    asyncio.run(main())
    database = opened[0]
    assert database._inline is None
    with pytest.raises(sqlite3.ProgrammingError):
        database._writer.execute("SELECT 1")
    asyncio.run(database.close())
    conn = sqlite3.connect(database.path)
    assert _count(conn) == 1  # the slow write finished and committed
    conn.close()


async def test_a_writer_cancelled_before_it_ran_refuses_writes_at_once(tmp_path: Path) -> None:
    """Cancelled before its first step (a cancel-all right after open): write() says the
    database is closed instead of queueing a job that nobody will ever take."""
    database = await Database.open(tmp_path / "x.db")
    database._writer_task.cancel()
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(database.write(_insert_txn("never")), 1)
    await database.close()


async def test_read_now_passes_on_an_operational_error_that_sqlite_did_not_raise(
    db: Database,
) -> None:
    """An OperationalError raised by the read function itself (no SQLite error code) reaches
    the caller as it is, not as an AttributeError from the busy check."""
    def fails(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("mine")

    with pytest.raises(sqlite3.OperationalError, match="mine"):
        await db.read_now(fails)


async def test_a_stopped_writer_is_reported_when_the_database_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The exception that stopped the writer is logged at close (by type only), not left to
    asyncio's "Task exception was never retrieved"."""
    database = await Database.open(tmp_path / "x.db")

    def explode(conn: sqlite3.Connection) -> None:
        raise _NotAnException

    with pytest.raises(RuntimeError, match="aborted"):
        await database.write(explode)
    with caplog.at_level("ERROR", logger="secure_msg.storage.db"):
        await database.close()
    assert [r.getMessage() for r in caplog.records] == ["db.writer_stopped"]
    assert database._writer_task.exception() is not None


def test_a_database_opened_on_one_loop_closes_from_another_thread(tmp_path: Path) -> None:
    """close() may run on another thread's event loop (a test harness, a supervisor)."""
    opened: list[Database] = []

    async def open_and_write() -> None:
        database = await Database.open(tmp_path / "x.db")
        opened.append(database)
        await database.write(_insert_txn("a"))

    asyncio.run(open_and_write())
    errors: list[BaseException] = []

    def close_elsewhere() -> None:
        try:
            asyncio.run(opened[0].close())
        except BaseException as exc:  # reported below
            errors.append(exc)

    closer = threading.Thread(target=close_elsewhere)
    closer.start()
    closer.join(10)
    assert errors == []
    assert opened[0]._inline is None
