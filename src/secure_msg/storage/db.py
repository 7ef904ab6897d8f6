"""The database handle (`Database`), and its SQLite implementation (`SqliteDatabase`); the
PostgreSQL one is storage/pg_db.py, chosen by `open_database` from [storage] backend.

SQLite: one group-commit writer with a thread of its own, a small pool of aiosqlite readers,
and a query-only connection on the event loop for point look-ups (DESIGN §6).

Writes are plain synchronous functions named `*_txn` that take a `Txn` (storage/txn.py):

    def add_thing_txn(conn: Txn, name: str) -> int:
        return conn.execute("INSERT INTO things (name) VALUES (?)", (name,)).lastrowid

    thing_id = await db.write(functools.partial(add_thing_txn, name="x"))

`write` returns only after the COMMIT that contains the function's effects is durable
(WAL + synchronous=FULL), so an acknowledged write survives kill -9 (invariant 5).

Group commit: calls that arrive while a batch is committing queue up and run together in the
next single `BEGIN IMMEDIATE … COMMIT`, each inside its own SAVEPOINT. A function that raises
is rolled back to its savepoint and its caller gets the exception; the rest of the batch commits.
If the COMMIT itself fails, every caller in the batch gets the error and nothing is acknowledged.
BEGIN and COMMIT run in the writer's thread (they may wait on a lock or fsync); the
functions themselves run on the event loop between them, so a write function must be a few
indexed statements. A function that may take milliseconds (a bulk insert, a batch of audit
records) is written with `inline=False`: it runs in the writer's thread, in the same
transaction, and the loop keeps serving meanwhile.

Once a batch has begun it is finished even if the writer task is cancelled (shutdown): the
thread's statement completes, the batch commits or rolls back, and every caller learns the
truth before the cancellation goes on. Writes still queued then fail with "database is closed".

Reads run a function the same way on a reader connection, inside one read transaction so that
several SELECTs see one snapshot. A whole function runs in aiosqlite's thread per round trip;
one round trip costs ≈ 60 µs, so do a request's reads in one function, not one call per query.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import itertools
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from secure_msg.config import StorageConfig
from secure_msg.logging import get_logger, log_event
from secure_msg.private_files import narrow, private_dir, private_file
from secure_msg.storage import migrations
from secure_msg.storage.booklet_lifecycle import checkpoint_truncate
from secure_msg.storage.session_locks import SessionLocks
from secure_msg.storage.txn import Txn

log = get_logger(__name__)
T = TypeVar("T")
TxnFn = Callable[[Txn], T]

_WRITER_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",  # durable on COMMIT; group commit pays for it, not weaker sync
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)
_READER_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000", "PRAGMA query_only=ON")
# The loop's own reader must never sit in a 5 s busy wait: a WAL reader is almost never busy
# (a crashed writer's WAL being recovered, a checkpoint in exclusive mode), and when it is the
# read moves to a reader thread, which may wait.
_INLINE_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=20", "PRAGMA query_only=ON")


def _run_in_thread(conn: aiosqlite.Connection, fn: Callable[[], T]) -> Awaitable[T]:
    """Run `fn` in the connection's own thread: the one way to do many statements per round trip.

    aiosqlite has no public API for this; `_execute` is the method all its public calls use.
    Every `Database.read` comes through here, so tests/storage/test_db_writer.py fails when an
    aiosqlite upgrade breaks it.
    """
    execute = cast(Callable[[Callable[[], T]], Awaitable[T]], conn._execute)
    return execute(fn)


@dataclass
class _Job:
    fn: TxnFn[Any]
    future: asyncio.Future[Any]
    inline: bool


@dataclass
class WriterStats:
    """Counters for /metrics: how well group commit batches."""

    commits: int = 0
    jobs: int = 0
    failed_jobs: int = 0
    batch_sizes: list[int] = field(default_factory=list)  # last few, for a histogram

    def record(self, size: int, failed: int) -> None:
        self.commits += 1
        self.jobs += size
        self.failed_jobs += failed
        self.batch_sizes = [*self.batch_sizes[-255:], size]


_Outcome = tuple[bool, Any]  # (ok, result or exception)


def _run_jobs(conn: sqlite3.Connection, fns: list[TxnFn[Any]]) -> list[_Outcome]:
    """The batch's functions inside the open transaction; a savepoint per function isolates
    its failure."""
    outcomes: list[_Outcome] = []
    for fn in fns:
        conn.execute("SAVEPOINT job")
        try:
            result = fn(conn)
        except Exception as exc:
            if not conn.in_transaction:  # SQLite aborted the whole transaction (e.g. disk full)
                raise
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            outcomes.append((False, exc))
        else:
            conn.execute("RELEASE job")
            outcomes.append((True, result))
    return outcomes


def _read_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _run_read(conn: sqlite3.Connection, fn: TxnFn[T]) -> T:
    conn.execute("BEGIN")  # one snapshot for all of fn's SELECTs
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")


DATABASE_KEY = "storage.database_path"


def database_files(path: Path) -> list[Path]:
    """The database file and the two SQLite keeps beside it in WAL mode."""
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))]


def make_private(path: Path, *, create: bool = True) -> None:
    """Its directory 0700 and the database 0600 (`create`: made empty now, before SQLite opens
    it, which then gives -wal and -shm the database's mode); existing ones wider than that are
    narrowed and logged, or start-up stops naming the path. They hold appointment times, cancel
    codes, notice slots and the audit."""
    files = database_files(path)
    narrowed = private_dir(path.parent, DATABASE_KEY, {p.name for p in files})
    if create:
        narrowed += private_file(path, DATABASE_KEY)
    for existing in files:
        narrowed += narrow(existing, DATABASE_KEY)
    for changed in narrowed:
        log_event(log, logging.WARNING, "storage.permissions_narrowed", path=str(changed))


async def _connect(path: Path, pragmas: tuple[str, ...]) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; we issue BEGIN ourselves (_run_read).
    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma in pragmas:
        await conn.execute(pragma)
    return conn


class Database(abc.ABC):
    """The process's only handle on the database, whichever the backend. Open with
    `open_database` (the configured backend) or `Database.open` (SQLite), then `close`.
    Services see only this API."""

    stats: WriterStats

    @classmethod
    async def open(
        cls, path: Path, *, readers: int = 2, max_batch: int = 512,
        schema_dir: migrations.SchemaDir | None = None,
    ) -> Database:
        """Open (creating if needed) and migrate the SQLite database at `path`."""
        return await SqliteDatabase.open(path, readers=readers, max_batch=max_batch,
                                         schema_dir=schema_dir)

    @abc.abstractmethod
    async def write(self, fn: TxnFn[T], *, inline: bool = True) -> T:
        """Run `fn` in a write transaction; return its result once it is durably committed."""

    @abc.abstractmethod
    async def read(self, fn: TxnFn[T]) -> T:
        """Run `fn` inside one read transaction (one snapshot)."""

    @abc.abstractmethod
    async def read_now(self, fn: TxnFn[T]) -> T:
        """A bounded, indexed look-up, as cheaply as the backend allows."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the database answers (for /readyz)."""

    @abc.abstractmethod
    async def checkpoint_truncate(self) -> bool:
        """Make deleted content leave the write-ahead log now, where the backend can: True
        when done (SQLite: the WAL truncated to zero bytes)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish queued writes, then close every connection; safe to call again."""

    async def write_row_locked(self, fn: TxnFn[T]) -> T:
        """Run `fn` in a write transaction that locks the rows it needs itself (`FOR UPDATE SKIP
        LOCKED`) and touches no chain head: on PostgreSQL it does not take the writers' lock,
        so other processes' writes need not wait for it. SQLite has one writer: `write`."""
        return await self.write(fn)

    async def open_session_locks(self) -> SessionLocks | None:
        """A connection of its own for session-level advisory locks (storage/session_locks.py),
        on PostgreSQL; None on SQLite, whose processes share one machine (lock files)."""
        return None


DATABASE_URL_ENV = "SECURE_MSG_DATABASE_URL"  # PostgreSQL's DSN: never in the config file


async def open_database(storage: StorageConfig, *, readers: int = 2,
                        env: Mapping[str, str] | None = None) -> Database:
    """The database [storage] backend names: SQLite at database_path, or PostgreSQL at the
    DSN in SECURE_MSG_DATABASE_URL."""
    if storage.backend == "postgresql":
        from secure_msg.storage import pg_db  # psycopg is needed only for this backend

        return await pg_db.PgDatabase.open_dsn(pg_db.dsn_from_env(env), readers=readers)
    return await SqliteDatabase.open(storage.database_path, readers=readers)


class QueuedDatabase(Database):
    """What both backends share: one writer task that takes jobs from a queue in batches
    (group commit), and a close() that finishes them. A backend sets `_queue`, `_max_batch`,
    `_writer_task`, `_closed` and `_closing`, and commits a batch in `_commit_batch`."""

    _queue: asyncio.Queue[Any]
    _max_batch: int
    _writer_task: asyncio.Task[None]
    _closed: bool
    _closing: asyncio.Future[None] | None

    @abc.abstractmethod
    async def _commit_batch(self, batch: list[Any]) -> None:
        """Run the batch's jobs in one transaction and settle each job's future."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Stop the writer (after its queued batches) and close every connection."""

    async def _writer_loop(self) -> None:
        try:
            while True:
                job = await self._queue.get()
                if job is None:
                    return
                batch = [job]
                while len(batch) < self._max_batch and not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    if nxt is None:  # close() requested: finish this batch, then stop
                        self._queue.put_nowait(None)
                        break
                    batch.append(nxt)
                await self._commit_batch(batch)
        except BaseException:
            # Cancelled at shutdown without close(), or a job raised something no caller owns:
            # what never began fails; nothing is left hanging and no later write is accepted.
            self._closed = True
            while not self._queue.empty():
                queued = self._queue.get_nowait()
                if queued is not None and not queued.future.done():
                    queued.future.set_exception(RuntimeError("database is closed"))
            raise

    async def close(self) -> None:
        """Finish queued writes, then close every connection. Safe to call again, or from
        several tasks; a cancelled close() goes on closing in the background, and a shutdown
        that cancels every task cannot leave a connection open."""
        self._closed = True
        if self._closing is None or self._closing.cancelled():
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)


