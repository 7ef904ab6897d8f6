"""SQLite through aiosqlite: one group-commit writer, a small pool of readers (DESIGN §6).

Writes are plain synchronous functions named `*_txn` that take a `sqlite3.Connection`:

    def add_thing_txn(conn: sqlite3.Connection, name: str) -> int:
        return conn.execute("INSERT INTO things (name) VALUES (?)", (name,)).lastrowid

    thing_id = await db.write(functools.partial(add_thing_txn, name="x"))

`write` returns only after the COMMIT that contains the function's effects is durable
(WAL + synchronous=FULL), so an acknowledged write survives kill -9 (invariant 5).

Group commit: calls that arrive while a batch is committing queue up and run together in the
next single `BEGIN IMMEDIATE … COMMIT`, each inside its own SAVEPOINT. A function that raises
is rolled back to its savepoint and its caller gets the exception; the rest of the batch commits.
If the COMMIT itself fails, every caller in the batch gets the error and nothing is acknowledged.
BEGIN and COMMIT run in the writer connection's thread (they may wait on a lock or fsync); the
functions themselves run on the event loop between them, so a write function must be a few
indexed statements, never a scan or a bulk job (those block every request while they run).

Reads run a function the same way on a reader connection, inside one read transaction so that
several SELECTs see one snapshot. A whole function runs in aiosqlite's thread per round trip;
one round trip costs ≈ 60 µs, so do a request's reads in one function, not one call per query.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from secure_msg.storage import migrations

T = TypeVar("T")
TxnFn = Callable[[sqlite3.Connection], T]

_WRITER_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",  # durable on COMMIT; group commit pays for it, not weaker sync
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)
_READER_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000", "PRAGMA query_only=ON")


def _run_in_thread(conn: aiosqlite.Connection, fn: Callable[[], T]) -> Awaitable[T]:
    """Run `fn` in the connection's own thread: the one way to do many statements per round trip.

    aiosqlite has no public API for this; `_execute` is the method all its public calls use.
    tests/storage/test_db.py pins the behaviour so an aiosqlite upgrade that breaks it shows.
    """
    execute = cast(Callable[[Callable[[], T]], Awaitable[T]], conn._execute)
    return execute(fn)


@dataclass
class _Job:
    fn: TxnFn[Any]
    future: asyncio.Future[Any]


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


def _run_read(conn: sqlite3.Connection, fn: TxnFn[T]) -> T:
    conn.execute("BEGIN")  # one snapshot for all of fn's SELECTs
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")


async def _connect(path: Path, pragmas: tuple[str, ...], check_same_thread: bool = True
                   ) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves, so two
    # coroutines can never silently share one (DESIGN §6).
    conn = await aiosqlite.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    for pragma in pragmas:
        await conn.execute(pragma)
    return conn


class Database:
    """The process's only handle on the database. Open with `Database.open`, then `close`."""

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection],
        max_batch: int,
    ) -> None:
        self.path = path
        self._writer = writer
        self._readers = readers
        self._idle_readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._idle_readers.put_nowait(reader)
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._max_batch = max_batch
        self.stats = WriterStats()
        self._closed = False
        self._writer_task = asyncio.create_task(self._writer_loop(), name="db-writer")
        self._inline = sqlite3.connect(path, isolation_level=None)
        for pragma in _READER_PRAGMAS:
            self._inline.execute(pragma)

    @classmethod
    async def open(
        cls, path: Path, *, readers: int = 2, max_batch: int = 512,
        schema_dir: migrations.SchemaDir | None = None,
    ) -> Database:
        """Open (creating if needed) and migrate the database at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not same-thread: the loop runs a batch's functions on it between BEGIN and COMMIT in
        # its own thread; the writer task makes sure the two never use it at the same time.
        writer = await _connect(path, _WRITER_PRAGMAS, check_same_thread=False)
        try:
            await _run_in_thread(
                writer, lambda: migrations.migrate(writer._conn, schema_dir=schema_dir)
            )
            reader_conns = [await _connect(path, _READER_PRAGMAS) for _ in range(readers)]
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader_conns, max_batch)

    async def write(self, fn: TxnFn[T]) -> T:
        """Run `fn` in a write transaction; return its result once it is durably committed."""
        if self._closed:
            raise RuntimeError("database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(fn, future))
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

    def read_now(self, fn: TxnFn[T]) -> T:
        """Run `fn` at once on the event loop's own reader connection, in one read transaction.

        Only for a few indexed point look-ups on small, hot tables (sessions, members,
        accounts, booklets), which take microseconds: a trip to a reader thread costs
        ≈ 120 µs of CPU and a GIL hand-over each way (docs/performance.md). Never for scans or
        pages of entries: those would stall every other request.
        """
        if self._closed:
            raise RuntimeError("database is closed")
        return _run_read(self._inline, fn)

    async def ping(self) -> bool:
        """True when a reader answers `SELECT 1` (for /readyz)."""
        row = await self.read(lambda c: c.execute("SELECT 1").fetchone())
        return bool(row == (1,))

    async def _writer_loop(self) -> None:
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

    async def _commit_batch(self, batch: list[_Job]) -> None:
        conn = self._writer
        fns = [job.fn for job in batch]
        raw = conn._conn
        try:
            # BEGIN IMMEDIATE can wait for another process's write lock and COMMIT for fsync:
            # both in the connection's thread. The functions in between take microseconds each
            # and run here on the loop: in the writer thread, every statement was a GIL
            # hand-over with the busy event loop, which cost more than the statements
            # (docs/performance.md, "Ingest").
            await _run_in_thread(conn, lambda: raw.execute("BEGIN IMMEDIATE"))
            try:
                outcomes = _run_jobs(raw, fns)
                await _run_in_thread(conn, lambda: raw.execute("COMMIT"))
            except BaseException:
                if raw.in_transaction:
                    await _run_in_thread(conn, lambda: raw.execute("ROLLBACK"))
                raise
        except BaseException as exc:
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
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

    async def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        await self._writer_task
        await self._writer.close()
        self._inline.close()
        for reader in self._readers:
            await reader.close()
