"""Attachments' bytes in PostgreSQL (storage.backend = "postgresql"): the `BlobStore` of
storage/blob_store.py that every app process on the database reaches (issue 18).

A blob is a run of `blob_chunks` rows (schema 0016), each part at most PART_BYTES of the
uploaded ciphertext, keyed by (blob id, the byte it starts at).

- Uploads stream: each part is inserted as soon as PART_BYTES have arrived, so at most one
  part (plus a socket read) is in memory. All parts of one upload are one transaction on a
  connection of this store's own, not the database's writer (storage/pg_db.py): an upload may
  take minutes on a phone's network, and the writer's group commit (and the WRITE_LOCK every
  process's writer takes) must not wait behind it. Inserting new rows of a new blob takes no
  lock any other transaction wants. The transaction commits (durably, synchronous_commit on)
  when the body is whole, before the service records the `blobs` row that names the blob in
  the writer's transaction: a blob is never named before its bytes are durable. A body that
  ends early, is too long, or a client that goes away rolls the transaction back: nothing
  stays. A process that dies after the parts commit and before the row leaves parts no row
  names: `sweep_orphans` deletes them once they are older than `orphan_age_ms` (longer than
  any upload may take, [blobs] upload_timeout_seconds, plus a margin), at start-up and every
  SWEEP_EVERY_MS with the scheduler tick. By age, never "no row yet": another process's
  upload may be between its COMMIT and its row right now.
- Downloads stream too: one short query per part on a pooled connection, never a connection
  or a transaction held while a slow client reads; a part missing mid-way (the blob was
  deleted meanwhile) ends the response early, which its Content-Length makes visible.
- Deleting a blob, a purged booklet's blobs, and orphans are DELETEs on the store's own
  connection, after the transaction that deleted the rows has committed (as the file store
  unlinks files then).

Copying in a SQLite installation's blob directory (`admin migrate-to-postgresql`): `put_parts`
on the copy's own connection, inside its transaction (synchronous, as that copy is), or the
store's async `put`, which commits by itself; `BlobFiles.read_chunks` reads a file for either.

PART_BYTES = 1 MiB by measurement (bench/blobs.py, docs/performance.md "Attachments"): past
256 KiB the per-part round trip no longer shows, and 1 MiB keeps the rows of a 25 MiB blob
at 26. Parts are sent and read in binary (no hex text of twice the size).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
)
from typing import Any, TypeVar

import psycopg

from secure_msg.clock import Clock
from secure_msg.errors import BlobTooLarge, DatabaseUnavailable
from secure_msg.storage.blob_store import BlobBody, BlobKey, KnownBlobs, Received

PART_BYTES = 1 << 20
SWEEP_EVERY_MS = 600_000
UPLOAD_CONNECTIONS = 8  # uploads at once per process; more wait for a connection
READ_CONNECTIONS = 4

_INSERT = ("INSERT INTO blob_chunks (blob_id, start_byte, booklet_id, created_at_ms, data)"
           " VALUES (%s, %s, %s, %s, %b)")
_PART_AT = ("SELECT start_byte, data FROM blob_chunks WHERE blob_id = %s AND start_byte <= %s"
            " ORDER BY start_byte DESC LIMIT 1")
_DELETE = "DELETE FROM blob_chunks WHERE blob_id = ANY(%s)"
_DELETE_BOOKLET = ("WITH d AS (DELETE FROM blob_chunks WHERE booklet_id = %s RETURNING blob_id)"
                   " SELECT count(DISTINCT blob_id) FROM d")
_DELETE_ORPHANS = (
    "WITH d AS (DELETE FROM blob_chunks c WHERE c.created_at_ms < %s"
    " AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.blob_id) RETURNING blob_id)"
    " SELECT count(DISTINCT blob_id) FROM d")


def _take(buffer: bytearray, n: int) -> tuple[bytes | bytearray, bytearray]:
    """The first `n` bytes of `buffer`, and the rest: at most one copy of them (none when the
    socket's reads filled the part exactly, as 64 KiB reads fill 1 MiB)."""
    if len(buffer) == n:
        return buffer, bytearray()
    with memoryview(buffer) as view, view[:n] as head:
        data = bytes(head)
    del buffer[:n]
    return data, buffer


def put_parts(conn: psycopg.Connection[Any], booklet_id: bytes, blob_id: bytes,
              chunks: Iterable[bytes], created_at_ms: int) -> tuple[int, bytes]:
    """Insert a whole blob's parts on `conn`, in the transaction the caller has open and will
    commit (`admin migrate-to-postgresql` copies a blob directory inside its copy's
    transaction: a failure leaves the target empty). Streams: one part in memory at a time.
    Returns (size, SHA-256) for the caller to check against the `blobs` row it copies."""
    digest = hashlib.sha256()
    size = start = 0
    buffer = bytearray()
    for chunk in chunks:
        size += len(chunk)
        digest.update(chunk)
        buffer += chunk
        while len(buffer) >= PART_BYTES:
            data, buffer = _take(buffer, PART_BYTES)
            conn.execute(_INSERT, (blob_id, start, booklet_id, created_at_ms, data))
            start += PART_BYTES
    if buffer:
        conn.execute(_INSERT, (blob_id, start, booklet_id, created_at_ms, bytes(buffer)))
    return size, digest.digest()


class BlobPartMissing(RuntimeError):
    """A part of a blob being downloaded is not there (deleted while it streamed)."""


AsyncConn = psycopg.AsyncConnection[Any]
T = TypeVar("T")


async def _part_at(conn: AsyncConn, *, blob_id: bytes, pos: int) -> Any:
    """The part that holds byte `pos` of the blob: (its first byte, its data), or None."""
    return await (await conn.execute(_PART_AT, (blob_id, pos), binary=True)).fetchone()


class _Pool:
    """At most `size` connections in use; idle ones are kept. One left broken, in a
    transaction or mid-statement (a use that was cancelled) is closed, not reused."""

    def __init__(self, dsn: str, size: int, settings: dict[str, str] | None = None) -> None:
        self._dsn = dsn
        self._slots = asyncio.Semaphore(size)
        self._idle: list[AsyncConn] = []
        self._settings = settings or {}

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConn]:
        """A connection; the database being away (down, restarting) is DatabaseUnavailable,
        a 503 as for the writer and readers (storage/pg_db.py), not a driver error's 500."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = await self._connect()
                try:
                    yield conn
                finally:
                    if not conn.broken and (conn.info.transaction_status
                                            == psycopg.pq.TransactionStatus.IDLE):
                        self._idle.append(conn)  # a rolled-back upload's too: nothing is open
                    else:
                        with contextlib.suppress(Exception):
                            await conn.close()
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable from exc

    async def _connect(self) -> AsyncConn:
        conn = await psycopg.AsyncConnection.connect(
            self._dsn, autocommit=True, application_name="secure-msg-blobs")
        try:
            for name, value in self._settings.items():
                await conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        except BaseException:
            await conn.close()
            raise
        return conn

    async def run(self, fn: Callable[[AsyncConn], Awaitable[T]]) -> T:
        """`fn` on a pooled connection, and once more on a new one if that failed for the
        connection's sake (the database restarted under the idle ones). Only for statements
        that may run twice: reads and deletes."""
        try:
            async with self.connection() as conn:
                return await fn(conn)
        except DatabaseUnavailable:
            await self.close()  # the other idle ones died with it
        async with self.connection() as conn:
            return await fn(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()


class PgBlobs:
    """The PostgreSQL `BlobStore` (module docstring)."""

    def __init__(self, dsn: str, clock: Clock, orphan_age_ms: int, *,
                 part_bytes: int = PART_BYTES) -> None:
        self._clock = clock
        self.orphan_age_ms = orphan_age_ms
        self.part_bytes = part_bytes
        # An upload's transaction is idle between parts while a slow client sends: a role's
        # idle_in_transaction_session_timeout (docs/operations.md suggests one for the writers)
        # must not end it before the app's own upload timeout does.
        self._uploads = _Pool(dsn, UPLOAD_CONNECTIONS, {
            "idle_in_transaction_session_timeout": f"{orphan_age_ms}ms"})
        self._reads = _Pool(dsn, READ_CONNECTIONS)
        self._next_sweep_ms = 0

    async def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        async def one(conn: AsyncConn) -> Any:
            return await (await conn.execute(sql, params)).fetchone()

        row = await self._reads.run(one)
        return row[0] if row else None

    async def start(self, known: KnownBlobs) -> int:
        """Orphans by age (`known` is not needed: the rows are in the same database)."""
        return await self.sweep_orphans()

    async def receive(self, booklet_id: bytes, blob_id: bytes, chunks: AsyncIterable[bytes],
                      limit: int) -> Received:
        """Every part in one transaction of its own, committed when the body is whole."""
        started = self._clock.now_ms()
        digest = hashlib.sha256()
        size = start = 0
        buffer = bytearray()
        part = self.part_bytes
        # Idle connections the database dropped (a restart) are replaced now, before the
        # first piece is taken from the client: after that there is no trying again.
        await self._uploads.run(lambda conn: conn.execute("SELECT 1"))
        async with self._uploads.connection() as conn, conn.transaction():
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise BlobTooLarge(f"An attachment may be at most {limit} bytes.")
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= part:
                    data, buffer = _take(buffer, part)
                    await conn.execute(_INSERT, (blob_id, start, booklet_id, started, data))
                    start += part
            if buffer:
                await conn.execute(_INSERT, (blob_id, start, booklet_id, started,
                                             bytes(buffer)))
        return Received(booklet_id, blob_id, size, digest.digest())

    async def commit(self, received: Received) -> None:
        """Nothing: `receive` committed the parts once the body was whole."""

    async def discard(self, received: Received) -> None:
        await self.delete([(received.booklet_id, received.blob_id)])

    async def put(self, booklet_id: bytes, blob_id: bytes,
                  chunks: AsyncIterable[bytes]) -> Received:
        """A whole blob copied in (`admin migrate-to-postgresql`): streamed and committed as
        an upload is, with no limit. Its `blobs` row is the caller's to insert."""
        return await self.receive(booklet_id, blob_id, chunks, 1 << 62)

    async def open(self, booklet_id: bytes, blob_id: bytes, size: int) -> BlobBody:
        return BlobBody(size, stream=functools.partial(self._stream, blob_id),
                        etag=blob_id.hex())

    async def _stream(self, blob_id: bytes, start: int, stop: int) -> AsyncIterator[bytes]:
        """Bytes [start, stop) of the blob, a part per query."""
        pos = start
        while pos < stop:
            row = await self._reads.run(functools.partial(_part_at, blob_id=blob_id, pos=pos))
            if row is None or row[0] + len(row[1]) <= pos:
                raise BlobPartMissing("an attachment's part is missing")
            first, data = row[0], row[1]
            piece = data[pos - first:stop - first]  # the whole part (no copy) but at the ends
            pos += len(piece)
            yield piece

    async def read_all(self, blob_id: bytes, size: int) -> bytes:
        """The whole blob in memory: for tests and checks of small blobs only."""
        return b"".join([piece async for piece in self._stream(blob_id, 0, size)])

    async def held(self) -> list[BlobKey]:
        """(booklet id, blob id) of every blob with a committed part: for checks and tests."""
        async def held(conn: AsyncConn) -> list[Any]:
            return await (await conn.execute(
                "SELECT DISTINCT booklet_id, blob_id FROM blob_chunks ORDER BY 1, 2")).fetchall()

        return [(r[0], r[1]) for r in await self._reads.run(held)]

    async def delete(self, blobs: Collection[BlobKey]) -> None:
        if blobs:
            ids = [blob_id for _, blob_id in blobs]
            await self._reads.run(lambda conn: conn.execute(_DELETE, (ids,)))

    async def delete_booklet(self, booklet_id: bytes) -> int:
        return int(await self._one(_DELETE_BOOKLET, (booklet_id,)) or 0)

    async def sweep(self) -> int:
        """`sweep_orphans`, at most every SWEEP_EVERY_MS (it scans the table's small
        columns: cheap, but not for every tick)."""
        now = self._clock.now_ms()
        if now < self._next_sweep_ms:
            return 0
        self._next_sweep_ms = now + SWEEP_EVERY_MS
        return await self.sweep_orphans()

    async def sweep_orphans(self) -> int:
        """Delete the parts of blobs no row names that began longer than `orphan_age_ms` ago;
        returns how many blobs."""
        cutoff = self._clock.now_ms() - self.orphan_age_ms
        return int(await self._one(_DELETE_ORPHANS, (cutoff,)) or 0)

    async def close(self) -> None:
        await self._uploads.close()
        await self._reads.close()
