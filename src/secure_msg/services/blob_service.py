"""Encrypted attachments (blobs): upload, attach to an entry, download, expire.

The server stores ciphertext it cannot read, in its blob store (storage/blob_store.py: files
in the blob directory on SQLite, parts in the database on PostgreSQL, so that every process
reads every blob), with a row each (storage/blobs.py). An upload is checked in full before
its body is read (`admit`: the token, Content-Length against [blobs] max_blob_bytes,
membership and the booklet's quota), then streamed into the store (`store_upload`), never
held whole in memory. The server cannot read a blob, but it checks what needs no key
(docs/protocol.md §4.7): the header, that it names this booklet, and that its length is one a
file's blob can have. It stays *pending* until the entry that lists it is posted
(`attach_txn`, in the entry's transaction); the scheduler deletes pending blobs older than
[blobs] pending_minutes (`sweep_pending`). Whoever holds the key of that entry may download
it; a pending one only its uploader.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from secure_msg.clock import Clock
from secure_msg.config import StorageConfig
from secure_msg.crypto import file_stream
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.rng import Rng
from secure_msg.errors import (
    BadRequest,
    BlobAlreadyAttached,
    BlobTooLarge,
    BlobUnknown,
    BookletQuotaExceeded,
    LengthRequired,
    NotFound,
    ProtocolRejected,
    ValidationFailed,
)
from secure_msg.logging import get_logger, log_event
from secure_msg.model.accounts import Session
from secure_msg.services.account_service import Authenticate
from secure_msg.services.audit_batcher import AuditBatcher, PendingEvent
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.storage import audit as audit_store
from secure_msg.storage import blobs as store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage.blob_files import BlobFiles
from secure_msg.storage.blob_store import BlobBody, BlobStore, Received
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

log = get_logger(__name__)

SWEEP_BATCH = 500


@dataclass(frozen=True)
class BlobLimits:
    max_blob_bytes: int
    booklet_quota_bytes: int
    pending_ms: int
    max_per_entry: int


@dataclass(frozen=True)
class BlobDeps:
    db: Database
    clock: Clock
    rng: Rng
    files: BlobStore
    limits: BlobLimits
    fetch_audit: AuditBatcher


Download = BlobBody  # what open_download hands the web layer: a file, or parts to stream


def make_store(storage: StorageConfig, clock: Clock, directory: Path,
               upload_timeout_s: int) -> BlobStore:
    """The blob store of the backend: the blob directory for SQLite (one process), the
    database itself for PostgreSQL (every process reads every blob; orphaned parts expire
    once no upload can still be under way: its timeout and ten minutes)."""
    if storage.backend == "postgresql":
        from secure_msg.storage import pg_blobs, pg_db  # psycopg: only for this backend

        return pg_blobs.PgBlobs(pg_db.dsn_from_env(), clock,
                                orphan_age_ms=(upload_timeout_s + 600) * 1000)
    return BlobFiles(directory)


def make_deps(db: Database, clock: Clock, rng: Rng, files: BlobStore, limits: BlobLimits,
              fetch_audit: AuditBatcher) -> BlobDeps:
    return BlobDeps(db, clock, rng, files, limits, fetch_audit)


def _actor(session: Session) -> str:
    return f"account:{session.account_id.hex()}"


def _quota_check(used: int, size: int, quota: int) -> None:
    if used + size > quota:
        raise BookletQuotaExceeded(
            f"The booklet's attachments may take at most {quota} bytes; "
            f"{max(quota - used, 0)} are left.", quota_bytes=quota,
            available_bytes=max(quota - used, 0))


async def admit(deps: BlobDeps, auth: Authenticate, booklet_id: bytes,
                declared: int | None) -> Session:
    """Everything that can refuse an upload before its body is read: the token (401), a
    missing length (411), too large (413 blob-too-large), not a member (404), the booklet's
    quota (413 booklet-quota-exceeded)."""
    limit = deps.limits.max_blob_bytes

    def txn(conn: Txn) -> Session:
        session = auth(conn)
        if declared is None:
            raise LengthRequired()
        if declared > limit:
            raise BlobTooLarge(f"An attachment may be at most {limit} bytes.",
                               max_bytes=limit)
        if declared < file_stream.blob_length(0):  # not even an empty file's blob
            raise ProtocolRejected("file-truncated")
        require_member_txn(conn, booklet_id, session)
        lifecycle_store.require_open_txn(conn, booklet_id)  # 409 booklet-closed
        _quota_check(store.used_bytes_txn(conn, booklet_id), declared,
                     deps.limits.booklet_quota_bytes)
        return session

    # A reader thread: the quota's sum scans the booklet's blobs.
    return await deps.db.read(txn)


async def store_upload(deps: BlobDeps, session: Session, booklet_id: bytes, declared: int,
                       chunks: AsyncIterable[bytes]) -> store.BlobRow:
    """Stream the body into the blob store (never past `declared` bytes), make it durable,
    then record the blob, checking membership and the quota again in the write transaction
    (another upload may have taken the room meanwhile). On any failure nothing remains: no
    bytes, no row."""
    blob_id = deps.rng(16)
    temp = await deps.files.receive(booklet_id, blob_id,
                                    _checked(chunks, booklet_id, declared), declared)
    if temp.size != declared:
        await deps.files.discard(temp)
        raise BadRequest("The body is shorter than its Content-Length.")
    await deps.files.commit(temp)
    try:
        # In the writer's thread: the quota's sum scans the booklet's blobs.
        return await deps.db.write(functools.partial(
            _record_txn, deps=deps, session=session, booklet_id=booklet_id, blob_id=blob_id,
            temp=temp), inline=False)
    except BaseException:
        await deps.files.discard(temp)
        raise


def _check_header(head: bytes, booklet_id: bytes, declared: int) -> None:
    """What the server can check of a blob without any key (docs/protocol.md §4.7): its
    header, that it is for this booklet, and that a file has a blob of the declared length."""
    try:
        header = file_stream.parse_header(head)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    if header.booklet_id != booklet_id:
        raise ProtocolRejected("wrong-booklet")
    if file_stream.plaintext_length(declared, header.chunk_size) is None:
        raise ProtocolRejected("file-truncated")  # cut inside a chunk, or a chunk short


async def _checked(chunks: AsyncIterable[bytes], booklet_id: bytes, declared: int
                   ) -> AsyncIterator[bytes]:
    """`chunks`, refused as soon as the first 40 bytes say this is no blob for this booklet."""
    head = b""
    async for chunk in chunks:
        if len(head) < file_stream.HEADER_LEN:
            head += chunk[: file_stream.HEADER_LEN - len(head)]
            if len(head) == file_stream.HEADER_LEN:
                _check_header(head, booklet_id, declared)
        yield chunk
    if len(head) < file_stream.HEADER_LEN:
        raise ProtocolRejected("file-truncated")


def _record_txn(conn: Txn, deps: BlobDeps, session: Session, booklet_id: bytes,
                blob_id: bytes, temp: Received) -> store.BlobRow:
    require_member_txn(conn, booklet_id, session)
    lifecycle_store.require_open_txn(conn, booklet_id)  # closed while the body streamed
    _quota_check(store.used_bytes_txn(conn, booklet_id), temp.size,
                 deps.limits.booklet_quota_bytes)
    now = deps.clock.now_ms()
    row = store.BlobRow(blob_id, booklet_id, session.account_id, temp.size, temp.sha256, now,
                        None)
    store.insert_blob_txn(conn, row)
    audit_store.append_audit_txn(
        conn, at_ms=now, actor=_actor(session), action="blob.uploaded",
        target=f"booklet:{booklet_id.hex()}", detail={"blob": blob_id.hex(), "bytes": temp.size})
    return row


def check_list(blob_ids: Sequence[bytes], max_per_entry: int) -> None:
    """An entry's list of attachments, before anything else of the post is checked."""
    if len(blob_ids) > max_per_entry:
        raise ValidationFailed(
            f"An entry may list at most {max_per_entry} attachments.",
            errors=[{"field": "blob_ids"}])
    if len(set(blob_ids)) != len(blob_ids):
        raise ValidationFailed("An attachment is listed twice.", errors=[{"field": "blob_ids"}])


