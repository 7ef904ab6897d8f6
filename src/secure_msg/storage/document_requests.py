"""Document requests: the only SQL for `document_requests` (model/document_requests.py).

Every status change is a compare-and-set on the status the lifecycle table lets become the
target, so a second fulfilment or a withdrawal racing one changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from secure_msg.model.document_requests import (
    DocumentRequest,
    RequestKind,
    RequestStatus,
    check_transition,
)
from secure_msg.storage.txn import Txn

_COLUMNS = ("r.id, r.booklet_id, r.requester_id, r.kind, r.status, r.created_at_ms, r.due,"
            " r.done_by_seq, r.closed_by, r.closed_at_ms")


def _request(row: tuple[Any, ...]) -> DocumentRequest:
    id_, booklet, requester, kind, status, created, due, seq, closed_by, closed_at = row
    return DocumentRequest(id_, booklet, requester, RequestKind(kind), RequestStatus(status),
                           created, date.fromisoformat(due) if due else None, seq, closed_by,
                           closed_at)


def insert_txn(conn: Txn, r: DocumentRequest) -> None:
    conn.execute(
        "INSERT INTO document_requests (id, booklet_id, requester_id, kind, status,"
        " created_at_ms, due) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (r.id, r.booklet_id, r.requester_id, r.kind.value, r.status.value, r.created_at_ms,
         r.due.isoformat() if r.due else None))


def get_txn(conn: Txn, booklet_id: bytes, request_id: bytes
            ) -> DocumentRequest | None:
    """The request if it belongs to this booklet: another booklet's id reads as none."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM document_requests r WHERE r.id = ? AND r.booklet_id = ?",  # noqa: S608
        (request_id, booklet_id)).fetchone()
    return _request(row) if row else None


def for_booklet_txn(conn: Txn, booklet_id: bytes, *, open_only: bool
                    ) -> list[DocumentRequest]:
    status = " AND r.status = 'open'" if open_only else ""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM document_requests r WHERE r.booklet_id = ?{status}"  # noqa: S608
        " ORDER BY r.created_at_ms, r.id", (booklet_id,)).fetchall()
    return [_request(r) for r in rows]


def open_count_txn(conn: Txn, booklet_id: bytes) -> int:
    row = conn.execute("SELECT count(*) FROM document_requests WHERE booklet_id = ?"
                       " AND status = 'open'", (booklet_id,)).fetchone()
    return int(row[0])


def open_for_therapist_txn(conn: Txn, therapist_id: bytes
                           ) -> list[DocumentRequest]:
    """Open requests of every booklet the account is a current therapist of, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM document_requests r JOIN members m"  # noqa: S608
        " ON m.booklet_id = r.booklet_id AND m.account_id = ? AND m.role = 'therapist'"
        " AND m.removed_at_ms IS NULL WHERE r.status = 'open'"
        " ORDER BY r.created_at_ms, r.id", (therapist_id,)).fetchall()
    return [_request(r) for r in rows]


def set_due_txn(conn: Txn, booklet_id: bytes, request_id: bytes,
                due: date | None) -> bool:
    """Change an open request's due day; False when it is not open (or not there)."""
    cursor = conn.execute(
        "UPDATE document_requests SET due = ? WHERE id = ? AND booklet_id = ?"
        " AND status = 'open'",
        (due.isoformat() if due else None, request_id, booklet_id))
    return cursor.rowcount == 1


def close_txn(conn: Txn, request: DocumentRequest, new: RequestStatus, *,
              by: bytes, now_ms: int, entry_seq: int | None = None) -> None:
    """Move `request` to done or withdrawn. Raises DocRequestNotOpen, changing nothing, when
    the lifecycle forbids the move from the status just read, or the row moved since."""
    check_transition(request.status, new)
    cursor = conn.execute(
        "UPDATE document_requests SET status = ?, done_by_seq = ?, closed_by = ?,"
        " closed_at_ms = ? WHERE id = ? AND status = ?",
        (new.value, entry_seq, by, now_ms, request.id, request.status.value))
    if cursor.rowcount != 1:
        check_transition(RequestStatus.DONE, new)  # moved since it was read: always raises
