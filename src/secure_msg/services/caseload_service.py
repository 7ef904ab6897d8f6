"""The therapist's desk: her whole caseload in one read (GET /api/me/caseload).

Titles stay ciphertext here: each row carries the same title envelope as GET /api/booklets and the
device decrypts it. What the server adds is only what it already knows in the clear: sessions,
period counts and delivery problems.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from secure_msg.errors import Forbidden
from secure_msg.model.accounts import Session
from secure_msg.model.appointments import Appointment, PeriodSummary
from secure_msg.model.booklets import BookletSummary
from secure_msg.model.roles import Role
from secure_msg.services.appointment_service import AppointmentDeps, summary_txn
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import caseload as store
from secure_msg.storage.txn import Txn

WEEK_DAYS = 7
# A family's cancellation stays flagged for a week after the session's time, then it is history.
CANCELLATION_FLAG_DAYS = 7


@dataclass(frozen=True)
class CaseloadRow:
    booklet: BookletSummary
    next_session: Appointment | None
    period: PeriodSummary | None
    problems: int
    family_cancellations: int


@dataclass(frozen=True)
class Caseload:
    rows: list[CaseloadRow]
    sessions: list[Appointment]  # the week's sessions across the caseload, from today 00:00
    week_from_ms: int
    week_to_ms: int


async def caseload(deps: AppointmentDeps, session: Session) -> Caseload:
    """Every booklet I am the therapist of, with what the desk lists beside its title."""
    if session.role is not Role.THERAPIST:
        raise Forbidden("Only therapists have a caseload.")
    n = deps.notices
    now = n.clock.now_ms()
    zone = n.quiet.zone
    today = datetime.fromtimestamp(now / 1000, zone).date()
    week_from = int(datetime.combine(today, time(0), tzinfo=zone).timestamp() * 1000)
    week_to = int(datetime.combine(today + timedelta(days=WEEK_DAYS), time(0), tzinfo=zone)
                  .timestamp() * 1000)
    flag_since = week_from - CANCELLATION_FLAG_DAYS * 86_400_000

    def txn(conn: Txn) -> Caseload:
        mine = [b for b in booklet_store.my_booklets_txn(conn, session.account_id)
                if b.role is Role.THERAPIST]
        ids = [b.id for b in mine]
        nexts = store.next_sessions_txn(conn, ids, now)
        cancels = store.family_cancellations_txn(conn, ids, flag_since)
        problems: Counter[bytes] = store.problem_counts_txn(conn, session.account_id)
        rows = []
        for b in mine:
            period = appointment_store.current_period_txn(conn, b.id)
            rows.append(CaseloadRow(
                b, nexts.get(b.id), summary_txn(conn, deps, period) if period else None,
                problems[b.id], cancels[b.id]))
        sessions = store.sessions_between_txn(conn, ids, week_from, week_to)
        return Caseload(rows, sessions, week_from, week_to)

    return await n.db.read(txn)
