"""Appointments and therapy periods: the only SQL for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from secure_msg.model.appointments import (
    Appointment,
    AppointmentStatus,
    Payer,
    Period,
    check_transition,
)
from secure_msg.storage.txn import Txn

_COLUMNS = ("id, booklet_id, therapist_id, start_ms, duration_min, status, cancel_code, late,"
            " cancelled_via")


def _appointment(row: tuple[Any, ...]) -> Appointment:
    id_, booklet, therapist, start, duration, status, code, late, via = row
    return Appointment(id_, booklet, therapist, start, duration, AppointmentStatus(status), code,
                       bool(late), via)


def insert_appointment_txn(conn: Txn, a: Appointment, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO appointments (id, booklet_id, therapist_id, start_ms, duration_min, status,"
        " cancel_code, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (a.id, a.booklet_id, a.therapist_id, a.start_ms, a.duration_min, a.status.value,
         a.cancel_code, now_ms, now_ms),
    )


def code_in_use_txn(conn: Txn, code: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM appointments WHERE cancel_code = ? AND status = 'scheduled'", (code,)
    ).fetchone()
    return row is not None


def get_appointment_txn(conn: Txn, appointment_id: bytes) -> Appointment | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM appointments WHERE id = ?", (appointment_id,)  # noqa: S608
    ).fetchone()
    return _appointment(row) if row else None


def appointments_for_booklet_txn(conn: Txn, booklet_id: bytes) -> list[Appointment]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM appointments WHERE booklet_id = ?"  # noqa: S608
        " ORDER BY start_ms, id", (booklet_id,),
    ).fetchall()
    return [_appointment(r) for r in rows]


def upcoming_txn(
    conn: Txn, booklet_ids: Sequence[bytes], now_ms: int
) -> list[Appointment]:
    """Scheduled appointments of these booklets that have not started, soonest first."""
    if not booklet_ids:
        return []
    marks = ",".join("?" * len(booklet_ids))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM appointments WHERE booklet_id IN ({marks})"  # noqa: S608
        " AND status = 'scheduled' AND start_ms > ? ORDER BY start_ms, id",
        (*booklet_ids, now_ms),
    ).fetchall()
    return [_appointment(r) for r in rows]


def set_status_txn(
    conn: Txn, appointment_id: bytes, status: AppointmentStatus, *,
    late: bool = False, via: str | None = None, now_ms: int,
) -> bool:
    """Move the appointment to `status`; False when there is no such appointment.

    Raises InvalidTransition, changing nothing, when the lifecycle (model TRANSITIONS) does not
    let its current status become `status`: no caller can write a move the table forbids.
    """
    row = conn.execute(
        "SELECT status FROM appointments WHERE id = ?", (appointment_id,)
    ).fetchone()
    if row is None:
        return False
    old = AppointmentStatus(row[0])
    check_transition(old, status)
    # Compare-and-set on the status just checked, so the check and the write see the same row.
    cursor = conn.execute(
        "UPDATE appointments SET status = ?, late = ?, cancelled_via = ?, updated_at_ms = ?"
        " WHERE id = ? AND status = ?",
        (status.value, int(late), via, now_ms, appointment_id, old.value),
    )
    return cursor.rowcount == 1


def due_reminders_txn(conn: Txn, now_ms: int, lead_ms: int) -> list[Appointment]:
    """Scheduled, not yet reminded, starting within `lead_ms` from now (and not started)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM appointments WHERE status = 'scheduled'"  # noqa: S608
        " AND reminder_queued = 0 AND start_ms > ? AND start_ms <= ? ORDER BY start_ms LIMIT 500",
        (now_ms, now_ms + lead_ms),
    ).fetchall()
    return [_appointment(r) for r in rows]


def mark_reminded_txn(conn: Txn, appointment_id: bytes) -> bool:
    """Set the reminder flag; False when it was set already or the appointment is no longer
    scheduled (the scheduler found it in an earlier snapshot: services/scheduler.py)."""
    cursor = conn.execute(
        "UPDATE appointments SET reminder_queued = 1"
        " WHERE id = ? AND reminder_queued = 0 AND status = 'scheduled'",
        (appointment_id,),
    )
    return cursor.rowcount == 1


def is_scheduled_txn(conn: Txn, appointment_id: bytes) -> bool:
    row = conn.execute(
        "SELECT 1 FROM appointments WHERE id = ? AND status = 'scheduled'", (appointment_id,)
    ).fetchone()
    return row is not None


# -- periods ------------------------------------------------------------------------------------

_PERIOD_COLUMNS = "id, booklet_id, start_date, end_date, sessions_granted, payer"


def _period(row: tuple[Any, ...]) -> Period:
    id_, booklet, start, end, granted, payer = row
    return Period(id_, booklet, date.fromisoformat(start), date.fromisoformat(end), granted,
                  Payer(payer))


def insert_period_txn(conn: Txn, p: Period, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO periods (id, booklet_id, start_date, end_date, sessions_granted, payer,"
        " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (p.id, p.booklet_id, p.start_date.isoformat(), p.end_date.isoformat(),
         p.sessions_granted, p.payer.value, now_ms),
    )


def current_period_txn(conn: Txn, booklet_id: bytes) -> Period | None:
    """The booklet's most recently started period."""
    row = conn.execute(
        f"SELECT {_PERIOD_COLUMNS} FROM periods WHERE booklet_id = ?"  # noqa: S608
        " ORDER BY start_date DESC, created_at_ms DESC LIMIT 1", (booklet_id,),
    ).fetchone()
    return _period(row) if row else None


def session_counts_txn(
    conn: Txn, booklet_id: bytes, start_ms: int, end_ms: int
) -> tuple[int, int]:
    """(attended, late family cancellations) with a start inside [start_ms, end_ms)."""
    row = conn.execute(
        "SELECT COUNT(*) FILTER (WHERE status = 'attended'),"
        " COUNT(*) FILTER (WHERE status = 'cancelled_by_family' AND late = 1)"
        " FROM appointments WHERE booklet_id = ? AND start_ms >= ? AND start_ms < ?",
        (booklet_id, start_ms, end_ms),
    ).fetchone()
    return int(row[0]), int(row[1])


def open_periods_txn(conn: Txn, today: date) -> list[tuple[Period, str]]:
    """Periods not yet ended, with the marks of the period-ending notices already queued."""
    rows = conn.execute(
        f"SELECT {_PERIOD_COLUMNS}, notified FROM periods WHERE end_date >= ?"  # noqa: S608
        " ORDER BY end_date", (today.isoformat(),),
    ).fetchall()
    return [(_period(r[:6]), r[6]) for r in rows]


def add_period_mark_txn(conn: Txn, period_id: bytes, mark: str) -> bool:
    """Record that notice `mark` was queued; False when it already was (exactly once)."""
    row = conn.execute("SELECT notified FROM periods WHERE id = ?", (period_id,)).fetchone()
    marks = set(filter(None, (row[0] if row else "").split(",")))
    if row is None or mark in marks:
        return False
    conn.execute("UPDATE periods SET notified = ? WHERE id = ?",
                 (",".join(sorted(marks | {mark})), period_id))
    return True
