"""Sending a notice again as a new attempt: a copy of a failed, undelivered or expired notice,
queued under the dedupe key `retry:<id>`, so one notice is sent again at most once."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.model.notices import NoticeStatus
from secure_msg.storage.txn import Txn

RETRYABLE = (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED, NoticeStatus.EXPIRED)


def retry_key(notice_id: int) -> str:
    return f"retry:{notice_id}"


@dataclass(frozen=True)
class RetryCandidate:
    id: int
    booklet_id: bytes | None
    kind: str
    status: str


def candidate_txn(conn: Txn, notice_id: int) -> RetryCandidate | None:
    row = conn.execute("SELECT id, booklet_id, kind, status FROM notices WHERE id = ?",
                       (notice_id,)).fetchone()
    return RetryCandidate(*row) if row else None


def requeue_txn(conn: Txn, notice_id: int, not_before_ms: int, now_ms: int
                ) -> int | None:
    """Queue the copy (address and slots as stored: the same sealed columns); None when this
    notice was already sent again."""
    cursor = conn.execute(
        "INSERT INTO notices (dedupe_key, recipient_id, booklet_id, channel,"
        " address_enc, kind, language, slots, status, not_before_ms, next_attempt_ms,"
        " created_at_ms, updated_at_ms) SELECT ?, recipient_id, booklet_id, channel,"
        " address_enc, kind, language, slots, 'queued', ?, ?, ?, ? FROM notices WHERE id = ?"
        " ON CONFLICT DO NOTHING RETURNING id",
        (retry_key(notice_id), not_before_ms, not_before_ms, now_ms, now_ms, notice_id),
    )
    row = cursor.fetchone()
    return int(row[0]) if row else None
