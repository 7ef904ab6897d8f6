"""A therapist sends a notice of her booklet again after it failed, was not delivered or
expired: a new attempt through the outbox (quiet hours, opt-out and rate limits apply as to
any notice), audited, at most once per notice."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.errors import NotFound, NoticeNotRetryable
from secure_msg.model.accounts import Session
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.roles import Role
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.services.notice_service import NoticeDeps, not_before
from secure_msg.storage import audit as audit_store
from secure_msg.storage import notice_retry as store
from secure_msg.storage.notices import SECRET_SLOTS
from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class Requeued:
    """The new attempt, and when the outbox will first try it: now, or at the end of quiet
    hours for a kind that waits them out (a reminder, a new-entry ping)."""

    id: int
    send_after_ms: int


async def retry(deps: NoticeDeps, session: Session, notice_id: int) -> Requeued:
    """Queue the notice again as a new attempt."""

    def txn(conn: Txn) -> Requeued:
        found = store.candidate_txn(conn, notice_id)
        # Not found, not a booklet's, or not this therapist's booklet: the same answer.
        if found is None or found.booklet_id is None:
            raise NotFound("No such notice.")
        if require_member_txn(conn, found.booklet_id, session) is not Role.THERAPIST:
            raise NotFound("No such notice.")
        if found.status not in store.RETRYABLE:
            raise NoticeNotRetryable("Only a failed, undelivered or expired message is sent "
                                     "again.")
        kind = NoticeKind(found.kind)
        if SECRET_SLOTS.get(kind):
            raise NoticeNotRetryable("An invitation's link is not kept: make a new "
                                     "invitation instead.")
        now = deps.clock.now_ms()
        send_after = not_before(deps, kind, now)
        new_id = store.requeue_txn(conn, notice_id, send_after, now)
        if new_id is None:
            raise NoticeNotRetryable("This message was already sent again.")
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=f"account:{session.account_id.hex()}",
            action="notice.retried", target=f"notice:{notice_id}", detail={"new": new_id})
        return Requeued(new_id, send_after)

    return await deps.db.write(txn)
