"""A booklet's access log for its members (issue 17 item 5), and the records it is made of.

Reads (entry pages, document downloads) are recorded through the AuditBatcher: one event per
request, never one per entry, committed in batches off the response path (audit_batcher.py
says what a crash can lose). Changes (membership, grants, exports) are recorded in their own
transaction. The log itself is the booklet's slice of the audit chain (model/access_log.py).

For the document store (item 1): call `record_blob_read` once per download a member made.
"""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.clock import Clock
from secure_msg.errors import ValidationFailed
from secure_msg.model.access_log import (
    MEMBER_VISIBLE,
    Access,
    ExportKind,
    Refusal,
    booklet_target,
    fetch_details,
)
from secure_msg.model.accounts import Session
from secure_msg.model.audit import AuditEvent
from secure_msg.services.audit_batcher import AuditBatcher, PendingEvent
from secure_msg.services.booklet_service import BookletDeps, require_member_txn
from secure_msg.storage import access_log as store
from secure_msg.storage import audit as audit_store
from secure_msg.storage.txn import Txn

MAX_PAGE = 200


def _actor(account_id: bytes) -> str:
    return f"account:{account_id.hex()}"


def record_fetch(
    audit: AuditBatcher, at_ms: int, account_id: bytes, booklet_id: bytes, seqs: list[int]
) -> None:
    """A member was sent the entries `seqs` (one page): one event, or a few if the ranges are
    too long for one event's detail."""
    for detail in fetch_details(seqs):
        audit.add(PendingEvent(at_ms, _actor(account_id), Access.ENTRIES_FETCHED.value,
                               booklet_target(booklet_id), detail))


def record_fetch_refused(
    audit: AuditBatcher, at_ms: int, account_id: bytes, booklet_id: bytes
) -> None:
    """An account that is not a member asked for a booklet's entries: for the operator only."""
    audit.add(PendingEvent(at_ms, _actor(account_id), Refusal.FETCH_REFUSED.value,
                           booklet_target(booklet_id), {}))


def record_blob_read(
    audit: AuditBatcher, clock: Clock, *, account_id: bytes, booklet_id: bytes, seq: int,
    blob_id: str, size: int | None = None,
) -> None:
    """A member downloaded a document's blob, attached to entry `seq`.

    `blob_id` is the store's opaque id (hex or base64url, ≤ 64 characters), never a file name.
    Batched like page reads: call it after the download was answered or began streaming."""
    if not blob_id or len(blob_id) > 64:
        raise ValueError("blob_id must be the store's short opaque id")
    detail: dict[str, int | str] = {"seq": seq, "blob": blob_id}
    if size is not None:
        detail["bytes"] = size
    audit.add(PendingEvent(clock.now_ms(), _actor(account_id), Access.BLOB_FETCHED.value,
                           booklet_target(booklet_id), detail))


@dataclass(frozen=True)
class LogPage:
    events: list[AuditEvent]
    next_cursor: int | None  # pass as `cursor` for the next (older) page; None: no more


async def page(
    deps: BookletDeps, session: Session, booklet_id: bytes, *, cursor: int | None,
    limit: int,
) -> LogPage:
    """The newest `limit` events of the booklet's access log before chain position `cursor`.
    Members only (non-members get 404, as for every booklet route)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"1 ≤ limit ≤ {MAX_PAGE}.", errors=[{"field": "limit"}])

    def txn(conn: Txn) -> list[AuditEvent]:
        require_member_txn(conn, booklet_id, session)
        return store.booklet_events_txn(
            conn, booklet_target(booklet_id), MEMBER_VISIBLE, before_seq=cursor,
            limit=limit + 1)

    # A bounded index range (≤ 201 rows), like a page of entries: on the loop's connection.
    rows = await deps.db.read_now(txn)
    more = len(rows) > limit
    events = rows[:limit]
    return LogPage(events, events[-1].seq if more else None)


async def record_export(
    deps: BookletDeps, session: Session, booklet_id: bytes, kind: ExportKind,
    entries: int | None,
) -> AuditEvent:
    """A member's client says it exported the booklet (or its access log): recorded in the
    chain before the answer, so a client can show the event it made."""

    def txn(conn: Txn) -> AuditEvent:
        require_member_txn(conn, booklet_id, session)
        detail: dict[str, int | str] = {"kind": kind.value}
        if entries is not None:
            detail["entries"] = entries
        return audit_store.append_audit_txn(
            conn, at_ms=deps.clock.now_ms(), actor=_actor(session.account_id),
            action=Access.EXPORTED.value, target=booklet_target(booklet_id), detail=detail)

    return await deps.db.write(txn)
