"""The outbox's transactions: claim due notices, decide whether one is still to be sent, and
settle each with what happened. The worker that sends (channels/outbox.py) calls these; it
holds no SQL and no transaction of its own.

A claim is a lease (`lease_ms`) held by one process (`owner`): if the process dies before
settling, the lease expires, or another process that can prove the owner gone (any machine on
PostgreSQL, services/process_locks.py) releases it at once (`release_claims`); either way
the notice is claimed again and reconciled with the provider before it is sent (invariant 5).
"""

from __future__ import annotations

from collections.abc import Sequence

from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.notices import (
    ClaimedNotice,
    NoticeStatus,
    OutboxFigures,
    reconcile_verdict,
)
from secure_msg.services.core import Core
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import notices as store
from secure_msg.storage.txn import Txn

# A notice to a number that said STOP (or that Twilio reports as opted out: 21610).
OPTED_OUT = "opted-out"


async def claim(deps: Core, now_ms: int, limit: int, lease_ms: int,
                channels: list[str], owner: str | None = None) -> list[ClaimedNotice]:
    """Lease up to `limit` due notices on the given channels to `owner`. The claim locks its
    rows (FOR UPDATE SKIP LOCKED on PostgreSQL): it need not wait for other processes' writes,
    nor they for it."""
    return await deps.db.write_row_locked(lambda t: store.claim_due_txn(
        t, deps.vault, now_ms, limit, lease_ms, channels, owner))


async def claim_owners(deps: Core) -> list[str]:
    """The processes that hold sending notices now."""
    return await deps.db.read(store.claim_owners_txn)


async def release_claims(deps: Core, owners: Sequence[str], due_ms: int) -> int:
    """Make what `owners` (processes known to be gone) hold claimable at `due_ms`."""

    def txn(t: Txn) -> int:
        return sum(store.release_claims_txn(t, owner, due_ms) for owner in owners)

    return await deps.db.write(txn) if owners else 0


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
                       reason: str, now_ms: int, *, status: NoticeStatus = NoticeStatus.QUEUED,
                       counted: bool = True) -> None:
    """Try again at `next_ms`: queued when nothing was created, ambiguous when something may
    have been (the next claim reconciles first)."""
    await deps.db.write(lambda t: store.mark_retry_txn(
        t, notice_id, next_ms, ambiguous, reason, now_ms, status=status, counted=counted))


async def settle_reconcile(deps: Core, notice: ClaimedNotice, found: Sequence[str],
                           now_ms: int) -> NoticeStatus | None:
    """Record what a reconcile found: the sids of matching messages at the provider, oldest
    first. Messages another notice already holds are not ours. Returns reconciled or
    duplicate_suspected (the notice is settled, never sent again), or None when nothing was
    found and the notice is still claimed, to be sent."""

    def txn(t: Txn) -> NoticeStatus | None:
        taken = store.sids_of_other_notices_txn(t, notice.id, found)
        ours = [sid for sid in found if sid not in taken]
        verdict = reconcile_verdict(len(ours))
        if verdict is None:
            return None
        store.mark_found_txn(t, notice.id, verdict, ours[0], now_ms)
        audit_store.append_audit_txn(
            t, at_ms=now_ms, actor="system", action=f"notice.{verdict.value}",
            target=f"notice:{notice.id}", detail={"found": len(ours)},
        )
        return verdict

    return await deps.db.write(txn)


async def settle_final(deps: Core, notice: ClaimedNotice, status: str, reason: str,
                       error_code: int | None, now_ms: int, *, counted: bool = False) -> None:
    """End a notice as failed, skipped or expired. A failure or expiry is audited; an
    opted-out number is recorded as such, so nothing more is sent to it."""

    def txn(t: Txn) -> None:
        store.mark_final_txn(t, notice.id, status, reason, error_code, now_ms, counted=counted)
        if reason == OPTED_OUT:
            store.set_consent_txn(t, deps.vault, notice.address, opted_out=True,
                                  keyword="21610", now_ms=now_ms)
        if status in ("failed", "expired"):
            audit_store.append_audit_txn(
                t, at_ms=now_ms, actor="system", action=f"notice.{status}",
                target=f"notice:{notice.id}", detail={"reason": reason},
            )

    await deps.db.write(txn)


# -- status callbacks missed while the service was down -----------------------------------------


async def unconfirmed(deps: Core, now_ms: int, quiet_ms: int, since_ms: int, limit: int,
                      channels: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, channel, sid) of notices sent on `channels` that heard nothing for `quiet_ms`:
    poll their status."""
    return await deps.db.read(lambda t: store.unconfirmed_due_txn(
        t, now_ms, quiet_ms, since_ms, limit, channels))


def apply_status_txn(t: Txn, sid: str, status: str, error_code: int | None,
                     now_ms: int) -> tuple[int, str] | None:
    """Move the notice sent as `sid` forward to the provider's `status` (a callback or a poll);
    a message that did not reach the phone is audited."""
    result = store.apply_callback_txn(t, sid, status, error_code, now_ms)
    if result is not None and result[1] in ("undelivered", "failed"):
        audit_store.append_audit_txn(
            t, at_ms=now_ms, actor="system", action="notice.undelivered",
            target=f"notice:{result[0]}", detail={"error_code": error_code or 0},
        )
    return result


async def settle_polled(deps: Core, notice_id: int, sid: str, status: str | None,
                        error_code: int | None, now_ms: int) -> None:
    """Record a status poll: the provider's status (None when it could not be read)."""

    def txn(t: Txn) -> None:
        store.mark_polled_txn(t, notice_id, now_ms)
        if status is not None:
            apply_status_txn(t, sid, status, error_code, now_ms)

    await deps.db.write(txn)


async def figures(deps: Core, now_ms: int) -> OutboxFigures:
    """The outbox's figures for /metrics (one read snapshot, on a reader thread)."""
    return await deps.db.read(lambda t: store.outbox_figures_txn(t, now_ms))