def attach_txn(conn: Txn, booklet_id: bytes, account_id: bytes, seq: int,
               blob_ids: Sequence[bytes]) -> None:
    """In the entry's write transaction, after its insert: each listed blob must be a pending
    upload of the poster in this booklet. Any refusal rolls the entry back with it."""
    if not blob_ids:
        return
    rows = store.blobs_in_txn(conn, booklet_id, blob_ids)
    for blob_id in blob_ids:
        row = rows.get(blob_id)
        if row is None or row.uploader_id != account_id:
            raise BlobUnknown(errors=[{"field": "blob_ids"}])
        if row.entry_seq is not None:
            raise BlobAlreadyAttached()
    store.attach_txn(conn, booklet_id, seq, blob_ids)


async def open_download(deps: BlobDeps, auth: Authenticate, booklet_id: bytes,
                        blob_id: bytes) -> Download:
    """The blob to send: for members who hold the key of the entry that lists the blob (or
    its uploader while pending). Anything else is 404, saying nothing of other blobs."""

    def txn(conn: Txn) -> tuple[Session, store.BlobRow]:
        session = auth(conn)
        require_member_txn(conn, booklet_id, session)
        row = store.get_blob_txn(conn, blob_id)
        if row is None or row.booklet_id != booklet_id or not store.can_fetch_txn(
                conn, row, session.account_id):
            raise NotFound("No such attachment.")
        return session, row

    session, row = await deps.db.read_now(txn)
    if row.entry_seq is not None:  # a member read a document (not its uploader a pending one)
        # The detail of services/access_log.record_blob_read (branch accesslog), which shows
        # it in the booklet's access log.
        deps.fetch_audit.add(PendingEvent(
            at_ms=deps.clock.now_ms(), actor=_actor(session), action="blob.fetched",
            target=f"booklet:{booklet_id.hex()}",
            detail={"seq": row.entry_seq, "blob": blob_id.hex(), "bytes": row.size}))
    return await deps.files.open(booklet_id, blob_id, row.size)


