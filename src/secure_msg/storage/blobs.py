"""Encrypted attachments' rows (schema 0010): the only SQL for the `blobs` table.

The bytes themselves are files (storage/blob_files.py); a row says whose and where a blob is,
its size for the booklet's quota, and the entry that lists it (NULL while pending).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class BlobRow:
    id: bytes
    booklet_id: bytes
    uploader_id: bytes
    size: int
    sha256: bytes
    created_at_ms: int
    entry_seq: int | None


_COLUMNS = "id, booklet_id, uploader_id, size, sha256, created_at_ms, entry_seq"


def used_bytes_txn(conn: Txn, booklet_id: bytes) -> int:
    """Bytes of every blob of the booklet, pending ones included: what its quota counts."""
    row = conn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE booklet_id = ?", (booklet_id,)
    ).fetchone()
    return int(row[0])


def insert_blob_txn(conn: Txn, row: BlobRow) -> None:
    conn.execute(
        f"INSERT INTO blobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",  # noqa: S608
        (row.id, row.booklet_id, row.uploader_id, row.size, row.sha256, row.created_at_ms),
    )


def get_blob_txn(conn: Txn, blob_id: bytes) -> BlobRow | None:
    found = conn.execute(
        f"SELECT {_COLUMNS} FROM blobs WHERE id = ?", (blob_id,)  # noqa: S608
    ).fetchone()
    return BlobRow(*found) if found else None


def blobs_in_txn(conn: Txn, booklet_id: bytes, blob_ids: Sequence[bytes]) -> dict[bytes, BlobRow]:
    """id → row of those of `blob_ids` that are in the booklet (at most a few dozen ids)."""
    if not blob_ids:
        return {}
    marks = ",".join("?" * len(blob_ids))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM blobs WHERE booklet_id = ? AND id IN ({marks})",  # noqa: S608
        (booklet_id, *blob_ids),
    ).fetchall()
    return {r[0]: BlobRow(*r) for r in rows}


def attach_txn(conn: Txn, booklet_id: bytes, seq: int, blob_ids: Sequence[bytes]) -> None:
    """Record that entry `seq` lists `blob_ids`, in that order. The caller has checked that each
    is pending; the WHERE keeps a blob from being taken twice even so."""
    for position, blob_id in enumerate(blob_ids):
        cursor = conn.execute(
            "UPDATE blobs SET entry_seq = ?, position = ?"
            " WHERE id = ? AND booklet_id = ? AND entry_seq IS NULL",
            (seq, position, blob_id, booklet_id),
        )
        if cursor.rowcount != 1:
            raise RuntimeError("attach_txn: a blob was not pending")


def entry_blob_ids_txn(conn: Txn, booklet_id: bytes, seq: int) -> list[bytes]:
    """The attachments entry `seq` lists, in its order."""
    rows = conn.execute(
        "SELECT id FROM blobs WHERE booklet_id = ? AND entry_seq = ? ORDER BY position",
        (booklet_id, seq),
    ).fetchall()
    return [r[0] for r in rows]


def can_fetch_txn(conn: Txn, blob: BlobRow, account_id: bytes) -> bool:
    """A pending blob only by its uploader; an attached one by whoever holds the key of the
    entry that lists it (entry_access: the recipients, and history grants)."""
    if blob.entry_seq is None:
        return blob.uploader_id == account_id
    row = conn.execute(
        "SELECT 1 FROM entry_access WHERE booklet_id = ? AND account_id = ? AND seq = ?",
        (blob.booklet_id, account_id, blob.entry_seq),
    ).fetchone()
    return row is not None


def expired_pending_txn(conn: Txn, before_ms: int, limit: int) -> list[tuple[bytes, bytes]]:
    """(booklet id, blob id) of pending blobs uploaded before `before_ms`, oldest first."""
    rows = conn.execute(
        "SELECT booklet_id, id FROM blobs WHERE entry_seq IS NULL AND created_at_ms < ?"
        " ORDER BY created_at_ms LIMIT ?",
        (before_ms, limit),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def delete_pending_txn(conn: Txn, blobs: Sequence[tuple[bytes, bytes]]
                       ) -> list[tuple[bytes, bytes]]:
    """Delete those of the (booklet id, blob id) pairs still pending; returns those deleted."""
    deleted = []
    for booklet_id, blob_id in blobs:
        cursor = conn.execute(
            "DELETE FROM blobs WHERE id = ? AND booklet_id = ? AND entry_seq IS NULL",
            (blob_id, booklet_id))
        if cursor.rowcount:
            deleted.append((booklet_id, blob_id))
    return deleted


def all_blob_ids_txn(conn: Txn) -> set[tuple[bytes, bytes]]:
    """Every (booklet id, blob id) (start-up's sweep of files no row names)."""
    return {(r[0], r[1]) for r in conn.execute("SELECT booklet_id, id FROM blobs").fetchall()}
