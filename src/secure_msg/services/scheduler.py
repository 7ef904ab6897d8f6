"""Time-driven notices: appointment reminders and period-ending notices.

`run_once` is one scheduler tick; channels/outbox.py runs it every `scheduler_interval_ms`,
followed by the retention tick (services/retention_service.tick: export reminders and the purge
of closed booklets), which web/services.py runs in the same tick.
A tick has two phases. `find_due_txn` runs in a reader thread on one snapshot: it scans the
open periods (and their session counts) for stages that have become due. The write phase then
touches only those candidates. The scan used to run inside the write transaction, on the event
loop (storage/db.py), stalling every request for ≈ 35 ms per 1,000 open periods every tick; it
must not hold the write lock either, which every post waits for.

Exactly once across restarts and concurrent ticks: the snapshot may be stale by the time the
write runs, so the write phase decides, not the snapshot. Each reminder is queued in the same
transaction that sets the appointment's `reminder_queued` flag, and only while it is still
scheduled; each period stage is queued in the transaction that records its mark on the period,
and only when the mark was not already there. The outbox's dedupe keys would refuse a second
notice anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from secure_msg.model.appointments import Appointment, Period, local_midday_ms, minus_months
from secure_msg.model.notice_templates import NoticeKind
from secure_msg.services.appointment_service import AppointmentDeps, summary_txn
from secure_msg.services.notice_service import enqueue_all_txn, family_txn, sms_notices
from secure_msg.storage import appointments as store
from secure_msg.storage.txn import Txn

# Candidates per write transaction. One costs ≈ 0.2 ms (mark, contacts, a sealed notice each),
# so the write phase runs in the writer's thread (inline=False), and a chunk holds the write
# lock for ≈ 10 ms at most when a tick finds hundreds due (the first tick after downtime).
WRITE_CHUNK = 50

_STAGES = (("2m", 2), ("1m", 1))


@dataclass(frozen=True)
class DueNotices:
    """What one snapshot found due; the write phase re-checks every item."""

    reminders: list[Appointment]
    periods: list[tuple[Period, list[str]]]  # a period and the marks it lacked, in stage order


def _period_marks_due(deps: AppointmentDeps, conn: Txn, period: Period,
                      done: set[str], now_ms: int, few: int) -> list[str]:
    zone = deps.notices.quiet.zone
    due = [mark for mark, months in _STAGES if mark not in done
           and now_ms >= local_midday_ms(minus_months(period.end_date, months), zone)]
    if "few" not in done:  # the session count is the costly part: skip it once sent
        summary = summary_txn(conn, deps, period)
        if summary.used > 0 and summary.remaining <= few:
            due.append("few")
    return due


def find_due_txn(conn: Txn, deps: AppointmentDeps, now_ms: int, lead_ms: int,
                 few_sessions: int) -> DueNotices:
    """Read phase: every reminder and period stage that looks due in this snapshot."""
    reminders = store.due_reminders_txn(conn, now_ms, lead_ms)
    today = datetime.fromtimestamp(now_ms / 1000, tz=deps.notices.quiet.zone).date()
    periods = []
    for period, marks in store.open_periods_txn(conn, today):
        done = set(filter(None, marks.split(",")))
        fresh = _period_marks_due(deps, conn, period, done, now_ms, few_sessions)
        if fresh:
            periods.append((period, fresh))
    return DueNotices(reminders, periods)


def queue_reminders_txn(conn: Txn, deps: AppointmentDeps,
                        reminders: Sequence[Appointment], now_ms: int, lead_ms: int) -> int:
    """Write phase: queue each reminder whose flag this transaction sets (not cancelled since
    the snapshot, not queued by another tick)."""
    n = deps.notices
    queued = 0
    for a in reminders:
        if not store.mark_reminded_txn(conn, a.id):
            continue
        due = max(now_ms, a.start_ms - lead_ms)
        queued += enqueue_all_txn(conn, n, sms_notices(
            n, family_txn(conn, n, a.booklet_id), NoticeKind.REMINDER,
            {"date": a.start_ms, "time": a.start_ms, "code": a.cancel_code},
            f"reminder:{a.id.hex()}", due, a.booklet_id), now_ms)
    return queued


def queue_period_notices_txn(conn: Txn, deps: AppointmentDeps,
                             periods: Sequence[tuple[Period, list[str]]], now_ms: int) -> int:
    """Write phase: record each candidate mark; a notice for the marks this transaction added."""
    n = deps.notices
    queued = 0
    for period, fresh in periods:
        # A mark another tick recorded since the snapshot is refused here; the rest still go.
        added = [m for m in fresh if store.add_period_mark_txn(conn, period.id, m)]
        if not added:
            continue
        # Several stages due at once (a period entered late) give one notice, not a burst.
        end_ms = local_midday_ms(period.end_date, n.quiet.zone)
        queued += enqueue_all_txn(conn, n, sms_notices(
            n, family_txn(conn, n, period.booklet_id), NoticeKind.PERIOD_ENDING,
            {"date": end_ms}, f"period:{period.id.hex()}:{added[-1]}", now_ms,
            period.booklet_id), now_ms)
    return queued


async def run_once(deps: AppointmentDeps, lead_ms: int, few_sessions: int) -> int:
    """One tick: find what is due off the loop, then queue it in short write transactions;
    returns how many notices were queued."""
    db = deps.notices.db
    now = deps.notices.clock.now_ms()
    due = await db.read(functools.partial(
        find_due_txn, deps=deps, now_ms=now, lead_ms=lead_ms, few_sessions=few_sessions))
    queued = 0
    # One chunk at a time: chunks queued together would run back to back in one batch.
    for i in range(0, len(due.reminders), WRITE_CHUNK):
        queued += await db.write(functools.partial(
            queue_reminders_txn, deps=deps, reminders=due.reminders[i:i + WRITE_CHUNK],
            now_ms=now, lead_ms=lead_ms), inline=False)
    for i in range(0, len(due.periods), WRITE_CHUNK):
        queued += await db.write(functools.partial(
            queue_period_notices_txn, deps=deps, periods=due.periods[i:i + WRITE_CHUNK],
            now_ms=now), inline=False)
    return queued


def period_notice_dates(period: Period) -> tuple[date, date]:
    """When the 2-month and 1-month period-ending notices go (for docs and the API)."""
    return minus_months(period.end_date, 2), minus_months(period.end_date, 1)
