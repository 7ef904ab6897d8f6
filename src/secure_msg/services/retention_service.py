"""Closing a booklet at the end of therapy, and the practice-wide retention rule that purges
closed booklets after their members were reminded to export (issue 17, item 7).

Closing (one transaction): the lifecycle row (open → closed, model/booklet_lifecycle.py),
future appointments cancelled without a cancellation SMS each (the family gets one closing
notice instead, not a burst of cancellations), queued reminders, period-ending notices and
pings skipped, the therapy period ended so that the scheduler queues no more of them, unused
invitation links revoked, the audit event, and a neutral `booklet_closed` SMS to the
guardians and caregivers (the channel policy's templates: a date and a link, nothing
clinical). Every write path to a booklet calls `storage.booklet_lifecycle.require_open_txn`
in its own transaction, so nothing reaches a closed booklet afterwards (409 booklet-closed).

Retention (`tick`, run with the scheduler tick by the outbox worker): a closed booklet's
members get an `export_reminder` notice `export_reminder_days` before its purge date, which
moves it to purge_scheduled; only then, and never before that many days after the reminder,
is it purged: every row deleted with secure_delete on, the WAL checkpointed and truncated so
no page of it is left in the -wal file, and an audit event that names the booklet id and the
row counts only. A purge is never silent.

Blobs: `RetentionDeps.blobs` is where a blob store (document attachments, branch docsrv)
plugs in: an async `delete(booklet_id)` called after the purge has committed (the purge's
transaction cannot include the file system). It must be idempotent. One that raises is logged
and called again on the next tick; a process that stops in between forgets that, so the blob
store should also, at start, delete the blobs of every booklet whose lifecycle row says
`purged` (`storage.booklet_lifecycle.all_txn`). A blob store's own table keyed by booklet_id
belongs in `storage.booklet_lifecycle.BOOKLET_TABLES`, so the purge's transaction deletes its
rows with the rest.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from secure_msg.config import RetentionConfig
from secure_msg.errors import BookletClosed, Forbidden
from secure_msg.logging import get_logger, log_event
from secure_msg.model.accounts import Session
from secure_msg.model.booklet_lifecycle import BookletStatus, Lifecycle, RetentionRule
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.model.roles import Role
from secure_msg.services.booklet_service import require_member_txn
from secure_msg.services.live import BookletEvent, Hub
from secure_msg.services.notice_service import (
    NoticeDeps,
    booklet_link,
    enqueue_all_txn,
    sms_notices,
)
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import notices as notice_store
from secure_msg.storage.txn import Txn

log = get_logger(__name__)

# Who hears about closing and the coming purge: every member but the therapist who closed it.
_FAMILY_ROLES = ("guardian", "caregiver")
WRITE_CHUNK = 20  # booklets per reminder transaction

# Deletes the blobs of a purged booklet (document attachments). None: no blob store.
BlobDeleter = Callable[[bytes], Awaitable[int]]


@dataclass(frozen=True)
class RetentionDeps:
    notices: NoticeDeps
    rule: RetentionRule
    # The blob store's hook (see the module docstring); called after each purge commits.
    blobs: BlobDeleter | None = None
    # A purge whose WAL could not be truncated yet (a long read held a snapshot): the next
    # tick tries again.
    wal_dirty: list[bool] = field(default_factory=lambda: [False])
    hub: Hub | None = None  # tells members' open views that a booklet was closed
    blob_retry: set[bytes] = field(default_factory=set)  # purged, blobs not deleted yet


def retention_rule(cfg: RetentionConfig) -> RetentionRule:
    return RetentionRule(cfg.closed_booklet_days, cfg.export_reminder_days)


def _actor(session: Session) -> str:
    return f"account:{session.account_id.hex()}"


async def close(deps: RetentionDeps, session: Session, booklet_id: bytes) -> Lifecycle:
    """The booklet's therapist closes it (others: 403, non-members: 404); 409 when it is
    already closed."""
    n = deps.notices

    def txn(conn: Txn) -> tuple[Lifecycle, list[bytes]]:
        if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
            raise Forbidden("Only the booklet's therapist can close it.")
        now = n.clock.now_ms()
        purge_after = deps.rule.purge_after(now)
        if not store.close_txn(conn, booklet_id, session.account_id, now, purge_after):
            raise BookletClosed("The booklet is already closed.")
        today = datetime.fromtimestamp(now / 1000, tz=n.quiet.zone).date()
        counts = {
            "appointments_cancelled": store.cancel_future_appointments_txn(conn, booklet_id, now),
            "notices_skipped": store.skip_queued_notices_txn(conn, booklet_id, now),
            "periods_ended": store.end_periods_txn(conn, booklet_id, today),
            "invitations_revoked": store.revoke_invitations_txn(conn, booklet_id, now),
        }
        family = notice_store.booklet_contacts_txn(conn, n.vault, booklet_id, _FAMILY_ROLES)
        counts["notices_queued"] = enqueue_all_txn(conn, n, sms_notices(
            n, family, NoticeKind.BOOKLET_CLOSED,
            {"date": purge_after, "link": booklet_link(n, booklet_id)},
            f"closed:{booklet_id.hex()}", now, booklet_id), now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_actor(session), action="booklet.closed",
            target=f"booklet:{booklet_id.hex()}",
            detail={**counts, "purge_after_ms": purge_after})
        row = store.lifecycle_txn(conn, booklet_id)
        assert row is not None
        return row, sorted(booklet_store.member_keys_txn(conn, booklet_id))

    row, members = await n.db.write(txn)
    if deps.hub is not None:
        deps.hub.booklet_changed(BookletEvent(booklet_id, row.status.value), members)
    return row


async def lifecycle(deps: RetentionDeps, session: Session, booklet_id: bytes) -> Lifecycle:
    """Where the booklet stands, for its members (an open booklet has no row)."""

    def txn(conn: Txn) -> Lifecycle:
        require_member_txn(conn, booklet_id, session)
        row = store.lifecycle_txn(conn, booklet_id)
        return row or Lifecycle(booklet_id, BookletStatus.OPEN, None, None, None, None, None)

    return await deps.notices.db.read_now(txn)


def lifecycle_rows_txn(conn: Txn) -> list[Lifecycle]:
    """Every closed, purge-scheduled and purged booklet (the operator's retention list)."""
    return store.all_txn(conn)


# -- the retention tick ------------------------------------------------------------------------


def _remind_txn(conn: Txn, deps: RetentionDeps, due: Sequence[Lifecycle], now: int) -> int:
    """closed → purge_scheduled for each booklet this transaction moves (another tick's are
    refused by the status guard), with an export reminder to its family in the same
    transaction: the purge date it names is the one stored."""
    n = deps.notices
    queued = 0
    for row in due:
        assert row.purge_after_ms is not None
        purge_after = deps.rule.purge_after_reminder(row.purge_after_ms, now)
        if not store.mark_reminded_txn(conn, row.booklet_id, now, purge_after):
            continue
        family = notice_store.booklet_contacts_txn(conn, n.vault, row.booklet_id, _FAMILY_ROLES)
        sent = enqueue_all_txn(conn, n, sms_notices(
            n, family, NoticeKind.EXPORT_REMINDER,
            {"date": purge_after, "link": booklet_link(n, row.booklet_id)},
            f"export:{row.booklet_id.hex()}", now, row.booklet_id), now)
        queued += sent
        audit_store.append_audit_txn(
            conn, at_ms=now, actor="system", action="booklet.export_reminded",
            target=f"booklet:{row.booklet_id.hex()}",
            detail={"notices_queued": sent, "purge_after_ms": purge_after})
    return queued


def _purge_txn(conn: Txn, booklet_id: bytes, now: int) -> bool:
    deleted = store.purge_txn(conn, booklet_id, now)
    if deleted is None:
        return False
    audit_store.append_audit_txn(
        conn, at_ms=now, actor="system", action="booklet.purged",
        target=f"booklet:{booklet_id.hex()}", detail=dict(deleted))
    return True


@dataclass(frozen=True)
class TickResult:
    reminded: int  # notices queued
    purged: list[bytes]
    wal_truncated: bool | None  # None: no purge, so no checkpoint


async def tick(deps: RetentionDeps) -> TickResult:
    """Queue due export reminders, then purge the due booklets one transaction each."""
    db = deps.notices.db
    now = deps.notices.clock.now_ms()
    lead_ms = deps.rule.export_reminder_days * 86_400_000
    reminders, purges = await db.read(
        lambda conn: (store.reminders_due_txn(conn, now, lead_ms), store.purges_due_txn(conn, now)))
    reminded = 0
    for i in range(0, len(reminders), WRITE_CHUNK):
        reminded += await db.write(functools.partial(
            _remind_txn, deps=deps, due=reminders[i:i + WRITE_CHUNK], now=now), inline=False)
    purged = []
    for row in purges:
        # inline=False: a booklet's deletes may take milliseconds; off the event loop.
        if await db.write(functools.partial(_purge_txn, booklet_id=row.booklet_id, now=now),
                          inline=False):
            purged.append(row.booklet_id)
    truncated = None
    if purged or deps.wal_dirty[0]:
        truncated = await db.checkpoint_truncate()
        deps.wal_dirty[0] = not truncated
        if not truncated:
            log_event(log, logging.WARNING, "retention.wal_not_truncated", purged=len(purged))
    if deps.blobs is not None:
        deps.blob_retry.update(purged)
        for booklet_id in sorted(deps.blob_retry):
            try:
                await deps.blobs(booklet_id)
            except Exception:  # the rows are gone already: try the files again next tick
                log.exception("retention: deleting a purged booklet's blobs failed")
            else:
                deps.blob_retry.discard(booklet_id)
    return TickResult(reminded, purged, truncated)