async def sweep_pending(deps: BlobDeps) -> int:
    """Delete uploads no entry listed within [blobs] pending_minutes: rows first (so that no
    entry can attach one), then their bytes. A crash between the two leaves bytes no row
    names, which the store's `start` (and on PostgreSQL its `sweep`, called here too)
    removes."""
    cutoff = deps.clock.now_ms() - deps.limits.pending_ms
    total = 0
    orphans = await deps.files.sweep()
    if orphans:
        log_event(log, logging.WARNING, "blobs.orphans_removed", count=orphans)
    while True:
        ids = await deps.db.read(functools.partial(
            store.expired_pending_txn, before_ms=cutoff, limit=SWEEP_BATCH))
        if not ids:
            return total

        def txn(conn: Txn, ids: list[tuple[bytes, bytes]] = ids) -> list[tuple[bytes, bytes]]:
            deleted = store.delete_pending_txn(conn, ids)
            if deleted:
                audit_store.append_audit_txn(
                    conn, at_ms=deps.clock.now_ms(), actor="system", action="blobs.expired",
                    target="blobs", detail={"count": len(deleted)})
            return deleted

        deleted = await deps.db.write(txn)
        await deps.files.delete(deleted)
        total += len(deleted)
        if len(ids) < SWEEP_BATCH:
            return total


async def delete_booklet(deps: BlobDeps, booklet_id: bytes) -> int:
    """The bytes of a purged booklet's blobs (its directory, or its parts in the database),
    once the purge's transaction (which deletes the rows, `blobs` being one of
    storage.booklet_lifecycle's BOOKLET_TABLES) has committed: the retention service's
    `BlobDeleter`. Idempotent; returns how many blobs went."""
    return await deps.files.delete_booklet(booklet_id)


async def start(deps: BlobDeps) -> int:
    """At start-up, before serving: the store ready, and no blob a crash left behind (nor a
    purged booklet's, whose rows are gone). Returns how many orphaned blobs were removed."""
    return await deps.files.start(functools.partial(deps.db.read, store.all_blob_ids_txn))
