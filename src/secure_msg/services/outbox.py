"""The outbox's transactions: claim due notices, decide whether one is still to be sent, and
settle each with what happened. The worker that sends (channels/outbox.py) calls these; it
holds no SQL and no transaction of its own.

A claim is a lease (`lease_ms`): if the process dies before settling, the lease expires and the
notice is claimed again (invariant 5).
"""

from __future__ import annotations

from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.notices import ClaimedNotice
from secure_msg.services.core import Core
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import notices as store
from secure_msg.storage.txn import Txn

# A notice to a number that said STOP (or that Twilio reports as opted out: 21610).
OPTED_OUT = "opted-out"


async def claim(deps: Core, now_ms: int, limit: int, lease_ms: int,
                channels: list[str]) -> list[ClaimedNotice]:
    """Lease up to `limit` due notices on the given channels."""
    return await deps.db.write(lambda t: store.claim_due_txn(
        t, deps.vault, now_ms, limit, lease_ms, channels))


async def skip_reason(deps: Core, notice: ClaimedNotice) -> str | None:
    """Why a claimed notice must not go out now (its appointment is no longer scheduled, or
    the number said STOP), or None to send it."""

    def txn(t: Txn) -> str | None:
        if notice.kind is NoticeKind.REMINDER:
            appointment_id = bytes.fromhex(notice.dedupe_key.split(":")[1])
            if not appointment_store.is_scheduled_txn(t, appointment_id):
                return "appointment-not-scheduled"
        if notice.channel is Channel.SMS and store.opted_out_txn(t, deps.vault, notice.address):
            return OPTED_OUT
        return None

    return await deps.db.read(txn)


async def settle_sent(deps: Core, notice_id: int, provider_sid: str, ambiguous: int,
                      now_ms: int) -> None:
    await deps.db.write(lambda t: store.mark_sent_txn(t, notice_id, provider_sid, ambiguous,
                                                      now_ms))


async def settle_retry(deps: Core, notice_id: int, next_ms: int, ambiguous: int,
                       reason: str, now_ms: int) -> None:
    await deps.db.write(lambda t: store.mark_retry_txn(t, notice_id, next_ms, ambiguous,
                                                       reason, now_ms))


async def settle_final(deps: Core, notice: ClaimedNotice, status: str, reason: str,
                       error_code: int | None, now_ms: int) -> None:
    """End a notice as failed or skipped. A failure is audited; an opted-out number is
    recorded as such, so nothing more is sent to it."""

    def txn(t: Txn) -> None:
        store.mark_final_txn(t, notice.id, status, reason, error_code, now_ms)
        if reason == OPTED_OUT:
            store.set_consent_txn(t, deps.vault, notice.address, opted_out=True,
                                  keyword="21610", now_ms=now_ms)
        if status == "failed":
            audit_store.append_audit_txn(
                t, at_ms=now_ms, actor="system", action="notice.failed",
                target=f"notice:{notice.id}", detail={"reason": reason},
            )

    await deps.db.write(txn)