class SqliteDatabase(QueuedDatabase):
    """SQLite's `Database` (module docstring)."""

    def __init__(
        self, path: Path, writer: sqlite3.Connection, writer_thread: ThreadPoolExecutor,
        readers: list[aiosqlite.Connection], max_batch: int,
    ) -> None:
        self.path = path
        self._writer = writer
        self._writer_thread = writer_thread
        self._readers = readers
        self._idle_readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._idle_readers.put_nowait(reader)
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._max_batch = max_batch
        self.stats = WriterStats()
        self._closed = False
        self._cancel_seen = False  # a cancellation arrived during the current batch
        self._closing: asyncio.Future[None] | None = None
        self._writer_task = asyncio.create_task(self._writer_loop(), name="db-writer")
        # Used only on the loop's thread; not same-thread so that close() may run elsewhere.
        inline = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in _INLINE_PRAGMAS:
            inline.execute(pragma)
        self._inline: sqlite3.Connection | None = inline

    @classmethod
    async def open(
        cls, path: Path, *, readers: int = 2, max_batch: int = 512,
        schema_dir: migrations.SchemaDir | None = None,
    ) -> SqliteDatabase:
        """Open (creating if needed) and migrate the database at `path`."""
        make_private(path)
        # The writer is a plain connection with a thread of its own: statements that may wait
        # (BEGIN IMMEDIATE on a lock, COMMIT on fsync) run there and are awaited through plain
        # futures, which a shutdown's "cancel every task" cannot cut short. Not same-thread: the
        # loop runs a batch's inline functions on it between BEGIN and COMMIT; the writer task
        # makes sure the two never use it at the same time.
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        loop = asyncio.get_running_loop()

        def connect() -> sqlite3.Connection:
            # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves,
            # so two coroutines can never silently share one (DESIGN §6).
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                for pragma in _WRITER_PRAGMAS:
                    conn.execute(pragma)
                migrations.migrate(conn, schema_dir=schema_dir)
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            writer = await loop.run_in_executor(thread, connect)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        reader_conns: list[aiosqlite.Connection] = []
        try:
            for _ in range(readers):
                reader_conns.append(await _connect(path, _READER_PRAGMAS))
        except BaseException:
            for reader in reader_conns:
                await reader.close()
            writer.close()
            thread.shutdown(wait=False)
            raise
        return cls(path, writer, thread, reader_conns, max_batch)

    async def write(self, fn: TxnFn[T], *, inline: bool = True) -> T:
        """Run `fn` in a write transaction; return its result once it is durably committed.

        `inline=False` runs `fn` in the writer's thread instead of on the loop: for functions
        that take more than a fraction of a millisecond.
        """
        if self._closed or self._writer_task.done():
            raise RuntimeError("database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # A caller that gave up (wait_for timed out) leaves nobody to read a failure: read it
        # here so asyncio does not log "exception was never retrieved" for it.
        future.add_done_callback(_read_outcome)
        self._queue.put_nowait(_Job(fn, future, inline))
        # shield: a cancelled caller must not cancel the batch that others are waiting on.
        return await asyncio.shield(future)

    async def read(self, fn: TxnFn[T]) -> T:
        """Run `fn` on a reader connection inside one read transaction."""
        if self._closed:
            raise RuntimeError("database is closed")
        conn = await self._idle_readers.get()
        try:
            return await _run_in_thread(conn, lambda: _run_read(conn._conn, fn))
        finally:
            self._idle_readers.put_nowait(conn)

    async def read_now(self, fn: TxnFn[T]) -> T:
        """Run `fn` at once on the event loop's own reader connection, in one read transaction.

        Only for bounded, indexed look-ups of about a millisecond at most: sessions, members,
        accounts, booklets, and a page of at most 200 entries (≈ 5.5 µs each). A trip to a reader
        thread costs ≈ 120 µs of CPU on an idle server and far more under load, in GIL
        hand-overs (docs/performance.md). Never for scans or bulk reads: those would stall
        every other request. If the database is busy (rare in WAL), the read waits in a reader
        thread instead of on the loop.
        """
        inline = self._inline
        if self._closed or inline is None:
            raise RuntimeError("database is closed")
        try:
            return _run_read(inline, fn)
        except sqlite3.OperationalError as exc:
            # the primary code: extended ones (BUSY_RECOVERY, BUSY_SNAPSHOT…) count too; an
            # error that did not come from SQLite itself has no code at all
            code = getattr(exc, "sqlite_errorcode", None)
            if code is None or code & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            if inline.in_transaction:
                inline.execute("ROLLBACK")
        return await self.read(fn)

    async def ping(self) -> bool:
        """True when a reader answers `SELECT 1` (for /readyz)."""
        row = await self.read(lambda c: c.execute("SELECT 1").fetchone())
        return bool(row == (1,))

    async def checkpoint_truncate(self) -> bool:
        return await asyncio.to_thread(checkpoint_truncate, self.path)

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the writer's thread and wait for it to finish even if cancelled meanwhile:
        the statement runs on regardless, and abandoning it would leave a transaction open or a
        COMMIT unreported. A cancellation that arrives is remembered in `_cancel_seen` and acted
        on once the batch is settled."""
        future = asyncio.get_running_loop().run_in_executor(self._writer_thread, fn)
        if await _finish(future):
            self._cancel_seen = True
        return future.result()  # raises what fn raised (CancelledError: a dead executor)

    async def _commit_batch(self, batch: list[_Job]) -> None:
        raw = self._writer
        outcomes: list[_Outcome] = []
        self._cancel_seen = False
        try:
            # BEGIN IMMEDIATE can wait for another process's write lock and COMMIT for fsync:
            # both in the writer's thread. Inline functions take microseconds each and run here
            # on the loop: in the writer thread, every statement was a GIL hand-over with the
            # busy event loop, which cost more than the statements (docs/performance.md,
            # "Ingest").
            await self._in_thread(lambda: raw.execute("BEGIN IMMEDIATE"))
            try:
                for inline, group in itertools.groupby(batch, key=lambda job: job.inline):
                    fns = [job.fn for job in group]
                    if inline:
                        outcomes += _run_jobs(raw, fns)
                    else:
                        outcomes += await self._in_thread(functools.partial(_run_jobs, raw, fns))
                await self._in_thread(lambda: raw.execute("COMMIT"))
            except BaseException:
                # in_transaction is read in the writer's thread, after whatever ran there.
                await self._in_thread(functools.partial(_rollback_if_open, raw))
                raise
        except BaseException as exc:
            # Nothing of the batch committed: every caller hears so, then the error goes on
            # (a KeyboardInterrupt raised inside a function is no caller's result).
            error = exc if isinstance(exc, Exception) else RuntimeError("write aborted")
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            if self._cancel_seen:
                raise asyncio.CancelledError from exc
            return
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
        if self._cancel_seen:  # the batch is settled truthfully; now let the cancellation go on
            raise asyncio.CancelledError

    async def _close(self) -> None:
        if not self._writer_task.done():
            self._queue.put_nowait(None)
        # A batch halfway through is finished first (see module docstring), whatever cancels.
        cancelled = await _finish(self._writer_task)
        if not self._writer_task.cancelled() and self._writer_task.exception() is not None:
            log_event(log, logging.ERROR, "db.writer_stopped",
                      error=type(self._writer_task.exception()).__name__)
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        # The writer's thread is idle once the writer task is done: close it from here.
        self._writer.close()
        self._writer_thread.shutdown(wait=False)
        for reader in self._readers:
            cancelled |= await _finish(asyncio.ensure_future(reader.close()))
        if cancelled:
            raise asyncio.CancelledError


async def _finish(task: asyncio.Future[Any]) -> bool:
    """Wait for `task` to finish even through cancellations; True if one arrived."""
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    return cancelled
