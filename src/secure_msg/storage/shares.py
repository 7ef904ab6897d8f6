"""Shares to outsiders (schema 0012_shares): the only SQL for the `shares` table."""

from __future__ import annotations

from secure_msg.model.shares import Share
from secure_msg.storage.txn import Txn

_COLUMNS = ("id, booklet_id, blob_id, entry_seq, sharer_id, sealed, verifier, phone_hint,"
            " created_at_ms, expires_at_ms, max_opens, opens, failures, last_open_ms,"
            " revoked_at_ms, revoked_by")


def insert_txn(conn: Txn, s: Share) -> bool:
    """False when a share with this id exists."""
    cursor = conn.execute(
        f"INSERT INTO shares ({_COLUMNS})"  # noqa: S608
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (s.id, s.booklet_id, s.blob_id, s.entry_seq, s.sharer_id, s.sealed, s.verifier,
         s.phone_hint, s.created_at_ms, s.expires_at_ms, s.max_opens, s.opens, s.failures,
         s.last_open_ms, s.revoked_at_ms, s.revoked_by))
    return cursor.rowcount == 1


def get_txn(conn: Txn, share_id: bytes) -> Share | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM shares WHERE id = ?", (share_id,)  # noqa: S608
    ).fetchone()
    return Share(*row) if row else None


def booklet_shares_txn(conn: Txn, booklet_id: bytes, limit: int) -> list[Share]:
    """The booklet's shares, newest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM shares WHERE booklet_id = ?"  # noqa: S608
        " ORDER BY created_at_ms DESC, id LIMIT ?", (booklet_id, limit)).fetchall()
    return [Share(*r) for r in rows]


def count_failure_txn(conn: Txn, share_id: bytes) -> None:
    conn.execute("UPDATE shares SET failures = failures + 1 WHERE id = ?", (share_id,))


def count_open_txn(conn: Txn, share_id: bytes, now_ms: int) -> None:
    conn.execute("UPDATE shares SET opens = opens + 1, last_open_ms = ? WHERE id = ?",
                 (now_ms, share_id))


def revoke_txn(conn: Txn, share_id: bytes, by: bytes, now_ms: int) -> bool:
    """False when it was withdrawn already."""
    cursor = conn.execute(
        "UPDATE shares SET revoked_at_ms = ?, revoked_by = ? WHERE id = ?"
        " AND revoked_at_ms IS NULL", (now_ms, by, share_id))
    return cursor.rowcount == 1
