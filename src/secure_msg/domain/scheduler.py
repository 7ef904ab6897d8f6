"""Time-driven notices: appointment reminders and period-ending notices.

`run_once` is one scheduler tick; channels/outbox.py runs it every `scheduler_interval_ms`.
Exactly once across restarts: each reminder is queued in the same transaction that sets the
appointment's `reminder_queued` flag (and the outbox's dedupe key would refuse a second anyway);
period notices likewise record a mark on the period.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

from secure_msg.domain.appointment_service import AppointmentDeps, summary_txn
from secure_msg.domain.appointments import Period, local_midday_ms, minus_months
from secure_msg.domain.notice_service import enqueue_all_txn, family_txn, sms_notices
from secure_msg.domain.notice_templates import NoticeKind
from secure_msg.storage import appointments as store


def _period_marks_due(deps: AppointmentDeps, conn: sqlite3.Connection, period: Period,
                      now_ms: int, few: int) -> list[str]:
    zone = deps.notices.quiet.zone
    due = []
    for mark, months in (("2m", 2), ("1m", 1)):
        if now_ms >= local_midday_ms(minus_months(period.end_date, months), zone):
            due.append(mark)
    summary = summary_txn(conn, deps, period)
    if summary.used > 0 and summary.remaining <= few:
        due.append("few")
    return due


def tick_txn(conn: sqlite3.Connection, deps: AppointmentDeps, now_ms: int, lead_ms: int,
             few_sessions: int) -> int:
    """Queue every notice that has become due; returns how many were queued."""
    n = deps.notices
    queued = 0
    for a in store.due_reminders_txn(conn, now_ms, lead_ms):
        if not store.mark_reminded_txn(conn, a.id):
            continue
        due = max(now_ms, a.start_ms - lead_ms)
        queued += enqueue_all_txn(conn, n, sms_notices(
            n, family_txn(conn, n, a.booklet_id), NoticeKind.REMINDER,
            {"date": a.start_ms, "time": a.start_ms, "code": a.cancel_code},
            f"reminder:{a.id.hex()}", due, a.booklet_id), now_ms)
    today = datetime.fromtimestamp(now_ms / 1000, tz=n.quiet.zone).date()
    for period, marks in store.open_periods_txn(conn, today):
        done = set(filter(None, marks.split(",")))
        fresh = [m for m in _period_marks_due(deps, conn, period, now_ms, few_sessions)
                 if m not in done]
        if not fresh or not all([store.add_period_mark_txn(conn, period.id, m) for m in fresh]):
            continue
        # Several stages due at once (a period entered late) give one notice, not a burst.
        end_ms = local_midday_ms(period.end_date, n.quiet.zone)
        queued += enqueue_all_txn(conn, n, sms_notices(
            n, family_txn(conn, n, period.booklet_id), NoticeKind.PERIOD_ENDING,
            {"date": end_ms}, f"period:{period.id.hex()}:{fresh[-1]}", now_ms,
            period.booklet_id), now_ms)
    return queued


async def run_once(deps: AppointmentDeps, lead_ms: int, few_sessions: int) -> int:
    now = deps.notices.clock.now_ms()
    return await deps.notices.db.write(
        lambda conn: tick_txn(conn, deps, now, lead_ms, few_sessions))


def period_notice_dates(period: Period) -> tuple[date, date]:
    """When the 2-month and 1-month period-ending notices go (for docs and the API)."""
    return minus_months(period.end_date, 2), minus_months(period.end_date, 1)
