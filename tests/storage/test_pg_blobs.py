"""Attachments' bytes in PostgreSQL (storage/pg_blobs.py) against a real database: parts
written streaming and read back whole and in ranges, nothing left by an upload cut off or too
long, orphans swept by age only, deletes per blob and per booklet, and an upload in flight
never holding up the writer (the group commit every request waits on)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from secure_msg.clock import FixedClock
from secure_msg.errors import BlobTooLarge, DatabaseUnavailable
from secure_msg.storage import audit as audit_store
from secure_msg.storage.blob_files import BlobFiles
from secure_msg.storage.db import Database
from secure_msg.storage.pg_blobs import PART_BYTES, PgBlobs, put_parts
from secure_msg.storage.txn import Txn
from secure_msg.testing.pg_cluster import PgCluster

pytestmark = pytest.mark.postgresql

PIECE = 1 << 16  # what the web layer reads from the socket at a time
AGE_MS = 60_000


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
async def store(pg_dsn: str, clock: FixedClock) -> AsyncIterator[PgBlobs]:
    blobs = PgBlobs(pg_dsn, clock, orphan_age_ms=AGE_MS)
    yield blobs
    await blobs.close()


@pytest.fixture
def sql(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), PIECE):
        yield data[i:i + PIECE]


def parts(sql: psycopg.Connection[Any], blob_id: bytes) -> list[tuple[int, int]]:
    return [(r[0], r[1]) for r in sql.execute(
        "SELECT start_byte, length(data) FROM blob_chunks WHERE blob_id = %s ORDER BY 1",
        (blob_id,))]


def name_in_a_row(sql: psycopg.Connection[Any], booklet_id: bytes, blob_id: bytes) -> None:
    """A `blobs` row for the blob, as the service records one (its account and booklet are
    not the point here: the foreign keys are not checked for this connection)."""
    sql.execute("SET session_replication_role = replica")
    sql.execute("INSERT INTO blobs (id, booklet_id, uploader_id, size, sha256, created_at_ms)"
                " VALUES (%s, %s, %s, 1, %s, 0)", (blob_id, booklet_id, os.urandom(16), b"h"))


async def test_a_blob_of_several_parts_streams_back_whole_and_in_ranges(
        store: PgBlobs, sql: psycopg.Connection[Any]) -> None:
    booklet, blob = os.urandom(16), os.urandom(16)
    data = os.urandom(2 * PART_BYTES + 12_345)
    got = await store.receive(booklet, blob, pieces(data), len(data))
    await store.commit(got)
    assert (got.size, got.blob_id) == (len(data), blob)
    assert parts(sql, blob) == [(0, PART_BYTES), (PART_BYTES, PART_BYTES),
                                (2 * PART_BYTES, 12_345)]
    assert await store.read_all(blob, len(data)) == data
    body = await store.open(booklet, blob, len(data))
    assert (body.size, body.path, body.etag) == (len(data), None, blob.hex())
    assert body.stream is not None
    for start, stop in [(PART_BYTES - 10, PART_BYTES + 10), (0, 1), (len(data) - 7, len(data)),
                        (5, 2 * PART_BYTES + 5)]:
        streamed = [p async for p in body.stream(start, stop)]
        assert b"".join(streamed) == data[start:stop], (start, stop)
        assert max(len(p) for p in streamed) <= PART_BYTES  # a part at a time


async def test_an_upload_is_never_whole_in_memory(store: PgBlobs) -> None:
    """8 MiB arrive; at most about a part (and a socket read) is held at once."""
    size = 8 * PART_BYTES

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(size // PIECE):
            yield os.urandom(PIECE)

    tracemalloc.start()
    try:
        await store.receive(os.urandom(16), os.urandom(16), generated(), size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * PART_BYTES, peak


async def test_an_upload_cut_off_mid_way_leaves_no_part(
        store: PgBlobs, sql: psycopg.Connection[Any]) -> None:
    """The client goes away after two parts were inserted: they were never committed, so
    nothing is there even before a sweep, and a sweep finds nothing either."""
    booklet, blob = os.urandom(16), os.urandom(16)

    async def cut() -> AsyncIterator[bytes]:
        async for piece in pieces(os.urandom(2 * PART_BYTES + PIECE)):
            yield piece
        raise ConnectionResetError("the phone lost its network")

    with pytest.raises(ConnectionResetError):
        await store.receive(booklet, blob, cut(), 10 * PART_BYTES)
    assert parts(sql, blob) == []
    assert await store.held() == []
    assert await store.sweep_orphans() == 0


async def test_a_stream_past_its_limit_leaves_no_part(
        store: PgBlobs, sql: psycopg.Connection[Any]) -> None:
    blob = os.urandom(16)
    with pytest.raises(BlobTooLarge):
        await store.receive(os.urandom(16), blob, pieces(os.urandom(PART_BYTES + 1)),
                            PART_BYTES)
    assert parts(sql, blob) == []


async def test_parts_no_row_names_are_swept_only_once_old(
        store: PgBlobs, sql: psycopg.Connection[Any], clock: FixedClock) -> None:
    """A process that died between the parts' COMMIT and the row leaves an orphan; another
    process's upload in that same state is not one yet. The sweep tells them apart by age
    and never touches a blob a row names, however old."""
    booklet = os.urandom(16)
    orphan, named = os.urandom(16), os.urandom(16)
    for blob in (orphan, named):
        await store.receive(booklet, blob, pieces(os.urandom(3 * PIECE)), PART_BYTES)
    name_in_a_row(sql, booklet, named)
    clock.advance(AGE_MS / 1000 - 0.001)
    assert await store.sweep_orphans() == 0
    assert await store.held() == sorted([(booklet, orphan), (booklet, named)])
    clock.advance(0.002)
    assert await store.sweep_orphans() == 1
    assert await store.held() == [(booklet, named)]
    assert await store.start(_no_rows) == 0  # start-up sweeps the same way


async def _no_rows() -> list[tuple[bytes, bytes]]:
    return []


async def test_deletes_per_blob_and_per_booklet(store: PgBlobs) -> None:
    gone, kept = os.urandom(16), os.urandom(16)
    ids = [os.urandom(16) for _ in range(3)]
    for booklet, blob in [(gone, ids[0]), (gone, ids[1]), (kept, ids[2])]:
        await store.receive(booklet, blob, pieces(os.urandom(PART_BYTES + 1)), 2 * PART_BYTES)
    assert await store.delete_booklet(gone) == 2
    assert await store.delete_booklet(gone) == 0  # idempotent: the retention hook retries
    assert await store.held() == [(kept, ids[2])]
    got = await store.put(gone, ids[0], pieces(b"copied from a blob directory"))
    assert got.size == 28
    await store.delete([(kept, ids[2])])
    assert await store.held() == [(gone, ids[0])]
    assert await store.read_all(ids[0], 28) == b"copied from a blob directory"


async def test_an_upload_in_flight_does_not_hold_up_the_writer(
        store: PgBlobs, db: Database) -> None:
    """While a slow client's upload has parts inserted and more to come, the database's
    writer (which every process's writes take turns on) commits at once: the upload is a
    transaction of its own that takes no lock the writer waits for."""
    more = asyncio.Event()
    inserted = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        async for piece in pieces(os.urandom(PART_BYTES)):
            yield piece
        yield b"x"  # the part is inserted when this arrives
        inserted.set()
        await more.wait()
        yield b"y"

    def append(t: Txn) -> None:
        audit_store.append_audit_txn(t, at_ms=1, actor="system", action="test.write",
                                     target="blobs", detail={})

    blob = os.urandom(16)
    upload = asyncio.create_task(store.receive(os.urandom(16), blob, slow(), 2 * PART_BYTES))
    try:
        await asyncio.wait_for(inserted.wait(), 10)
        await asyncio.sleep(0.2)
        write = asyncio.ensure_future(db.write(append))
        done, _ = await asyncio.wait([write], timeout=5)
        assert done, "the write waited for the upload"
        assert not upload.done()
    finally:
        more.set()  # the upload ends, and with it anything that waited for it
    assert (await asyncio.wait_for(upload, 10)).size == PART_BYTES + 2
    assert await store.read_all(blob, PART_BYTES + 2) == (await store.read_all(
        blob, PART_BYTES)) + b"xy"


async def test_reads_and_deletes_go_on_after_the_database_dropped_the_idle_connections(
        store: PgBlobs, sql: psycopg.Connection[Any]) -> None:
    """A database restart (here: its sessions ended) breaks the pools' idle connections; the
    next download, delete and upload use new ones instead of failing once each."""
    booklet, blob = os.urandom(16), os.urandom(16)
    data = os.urandom(PART_BYTES + 5)
    await store.receive(booklet, blob, pieces(data), len(data))
    assert await store.read_all(blob, len(data)) == data  # the read pool has connections now
    ended = sql.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'secure-msg-blobs'").fetchone()
    assert ended is not None
    assert ended[0] >= 2  # an upload's and a read's
    await asyncio.sleep(0.1)
    assert await store.read_all(blob, len(data)) == data
    assert await store.delete_booklet(booklet) == 1
    again = await store.receive(booklet, blob, pieces(data), len(data))  # uploads too
    assert again.size == len(data)


async def test_a_slow_upload_outlives_a_short_idle_in_transaction_timeout(
        store: PgBlobs, sql: psycopg.Connection[Any]) -> None:
    """docs/operations.md suggests `idle_in_transaction_session_timeout` for the app's role; an
    upload's transaction is idle whenever the phone is slow to send, and must not be ended by
    it (the store sets its own, from the upload timeout, on its upload connections)."""
    sql.execute("SELECT set_config('x.db', current_database(), false)")
    sql.execute("DO $$ BEGIN EXECUTE format("
                "'ALTER DATABASE %I SET idle_in_transaction_session_timeout = ''1s''',"
                " current_setting('x.db')); END $$")

    async def slow() -> AsyncIterator[bytes]:
        yield os.urandom(PART_BYTES + 1)  # a part inserted: the transaction is open
        await asyncio.sleep(2.5)
        yield b"z"

    blob = os.urandom(16)
    got = await store.receive(os.urandom(16), blob, slow(), 2 * PART_BYTES)
    assert got.size == PART_BYTES + 2
    assert len(await store.read_all(blob, got.size)) == got.size


async def test_a_blob_directorys_files_copy_in_with_put(
        store: PgBlobs, tmp_path: Path) -> None:
    """The entry point of `admin migrate-to-postgresql`: a file of a SQLite installation's blob
    directory, read a piece at a time, stored whole and byte-identical (the same SHA-256 the
    `blobs` row holds)."""
    files = BlobFiles(tmp_path / "blobs")
    files.prepare()
    booklet, blob = os.urandom(16), os.urandom(16)
    data = os.urandom(2 * PART_BYTES + 3)
    written = await files.put(booklet, blob, pieces(data))
    copied = await store.put(booklet, blob, files.read_chunks(booklet, blob))
    assert (copied.size, copied.sha256) == (written.size, written.sha256)
    assert await store.read_all(blob, copied.size) == data


def test_put_parts_writes_a_blob_inside_the_callers_transaction(
        pg_dsn: str, sql: psycopg.Connection[Any]) -> None:
    """The synchronous entry point for a copy that runs in one transaction of its own: the
    parts are the caller's to commit or roll back."""
    booklet, blob = os.urandom(16), os.urandom(16)
    data = os.urandom(PART_BYTES + 77)
    pieces_of = [data[i:i + PIECE] for i in range(0, len(data), PIECE)]
    with psycopg.connect(pg_dsn) as conn:  # not autocommit: one open transaction
        size, sha256 = put_parts(conn, booklet, blob, iter(pieces_of), 1)
        conn.rollback()
    assert parts(sql, blob) == []
    with psycopg.connect(pg_dsn) as conn:
        assert put_parts(conn, booklet, blob, iter(pieces_of), 1) == (size, sha256)
        conn.commit()
    assert (size, sha256) == (len(data), hashlib.sha256(data).digest())
    assert parts(sql, blob) == [(0, PART_BYTES), (PART_BYTES, 77)]
    stored = sql.execute("SELECT string_agg(data, ''::bytea ORDER BY start_byte)"
                         " FROM blob_chunks WHERE blob_id = %s", (blob,)).fetchone()
    assert stored is not None
    assert stored[0] == data


async def test_the_database_away_is_database_unavailable_not_a_driver_error(
    store: PgBlobs, pg_dsn: str, pg_cluster: PgCluster,
) -> None:
    """An upload or a download while the database is down answers 503 service-unavailable
    (DatabaseUnavailable), as the writer and readers do, not a 500 with a traceback."""
    received = await store.receive(os.urandom(16), os.urandom(16), pieces(b"x" * 1000),
                                   10_000)
    with psycopg.connect(pg_dsn) as conn:
        name = conn.info.dbname
    pg_cluster.drop_database(name)  # its sessions end, new ones are refused
    with pytest.raises(DatabaseUnavailable):
        await store.receive(os.urandom(16), os.urandom(16), pieces(b"y" * 1000), 10_000)
    with pytest.raises(DatabaseUnavailable):
        await store.read_all(received.blob_id, received.size)
