"""PostgreSQL's `Database` (storage.backend = "postgresql"): the same API and guarantees as
SQLite's (storage/db.py), on psycopg 3's synchronous connections (docs/performance.md,
"PostgreSQL driver").

- One writer connection with a thread of its own and group commit: calls that arrive while a
  batch commits queue up and run together in the next `BEGIN … COMMIT`, each in its own
  SAVEPOINT; a function that raises is rolled back to it and its caller gets the exception.
  The whole batch (BEGIN, every function, COMMIT) runs in the writer's thread: each statement
  is a round trip to the server, which must not block the event loop. `write` returns after
  the COMMIT, with synchronous_commit on: durable (invariant 5).
- Several app processes may share one database (docs/operations.md, "Several processes on
  one database"): every write batch takes one transaction-level advisory lock, `WRITE_LOCK`,
  right after BEGIN (in the same round trip) and holds it to COMMIT. The chain heads that
  writes read and extend (the audit hash chain, each booklet's entry chain) are then never
  read by two processes' open transactions at once: without it both read the same head, and
  one of them fails on the primary key. One lock, not one per chain: nearly every write
  appends to the one audit chain, which orders all batches anyway; taken at BEGIN it costs no
  round trip, no job can forget it, and no lock is taken inside a job's savepoint (rolled
  back with it) or in two orders (no deadlock between processes).
- `write_row_locked` (the outbox's claim): a transaction of its own on a connection of its
  own, without `WRITE_LOCK`, for a function that locks the rows it takes (`FOR UPDATE SKIP
  LOCKED`) and extends no chain: other processes' batches do not wait for it, nor it for them.
- A small pool of reader connections, each with its own thread; a read function runs in one
  REPEATABLE READ READ ONLY transaction, so that its SELECTs see one snapshot, as in SQLite.
  `read_now` is `read`: there is no in-process database to look up without a round trip.
- A connection the server dropped (it restarted) is replaced when BEGIN finds it broken, and
  the batch or read goes on there (nothing had run). One that breaks later in a batch fails
  the batch for every caller in it, and nothing of it is acknowledged; a COMMIT whose answer
  was lost is reported as failed though it may have committed (as with any client). While
  the server cannot be reached (down, restarting) every write and read fails at once with
  `DatabaseUnavailable` (503 service-unavailable), and the next one connects again.

The DSN comes from SECURE_MSG_DATABASE_URL only (never the config file: it may hold a
password) and is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from secure_msg.errors import ConfigError, DatabaseUnavailable
from secure_msg.logging import get_logger, log_event
from secure_msg.storage import migrations
from secure_msg.storage.db import (
    DATABASE_URL_ENV,
    QueuedDatabase,
    TxnFn,
    WriterStats,
    _finish,
    _read_outcome,
)
from secure_msg.storage.pg_txn import PgTxn, configure
from secure_msg.storage.session_locks import SessionLocks

log = get_logger(__name__)
T = TypeVar("T")


def dsn_from_env(env: Mapping[str, str] | None = None) -> str:
    dsn = (os.environ if env is None else env).get(DATABASE_URL_ENV, "")
    if not dsn.strip():
        raise ConfigError("storage.backend",
                          f"postgresql needs the DSN in the environment: {DATABASE_URL_ENV}")
    return check_dsn(dsn)


def check_dsn(dsn: str) -> str:
    """`dsn` if libpq can parse it. Its parse errors quote the part they could not parse,
    which may be the password ("unexpected spaces found in …"): say which variable is wrong,
    never its text."""
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        raise ConfigError(DATABASE_URL_ENV, "not a connection string libpq can parse (not "
                          "shown: it may hold a password); in a postgresql:// URI, "
                          "percent-encode spaces and reserved characters") from None
    return dsn


def _connect(dsn: str) -> psycopg.Connection[Any]:
    # autocommit: psycopg opens no transaction by itself; we issue BEGIN/COMMIT (as db.py).
    conn = psycopg.connect(dsn, autocommit=True, application_name="secure-msg")
    try:
        configure(conn)
        _durable_commits(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _durable_commits(conn: psycopg.Connection[Any]) -> None:
    """An acknowledged write survives a crash of the database server (invariant 5) only if
    COMMIT waits for its WAL record to be written. `synchronous_commit = off` (a server's or a
    role's default, for speed) answers first, and a kill -9 of the server loses the last
    commits (tests/test_kill_9_pg.py): this session sets it back to on. Every other value
    (on, local, remote_write, remote_apply) waits at least for the local WAL and is kept."""
    if conn.execute("SHOW synchronous_commit").fetchone() == ("off",):
        conn.execute("SET synchronous_commit = on")
        log_event(log, logging.INFO, "db.synchronous_commit_set_on")


_Outcome = tuple[bool, Any]  # (ok, result or exception)

# pg_advisory_xact_lock key of the writers of all processes (module docstring); the
# migrations' lock is 0x5EC0_0001 (storage/migrations.py).
WRITE_LOCK = 0x5EC0_0002
# No parameters: psycopg sends both as one simple query, one round trip. READ COMMITTED (the
# default): each statement after the lock sees what the previous holder committed.
_BEGIN_WRITE = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"


def _begin(conn: psycopg.Connection[Any], dsn: str, sql: str) -> psycopg.Connection[Any]:
    """BEGIN on `conn`, or on a new connection if the server dropped this one (it restarted,
    or an operator ended the session): nothing has run yet, so trying again is safe."""
    if not (conn.broken or conn.closed):
        try:
            conn.execute(sql)
            return conn
        except psycopg.OperationalError:
            if not conn.broken:
                raise
    conn.close()
    conn = _connect(dsn)
    conn.execute(sql)
    return conn


def _run_batch(conn: psycopg.Connection[Any], fns: list[TxnFn[Any]]) -> list[_Outcome]:
    """Each function in a savepoint of the open transaction, then COMMIT; raises (after
    ROLLBACK) if the transaction as a whole fails, when no caller's result stands."""
    txn = PgTxn(conn)
    outcomes: list[_Outcome] = []
    try:
        for fn in fns:
            conn.execute("SAVEPOINT job")
            try:
                result = fn(txn)
            except Exception as exc:
                conn.execute("ROLLBACK TO SAVEPOINT job")
                conn.execute("RELEASE SAVEPOINT job")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE SAVEPOINT job")
                outcomes.append((True, result))
        conn.execute("COMMIT")
    except BaseException:
        if not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise
    return outcomes


_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def _gone(conn: psycopg.Connection[Any]) -> bool:
    """The connection is lost (or could not be made again): the server is down, restarting
    or ended the session. Its callers get DatabaseUnavailable, a 503, not a 500."""
    return conn.broken or conn.closed


def _run_read(conn: psycopg.Connection[Any], fn: TxnFn[T]) -> T:
    try:
        result = fn(PgTxn(conn))
    except BaseException:
        if not conn.broken:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


@dataclass
class _Job:
    fn: TxnFn[Any]
    future: asyncio.Future[Any]


@dataclass
class _Reader:
    conn: psycopg.Connection[Any]
    thread: ThreadPoolExecutor


class PgDatabase(QueuedDatabase):
    """PostgreSQL's `Database` (module docstring). Open with `open_dsn`, then `close`."""

    def __init__(self, dsn: str, writer: psycopg.Connection[Any], writer_thread: ThreadPoolExecutor,
                 readers: list[_Reader], max_batch: int) -> None:
        self._dsn = dsn
        self._writer = writer
        self._writer_thread = writer_thread
        self._readers = readers
        self._idle: asyncio.Queue[_Reader] = asyncio.Queue()
        for reader in readers:
            self._idle.put_nowait(reader)
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._max_batch = max_batch
        self.stats = WriterStats()
        self._closed = False
        self._closing: asyncio.Future[None] | None = None
        # write_row_locked's connection (opened at first use) and thread.
        self._row_locked: psycopg.Connection[Any] | None = None
        self._row_locked_thread = ThreadPoolExecutor(max_workers=1,
                                                     thread_name_prefix="db-row-locked")
        self._writer_task = asyncio.create_task(self._writer_loop(), name="db-writer")

    @classmethod
    async def open_dsn(
        cls, dsn: str, *, readers: int = 2, max_batch: int = 512,
        schema_dir: migrations.SchemaDir | None = None,
    ) -> PgDatabase:
        """Connect, migrate (under an advisory lock: several processes may start at once)."""
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")

        def connect_writer() -> psycopg.Connection[Any]:
            conn = _connect(dsn)
            try:
                migrations.migrate_postgresql(conn, schema_dir=schema_dir)
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            writer = await loop.run_in_executor(thread, connect_writer)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        pool: list[_Reader] = []
        try:
            for i in range(max(1, readers)):
                reader_thread = ThreadPoolExecutor(max_workers=1,
                                                   thread_name_prefix=f"db-reader-{i}")
                pool.append(_Reader(await loop.run_in_executor(reader_thread, _connect, dsn),
                                    reader_thread))
        except BaseException:
            for reader in pool:
                reader.conn.close()
                reader.thread.shutdown(wait=False)
            writer.close()
            thread.shutdown(wait=False)
            raise
        return cls(dsn, writer, thread, pool, max_batch)

    @property
    def dsn(self) -> str:
        """For the live events' own connections (storage/pg_notify.py); never logged."""
        return self._dsn

    async def write(self, fn: TxnFn[T], *, inline: bool = True) -> T:
        """As SQLite's; `inline` is moot: every function runs in the writer's thread."""
        if self._closed or self._writer_task.done():
            raise RuntimeError("database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_read_outcome)
        self._queue.put_nowait(_Job(fn, future))
        return await asyncio.shield(future)

    async def read(self, fn: TxnFn[T]) -> T:
        if self._closed:
            raise RuntimeError("database is closed")
        reader = await self._idle.get()
        loop = asyncio.get_running_loop()

        def run() -> T:
            try:
                reader.conn = _begin(reader.conn, self._dsn, _BEGIN_READ)
                return _run_read(reader.conn, fn)
            except psycopg.OperationalError as exc:
                if _gone(reader.conn):
                    raise DatabaseUnavailable from exc
                raise

        future = loop.run_in_executor(reader.thread, run)
        # The connection is idle again only when its thread is done, even if we are cancelled.
        future.add_done_callback(lambda _f: self._idle.put_nowait(reader))
        return await future

    async def read_now(self, fn: TxnFn[T]) -> T:
        return await self.read(fn)

    async def write_row_locked(self, fn: TxnFn[T]) -> T:
        """Its own transaction on a connection of its own (opened at first use), without the
        writers' lock: `fn` must lock its rows itself and append to no chain (the outbox's
        claim). Durable when it returns, as `write`."""
        if self._closed:
            raise RuntimeError("database is closed")

        def run() -> T:
            try:
                conn = self._row_locked
                if conn is None:
                    conn = _connect(self._dsn)
                self._row_locked = conn = _begin(conn, self._dsn, "BEGIN")
                return _run_read(conn, fn)  # fn, then COMMIT (ROLLBACK if it raises)
            except psycopg.OperationalError as exc:
                if self._row_locked is None or _gone(self._row_locked):
                    raise DatabaseUnavailable from exc
                raise

        return await asyncio.get_running_loop().run_in_executor(self._row_locked_thread, run)

    async def open_session_locks(self) -> SessionLocks:
        return await SessionLocks.open(self._dsn)

    async def ping(self) -> bool:
        """False while the server cannot be reached (down, restarting, in crash recovery):
        /readyz then says 503 rather than failing with a 500."""
        try:
            row = await self.read(lambda t: t.execute("SELECT 1").fetchone())
        except (DatabaseUnavailable, psycopg.OperationalError):
            return False
        return bool(row == (1,))

    async def checkpoint_truncate(self) -> bool:
        """Nothing to do per request: PostgreSQL recycles WAL segments at its checkpoints and
        VACUUM reclaims deleted rows (docs/operations.md, "Running on PostgreSQL")."""
        return True

    def _batch_in_thread(self, fns: list[TxnFn[Any]]) -> list[_Outcome]:
        try:
            self._writer = _begin(self._writer, self._dsn, _BEGIN_WRITE)
            return _run_batch(self._writer, fns)
        except psycopg.OperationalError as exc:
            if _gone(self._writer):
                raise DatabaseUnavailable from exc
            raise

    async def _commit_batch(self, batch: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        run = loop.run_in_executor(self._writer_thread, self._batch_in_thread,
                                   [job.fn for job in batch])
        # Once begun, a batch is finished and reported truthfully whatever cancels us.
        cancelled = await _finish(run)
        try:
            outcomes = run.result()
        except Exception as exc:
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            log_event(log, logging.WARNING, "db.batch_failed", error=type(exc).__name__,
                      jobs=len(batch))
        else:
            failed = 0
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                failed += not ok
                if job.future.done():
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)
            self.stats.record(len(batch), failed)
        if cancelled:
            raise asyncio.CancelledError

    async def _close(self) -> None:
        if not self._writer_task.done():
            self._queue.put_nowait(None)
        cancelled = await _finish(self._writer_task)
        if not self._writer_task.cancelled() and self._writer_task.exception() is not None:
            log_event(log, logging.ERROR, "db.writer_stopped",
                      error=type(self._writer_task.exception()).__name__)
        loop = asyncio.get_running_loop()
        closing = [loop.run_in_executor(self._writer_thread, self._writer.close)]
        closing += [loop.run_in_executor(r.thread, r.conn.close) for r in self._readers]

        def close_row_locked() -> None:
            if self._row_locked is not None:
                self._row_locked.close()

        closing.append(loop.run_in_executor(self._row_locked_thread, close_row_locked))
        for future in closing:
            cancelled |= await _finish(future)
        self._writer_thread.shutdown(wait=False)
        self._row_locked_thread.shutdown(wait=False)
        for reader in self._readers:
            reader.thread.shutdown(wait=False)
        if cancelled:
            raise asyncio.CancelledError
